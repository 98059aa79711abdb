package agent

import (
	"context"
	"slices"

	"github.com/vipd/vipd/api"
)

// Drain marks this host drained: it takes no VIP, and hands each VIP it
// holds to another host make-before-break (see the package doc). The drain
// is kept in state_dir, so a restart (a package upgrade, a reboot) does not
// undo it. With wait, it returns once every VIP has been handed over or ctx
// ends; the result says which.
func (a *Agent) Drain(ctx context.Context, wait bool) api.DrainResult {
	return a.drain(ctx, wait, true)
}

// DrainForStop hands this host's VIPs over like Drain with wait, but does
// not record the drain: the next start takes VIPs again. It does not wait
// for units no other host can take: the host is going anyway.
func (a *Agent) DrainForStop(ctx context.Context) api.DrainResult {
	return a.drain(ctx, true, false)
}

func (a *Agent) drain(ctx context.Context, wait, keep bool) api.DrainResult {
	now := a.opts.Clock.Now()
	if keep {
		if err := a.drains.save(now); err != nil {
			a.log.Error("the drain is not kept across a restart: recording it failed; check state_dir", "err", err)
		}
	}
	a.mu.Lock()
	before := a.machine.holds.Sorted()
	if !a.machine.drained {
		a.log.Info("draining: handing this host's VIPs to other hosts", "units", before)
	}
	a.machine.SetDrained(true, now)
	drainedAt := a.steps
	a.mu.Unlock()
	a.poke()
	if wait {
		a.waitFor(ctx, func() bool {
			stepped := a.steps > drainedAt // decisions made with the drain
			return len(a.machine.holds) == 0 || (!keep && stepped && !a.machine.anyTaker())
		})
	}
	return a.drainResult(before)
}

// Undrain lets this host take VIPs again and forgets the recorded drain.
// Owners keep theirs: nothing moves back unless a VIP asks for failback.
func (a *Agent) Undrain() api.DrainResult {
	if err := a.drains.clear(); err != nil {
		a.log.Error("removing the recorded drain failed; the host may come back drained after a restart", "err", err)
	}
	a.mu.Lock()
	if a.machine.drained {
		a.log.Info("undrained: this host may take VIPs again")
	}
	a.machine.SetDrained(false, a.opts.Clock.Now())
	a.mu.Unlock()
	a.poke()
	return a.drainResult(nil)
}

func (a *Agent) drainResult(before []string) api.DrainResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := api.DrainResult{Drained: a.machine.drained, StillHeld: a.machine.holds.Sorted()}
	for _, k := range before {
		if !slices.Contains(r.StillHeld, k) {
			r.HandedOver = append(r.HandedOver, k)
		}
	}
	return r
}

// waitFor returns when cond, read under the lock after a step, holds or
// ctx ends.
func (a *Agent) waitFor(ctx context.Context, cond func() bool) {
	for {
		a.mu.Lock()
		ok := cond()
		a.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-a.changed:
		case <-a.opts.Clock.After(minResync):
		}
	}
}
