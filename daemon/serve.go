package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vipd/vipd/agent"
)

// serveMetrics serves /metrics on addr until ctx ends.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics.listen %s: %w; set metrics.listen to a free address or to \"\" to turn metrics off", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		srv.Close()
		err = <-served
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("metrics server on %s: %w", addr, err)
}

// notifySystemd reports readiness once the agent has a settled view, then
// keeps STATUS= current and pings the watchdog, until ctx ends. Outside
// systemd (no NOTIFY_SOCKET) there is no one to tell, and it returns at once.
func notifySystemd(ctx context.Context, a *agent.Agent, log *slog.Logger) {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-a.Ready():
	}
	notify(log, sd.SdNotifyReady)
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		interval = 2 * time.Second
	} else {
		interval /= 2
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last string
	for {
		// STATUS= only when it changed; the watchdog ping every time.
		var state string
		if s := "STATUS=" + a.Summary(); s != last {
			state, last = s, s
		}
		if a.Alive() {
			state += "\n" + sd.SdNotifyWatchdog
		}
		if state = strings.TrimPrefix(state, "\n"); state != "" {
			notify(log, state)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// notify sends state to systemd when vipd runs under it.
func notify(log *slog.Logger, state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		log.Debug("sd_notify", "err", err)
	}
}
