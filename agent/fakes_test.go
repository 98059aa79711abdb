package agent

import (
	"context"
	"maps"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/health"
	"github.com/vipd/vipd/membership"
)

// world is a cluster with perfect, instant gossip: every host's SetLocal is
// seen by all at once. It lets agent tests run several agents with no
// network and no root.
type world struct {
	mu    sync.Mutex
	units []election.Unit
	hosts map[string]*fakeHost
}

type fakeHost struct {
	local   membership.Local
	alive   bool
	changes chan struct{}
}

func newWorld(cfg *config.Config) *world {
	return &world{units: membership.UnitsFromConfig(cfg.VIPs), hosts: map[string]*fakeHost{}}
}

// member returns the Cluster one host sees.
func (w *world) member(name string) *fakeCluster {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hosts[name] = &fakeHost{alive: true, changes: make(chan struct{}, 1)}
	w.signalLocked()
	return &fakeCluster{w: w, name: name}
}

func (w *world) kill(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hosts[name].alive = false
	w.signalLocked()
}

func (w *world) signalLocked() {
	for _, h := range w.hosts {
		select {
		case h.changes <- struct{}{}:
		default:
		}
	}
}

type fakeCluster struct {
	w    *world
	name string
}

func (c *fakeCluster) View() election.View {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	known := election.Fingerprints(c.w.units)
	var hosts []election.Host
	for _, name := range slices.Sorted(maps.Keys(c.w.hosts)) {
		h := c.w.hosts[name]
		hosts = append(hosts, election.Host{
			Name: name, Alive: h.alive, Drained: h.local.Drained, Known: known,
			Passing: maps.Clone(h.local.Passing), Holds: maps.Clone(h.local.Holds),
		})
	}
	return election.View{Hosts: hosts, Units: slices.Clone(c.w.units)}
}

func (c *fakeCluster) Changes() <-chan struct{} {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	return c.w.hosts[c.name].changes
}

func (c *fakeCluster) SetLocal(l membership.Local) error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	c.w.hosts[c.name].local = l
	c.w.signalLocked()
	return nil
}

func (c *fakeCluster) SetUnits(u []election.Unit) error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	c.w.units = u
	c.w.signalLocked()
	return nil
}

func (c *fakeCluster) Settled() bool { return true }

func (c *fakeCluster) Members() []membership.Member {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	var ms []membership.Member
	for name, h := range c.w.hosts {
		st := membership.StateAlive
		if !h.alive {
			st = membership.StateDead
		}
		ms = append(ms, membership.Member{Name: name, State: st, Drained: h.local.Drained, Resolved: true})
	}
	return ms
}

func (c *fakeCluster) Leave(time.Duration) error { return nil }

// fakeChecks lets a test say which units pass on a host.
type fakeChecks struct {
	mu      sync.Mutex
	units   []health.UnitStatus
	changed chan struct{}
	applied []*config.Config
}

func newFakeChecks(cfg *config.Config) *fakeChecks {
	c := &fakeChecks{changed: make(chan struct{}, 1)}
	for _, u := range membership.UnitsFromConfig(cfg.VIPs) {
		c.units = append(c.units, health.UnitStatus{Unit: u.Key, Checks: checksOf(cfg, u.Key), Eligible: true})
	}
	return c
}

// checksOf lists the checks of unit's VIPs, as health.Set does.
func checksOf(cfg *config.Config, unit string) []string {
	var names []string
	for _, v := range cfg.VIPs {
		if v.Unit() == unit {
			names = append(names, v.Checks...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func (c *fakeChecks) set(unit string, eligible bool, reason string) {
	c.mu.Lock()
	for i := range c.units {
		if c.units[i].Unit == unit {
			c.units[i].Eligible, c.units[i].Reason = eligible, reason
		}
	}
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *fakeChecks) Changed() <-chan struct{}  { return c.changed }
func (c *fakeChecks) Statuses() []health.Status { return nil }
func (c *fakeChecks) Units() []health.UnitStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.units)
}
func (c *fakeChecks) Apply(cfg *config.Config) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applied = append(c.applied, cfg)
	have := map[string]bool{}
	for _, u := range c.units {
		have[u.Unit] = true
	}
	for _, u := range membership.UnitsFromConfig(cfg.VIPs) {
		if !have[u.Key] {
			c.units = append(c.units, health.UnitStatus{Unit: u.Key, Checks: checksOf(cfg, u.Key), Eligible: true})
		}
	}
	return nil
}

// fakeAnnouncer records what it was told to announce, and a shared log of
// every Apply across hosts so tests can check make-before-break.
type fakeAnnouncer struct {
	name   string
	events chan Event
	log    *applyLog

	mu    sync.Mutex
	owned []string
	fresh []string
}

type applyLog struct {
	mu sync.Mutex
	// announcing is the set of hosts that announce each VIP, after every Apply.
	announcing map[string]map[string]bool
	// gaps counts moments when a VIP someone announced was announced by
	// nobody.
	gaps map[string]int
}

func newApplyLog() *applyLog {
	return &applyLog{announcing: map[string]map[string]bool{}, gaps: map[string]int{}}
}

func (a *fakeAnnouncer) Apply(_ context.Context, owned []config.VIP, fresh []string) error {
	var names []string
	for _, v := range owned {
		names = append(names, v.Name)
	}
	a.mu.Lock()
	a.owned, a.fresh = names, append(a.fresh, fresh...)
	a.mu.Unlock()
	if a.log != nil {
		a.log.record(a.name, names)
	}
	return nil
}

func (l *applyLog) record(host string, owned []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for vip, hosts := range l.announcing {
		if hosts[host] && !slices.Contains(owned, vip) {
			delete(hosts, host)
			if len(hosts) == 0 {
				l.gaps[vip]++
			}
		}
	}
	for _, vip := range owned {
		if l.announcing[vip] == nil {
			l.announcing[vip] = map[string]bool{}
		}
		l.announcing[vip][host] = true
	}
}

func (a *fakeAnnouncer) Events() <-chan Event { return a.events }

func (a *fakeAnnouncer) Manage([]config.VIP) error { return nil }

func (a *fakeAnnouncer) SetClusterMACs([]net.HardwareAddr) {}

func (a *fakeAnnouncer) announced() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.owned)
}

// eventually waits for cond with a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
