// Package daemon is vipd's wiring: it reads the config, starts gossip, the
// health checks, the announcer and the agent, and owns every goroutine it
// starts until Run returns. Package main keeps only flags and signals.
//
// # Start-up
//
// Everything that can refuse to start (the config, the checks, the gossip
// key and port) has its say before the kernel is touched. Then the announcer
// tunes the managed interfaces and puts the VIPs on vipd0, membership starts
// re-joining its peers, and Run waits up to JoinWait for one of them: a host
// that reaches none is the first host of the cluster. Only then does the
// agent start deciding.
//
// # Stop
//
// When ctx ends, at any moment of start-up or after, Run undoes what it did
// in this order: the agent hands this host's VIPs to others (drain_timeout;
// only once it runs), re-joins stop, the agent's loop, control socket,
// metrics server and systemd notifier stop, this host leaves the cluster, the
// announcer withdraws every VIP and restores every kernel setting, and gossip
// shuts down. Every goroutine Run started has ended when it returns.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vipd/vipd/agent"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/health"
	"github.com/vipd/vipd/membership"
)

// JoinWait is how long vipd tries to reach a peer before it decides it is
// the first host of the cluster; deciding earlier would make every host of a
// cluster that boots together claim every VIP for a moment.
const JoinWait = 3 * time.Second

// leaveTimeout bounds how long a stop waits for the leave message to go out.
const leaveTimeout = time.Second

// reloadTimeout bounds a reload asked for by Reload (SIGHUP).
const reloadTimeout = 30 * time.Second

// Options configure New.
type Options struct {
	// File is the config file.
	File string
	// Logger gets every log line; nil discards them.
	Logger *slog.Logger
	// Version is reported in status.
	Version string
	// JoinWait overrides JoinWait when positive.
	JoinWait time.Duration
}

// Daemon is one run of vipd.
type Daemon struct {
	opts   Options
	log    *slog.Logger
	reload chan struct{}
}

// New returns a daemon; it does nothing before Run.
func New(opts Options) *Daemon {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.JoinWait <= 0 {
		opts.JoinWait = JoinWait
	}
	return &Daemon{opts: opts, log: opts.Logger, reload: make(chan struct{}, 1)}
}

// Reload asks the running daemon to read its config file again, as SIGHUP
// does. It never blocks; a reload asked for during start-up happens once the
// agent runs.
func (d *Daemon) Reload() {
	select {
	case d.reload <- struct{}{}:
	default:
	}
}

// Run runs vipd until ctx ends, then stops it cleanly and returns nil. It
// returns an error when vipd cannot start, or when a server it runs fails;
// either way, whatever it changed on the host has been undone by then.
func (d *Daemon) Run(ctx context.Context) error {
	defer runtime.GOMAXPROCS(oneProc())
	cfg, err := loadConfig(d.opts.File, d.log)
	if err != nil {
		return err
	}
	tuneGC(cfg)
	r := &run{d: d, cfg: cfg, log: d.log.With("node", cfg.NodeName)}
	err = r.start(ctx)
	if err == nil {
		err = r.serve(ctx)
	}
	if cerr := r.stop(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err == nil {
		r.log.Info("vipd stopped")
	}
	return err
}

// oneProc runs Go code on one thread at a time (GOMAXPROCS 1) unless the
// GOMAXPROCS environment variable says otherwise, and returns the setting
// it replaced.
//
// vipd's work is a few packets and timers a second, each a little work
// handed from one goroutine to another (a socket's reader to memberlist's
// handler, a timer to the sender). With more than one P, most hand-offs
// woke a second thread (wakep, futex): at idle about a fifth of vipd's CPU
// went to the scheduler waking and parking threads. With one P the
// goroutine runs on the thread that readied it. Long work (an election of
// 1000 VIPs) is preempted every 10 ms, so heartbeats still go out on time;
// blocking system calls hand the P to another thread as always.
func oneProc() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	return runtime.GOMAXPROCS(1)
}

func loadConfig(file string, log *slog.Logger) (*config.Config, error) {
	cfg, err := config.Load(file)
	if err != nil && len(config.Errors(err)) == 0 {
		return nil, fmt.Errorf("%w; write one (see /usr/share/doc/vipd/examples) and check it with 'vipd check -c %s'", err, file)
	}
	if err != nil {
		for _, p := range config.Errors(err) {
			log.Error("configuration error", "at", p.Error())
		}
		return nil, fmt.Errorf("%s is not valid: fix it, check it with 'vipd check -c %s', then start again", file, file)
	}
	return cfg, nil
}

