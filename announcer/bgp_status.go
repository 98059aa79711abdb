package announcer

import (
	"net/netip"
	"slices"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/prometheus/client_golang/prometheus"
)

// PeerStatus is one BGP session as status and metrics show it.
type PeerStatus struct {
	Address string `json:"address"`
	ASN     uint32 `json:"asn"`
	// State is the session state: idle, connect, active, opensent,
	// openconfirm or established.
	State string `json:"state"`
	// Reason says why a session that is not established went down.
	Reason string `json:"reason,omitempty"`
	// Since is when the session was last established or went down.
	Since time.Time `json:"since,omitzero"`
	// HoldTime is the negotiated hold time of an established session.
	HoldTime time.Duration `json:"hold_time,omitempty"`
	// Announced counts the routes sent to the peer; Received and Accepted
	// count the routes the peer sent to this host.
	Announced uint64 `json:"announced"`
	Received  uint64 `json:"received"`
	Accepted  uint64 `json:"accepted"`
}

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

// Peers reports every configured session.
func (s *Speaker) Peers() []PeerStatus {
	var out []PeerStatus
	if s.srv == nil {
		return nil
	}
	_ = s.srv.ListPeer(s.ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		st := p.GetState()
		ps := PeerStatus{
			Address: p.GetConf().GetNeighborAddress(),
			ASN:     p.GetConf().GetPeerAsn(),
			State:   sessionState(st.GetSessionState()),
		}
		if ps.State != "established" {
			ps.Reason = disconnectReason(st)
			if t := p.GetTimers().GetState().GetDowntime(); t != nil {
				ps.Since = t.AsTime()
			}
		} else {
			ps.HoldTime = time.Duration(p.GetTimers().GetState().GetNegotiatedHoldTime()) * time.Second
			if t := p.GetTimers().GetState().GetUptime(); t != nil {
				ps.Since = t.AsTime()
			}
		}
		for _, af := range p.GetAfiSafis() {
			ps.Announced += af.GetState().GetAdvertised()
			ps.Received += af.GetState().GetReceived()
			ps.Accepted += af.GetState().GetAccepted()
		}
		out = append(out, ps)
	})
	slices.SortFunc(out, func(a, b PeerStatus) int {
		if a.Address < b.Address {
			return -1
		}
		if a.Address > b.Address {
			return 1
		}
		return 0
	})
	return out
}

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

func sessionState(s api.PeerState_SessionState) string {
	switch s {
	case api.PeerState_SESSION_STATE_IDLE:
		return "idle"
	case api.PeerState_SESSION_STATE_CONNECT:
		return "connect"
	case api.PeerState_SESSION_STATE_ACTIVE:
		return "active"
	case api.PeerState_SESSION_STATE_OPENSENT:
		return "opensent"
	case api.PeerState_SESSION_STATE_OPENCONFIRM:
		return "openconfirm"
	case api.PeerState_SESSION_STATE_ESTABLISHED:
		return "established"
	}
	return "unknown"
}

// disconnectReason names why a session is down in the operator's words.
func disconnectReason(st *api.PeerState) string {
	msg := st.GetDisconnectMessage()
	with := func(s string) string {
		if msg != "" {
			return s + ": " + msg
		}
		return s
	}
	switch st.GetDisconnectReason() {
	case api.PeerState_DISCONNECT_REASON_UNSPECIFIED:
		return "never established; the peer refuses the connection, or TCP 179 is blocked, or the peer has no neighbor statement for this host"
	case api.PeerState_DISCONNECT_REASON_HOLD_TIMER_EXPIRED:
		return with("hold timer expired: no keepalive from the peer")
	case api.PeerState_DISCONNECT_REASON_BAD_PEER_AS:
		return with("wrong ASN: the peer's AS number is not the one configured in bgp.peers")
	case api.PeerState_DISCONNECT_REASON_NOTIFICATION_RECEIVED:
		return with("the peer closed the session")
	case api.PeerState_DISCONNECT_REASON_NOTIFICATION_SENT:
		return with("this host closed the session")
	case api.PeerState_DISCONNECT_REASON_READ_FAILED, api.PeerState_DISCONNECT_REASON_WRITE_FAILED:
		return with("connection lost")
	case api.PeerState_DISCONNECT_REASON_ADMIN_DOWN:
		return with("shut down")
	}
	return with(st.GetDisconnectReason().String())
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
