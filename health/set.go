package health

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/vipd/vipd/config"
)

// Set runs every check of a config, one Runner each, and says which units
// (VIPs, or groups of VIPs that move together) this host may serve: those
// whose checks are all up.
type Set struct {
	opts Options
	// notify is shared by every runner of the set and holds one token.
	notify chan struct{}

	mu      sync.Mutex
	entries map[string]*entry   // by check name
	units   map[string][]string // unit -> its checks, sorted
	runCtx  context.Context     // set by Run
	stopped bool                // Run's context has ended
	wg      sync.WaitGroup      // counts running runners
}

// entry is one check of the set.
type entry struct {
	check  config.Check // as configured, to compare on reload
	runner *Runner
	stop   context.CancelFunc // ends the runner; nil while it does not run
}

// UnitStatus says whether this host may serve one unit, and why not.
type UnitStatus struct {
	// Unit is the VIP's group, or its name when it has none (config.VIP.Unit).
	Unit string
	// Checks are the checks of all the unit's VIPs, sorted.
	Checks []string
	// Eligible is true when every check in Checks is up; a unit without
	// checks always is.
	Eligible bool
	// Reason names each check that is down and its reason, such as
	// "check web: GET http://127.0.0.1:8404/healthz: 503 Service Unavailable";
	// it is "" when the unit is eligible.
	Reason string
}

// NewSet returns a set with a runner for every check of cfg. Nothing runs
// before Run.
func NewSet(cfg *config.Config, opts Options) (*Set, error) {
	s := &Set{opts: opts.withDefaults(), notify: make(chan struct{}, 1)}
	entries, units, err := s.build(cfg, nil)
	if err != nil {
		return nil, err
	}
	s.entries, s.units = entries, units
	return s, nil
}

// Run runs every check until ctx ends, and returns once each runner has
// stopped, those started by Apply included. Run panics if called twice.
func (s *Set) Run(ctx context.Context) {
	s.mu.Lock()
	if s.runCtx != nil {
		s.mu.Unlock()
		panic("health: Set.Run called twice")
	}
	s.runCtx = ctx
	for _, e := range s.entries {
		s.start(e)
	}
	s.mu.Unlock()

	<-ctx.Done()
	s.mu.Lock()
	s.stopped = true // Apply starts no more runners
	s.mu.Unlock()
	s.wg.Wait()
}

// Apply switches the set to a new config, as on reload, or changes nothing
// and returns an error if a check of cfg cannot be built.
//
// A check that is configured exactly as before keeps running untouched, with
// its state and its cadence. A check of the same name whose interval, fast
// interval, timeout, rise or fall changed restarts from its state before, so a reload
// does not send a healthy host back to rising. Any other change probes
// something else: that check starts down, like a new one. Removed checks
// stop. Apply sends a token on Changed, since which units exist, and which
// checks they need, may have changed.
func (s *Set) Apply(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, units, err := s.build(cfg, s.entries)
	if err != nil {
		return err
	}
	for name, old := range s.entries {
		if entries[name] != old && old.stop != nil {
			old.stop()
		}
	}
	for name, e := range entries {
		if s.entries[name] != e {
			s.start(e)
		}
	}
	s.entries, s.units = entries, units
	s.changed()
	return nil
}

// Changed receives a token after any check goes up or down and after
// Apply. Tokens are not queued: read Units, Eligible or Statuses after
// receiving one, and the latest state is there.
func (s *Set) Changed() <-chan struct{} { return s.notify }

// Statuses returns the state of every check, sorted by name.
func (s *Set) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.entries))
	for _, name := range slices.Sorted(maps.Keys(s.entries)) {
		out = append(out, s.entries[name].runner.Status())
	}
	return out
}

// Units returns whether this host may serve each unit of the config, sorted
// by unit.
func (s *Set) Units() []UnitStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]UnitStatus, 0, len(s.units))
	for _, unit := range slices.Sorted(maps.Keys(s.units)) {
		us := UnitStatus{Unit: unit, Checks: slices.Clone(s.units[unit]), Eligible: true}
		var why []string
		for _, name := range us.Checks {
			if st := s.entries[name].runner.Status(); !st.Up {
				us.Eligible = false
				why = append(why, "check "+name+": "+st.Reason)
			}
		}
		us.Reason = strings.Join(why, "; ")
		out = append(out, us)
	}
	return out
}

// Eligible returns the units this host may serve, sorted: those whose
// checks are all up, and those without checks.
func (s *Set) Eligible() []string {
	var out []string
	for _, u := range s.Units() {
		if u.Eligible {
			out = append(out, u.Unit)
		}
	}
	return out
}

// build returns the entries and units for cfg, reusing the entries of old
// as Apply describes. It changes nothing and starts nothing.
func (s *Set) build(cfg *config.Config, old map[string]*entry) (map[string]*entry, map[string][]string, error) {
	entries := make(map[string]*entry, len(cfg.Checks))
	for _, name := range slices.Sorted(maps.Keys(cfg.Checks)) {
		c := cfg.Checks[name]
		if c == nil {
			return nil, nil, fmt.Errorf("check %s: empty", name)
		}
		prev := old[name]
		if prev != nil && reflect.DeepEqual(prev.check, *c) {
			entries[name] = prev
			continue
		}
		checker, err := NewChecker(c)
		if err != nil {
			return nil, nil, fmt.Errorf("check %s: %w", name, err)
		}
		r, err := newRunner(name, c, checker, s.opts, s.notify)
		if err != nil {
			return nil, nil, err
		}
		if prev != nil && sameProbe(prev.check, *c) {
			r.resume(prev.runner.Status())
		}
		entries[name] = &entry{check: *c, runner: r}
	}
	units := map[string][]string{}
	for _, v := range cfg.VIPs {
		checks := units[v.Unit()]
		for _, name := range v.Checks {
			if entries[name] == nil {
				return nil, nil, fmt.Errorf("VIP %s: check %q is not defined", v.Name, name)
			}
			if !slices.Contains(checks, name) {
				checks = append(checks, name)
			}
		}
		slices.Sort(checks)
		units[v.Unit()] = checks
	}
	return entries, units, nil
}

// sameProbe reports whether a and b probe the same thing the same way, and
// differ at most in when and how often.
func sameProbe(a, b config.Check) bool {
	for _, c := range []*config.Check{&a, &b} {
		c.Interval, c.FastInterval, c.Timeout, c.Rise, c.Fall = config.Duration{}, config.Duration{}, config.Duration{}, 0, 0
	}
	return reflect.DeepEqual(a, b)
}

// start runs e's runner under Run's context, unless Run has not been
// called yet or has ended. s.mu is held.
func (s *Set) start(e *entry) {
	if s.runCtx == nil || s.stopped {
		return
	}
	ctx, cancel := context.WithCancel(s.runCtx)
	e.stop = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		e.runner.Run(ctx)
	}()
}

func (s *Set) changed() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}