// run is the state of one Run: what has been started, to be stopped in
// reverse.
type run struct {
	d   *Daemon
	cfg *config.Config
	log *slog.Logger
	reg *prometheus.Registry

	checks  *health.Set
	cluster *membership.Membership
	ann     announcerCloser
	agent   *agent.Agent

	// joins: membership's re-joins, stopped before the cluster leaves.
	stopJoins context.CancelFunc
	joins     sync.WaitGroup
	// loop: the agent's loop, the checks, the servers, the notifier, the
	// reloader and the event tee.
	stopLoop context.CancelFunc
	loop     sync.WaitGroup
	failed   chan error // a server that stopped on its own
}

// start brings vipd up to a running agent. It returns early, with nil, when
// ctx ends; stop undoes whatever it did.
func (r *run) start(ctx context.Context) error {
	cfg, log := r.cfg, r.log
	r.reg = prometheus.NewRegistry()
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := notRunning(cfg.Control.Socket); err != nil {
		return err
	}
	checks, err := health.NewSet(cfg, health.Options{Logger: log.With("part", "health")})
	if err != nil {
		return err
	}
	r.checks = checks
	cluster, err := membership.New(membership.Options{
		Name:       cfg.NodeName,
		Gossip:     cfg.Gossip,
		Units:      membership.UnitsFromConfig(cfg.VIPs),
		Interfaces: interfaceNames(cfg),
		Logger:     log.With("part", "gossip"),
	})
	if err != nil {
		return err
	}
	r.cluster = cluster
	r.reg.MustRegister(cluster.Collector())
	if ctx.Err() != nil {
		return nil
	}

	// The kernel is touched only once everything that can refuse to start
	// has had its say.
	ann, err := startAnnouncer(cfg, log, r.reg, cluster)
	if err != nil {
		return err
	}
	r.ann = ann
	log.Debug("announcer started: managed interfaces tuned, VIPs on vipd0", "interfaces", interfaceNames(cfg))
	if err := cluster.SetLocal(membership.Local{MACs: ann.MACs()}); err != nil {
		log.Debug("gossiping this host's MACs", "err", err)
	}
	if ctx.Err() != nil {
		return nil
	}

	joinCtx, stopJoins := context.WithCancel(context.Background())
	r.stopJoins = stopJoins
	r.joins.Go(func() { cluster.KeepJoined(joinCtx) })
	if len(cfg.Gossip.Peers) > 0 {
		if cluster.WaitJoined(ctx, r.d.opts.JoinWait) {
			log.Info("joined the cluster", "alive", aliveOthers(cluster))
		} else if ctx.Err() == nil {
			log.Warn("no peer answered; going on as the first host of the cluster and retrying in the background",
				"peers", cfg.Gossip.Peers, "missing", cluster.Missing())
		}
	}
	if ctx.Err() != nil {
		return nil
	}

	r.agent = agent.New(agent.Options{
		File:      r.d.opts.File,
		Config:    cfg,
		Cluster:   cluster,
		Checks:    checks,
		Announcer: ann,
		MACs:      ann.MACs(),
		BGP:       ann.bgpStatus,
		OnReload: func(next *config.Config) error {
			if err := reloadKeys(cluster, next.Gossip); err != nil {
				return err
			}
			cluster.SetPeers(next.Gossip.Peers)
			return nil
		},
		Logger:  log,
		Version: r.d.opts.Version,
		Metrics: agent.NewMetrics(r.reg),
	})
	loopCtx, stopLoop := context.WithCancel(context.Background())
	r.stopLoop = stopLoop
	r.failed = make(chan error, 2)
	r.loop.Go(func() { checks.Run(loopCtx) })
	r.loop.Go(func() { r.agent.Run(loopCtx) })
	r.loop.Go(func() { ann.run(loopCtx) })
	r.loop.Go(func() { r.fail(r.agent.Serve(loopCtx, cfg.Control.Socket, cfg.Control.Group)) })
	if cfg.Metrics.Listen != "" {
		r.loop.Go(func() { r.fail(serveMetrics(loopCtx, cfg.Metrics.Listen, r.reg)) })
	}
	r.loop.Go(func() { notifySystemd(loopCtx, r.agent, log) })
	r.loop.Go(func() { r.reloads(loopCtx) })
	log.Info("vipd started", "config", r.d.opts.File, "vips", len(cfg.VIPs), "gossip", cluster.Addr())
	return nil
}

