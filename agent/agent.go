package agent

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/health"
	"github.com/vipd/vipd/membership"
)

// resync is how often the agent reconciles when nothing tells it to.
const resync = time.Second

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

	// OnReload, when set, is called with a validated new config before the
	// agent switches to it, for the parts main owns (gossip keys, log
	// level); an error keeps the running config.
	OnReload func(*config.Config) error

	Clock   Clock
	Logger  *slog.Logger
	Version string
	Metrics *Metrics
}

// Agent is one host's reconcile loop and its state.
type Agent struct {
	opts Options
	log  *slog.Logger
	kick chan struct{}
	// reloads carries validated configs to the loop, which alone switches.
	reloads chan reloadRequest
	notify  *notifier
	publish *publisher

	mu        sync.Mutex
	cfg       *config.Config
	loadedAt  time.Time
	reloadErr string
	drained   bool
	holds     election.KeySet // units announced now
	everHeld  election.KeySet // units any host was seen holding
	handoff   handoff
	settle    settler
	// wakeAt is when a held-back first claim settles; zero if none waits.
	wakeAt    time.Time
	vips      map[string]vipRecord // by VIP name
	conflicts map[string]conflict  // by VIP address
	decisions election.Decisions
	units     map[string]health.UnitStatus // the last health reading, by unit
	converged bool
	// clusterMACs is the members' MACs last given to the announcer, joined.
	clusterMACs string
	// lastReconcile is when the loop last finished a pass.
	lastReconcile time.Time
	ready         chan struct{} // closed once converged
	// changed gets a token after every reconcile, for waiters.
	changed chan struct{}
}

type vipRecord struct {
	state, owner, reason string
	since                time.Time
}

type conflict struct {
	text string
	at   time.Time
}

// New returns an agent; it does nothing before Run.
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
		opts:      opts,
		log:       opts.Logger,
		kick:      make(chan struct{}, 1),
		reloads:   make(chan reloadRequest),
		cfg:       opts.Config,
		loadedAt:  opts.Clock.Now(),
		holds:     election.NewKeySet(),
		everHeld:  election.NewKeySet(),
		vips:      map[string]vipRecord{},
		conflicts: map[string]conflict{},
		ready:     make(chan struct{}),
		changed:   make(chan struct{}, 1),
	}
	a.notify = newNotifier(opts.Logger)
	a.publish = newPublisher(opts.Cluster, opts.Logger)
	return a
}

// Run reconciles until ctx ends. It does not withdraw the VIPs this host
// holds when it returns: call Drain first for a make-before-break stop.
func (a *Agent) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { a.publish.run(ctx) })
	wg.Go(func() { a.notify.run(ctx) })
	for {
		a.reconcile(ctx)
		select {
		case <-ctx.Done():
			return
		case <-a.opts.Cluster.Changes():
		case <-a.opts.Checks.Changed():
		case ev := <-a.opts.Announcer.Events():
			a.noteEvent(ev)
		case <-a.kick:
		case req := <-a.reloads:
			req.done <- a.switchConfig(req.cfg)
		case <-a.opts.Clock.After(a.nextWait()):
		}
	}
}

// nextWait is how long the loop may sleep when nothing happens.
func (a *Agent) nextWait() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.wakeAt.IsZero() {
		return resync
	}
	return min(resync, max(a.wakeAt.Sub(a.opts.Clock.Now()), time.Millisecond))
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

func (a *Agent) noteEvent(ev Event) {
	if ev.At.IsZero() {
		ev.At = a.opts.Clock.Now()
	}
	switch ev.Kind {
	case ForeignMAC:
		text := "MAC " + ev.MAC + " also answers for " + ev.VIP + " on " + ev.Interface
		a.log.Error("conflict: another machine answers for a VIP; find the host with that MAC and remove the address from it",
			"vip", ev.VIP, "mac", ev.MAC, "interface", ev.Interface)
		a.setConflict(ev.VIP, text, ev.At)
	case ForeignAddress:
		text := ev.VIP + " is also configured on " + ev.Interface + " of this host"
		a.log.Error("conflict: a VIP is on a host interface that vipd does not manage; remove it with 'ip addr del'",
			"vip", ev.VIP, "interface", ev.Interface)
		a.setConflict(ev.VIP, text, ev.At)
	case LinkDown:
		a.log.Warn("managed interface is down; this host cannot announce until it comes back", "interface", ev.Interface)
	case LinkUp:
		a.log.Info("managed interface is up", "interface", ev.Interface)
	}
	a.opts.Metrics.event(ev)
}

// conflictHold is how long a conflict stays in status after it was last seen.
const conflictHold = time.Minute

func (a *Agent) setConflict(vip, text string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.conflicts[vip] = conflict{text: text, at: at}
}

// membershipLocal is what this host gossips about itself.
func (a *Agent) membershipLocal(passing election.KeySet) membership.Local {
	return membership.Local{Drained: a.drained, Passing: passing, Holds: a.holds, MACs: a.opts.MACs}
}

// snapshot returns the status as the control API shows it.
func (a *Agent) Status() api.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.statusLocked()
}
