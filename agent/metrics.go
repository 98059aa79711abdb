package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipd/vipd/api"
)

// allStates are the values of the vipd_vip_state gauge's state label.
var allStates = []string{api.StateOwner, api.StateStandby, api.StateUnhealthy, api.StateDrained, api.StateExcluded, api.StateConflict, api.StateNoOwner}

// Metrics are the agent's Prometheus metrics. A nil *Metrics records
// nothing, so tests need none.
type Metrics struct {
	vipState    *prometheus.GaugeVec
	owner       *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	conflicts   *prometheus.CounterVec
	links       *prometheus.CounterVec
}

// NewMetrics registers the agent's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		vipState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vipd_vip_state",
			Help: "1 for the state this host has for the VIP, 0 for the others.",
		}, []string{"vip", "address", "state"}),
		owner: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vipd_vip_owner",
			Help: "1 for the host this host sees owning the VIP; owner is empty when nobody owns it.",
		}, []string{"vip", "owner"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vipd_vip_transitions_total",
			Help: "State changes of the VIP on this host, by the state entered.",
		}, []string{"vip", "state"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vipd_conflicts_total",
			Help: "Conflicts seen: another MAC answering for a VIP (foreign_mac) or a VIP on an interface vipd does not manage (foreign_address).",
		}, []string{"vip", "kind"}),
		links: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vipd_link_changes_total",
			Help: "Managed interfaces going down or up.",
		}, []string{"interface", "change"}),
	}
	reg.MustRegister(m.vipState, m.owner, m.transitions, m.conflicts, m.links)
	return m
}

func (m *Metrics) state(vip, address, state, owner string) {
	if m == nil {
		return
	}
	for _, s := range allStates {
		v := 0.0
		if s == state {
			v = 1
		}
		m.vipState.WithLabelValues(vip, address, s).Set(v)
	}
	m.owner.DeletePartialMatch(prometheus.Labels{"vip": vip})
	m.owner.WithLabelValues(vip, owner).Set(1)
}

func (m *Metrics) transition(vip, state string) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(vip, state).Inc()
}

func (m *Metrics) forget(vip string) {
	if m == nil {
		return
	}
	m.vipState.DeletePartialMatch(prometheus.Labels{"vip": vip})
	m.owner.DeletePartialMatch(prometheus.Labels{"vip": vip})
}

func (m *Metrics) event(ev Event) {
	if m == nil {
		return
	}
	switch ev.Kind {
	case ForeignMAC:
		m.conflicts.WithLabelValues(ev.VIP, "foreign_mac").Inc()
	case ForeignAddress:
		m.conflicts.WithLabelValues(ev.VIP, "foreign_address").Inc()
	case LinkDown:
		m.links.WithLabelValues(ev.Interface, "down").Inc()
	case LinkUp:
		m.links.WithLabelValues(ev.Interface, "up").Inc()
	}
}
