package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/vipd/vipd/agent"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/health"
	"github.com/vipd/vipd/membership"
)

// joinWait is how long vipd tries to reach a peer before it decides it is
// the first host of the cluster; deciding earlier would make every host of a
// cluster that boots together claim every VIP for a moment.
const joinWait = 3 * time.Second

type runFlags struct {
	config    string
	logFormat string
	logLevel  string
}

func newRunCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [-c FILE] [--log-format text|json] [--log-level LEVEL]",
		Short: "Run the daemon (the default when no command is given)",
		Long: `vipd run is the daemon. It reads the configuration file, joins the other hosts
over encrypted gossip, runs this host's health checks, and keeps each VIP
answered by exactly one healthy host: when this host owns a VIP it answers
ARP and neighbor solicitations for it on the managed interface and sends
gratuitous ARP / unsolicited neighbor advertisements.

It refuses to start when the file has any error (see 'vipd check'), when the
gossip key file is missing or readable by others, or when another vipd
answers on the control socket.

SIGNALS
  SIGHUP          reload the configuration file; a bad file keeps the
                  running configuration and is reported by 'vipctl status'
  SIGTERM, SIGINT drain: hand every VIP this host owns to another host
                  (bounded by drain_timeout), restore every kernel setting
                  vipd changed, leave the cluster and exit 0

Under systemd it reports readiness (Type=notify) once it has a settled view
of the cluster, a one-line STATUS=, and pings the watchdog.

EXIT STATUS
  0  stopped by a signal after a clean shutdown
  1  could not start: the message says why`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE:                  func(cmd *cobra.Command, _ []string) error { return runDaemon(cmd, f) },
	}
	addRunFlags(cmd, &f)
	return cmd
}

func runDaemon(cmd *cobra.Command, f runFlags) error {
	log, err := newLogger(f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	if err := run(cmd.Context(), f.config, log); err != nil {
		log.Error("vipd cannot run", "err", err)
		return exitError{1}
	}
	return nil
}

func addRunFlags(cmd *cobra.Command, f *runFlags) {
	cmd.Flags().StringVarP(&f.config, "config", "c", config.DefaultPath, "the configuration file")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "text", "log format on stderr: text (for journald) or json")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "least severe level logged: debug, info, warn or error")
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

func run(ctx context.Context, file string, log *slog.Logger) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := config.Load(file)
	if err != nil && len(config.Errors(err)) == 0 {
		return fmt.Errorf("%w; write one (see /usr/share/doc/vipd/examples) and check it with 'vipd check -c %s'", err, file)
	}
	if err != nil {
		for _, p := range config.Errors(err) {
			log.Error("configuration error", "at", p.Error())
		}
		return fmt.Errorf("%s is not valid: fix it, check it with 'vipd check -c %s', then start again", file, file)
	}
	log = log.With("node", cfg.NodeName)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	ctx, stop := context.WithCancel(ctx)
	defer stop()

	checks, err := health.NewSet(cfg, health.Options{Logger: log.With("part", "health")})
	if err != nil {
		return err
	}
	cluster, err := membership.New(membership.Options{
		Name:       cfg.NodeName,
		Gossip:     cfg.Gossip,
		Units:      membership.UnitsFromConfig(cfg.VIPs),
		Local:      membership.Local{MACs: managedMACs(cfg)},
		Interfaces: interfaceNames(cfg),
		Logger:     log.With("part", "gossip"),
	})
	if err != nil {
		return err
	}
	defer cluster.Shutdown()
	registerGossipMetrics(reg, cluster)

	// The kernel is touched only once everything that can refuse to start
	// has had its say.
	ann, macs, err := startAnnouncer(cfg, log, reg)
	if err != nil {
		return err
	}
	defer ann.Close()
	if cfg.Gossip.Insecure {
		log.Warn("gossip is not encrypted (gossip.insecure: true); anyone on the network can read it and join the cluster. Create a key with 'vipd keygen -o /etc/vipd/gossip.key' and set gossip.key_file")
	}
	joinPeers(ctx, cluster, cfg.Gossip.Peers, log)

	a := agent.New(agent.Options{
		File:      file,
		Config:    cfg,
		Cluster:   cluster,
		Checks:    checks,
		Announcer: ann,
		MACs:      macs,
		OnReload: func(next *config.Config) error {
			return reloadKeys(cluster, next.Gossip)
		},
		Logger:  log,
		Version: version,
		Metrics: agent.NewMetrics(reg),
	})

	loopCtx, stopLoop := context.WithCancel(context.Background())
	defer stopLoop()
	done := make(chan struct{})
	go func() { defer close(done); checks.Run(loopCtx) }()
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); a.Run(loopCtx) }()

	serveErr := make(chan error, 2)
	go func() { serveErr <- a.Serve(loopCtx, cfg.Control.Socket, cfg.Control.Group) }()
	if cfg.Metrics.Listen != "" {
		go func() { serveErr <- serveMetrics(loopCtx, cfg.Metrics.Listen, reg) }()
	}
	go notifySystemd(loopCtx, a, log)

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)
	log.Info("vipd started", "config", file, "vips", len(cfg.VIPs), "gossip", cluster.Addr())
	for {
		select {
		case err := <-serveErr:
			if err != nil {
				stopLoop()
				<-loopDone
				<-done
				return err
			}
		case <-ctx.Done():
			shutdown(a, cluster, stopLoop, loopDone, done, log)
			return nil
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				go reloadOnSignal(a, log)
				continue
			}
			log.Info("stopping: handing over this host's VIPs first", "signal", sig.String())
			shutdown(a, cluster, stopLoop, loopDone, done, log)
			return nil
		}
	}
}

