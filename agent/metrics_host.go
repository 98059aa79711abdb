package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/health"
	"github.com/vipd/vipd/membership"
)

// hostMetrics are about this host rather than one VIP: its drain, its
// checks, and whether the members agree on the config.
type hostMetrics struct {
	drained        prometheus.Gauge
	drainedSince   prometheus.Gauge
	checkUp        *prometheus.GaugeVec
	checkChanges   *prometheus.CounterVec
	configMismatch prometheus.Gauge
	checks         map[string]bool // last Up per check
	linksSeen      map[string]bool // interfaces with series
}

func newHostMetrics() *hostMetrics {
	return &hostMetrics{
		drained: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vipd_drained",
			Help: "1 while this host is drained (kept across restarts until 'vipctl undrain').",
		}),
		drainedSince: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vipd_drained_since_timestamp_seconds",
			Help: "When the drain of this host began, as a Unix time; 0 when not drained.",
		}),
		checkUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vipd_check_up",
			Help: "1 while the health check is up on this host (after rise/fall), 0 while down.",
		}, []string{"check"}),
		checkChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vipd_check_transitions_total",
			Help: "Health checks going up or down on this host, by the state entered.",
		}, []string{"check", "to"}),
		configMismatch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vipd_config_mismatch_members",
			Help: "Alive members whose VIP list differs from this host's ('differs' in vipctl members).",
		}),
		checks:    map[string]bool{},
		linksSeen: map[string]bool{},
	}
}

func (h *hostMetrics) register(reg prometheus.Registerer) {
	reg.MustRegister(h.drained, h.drainedSince, h.checkUp, h.checkChanges, h.configMismatch)
}

// hostFacts is what one step knew about this host for the host metrics.
type hostFacts struct {
	machine *Machine
	config  *config.Config
	checks  []health.Status
	members []membership.Member
}

func (m *Metrics) host(f hostFacts) {
	if m == nil {
		return
	}
	m.drained.Set(oneIf(f.machine.drained))
	since := 0.0
	if f.machine.drained {
		since = float64(f.machine.drainedSince.Unix())
	}
	m.drainedSince.Set(since)
	for _, c := range f.checks {
		m.checkUp.WithLabelValues(c.Check).Set(oneIf(c.Up))
		was, known := m.checks[c.Check]
		switch {
		case !known:
			m.checkChanges.WithLabelValues(c.Check, "up")
			m.checkChanges.WithLabelValues(c.Check, "down")
		case was != c.Up:
			m.checkChanges.WithLabelValues(c.Check, map[bool]string{true: "up", false: "down"}[c.Up]).Inc()
		}
		m.checks[c.Check] = c.Up
	}
	m.configMismatch.Set(float64(configMismatches(f.members, f.config.NodeName)))
	for _, ifc := range f.config.Interfaces {
		if !m.linksSeen[ifc.Name] {
			m.linksSeen[ifc.Name] = true
			m.hostLinks(ifc.Name)
		}
	}
}

// configMismatches counts the alive members whose unit list is known and
// differs from this host's.
func configMismatches(members []membership.Member, self string) int {
	var own membership.ConfigFingerprint
	for _, mb := range members {
		if mb.Name == self {
			own = mb.Config
		}
	}
	n := 0
	for _, mb := range members {
		if mb.Name != self && mb.State == membership.StateAlive && mb.Resolved && mb.Config != own {
			n++
		}
	}
	return n
}
