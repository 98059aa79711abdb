package membership

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns membership's metrics for a Prometheus registry:
//
//	vipd_gossip_dropped_total{payload}            gossip payloads dropped because they did not decode (meta, state)
//	vipd_members_alive                            hosts seen alive, this one included
//	vipd_gossip_missing_peers                     configured peers and dead members being tried again
//	vipd_gossip_rejoin_attempts_total{result}     re-join attempts by result (joined, unreachable, failed, key-mismatch)
//	vipd_gossip_rejoins_total                     lost peers reached again (views merged)
//	vipd_gossip_key_mismatches_total              messages or joins that failed because the gossip keys differ
//	vipd_gossip_key_mismatch_peers                hosts with a different gossip key seen in the last 30 s
func (m *Membership) Collector() prometheus.Collector { return collector{m} }

type collector struct{ m *Membership }

var (
	descDropped      = prometheus.NewDesc("vipd_gossip_dropped_total", "Gossip payloads dropped because they could not be decoded.", []string{"payload"}, nil)
	descAlive        = prometheus.NewDesc("vipd_members_alive", "Hosts of the gossip cluster seen alive, this one included.", nil, nil)
	descMissing      = prometheus.NewDesc("vipd_gossip_missing_peers", "Configured peers and members that died which are not alive and are being tried again.", nil, nil)
	descAttempts     = prometheus.NewDesc("vipd_gossip_rejoin_attempts_total", "Attempts to reach a missing peer, by result.", []string{"result"}, nil)
	descRejoins      = prometheus.NewDesc("vipd_gossip_rejoins_total", "Missing peers reached again, after which both sides' views merged.", nil, nil)
	descMismatches   = prometheus.NewDesc("vipd_gossip_key_mismatches_total", "Gossip messages and joins that failed because this host and a peer have different gossip keys.", nil, nil)
	descMismatchPeer = prometheus.NewDesc("vipd_gossip_key_mismatch_peers", "Hosts seen in the last 30 s whose gossip key differs from this host's.", nil, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDropped, descAlive, descMissing, descAttempts, descRejoins, descMismatches, descMismatchPeer} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(m.malformedMeta.Load()), "meta")
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(m.malformedState.Load()), "state")
	ch <- prometheus.MustNewConstMetric(descAlive, prometheus.GaugeValue, float64(m.alivePeers()+1))
	m.rejoin.mu.Lock()
	missing := m.rejoin.missingCount
	m.rejoin.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descMissing, prometheus.GaugeValue, float64(missing))
	for i, r := range attemptResults {
		ch <- prometheus.MustNewConstMetric(descAttempts, prometheus.CounterValue, float64(m.attempts[i].Load()), r)
	}
	ch <- prometheus.MustNewConstMetric(descRejoins, prometheus.CounterValue, float64(m.rejoins.Load()))
	ch <- prometheus.MustNewConstMetric(descMismatches, prometheus.CounterValue, float64(m.keyMismatches.Load()))
	ch <- prometheus.MustNewConstMetric(descMismatchPeer, prometheus.GaugeValue, float64(len(m.KeyMismatches())))
}