// shutdown is make-before-break: drain and wait for the hand-over, then stop
// the loop, leave the cluster, and (deferred in run) withdraw and restore.
func shutdown(a *agent.Agent, cluster *membership.Membership, stopLoop func(), loopDone, checksDone <-chan struct{}, log *slog.Logger) {
	daemon.SdNotify(false, daemon.SdNotifyStopping)
	timeout := a.Config().DrainTimeout.Duration
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	res := a.Drain(ctx, true)
	cancel()
	if len(res.StillHeld) > 0 {
		log.Warn("stopping while still holding VIPs no other host took within drain_timeout", "units", res.StillHeld)
	}
	stopLoop()
	<-loopDone
	<-checksDone
	if err := cluster.Leave(time.Second); err != nil {
		log.Warn("leaving the gossip cluster", "err", err)
	}
	log.Info("vipd stopped")
}

func reloadOnSignal(a *agent.Agent, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	daemon.SdNotify(false, daemon.SdNotifyReloading)
	res, err := a.Reload(ctx)
	daemon.SdNotify(false, daemon.SdNotifyReady)
	if err == nil {
		log.Info("reload done", "added", res.Added, "removed", res.Removed, "changed", res.Changed)
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

// joinPeers tries to reach a peer for joinWait, then goes on alone, and
// keeps trying in the background while it is alone.
func joinPeers(ctx context.Context, cluster *membership.Membership, peers []string, log *slog.Logger) {
	if len(peers) == 0 {
		return
	}
	deadline := time.Now().Add(joinWait)
	for {
		n, err := cluster.Join(peers)
		if alivePeers(cluster) > 0 {
			log.Info("joined the cluster", "answered", n)
			return
		}
		if time.Now().After(deadline) {
			log.Warn("no peer answered; going on as the first host of the cluster and retrying in the background", "peers", peers, "err", err)
			go rejoin(ctx, cluster, peers, log)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func rejoin(ctx context.Context, cluster *membership.Membership, peers []string, log *slog.Logger) {
	for alivePeers(cluster) == 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
		if n, err := cluster.Join(peers); err == nil && alivePeers(cluster) > 0 {
			log.Info("joined the cluster", "answered", n)
		}
	}
}

func alivePeers(cluster *membership.Membership) int {
	n := 0
	for _, m := range cluster.Members() {
		if m.Name != cluster.Name() && m.State == membership.StateAlive {
			n++
		}
	}
	return n
}

func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics.listen %s: %w; set metrics.listen to a free address or to \"\" to turn metrics off", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func registerGossipMetrics(reg *prometheus.Registry, cluster *membership.Membership) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vipd_gossip_dropped_total", Help: "Gossip payloads dropped because they could not be decoded.",
			ConstLabels: prometheus.Labels{"payload": "meta"},
		}, func() float64 { return float64(cluster.Stats().MalformedMeta) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vipd_gossip_dropped_total", Help: "Gossip payloads dropped because they could not be decoded.",
			ConstLabels: prometheus.Labels{"payload": "state"},
		}, func() float64 { return float64(cluster.Stats().MalformedState) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vipd_members_alive", Help: "Hosts of the gossip cluster seen alive, this one included.",
		}, func() float64 { return float64(alivePeers(cluster) + 1) }),
	)
}

// notifySystemd reports readiness once the agent has a settled view, then
// keeps STATUS= current and pings the watchdog.
func notifySystemd(ctx context.Context, a *agent.Agent, log *slog.Logger) {
	select {
	case <-ctx.Done():
		return
	case <-a.Ready():
	}
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Debug("sd_notify", "err", err)
	}
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		interval = 2 * time.Second
	} else {
		interval /= 2
	}
	for {
		state := "STATUS=" + a.Summary()
		if a.Alive() {
			state += "\n" + daemon.SdNotifyWatchdog
		}
		daemon.SdNotify(false, state)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// managedMACs returns the hardware addresses of the managed interfaces that
// exist now, gossiped so other hosts never take them for a conflict.
func managedMACs(cfg *config.Config) []net.HardwareAddr {
	var macs []net.HardwareAddr
	for _, ifc := range cfg.Interfaces {
		if i, err := net.InterfaceByName(ifc.Name); err == nil && len(i.HardwareAddr) > 0 {
			macs = append(macs, i.HardwareAddr)
		}
	}
	return macs
}

func interfaceNames(cfg *config.Config) []string {
	var names []string
	for _, ifc := range cfg.Interfaces {
		names = append(names, ifc.Name)
	}
	return names
}
