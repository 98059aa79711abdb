package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/config"
)

// The values of the role and health labels, each gauge set for all of them.
var (
	allRoles  = []api.Role{api.RoleOwner, api.RoleStandby, api.RoleUnhealthy, api.RoleDrained, api.RoleExcluded}
	allHealth = []api.Health{api.HealthOK, api.HealthNoOwner, api.HealthConflict, api.HealthSplit}
)

// Metrics are the agent's Prometheus metrics. A nil *Metrics records
// nothing, so tests need none.
type Metrics struct {
	role        *prometheus.GaugeVec
	health      *prometheus.GaugeVec
	owner       *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	conflicts   *prometheus.CounterVec
	links       *prometheus.CounterVec
	splits      *prometheus.CounterVec
	known       map[string]bool   // VIP names with series
	owners      map[string]string // VIP name -> the owner its owner series names
	*hostMetrics
}

// NewMetrics registers the agent's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		role: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vipd_vip_role",
			Help: "1 for this host's role in the VIP (owner, standby, unhealthy, drained, excluded), 0 for the others.",
		}, []string{"vip", "address", "role"}),
		health: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vipd_vip_health",
			Help: "1 for the VIP's health as this host sees it (ok, no-owner, conflict, split), 0 for the others.",
		}, []string{"vip", "address", "health"}),
		owner: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vipd_vip_owner",
			Help: "1 for the host this host sees owning the VIP; owner is empty when nobody owns it.",
		}, []string{"vip", "owner"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vipd_vip_transitions_total",
			Help: "Changes of this host's role in the VIP, by the role entered.",
		}, []string{"vip", "role"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vipd_conflicts_total",
			Help: "Conflicts seen: another MAC answering for a VIP (foreign_mac) or a VIP on an interface vipd does not manage (foreign_address).",
		}, []string{"vip", "address", "kind"}),
		links: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vipd_link_changes_total",
			Help: "Managed interfaces going down or up.",
		}, []string{"interface", "change"}),
		splits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vipd_splits_total",
			Help: "Splits seen: another member answering for a VIP this host holds while gossip does not show it alive.",
		}, []string{"vip"}),
		known:  map[string]bool{},
		owners: map[string]string{},
	}
	m.hostMetrics = newHostMetrics()
	reg.MustRegister(m.role, m.health, m.owner, m.transitions, m.conflicts, m.links, m.splits)
	m.hostMetrics.register(reg)
	return m
}

func (m *Metrics) state(v config.VIP, rec vipRecord) {
	if m == nil {
		return
	}
	addr := v.Address.Addr().String()
	if !m.known[v.Name] {
		// Counters exist at 0 from the start, so increase() sees the first
		// event and dashboards find the series.
		for _, r := range allRoles {
			m.transitions.WithLabelValues(v.Name, string(r))
		}
		m.splits.WithLabelValues(v.Name)
		m.conflicts.WithLabelValues(v.Name, addr, "foreign_mac")
		m.conflicts.WithLabelValues(v.Name, addr, "foreign_address")
	}
	m.known[v.Name] = true
	for _, r := range allRoles {
		m.role.WithLabelValues(v.Name, addr, string(r)).Set(oneIf(r == rec.role))
	}
	for _, h := range allHealth {
		m.health.WithLabelValues(v.Name, addr, string(h)).Set(oneIf(h == rec.health))
	}
	// One owner series per VIP. Not DeletePartialMatch: it scans every
	// series, and with a thousand VIPs changing at once that was most of a
	// failover's CPU.
	if was, ok := m.owners[v.Name]; ok && was != rec.owner {
		m.owner.DeleteLabelValues(v.Name, was)
	}
	m.owners[v.Name] = rec.owner
	m.owner.WithLabelValues(v.Name, rec.owner).Set(1)
}

func oneIf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *Metrics) transition(vip string, from, to vipRecord) {
	if m == nil {
		return
	}
	if from.role != to.role {
		m.transitions.WithLabelValues(vip, string(to.role)).Inc()
	}
	if to.health == api.HealthSplit && from.health != api.HealthSplit {
		m.splits.WithLabelValues(vip).Inc()
	}
}

// forgetExcept drops the series of VIPs no longer configured.
func (m *Metrics) forgetExcept(vips []config.VIP) {
	if m == nil {
		return
	}
	keep := map[string]bool{}
	for _, v := range vips {
		keep[v.Name] = true
	}
	for name := range m.known {
		if keep[name] {
			continue
		}
		delete(m.known, name)
		delete(m.owners, name)
		for _, g := range []*prometheus.GaugeVec{m.role, m.health, m.owner} {
			g.DeletePartialMatch(prometheus.Labels{"vip": name})
		}
		for _, c := range []*prometheus.CounterVec{m.transitions, m.splits, m.conflicts} {
			c.DeletePartialMatch(prometheus.Labels{"vip": name})
		}
	}
}

func (m *Metrics) event(ev announcer.Event, cfg *config.Config) {
	if m == nil {
		return
	}
	addr := ev.VIP.String()
	name := addr
	for _, v := range cfg.VIPs {
		if v.Address.Addr() == ev.VIP {
			name = v.Name
		}
	}
	switch ev.Kind {
	case announcer.ForeignMAC:
		m.conflicts.WithLabelValues(name, addr, "foreign_mac").Inc()
	case announcer.ForeignAddress:
		m.conflicts.WithLabelValues(name, addr, "foreign_address").Inc()
	case announcer.LinkDown:
		m.links.WithLabelValues(ev.Interface, "down").Inc()
	case announcer.LinkUp:
		m.links.WithLabelValues(ev.Interface, "up").Inc()
	}
}

// hostLinks creates an interface's link counters at 0.
func (m *Metrics) hostLinks(ifc string) {
	m.links.WithLabelValues(ifc, "down")
	m.links.WithLabelValues(ifc, "up")
}
