package agent

import (
	"context"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/health"
)

// reconcile runs one pass: decide, announce what this host should, publish
// what it holds, and record each VIP's state.
func (a *Agent) reconcile(ctx context.Context) {
	now := a.opts.Clock.Now()
	units := map[string]health.UnitStatus{}
	passing := election.NewKeySet()
	for _, u := range a.opts.Checks.Units() {
		units[u.Unit] = u
		if u.Eligible {
			passing[u.Unit] = struct{}{}
		}
	}

	a.mu.Lock()
	cfg := a.cfg
	self := cfg.NodeName
	view := a.opts.Cluster.View()
	a.overrideSelf(&view, self, passing)
	for _, h := range view.Hosts {
		if h.Alive {
			maps.Copy(a.everHeld, h.Holds)
		}
	}
	ds := election.Decide(view)
	want := a.handoff.desired(self, view, ds, passing, a.holds, now, cfg.DrainTimeout.Duration)
	a.wakeAt = a.settle.hold(want, a.holds, a.everHeld, now)
	a.mu.Unlock()

	a.shareClusterMACs()
	owned, fresh := ownedVIPs(cfg, want, a.holds, a.everHeld)
	if err := a.opts.Announcer.Apply(ctx, owned, fresh); err != nil {
		if ctx.Err() != nil {
			return
		}
		a.log.Error("announcing the VIPs this host owns failed; retrying every second", "err", err)
	}

	a.mu.Lock()
	gained, lost := diff(a.holds, want)
	a.holds = want
	a.decisions = ds
	a.publish.set(a.membershipLocal(passing))
	a.units = units
	a.recordStates(cfg, ds, now)
	a.lastReconcile = a.opts.Clock.Now()
	if !a.converged && a.opts.Cluster.Settled() {
		a.converged = true
		close(a.ready)
	}
	a.mu.Unlock()

	for _, k := range gained {
		a.log.Info("this host now announces a VIP unit", "unit", k)
	}
	for _, k := range lost {
		a.log.Info("this host no longer announces a VIP unit", "unit", k)
	}
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

// overrideSelf puts this host's own state in the view as it is now, not as
// gossip last carried it.
func (a *Agent) overrideSelf(view *election.View, self string, passing election.KeySet) {
	for i := range view.Hosts {
		h := &view.Hosts[i]
		if h.Name != self {
			continue
		}
		h.Alive, h.Drained = true, a.drained
		h.Passing, h.Holds = passing, a.holds
	}
}

// ownedVIPs returns the VIPs of the wanted units, and the names of those in
// units no host has been seen holding, which the announcer may probe first.
func ownedVIPs(cfg *config.Config, want, holds, everHeld election.KeySet) (owned []config.VIP, fresh []string) {
	for _, v := range cfg.VIPs {
		if !want.Has(v.Unit()) {
			continue
		}
		owned = append(owned, v)
		if !holds.Has(v.Unit()) && !everHeld.Has(v.Unit()) {
			fresh = append(fresh, v.Name)
		}
	}
	return owned, fresh
}

func diff(before, after election.KeySet) (gained, lost []string) {
	for k := range after {
		if !before.Has(k) {
			gained = append(gained, k)
		}
	}
	for k := range before {
		if !after.Has(k) {
			lost = append(lost, k)
		}
	}
	slices.Sort(gained)
	slices.Sort(lost)
	return gained, lost
}

// recordStates updates each VIP's state, and logs, counts and notifies
// every change.
func (a *Agent) recordStates(cfg *config.Config, ds election.Decisions, now time.Time) {
	seen := map[string]bool{}
	for _, v := range cfg.VIPs {
		seen[v.Name] = true
		d, _ := ds.Lookup(v.Unit())
		f := a.factsLocked(v.Unit())
		f.announced = a.holds.Has(v.Unit())
		f.conflict = a.conflictFor(v, now)
		state, reason := vipState(cfg.NodeName, d, f)
		old, had := a.vips[v.Name]
		if had && old.state == state && old.owner == d.Owner {
			old.reason = reason
			a.vips[v.Name] = old
			continue
		}
		a.vips[v.Name] = vipRecord{state: state, owner: d.Owner, reason: reason, since: now}
		if !had {
			old.state = "none"
		}
		if old.state != state {
			a.logTransition(v, old.state, state, d.Owner, reason)
			a.opts.Metrics.transition(v.Name, state)
			a.notify.stateChanged(cfg.Notify, v, old.state, state, reason)
		}
		a.opts.Metrics.state(v.Name, v.Address.Addr().String(), state, d.Owner)
	}
	for name := range a.vips {
		if !seen[name] {
			delete(a.vips, name)
			a.opts.Metrics.forget(name)
		}
	}
}

func (a *Agent) conflictFor(v config.VIP, now time.Time) string {
	c, ok := a.conflicts[v.Address.Addr().String()]
	if !ok {
		return ""
	}
	if now.Sub(c.at) > conflictHold {
		delete(a.conflicts, v.Address.Addr().String())
		return ""
	}
	return c.text
}

func (a *Agent) logTransition(v config.VIP, from, to, owner, reason string) {
	level := a.log.Info
	if to == api.StateNoOwner || to == api.StateConflict {
		level = a.log.Warn
	}
	level("VIP state changed", "vip", v.Name, "address", v.Address.Addr().String(), "from", from, "to", to, "owner", orNobody(owner), "reason", reason)
}

// factsLocked is what the last health reading says about unit.
func (a *Agent) factsLocked(unit string) unitFacts {
	u := a.units[unit]
	f := unitFacts{checks: u.Checks}
	if !u.Eligible {
		f.checkReason = u.Reason
	}
	return f
}

// shareClusterMACs tells the announcer every member's MACs when they
// change, so that a member's own packets are never taken for a conflict.
func (a *Agent) shareClusterMACs() {
	var macs []net.HardwareAddr
	var key strings.Builder
	for _, m := range a.opts.Cluster.Members() {
		for _, mac := range m.MACs {
			macs = append(macs, mac)
			key.WriteString(mac.String())
		}
	}
	macs = append(macs, a.opts.MACs...)
	if key.String() == a.clusterMACs {
		return
	}
	a.clusterMACs = key.String()
	a.opts.Announcer.SetClusterMACs(macs)
}
