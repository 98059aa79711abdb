package health

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vipd/vipd/config"
)

// Runner probes one check every interval and keeps its up/down state.
type Runner struct {
	name     string
	checker  Checker
	interval time.Duration
	rise     int
	fall     int
	opts     Options
	// notify gets a token whenever Up changes; it holds one, so a slow
	// reader sees that something changed and never blocks the runner.
	notify chan struct{}

	mu     sync.Mutex
	status Status
}

// NewRunner returns a runner for the check called name that probes with
// checker at c's interval and applies c's rise and fall. The checker bounds
// each probe by c's timeout itself (see NewChecker).
func NewRunner(name string, c *config.Check, checker Checker, opts Options) (*Runner, error) {
	return newRunner(name, c, checker, opts, make(chan struct{}, 1))
}

func newRunner(name string, c *config.Check, checker Checker, opts Options, notify chan struct{}) (*Runner, error) {
	switch {
	case c.Interval.Duration <= 0:
		return nil, fmt.Errorf("check %s: interval %s must be more than 0s", name, c.Interval)
	case c.Rise < 1 || c.Fall < 1:
		return nil, fmt.Errorf("check %s: rise %d and fall %d must be 1 or more", name, c.Rise, c.Fall)
	}
	opts = opts.withDefaults()
	return &Runner{
		name:     name,
		checker:  checker,
		interval: c.Interval.Duration,
		rise:     c.Rise,
		fall:     c.Fall,
		opts:     opts,
		notify:   notify,
		status:   initialStatus(name, opts.Clock.Now()),
	}, nil
}

// Run probes until ctx ends, the first time after the jitter delay and then
// every interval. It returns once the probe in flight, if any, has stopped.
// A probe cut short by ctx is not counted: it says nothing about the backend.
func (r *Runner) Run(ctx context.Context) {
	wait := r.opts.Jitter(r.interval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.opts.Clock.After(wait):
		}
		started := r.opts.Clock.Now()
		err := r.checker.Check(ctx)
		if ctx.Err() != nil {
			return
		}
		r.record(started, err)
		// Keep the cadence: the next probe starts one interval after this
		// one started, however long this one took.
		wait = max(0, started.Add(r.interval).Sub(r.opts.Clock.Now()))
	}
}

// Status returns the check's current state.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// Changed receives a token after Up changes. Read Status after it, not
// before: tokens are not queued, only the latest state counts.
func (r *Runner) Changed() <-chan struct{} { return r.notify }

func (r *Runner) record(at time.Time, err error) {
	r.mu.Lock()
	before := r.status
	after := advance(before, at, err, r.rise, r.fall)
	r.status = after
	r.mu.Unlock()
	if after.Up == before.Up {
		return
	}
	if after.Up {
		r.opts.Logger.Info("health check up", "check", r.name, "reason", after.Reason)
	} else {
		r.opts.Logger.Warn("health check down", "check", r.name, "reason", after.Reason)
	}
	select {
	case r.notify <- struct{}{}:
	default: // a token is already waiting
	}
}

// resume starts the runner from st, the state of the same check before a
// reload, so that a reload does not send a healthy host back to rising.
func (r *Runner) resume(st Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st.Check = r.name
	r.status = st
}
