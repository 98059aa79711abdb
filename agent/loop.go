package agent

import (
	"context"
	"time"

	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/api"
)

// step gathers the inputs, steps the machine and carries out its plan. It
// returns when the loop must step again at the latest, and what gathering
// and deciding cost (not carrying out, which may wait on the wire).
func (a *Agent) step(ctx context.Context, events []announcer.Event) (wake time.Time, cost time.Duration) {
	began := time.Now() // the wall clock, not opts.Clock: the cost is real time spent
	in := Input{
		Now:     a.opts.Clock.Now(),
		Health:  a.opts.Checks.Units(),
		View:    a.opts.Cluster.View(),
		Members: a.opts.Cluster.Members(),
		Settled: a.opts.Cluster.Settled(),
		Pending: a.opts.Cluster.Pending(),
		Events:  events,

		KeyMismatches: a.opts.Cluster.KeyMismatches(),
	}
	a.mu.Lock()
	in.Config = a.cfg
	plan := a.machine.Step(in)
	a.steps++
	a.members = in.Members
	a.mu.Unlock()
	cost = time.Since(began)

	a.carryOut(ctx, in, plan)

	a.mu.Lock()
	a.lastStep = a.opts.Clock.Now()
	a.resync = resyncFor(cost)
	a.mu.Unlock()
	if plan.Ready {
		close(a.ready)
	}
	select {
	case a.changed <- struct{}{}:
	default:
	}
	return plan.WakeAt, cost
}

// carryOut does what a plan says, in the order that keeps the wire right:
// answer first, then tell the cluster.
func (a *Agent) carryOut(ctx context.Context, in Input, p Plan) {
	for _, ev := range p.Events {
		a.logEvent(ev)
		a.opts.Metrics.event(ev, in.Config)
	}
	if p.ClusterMACs != nil {
		a.opts.Announcer.SetClusterMACs(p.ClusterMACs)
	}
	if err := a.opts.Announcer.Apply(ctx, p.Owned, p.Fresh); err != nil && ctx.Err() == nil {
		a.log.Error("announcing the VIPs this host owns failed; retrying every second", "err", err)
	}
	a.opts.Announcer.Watch(p.Watched)
	a.publish.set(p.Publish)
	for _, k := range p.Gained {
		a.log.Info("this host now announces a VIP unit", "unit", k)
	}
	for _, k := range p.Lost {
		a.log.Info("this host no longer announces a VIP unit", "unit", k)
	}
	for _, c := range p.Changes {
		a.opts.Metrics.state(c.VIP, c.To)
		if c.From.health == c.To.health && c.From.role == c.To.role {
			continue
		}
		a.logChange(c)
		a.opts.Metrics.transition(c.VIP.Name, c.From, c.To)
		a.notify.stateChanged(in.Config.Notify, c)
	}
	a.opts.Metrics.forgetExcept(in.Config.VIPs)
	a.mu.Lock()
	facts := hostFacts{machine: a.machine, config: in.Config, checks: a.opts.Checks.Statuses(), members: in.Members}
	a.opts.Metrics.host(facts)
	a.mu.Unlock()
}

func (a *Agent) logChange(c Change) {
	level := a.log.Info
	switch c.To.health {
	case api.HealthNoOwner:
		level = a.log.Warn
	case api.HealthConflict, api.HealthSplit:
		level = a.log.Error
	}
	level("VIP state changed", "vip", c.VIP.Name, "address", c.VIP.Address.Addr().String(),
		"health", c.To.health, "role", orNone(string(c.From.role))+" -> "+string(c.To.role),
		"owner", orNobody(c.To.owner), "reason", c.To.reason)
}

func (a *Agent) logEvent(ev announcer.Event) {
	switch ev.Kind {
	case announcer.ForeignMAC:
		a.log.Error("conflict: another machine answers for a VIP; find the host with that MAC and remove the address from it",
			"vip", ev.VIP, "mac", ev.MAC.String(), "interface", ev.Interface)
	case announcer.ForeignAddress:
		a.log.Error("conflict: a VIP is on a host interface that vipd does not manage; remove it with 'ip addr del'",
			"vip", ev.VIP, "interface", ev.Interface)
	case announcer.LinkDown:
		a.log.Warn("managed interface is down; this host cannot announce on it until it comes back", "interface", ev.Interface)
	case announcer.LinkUp:
		a.log.Info("managed interface is up; claiming again once this host has rejoined the cluster", "interface", ev.Interface)
	}
}

// drainEvents appends the events already waiting, so one step sees them all.
func drainEvents(ch <-chan announcer.Event, events []announcer.Event) []announcer.Event {
	for range 64 {
		select {
		case ev := <-ch:
			events = append(events, ev)
		default:
			return events
		}
	}
	return events
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
