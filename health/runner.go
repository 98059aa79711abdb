package health

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vipd/vipd/config"
)

// Runner probes one check every interval and keeps its up/down state.
//
// A check that is up and fails a probe is re-checked every fast interval,
// not every interval, until it has failed fall probes in a row (it goes
// down) or passes again (it stays up): the failure is confirmed quickly,
// and one bad probe still moves nothing. This is the idea of HAProxy's
// fastinter. A check that is down, or rising, keeps the normal interval, so
// a host whose checks all pass, or all fail, runs no extra probe and no
// extra timer. See confirmsAtOnce for the one failure that needs no
// re-check. With watch set (http, https and tcp checks), a connWatch holds a
// connection to the backend and the runner probes at once when the backend
// closes it.
type Runner struct {
	name     string
	checker  Checker
	interval time.Duration
	fast     time.Duration // re-check interval while a failure is confirmed
	rise     int
	fall     int
	opts     Options
	watch    *connWatch // nil: no watched connection
	// notify gets a token whenever Up changes; it holds one, so a slow
	// reader sees that something changed and never blocks the runner.
	notify chan struct{}

	mu     sync.Mutex
	status Status
}

// NewRunner returns a runner for the check called name that probes with
// checker at c's interval and fast interval and applies c's rise and fall.
// A zero fast interval means the interval: no faster re-checks. The checker
// bounds each probe by c's timeout itself (see NewChecker).
func NewRunner(name string, c *config.Check, checker Checker, opts Options) (*Runner, error) {
	return newRunner(name, c, checker, opts, make(chan struct{}, 1))
}

func newRunner(name string, c *config.Check, checker Checker, opts Options, notify chan struct{}) (*Runner, error) {
	switch {
	case c.Interval.Duration <= 0:
		return nil, fmt.Errorf("check %s: interval %s must be more than 0s", name, c.Interval)
	case c.FastInterval.Duration < 0 || c.FastInterval.Duration > c.Interval.Duration:
		return nil, fmt.Errorf("check %s: fast interval %s must be from 0s to interval %s", name, c.FastInterval, c.Interval)
	case c.Rise < 1 || c.Fall < 1:
		return nil, fmt.Errorf("check %s: rise %d and fall %d must be 1 or more", name, c.Rise, c.Fall)
	}
	fast := c.FastInterval.Duration
	if fast == 0 {
		fast = c.Interval.Duration
	}
	opts = opts.withDefaults()
	r := &Runner{
		name:     name,
		checker:  checker,
		interval: c.Interval.Duration,
		fast:     fast,
		rise:     c.Rise,
		fall:     c.Fall,
		opts:     opts,
		notify:   notify,
		status:   initialStatus(name, opts.Clock.Now()),
	}
	if w, ok := checker.(watchable); ok && c.Watch != nil && *c.Watch {
		r.watch = newConnWatch(w.watchAddress(), c.Interval.Duration, c.Timeout.Duration, opts.Clock)
	}
	return r, nil
}

// Run probes until ctx ends, the first time after the jitter delay and then
// every interval, or every fast interval while it confirms a failure. It
// returns once the probe in flight, if any, has stopped. A probe cut short
// by ctx is not counted: it says nothing about the backend.
//
// With a watched connection, it also probes as soon as the backend closes
// that connection.
func (r *Runner) Run(ctx context.Context) {
	var closed <-chan struct{}
	if r.watch != nil {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			r.watch.run(ctx)
		}()
		closed = r.watch.closed
	}
	wait := r.opts.Jitter(r.interval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.opts.Clock.After(wait):
		case <-closed:
		}
		started := r.opts.Clock.Now()
		err := r.checker.Check(ctx)
		if ctx.Err() != nil {
			return
		}
		st := r.record(started, err)
		if err == nil && r.watch != nil {
			r.watch.probePassed()
		}
		wait = r.next(started, st)
	}
}

// next returns how long to wait before the probe after one that started at
// started and left the check at st.
func (r *Runner) next(started time.Time, st Status) time.Duration {
	if st.Up && st.Failures > 0 {
		// Confirming a failure: re-check one fast interval after this probe
		// ended, not after it started. A probe that failed fast (refused,
		// a 503) is re-checked after the fast interval either way; one that
		// ran into its timeout, which may be longer than the fast interval,
		// is re-checked a fast interval later rather than at once, so a
		// backend that stalled for a moment gets that moment to recover, and
		// probes never overlap whatever the timeout.
		return r.fast
	}
	// Keep the cadence: the next probe starts one interval after this one
	// started, however long this one took.
	return max(0, started.Add(r.interval).Sub(r.opts.Clock.Now()))
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

// record applies the result of a probe that started at at and returns the
// check's new state.
func (r *Runner) record(at time.Time, err error) Status {
	r.mu.Lock()
	before := r.status
	after := advance(before, at, err, r.rise, r.fall)
	r.status = after
	r.mu.Unlock()
	if after.Up == before.Up {
		return after
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
	return after
}

// resume starts the runner from st, the state of the same check before a
// reload, so that a reload does not send a healthy host back to rising.
func (r *Runner) resume(st Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st.Check = r.name
	r.status = st
}