func (r *run) fail(err error) {
	if err != nil {
		r.failed <- err
	}
}

// stopLinger is how long a stopping host keeps the VIP addresses it handed
// over, no longer answering ARP/NDP for them: the new owner's burst of
// gratuitous packets ends after 700ms.
const stopLinger = time.Second

// serve waits for ctx to end or a server to fail. On a stop it hands this
// host's VIPs over first.
func (r *run) serve(ctx context.Context) error {
	if r.agent == nil {
		return nil // stopped during start-up
	}
	select {
	case err := <-r.failed:
		return err
	case <-ctx.Done():
	}
	r.log.Info("stopping: handing over this host's VIPs first")
	if _, err := sd.SdNotify(false, sd.SdNotifyStopping); err != nil {
		r.log.Debug("sd_notify", "err", err)
	}
	drainCtx, cancel := context.WithTimeout(context.Background(), r.agent.Config().DrainTimeout.Duration)
	res := r.agent.DrainForStop(drainCtx)
	cancel()
	if len(res.StillHeld) > 0 {
		r.log.Warn("stopping while still holding VIPs no other host took within drain_timeout", "units", res.StillHeld)
	}
	if len(res.HandedOver) > 0 {
		// Clients whose neighbour entry still points here until the new
		// owner's gratuitous packets reach them keep sending here for a
		// moment; the addresses stay on vipd0 so those requests are served.
		time.Sleep(stopLinger)
	}
	return nil
}

// stop undoes start, whatever point it reached: joins, loop, leave,
// announcer (VIPs withdrawn, kernel restored), gossip.
func (r *run) stop() error {
	if r.stopJoins != nil {
		r.stopJoins()
		r.joins.Wait()
	}
	if r.stopLoop != nil {
		r.stopLoop()
		r.loop.Wait()
	}
	var errs []error
	if r.cluster != nil {
		if err := r.cluster.Leave(leaveTimeout); err != nil {
			r.log.Warn("leaving the gossip cluster", "err", err)
		}
	}
	if r.ann != nil {
		if err := r.ann.Close(); err != nil {
			errs = append(errs, fmt.Errorf("restoring the host on stop: %w; 'vipctl doctor' names what is left, and the next start restores it again", err))
		}
	}
	if r.cluster != nil {
		if err := r.cluster.Shutdown(); err != nil {
			r.log.Debug("gossip shutdown", "err", err)
		}
	}
	return errors.Join(errs...)
}

// reloads serves Reload until ctx ends.
func (r *run) reloads(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.d.reload:
		}
		rctx, cancel := context.WithTimeout(ctx, reloadTimeout)
		notify(r.log, sd.SdNotifyReloading)
		res, err := r.agent.Reload(rctx)
		notify(r.log, sd.SdNotifyReady)
		cancel()
		if err == nil {
			tuneGC(r.agent.Config())
			r.log.Info("reload done", "added", res.Added, "removed", res.Removed, "changed", res.Changed)
		}
	}
}

// reloadKeys switches gossip keys when the key file or its content changed.
func reloadKeys(cluster *membership.Membership, next config.Gossip) error {
	if next.Insecure {
		return nil
	}
	keys, err := membership.LoadKeyFile(next.KeyFile)
	if err != nil {
		return err
	}
	return cluster.SetKeys(keys)
}

// notRunning refuses to start when another vipd answers on the control
// socket: both would tune the same interfaces from the same state_dir.
func notRunning(socket string) error {
	conn, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return nil
	}
	conn.Close()
	return fmt.Errorf("another vipd answers on %s: stop it first (systemctl stop vipd), or give this one another control.socket and state_dir", socket)
}

func aliveOthers(cluster *membership.Membership) int {
	n := 0
	for _, m := range cluster.Members() {
		if m.Name != cluster.Name() && m.State == membership.StateAlive {
			n++
		}
	}
	return n
}

func interfaceNames(cfg *config.Config) []string {
	var names []string
	for _, ifc := range cfg.Interfaces {
		names = append(names, ifc.Name)
	}
	return names
}
