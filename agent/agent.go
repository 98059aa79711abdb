package agent

import (
	"context"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/membership"
)

// Options are what New needs.
type Options struct {
	// File is the config file, read again on reload.
	File string
	// Config is the config read from File at start.
	Config *config.Config
	// Load reads and validates a config file on reload; nil is config.Load.
	Load func(file string) (*config.Config, error)

	Cluster   Cluster
	Checks    Checks
	Announcer Announcer
	// MACs are the managed interfaces' hardware addresses, gossiped so
	// that other hosts do not take them for a conflict.
	MACs []net.HardwareAddr

	// BGP, when set, reports the BGP speaker's sessions and routes for
	// status.
	BGP func() *api.BGPStatus

	// OnReload, when set, is called with a validated new config before the
	// agent switches to it, for the parts main owns (gossip keys, log
	// level); an error keeps the running config.
	OnReload func(*config.Config) error

	Clock   Clock
	Logger  *slog.Logger
	Version string
	Metrics *Metrics
}

// Agent runs one host's Machine: it gathers inputs, steps, and carries out
// each plan. It serves status from the machine's state.
type Agent struct {
	opts Options
	log  *slog.Logger
	kick chan struct{}
	// reloads carries validated configs to the loop, which alone switches.
	reloads chan reloadRequest
	notify  *notifier
	publish *publisher
	drains  drainStore

	mu        sync.Mutex
	machine   *Machine
	cfg       *config.Config
	loadedAt  time.Time
	reloadErr string
	// members are the gossip members as the last step saw them.
	members []membership.Member
	// lastStep is when the loop last finished a step; steps counts them.
	lastStep time.Time
	// resync is how long the loop sleeps when nothing happens (resyncFor).
	resync time.Duration
	steps  int
	ready  chan struct{} // closed once the machine has acted on a settled view
	// changed gets a token after every step, for waiters.
	changed chan struct{}
}

// New returns an agent; it does nothing before Run. A drain recorded in
// the config's state_dir by an earlier run is still in force.
func New(opts Options) *Agent {
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Load == nil {
		opts.Load = config.Load
	}
	a := &Agent{
		opts:     opts,
		log:      opts.Logger,
		kick:     make(chan struct{}, 1),
		reloads:  make(chan reloadRequest),
		drains:   drainStore{dir: opts.Config.StateDir},
		machine:  NewMachine(opts.Config.NodeName, opts.MACs),
		cfg:      opts.Config,
		loadedAt: opts.Clock.Now(),
		ready:    make(chan struct{}),
		changed:  make(chan struct{}, 1),
		resync:   minResync,
	}
	if since, ok := a.drains.load(a.log); ok {
		a.machine.SetDrained(true, since)
		a.log.Warn("this host is drained since an earlier run and takes no VIP; run 'vipctl undrain' to put it back in service", "since", since.Format(time.RFC3339))
	}
	a.notify = newNotifier(opts.Logger)
	a.publish = newPublisher(opts.Cluster, opts.Logger)
	return a
}

// Run steps until ctx ends. It does not withdraw the VIPs this host holds
// when it returns: call Drain first for a make-before-break stop.
func (a *Agent) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { a.publish.run(ctx) })
	wg.Go(func() { a.notify.run(ctx) })
	var events []announcer.Event
	for {
		wake, cost := a.step(ctx, events)
		events = events[:0]
		if pause := stepPause(cost); pause > 0 && a.pause(ctx, pause) {
			continue // the cluster changed meanwhile: step on it now
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-a.opts.Cluster.Changes():
		case <-a.opts.Checks.Changed():
		case ev := <-a.opts.Announcer.Events():
			events = append(events, ev)
			events = drainEvents(a.opts.Announcer.Events(), events)
		case <-a.kick:
		case req := <-a.reloads:
			req.done <- a.switchConfig(req.cfg)
		case <-a.opts.Clock.After(a.sleepFor(wake)):
		}
	}
}

// stepPacing paces steps that cost enough to matter: after a step whose
// gathering and deciding took d (carrying out is not counted: it waits on
// the wire, not on the CPU), the loop waits stepPacing x d before the next.
// With a thousand VIPs and two dozen hosts a step takes milliseconds, and
// while a failover or a rolling restart sends every member's news at once,
// stepping on each would keep every host busy; paced, stepping takes at
// most a quarter of a core, and a small cluster, whose steps take
// microseconds, is never held back. In the 24 x 1000 fleet bench this took
// a rolling restart from about a thousand failed requests to one.
const (
	stepPacing      = 3
	stepPacingFrom  = time.Millisecond
	stepPacingLimit = 100 * time.Millisecond
)

func stepPause(d time.Duration) time.Duration {
	if d < stepPacingFrom {
		return 0
	}
	return min(stepPacing*d, stepPacingLimit)
}

// pause waits d after a costly step, and reports whether the cluster
// changed meanwhile. What else changes waits in its channel, and the next
// step takes it all at once. A member's death ends the pause at once: the
// units it held need new owners now, and the pacing is for the flood of
// news that follows, not for the one that starts it.
func (a *Agent) pause(ctx context.Context, d time.Duration) (changed bool) {
	over := a.opts.Clock.After(d)
	for {
		select {
		case <-ctx.Done():
			return false
		case <-over:
			return changed
		case <-a.opts.Cluster.Changes():
			changed = true
			a.mu.Lock()
			before := a.members
			a.mu.Unlock()
			if memberDied(before, a.opts.Cluster.Members()) {
				return true
			}
		}
	}
}

// memberDied reports whether a member counted alive in before is dead, or
// silent, or gone in now.
func memberDied(before, now []membership.Member) bool {
	alive := func(m membership.Member) bool { return m.State == membership.StateAlive && !m.Silent }
	for _, b := range before {
		if !alive(b) {
			continue
		}
		i := slices.IndexFunc(now, func(m membership.Member) bool { return m.Name == b.Name })
		if i < 0 || !alive(now[i]) {
			return true
		}
	}
	return false
}

// sleepFor is how long the loop may sleep when nothing happens.
func (a *Agent) sleepFor(wake time.Time) time.Duration {
	a.mu.Lock()
	resync := a.resync
	a.mu.Unlock()
	if wake.IsZero() {
		return resync
	}
	return min(resync, max(wake.Sub(a.opts.Clock.Now()), time.Millisecond))
}

// Ready is closed once this host has a settled view of the cluster and has
// acted on it: the moment systemd may call vipd started.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

func (a *Agent) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Config returns the config the agent runs.
func (a *Agent) Config() *config.Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg
}
