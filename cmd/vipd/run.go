package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/daemon"
)

type runFlags struct {
	config     string
	logFormat  string
	logLevel   string
	cpuProfile string
}

func newRunCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [-c FILE] [--log-format text|json] [--log-level LEVEL] [--cpuprofile FILE]",
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
                  vipd changed, leave the cluster and exit 0; at any moment,
                  start-up included

Under systemd it reports readiness (Type=notify) once it has a settled view
of the cluster, a one-line STATUS=, and pings the watchdog.

--cpuprofile FILE writes a Go CPU profile of the whole run to FILE when vipd
stops, for 'go tool pprof'; it is for finding where vipd spends its time.

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

// runDaemon runs the daemon with signals handled from its first moment:
// a SIGTERM at any point of start-up or shutdown ends in a clean stop.
func runDaemon(cmd *cobra.Command, f runFlags) error {
	// Before anything else, so that no signal can kill vipd while it has
	// the kernel tuned.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)

	log, err := newLogger(f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	if f.cpuProfile != "" {
		stopProfile, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	d := daemon.New(daemon.Options{File: f.config, Logger: log, Version: version})

	var handler sync.WaitGroup
	done := make(chan struct{})
	handler.Go(func() { handleSignals(signals, done, d, stop, log) })
	err = d.Run(ctx)
	close(done)
	handler.Wait()
	if err != nil {
		log.Error("vipd cannot run", "err", err)
		return exitError{1}
	}
	return nil
}

// handleSignals turns SIGHUP into a reload and the first SIGTERM or SIGINT
// into a stop, until done is closed.
func handleSignals(signals <-chan os.Signal, done <-chan struct{}, d *daemon.Daemon, stop context.CancelFunc, log *slog.Logger) {
	stopping := false
	for {
		select {
		case <-done:
			return
		case sig := <-signals:
			switch {
			case sig == syscall.SIGHUP:
				d.Reload()
			case stopping:
				log.Info("already stopping: vipd hands its VIPs over and restores the host first", "signal", sig.String())
			default:
				stopping = true
				log.Info("stopping", "signal", sig.String())
				stop()
			}
		}
	}
}

func addRunFlags(cmd *cobra.Command, f *runFlags) {
	cmd.Flags().StringVarP(&f.config, "config", "c", config.DefaultPath, "the configuration file")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "text", "log format on stderr: text (for journald) or json")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "least severe level logged: debug, info, warn or error")
	cmd.Flags().StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file when vipd stops")
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

// startCPUProfile profiles the process until the returned func is called.
func startCPUProfile(file string) (func(), error) {
	out, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		out.Close()
	}, nil
}
