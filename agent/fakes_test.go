package agent

import (
	"context"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/health"
	"github.com/vipd/vipd/membership"
)

// loneCluster is the gossip of a cluster of one host: the view holds only
// this host, as it last published itself.
type loneCluster struct {
	name    string
	mu      sync.Mutex
	units   []election.Unit
	local   membership.Local
	changes chan struct{}
}

func newLoneCluster(cfg *config.Config) *loneCluster {
	return &loneCluster{name: cfg.NodeName, units: membership.UnitsFromConfig(cfg.VIPs), changes: make(chan struct{})}
}

func (c *loneCluster) View() election.View {
	c.mu.Lock()
	defer c.mu.Unlock()
	return election.View{
		Hosts: []election.Host{{Name: c.name, Alive: true, Known: election.Fingerprints(c.units), Passing: c.local.Passing, Holds: c.local.Holds}},
		Units: slices.Clone(c.units),
	}
}

func (c *loneCluster) Changes() <-chan struct{} { return c.changes }

func (c *loneCluster) SetLocal(l membership.Local) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.local = l
	return nil
}

func (c *loneCluster) SetUnits(u []election.Unit) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.units = u
	return nil
}

func (c *loneCluster) Settled() bool     { return true }
func (c *loneCluster) Pending() []string { return nil }

func (c *loneCluster) Members() []membership.Member {
	return []membership.Member{{Name: c.name, State: membership.StateAlive, Resolved: true}}
}

func (c *loneCluster) Leave(time.Duration) error { return nil }

func (c *loneCluster) KeyMismatches() []membership.KeyMismatch { return nil }

// fakeChecks passes every unit of the config.
type fakeChecks struct {
	mu    sync.Mutex
	units []health.UnitStatus
}

func newFakeChecks(cfg *config.Config) *fakeChecks {
	c := &fakeChecks{}
	c.Apply(cfg)
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

func (c *fakeChecks) Changed() <-chan struct{}  { return nil }
func (c *fakeChecks) Statuses() []health.Status { return nil }
func (c *fakeChecks) Units() []health.UnitStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.units)
}
func (c *fakeChecks) Apply(cfg *config.Config) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.units = nil
	for _, u := range membership.UnitsFromConfig(cfg.VIPs) {
		c.units = append(c.units, health.UnitStatus{Unit: u.Key, Checks: checksOf(cfg, u.Key), Eligible: true})
	}
	return nil
}

// fakeAnnouncer records what it was last told to answer for.
type fakeAnnouncer struct {
	events chan announcer.Event
	mu     sync.Mutex
	owned  []string
}

func (a *fakeAnnouncer) Apply(_ context.Context, owned []config.VIP, _ []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.owned = nil
	for _, v := range owned {
		a.owned = append(a.owned, v.Name)
	}
	return nil
}

func (a *fakeAnnouncer) Events() <-chan announcer.Event    { return a.events }
func (a *fakeAnnouncer) Manage([]config.VIP) error         { return nil }
func (a *fakeAnnouncer) Watch([]config.VIP)                {}
func (a *fakeAnnouncer) SetClusterMACs([]net.HardwareAddr) {}
func (a *fakeAnnouncer) answering() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.owned)
}

// fakeClock stands still; After never fires, so a loop under test steps
// only when something tells it to.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time                       { return c.now }
func (c *fakeClock) After(time.Duration) <-chan time.Time { return nil }
