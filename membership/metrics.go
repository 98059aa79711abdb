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
//	vipd_heartbeats_sent_total                    heartbeats sent to other hosts
//	vipd_heartbeats_received_total                heartbeats received from other hosts
//	vipd_heartbeats_dropped_total                 gossip user messages that were not heartbeats this version reads
//	vipd_heartbeat_deaths_total                   times a member went quiet and was counted dead before gossip said so
//	vipd_heartbeat_silent_members                 members gossip sees alive whose heartbeats stopped
//	vipd_heartbeat_late_loops_total               times the heartbeat loop woke late and judged with a longer timeout
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
	descHBSent       = prometheus.NewDesc("vipd_heartbeats_sent_total", "Heartbeats sent to other hosts.", nil, nil)
	descHBReceived   = prometheus.NewDesc("vipd_heartbeats_received_total", "Heartbeats received from other hosts.", nil, nil)
	descHBDropped    = prometheus.NewDesc("vipd_heartbeats_dropped_total", "Gossip user messages dropped because they are no heartbeat this version reads.", nil, nil)
	descHBDeaths     = prometheus.NewDesc("vipd_heartbeat_deaths_total", "Times a member gossip saw alive went quiet for the heartbeat timeout and was counted dead.", nil, nil)
	descHBSilent     = prometheus.NewDesc("vipd_heartbeat_silent_members", "Members gossip sees alive whose heartbeats stopped; the election counts them dead.", nil, nil)
	descHBLate       = prometheus.NewDesc("vipd_heartbeat_late_loops_total", "Times this host's heartbeat loop woke late (the host was short of CPU) and began judging other members' silence with a longer timeout.", nil, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDropped, descAlive, descMissing, descAttempts, descRejoins, descMismatches, descMismatchPeer,
		descHBSent, descHBReceived, descHBDropped, descHBDeaths, descHBSilent, descHBLate} {
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
	hb := m.HeartbeatStats()
	ch <- prometheus.MustNewConstMetric(descHBSent, prometheus.CounterValue, float64(hb.Sent))
	ch <- prometheus.MustNewConstMetric(descHBReceived, prometheus.CounterValue, float64(hb.Received))
	ch <- prometheus.MustNewConstMetric(descHBDropped, prometheus.CounterValue, float64(hb.Dropped))
	ch <- prometheus.MustNewConstMetric(descHBDeaths, prometheus.CounterValue, float64(hb.Deaths))
	ch <- prometheus.MustNewConstMetric(descHBSilent, prometheus.GaugeValue, float64(hb.Silent))
	ch <- prometheus.MustNewConstMetric(descHBLate, prometheus.CounterValue, float64(hb.LateLoops))
}
