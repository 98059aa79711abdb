package announcer

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vipd/vipd/announcer/bgpwire"
)

// PeerStatus is one BGP session as status and metrics show it.
type PeerStatus = bgpwire.PeerStatus

// RouteStatus is one VIP this host announces over BGP.
type RouteStatus struct {
	VIP     string     `json:"vip"`
	Prefix  string     `json:"prefix"`
	Mode    string     `json:"mode"`
	Prepend int        `json:"prepend"`
	Since   time.Time  `json:"since"`
	Peers   []string   `json:"peers,omitempty"` // peers it was sent to
	prefix  netip.Addr `json:"-"`
}

// Peers reports every configured session, as the helper sees it now
// (none when it does not answer).
func (s *Speaker) Peers() []PeerStatus {
	if s.helper == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, peersTimeout)
	defer cancel()
	rep, err := s.helper.call(ctx, bgpwire.Request{Peers: true})
	if err != nil {
		s.log.Debug("asking the BGP helper for its sessions", "err", err)
		return nil
	}
	return rep.Peers
}

// peersTimeout bounds a status request to the helper (it may be waiting
// for an UPDATE to leave, up to SentWait).
const peersTimeout = 2 * time.Second

// Routes reports the VIPs announced now.
func (s *Speaker) Routes() []RouteStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RouteStatus
	for a, r := range s.routes {
		out = append(out, RouteStatus{VIP: r.vip.Name, Prefix: hostPrefix(a).String(), Mode: string(r.vip.BGP),
			Prepend: r.prepend, Since: r.since, prefix: a})
	}
	slices.SortFunc(out, func(a, b RouteStatus) int { return a.prefix.Compare(b.prefix) })
	return out
}

// Collector exposes per-peer session state and route counts.
func (s *Speaker) Collector() prometheus.Collector { return bgpCollector{s} }

type bgpCollector struct{ s *Speaker }

var (
	descBGPUp = prometheus.NewDesc("vipd_bgp_session_up",
		"1 while the BGP session with the peer is established.", []string{"peer"}, nil)
	descBGPAnnounced = prometheus.NewDesc("vipd_bgp_routes_announced",
		"VIP routes sent to the peer.", []string{"peer"}, nil)
	descBGPReceived = prometheus.NewDesc("vipd_bgp_routes_received",
		"Routes the peer sent to this host.", []string{"peer"}, nil)
	descBGPRoutes = prometheus.NewDesc("vipd_bgp_vip_routes",
		"VIPs this host announces over BGP now, by mode.", []string{"mode"}, nil)
)

func (bgpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBGPUp, descBGPAnnounced, descBGPReceived, descBGPRoutes} {
		ch <- d
	}
}

func (c bgpCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, p := range c.s.Peers() {
		up := 0.0
		if p.State == "established" {
			up = 1
		}
		gauge(descBGPUp, up, p.Address)
		gauge(descBGPAnnounced, float64(p.Announced), p.Address)
		gauge(descBGPReceived, float64(p.Received), p.Address)
	}
	modes := map[string]float64{"owner": 0, "all": 0}
	for _, r := range c.s.Routes() {
		modes[r.Mode]++
	}
	for m, n := range modes {
		gauge(descBGPRoutes, n, m)
	}
}
