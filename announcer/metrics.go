package announcer

import "github.com/prometheus/client_golang/prometheus"

// Collector exposes the announcer's counters to Prometheus. It reads them
// once per scrape.
func (a *Announcer) Collector() prometheus.Collector { return collector{a} }

type collector struct{ a *Announcer }

var (
	descGratuitous = prometheus.NewDesc("vipd_gratuitous_packets_sent_total",
		"Gratuitous ARPs and unsolicited neighbor advertisements sent.", []string{"family"}, nil)
	descReplies = prometheus.NewDesc("vipd_neighbor_replies_sent_total",
		"ARP replies and solicited neighbor advertisements sent for owned VIPs.", []string{"family"}, nil)
	descDropped = prometheus.NewDesc("vipd_dropped_packets_total",
		"Packets dropped because they did not parse.", []string{"reason"}, nil)
	descSendErrors = prometheus.NewDesc("vipd_send_errors_total",
		"Packets the kernel refused to send.", nil, nil)
	descClaimProbes = prometheus.NewDesc("vipd_claim_probes_sent_total",
		"ARP probes and neighbor solicitations sent before the first claim of a VIP no host has held.", nil, nil)
	descSplitProbes = prometheus.NewDesc("vipd_split_probes_sent_total",
		"ARP probes and neighbor solicitations sent to hear another member answering for a watched VIP (one this host stands back from, or, while a member is missing from gossip, one it owns).", nil, nil)
	descRefreshProbes = prometheus.NewDesc("vipd_refresh_probes_sent_total",
		"ARP probes and neighbor solicitations sent with the first and every sixth refresh of an owned VIP, to find a host outside the cluster that holds it.", nil, nil)
	descMemberAnswers = prometheus.NewDesc("vipd_member_answers_total",
		"Times another cluster member was heard answering for a VIP this host owns or watches (at most one per VIP and MAC every 250ms).", nil, nil)
	descMemberProbes = prometheus.NewDesc("vipd_member_probes_total",
		"Times another cluster member was heard probing (RFC 5227) a VIP this host owns or watches (at most one per VIP and MAC every 250ms).", nil, nil)
	descEventsDropped = prometheus.NewDesc("vipd_events_dropped_total",
		"Announcer events (conflicts, members answering, link changes) lost because they were not read in time.", nil, nil)
)

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descGratuitous, descReplies, descDropped, descSendErrors,
		descClaimProbes, descSplitProbes, descRefreshProbes, descMemberAnswers, descMemberProbes, descEventsDropped} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	n := c.a.Counters()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descGratuitous, n.GARPSent, "ipv4")
	counter(descGratuitous, n.NASent, "ipv6")
	counter(descReplies, n.ARPReplies, "ipv4")
	counter(descReplies, n.NAReplies, "ipv6")
	counter(descDropped, n.Malformed, "malformed")
	counter(descSendErrors, n.SendErrors)
	counter(descClaimProbes, n.ClaimProbes)
	counter(descSplitProbes, n.SplitProbes)
	counter(descRefreshProbes, n.RefreshProbes)
	counter(descMemberAnswers, n.MemberAnswers)
	counter(descMemberProbes, n.MemberProbes)
	counter(descEventsDropped, n.EventsDropped)
}
