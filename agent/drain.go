package agent

import (
	"context"
	"slices"

	"github.com/vipd/vipd/api"
)

// Drain marks this host drained: it takes no VIP, and hands each VIP it
// holds to another host make-before-break (see the package doc). With
// wait, it returns once every VIP has been handed over or drain_timeout has
// passed; the result says which.
func (a *Agent) Drain(ctx context.Context, wait bool) api.DrainResult {
	a.mu.Lock()
	before := a.holds.Sorted()
	if !a.drained {
		a.log.Info("draining: handing this host's VIPs to other hosts", "units", before)
	}
	a.drained = true
	a.mu.Unlock()
	a.poke()
	if wait {
		a.waitFor(ctx, func() bool { return len(a.holds) == 0 })
	}
	return a.drainResult(before)
}

// Undrain lets this host take VIPs again. Owners keep theirs: nothing moves
// back unless a VIP asks for failback.
func (a *Agent) Undrain() api.DrainResult {
	a.mu.Lock()
	if a.drained {
		a.log.Info("undrained: this host may take VIPs again")
	}
	a.drained = false
	a.mu.Unlock()
	a.poke()
	return a.drainResult(nil)
}

func (a *Agent) drainResult(before []string) api.DrainResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := api.DrainResult{Drained: a.drained, StillHeld: a.holds.Sorted()}
	for _, k := range before {
		if !slices.Contains(r.StillHeld, k) {
			r.HandedOver = append(r.HandedOver, k)
		}
	}
	return r
}

// waitFor returns when cond, read under the lock after a reconcile, holds
// or ctx ends.
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
		case <-a.opts.Clock.After(resync):
		}
	}
}
