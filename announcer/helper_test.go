package announcer

// Lab tests run the announcer inside a host's network namespace by
// re-executing this test binary there (`ip netns exec <ns> env ... <binary>`,
// through lab.Node.Start). A Go process cannot move itself into a namespace
// safely: setns applies to one OS thread, and the announcer's goroutines,
// netlink subscriptions, packet sockets and /proc/sys writes run on whatever
// threads the runtime picks. A helper process lives wholly in the namespace,
// sees that namespace's /proc/sys and /sys, and can be killed with SIGKILL,
// which the crash test needs. The test drives it over HTTP on a unix socket
// (a path socket, reachable across network namespaces).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/lab"
	"go.uber.org/goleak"
)

// helperEnv, when set, names the helper's config file and turns the test
// binary into a helper.
const helperEnv = "VIPD_ANNOUNCER_HELPER"

// helperConfig is what the test tells a helper.
type helperConfig struct {
	Socket     string
	Interfaces []Interface
	VIPs       []helperVIP
	StateDir   string
	Refresh    time.Duration
}

type helperVIP struct {
	Name, Address, Interface string
}

func (v helperVIP) vip() config.VIP {
	a := netip.MustParseAddr(v.Address)
	return config.VIP{Name: v.Name, Address: config.Address{Prefix: netip.PrefixFrom(a, a.BitLen())}, Interface: v.Interface}
}

type applyRequest struct {
	Owned []string // VIP names
	Fresh []string
}

// wireEvent is an Event in JSON.
type wireEvent struct {
	Kind      string
	VIP       string
	MAC       string
	Interface string
}

// helperMain runs an announcer until /close or SIGTERM.
func helperMain(cfgPath string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		log.Error("read helper config", "err", err)
		return 2
	}
	var cfg helperConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		log.Error("decode helper config", "err", err)
		return 2
	}
	vips := map[string]config.VIP{}
	opts := Options{Interfaces: cfg.Interfaces, StateDir: cfg.StateDir, Refresh: cfg.Refresh, Logger: log}
	for _, v := range cfg.VIPs {
		vips[v.Name] = v.vip()
		opts.VIPs = append(opts.VIPs, v.vip())
	}
	a, err := New(opts)
	if err != nil {
		log.Error("announcer", "err", err)
		return 1
	}
	var mu sync.Mutex
	var events []wireEvent
	stopEvents := make(chan struct{})
	eventsDone := make(chan struct{})
	go func() {
		defer close(eventsDone)
		for {
			select {
			case ev := <-a.Events():
				log.Info("event", "kind", ev.Kind, "vip", ev.VIP, "mac", ev.MAC, "interface", ev.Interface)
				mu.Lock()
				events = append(events, wireEvent{Kind: ev.Kind.String(), VIP: addrString(ev.VIP), MAC: ev.MAC.String(), Interface: ev.Interface})
				mu.Unlock()
			case <-stopEvents:
				return
			}
		}
	}()

	quit := make(chan error, 1)
	var closeOnce sync.Once
	closeAll := func() error {
		var err error
		closeOnce.Do(func() { err = a.Close() })
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apply", func(w http.ResponseWriter, r *http.Request) {
		var req applyRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var owned []config.VIP
		for _, name := range req.Owned {
			owned = append(owned, vips[name])
		}
		if err := a.Apply(r.Context(), owned, req.Fresh); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	})
	mux.HandleFunc("POST /watch", func(w http.ResponseWriter, r *http.Request) {
		var names []string
		if err := json.NewDecoder(r.Body).Decode(&names); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var watched []config.VIP
		for _, name := range names {
			watched = append(watched, vips[name])
		}
		a.Watch(watched)
	})
	mux.HandleFunc("POST /members", func(w http.ResponseWriter, r *http.Request) {
		var macs []string
		if err := json.NewDecoder(r.Body).Decode(&macs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var hw []net.HardwareAddr
		for _, m := range macs {
			mac, err := net.ParseMAC(m)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			hw = append(hw, mac)
		}
		a.SetClusterMACs(hw)
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		json.NewEncoder(w).Encode(events)
	})
	mux.HandleFunc("GET /counters", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(a.Counters())
	})
	mux.HandleFunc("POST /close", func(w http.ResponseWriter, r *http.Request) {
		err := closeAll()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		quit <- err
	})
	ln, err := net.Listen("unix", cfg.Socket)
	if err != nil {
		log.Error("listen", "err", err)
		closeAll()
		return 1
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	code := 0
	select {
	case err := <-quit:
		if err != nil {
			code = 1
		}
	case <-sigs:
		if err := closeAll(); err != nil {
			log.Error("close", "err", err)
			code = 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	close(stopEvents)
	<-eventsDone
	// Every goroutine the announcer started must have ended with Close.
	if err := goleak.Find(); err != nil {
		log.Error("goroutines left after Close", "err", err)
		code = 3
	}
	return code
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// helper is the test's handle on an announcer running in a host.
type helper struct {
	t      *testing.T
	node   *lab.Node
	cfg    helperConfig
	proc   *lab.Process
	client *http.Client
}

// startHelper runs an announcer in node's namespace and waits until it serves.
func startHelper(t *testing.T, node *lab.Node, cfg helperConfig) *helper {
	t.Helper()
	dir, err := os.MkdirTemp("", "vah")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg.Socket = filepath.Join(dir, "s")
	cfgPath := filepath.Join(dir, "config.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	proc, err := node.Start("env", helperEnv+"="+cfgPath, exe)
	if err != nil {
		t.Fatal(err)
	}
	h := &helper{t: t, node: node, cfg: cfg, proc: proc, client: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", cfg.Socket)
		}},
	}}
	t.Cleanup(h.client.CloseIdleConnections)
	lab.Eventually(t, 10*time.Second, func() error {
		select {
		case <-proc.Exited():
			return fmt.Errorf("helper in %s exited: %v\n%s", node.Name(), proc.Wait(), proc.Log())
		default:
		}
		_, err := h.do("GET", "/counters", nil)
		return err
	})
	return h
}

func (h *helper) do(method, path string, body any) ([]byte, error) {
	var req *http.Request
	var err error
	if body != nil {
		b, _ := json.Marshal(body)
		req, err = http.NewRequest(method, "http://helper"+path, bytes.NewReader(b))
	} else {
		req, err = http.NewRequest(method, "http://helper"+path, nil)
	}
	if err != nil {
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("%s %s on %s: %s: %s", method, path, h.node.Name(), resp.Status, out)
	}
	return out, nil
}

func (h *helper) apply(owned, fresh []string) {
	h.t.Helper()
	if _, err := h.do("POST", "/apply", applyRequest{Owned: owned, Fresh: fresh}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *helper) watch(names ...string) {
	h.t.Helper()
	if _, err := h.do("POST", "/watch", names); err != nil {
		h.t.Fatal(err)
	}
}

func (h *helper) setMembers(macs ...string) {
	h.t.Helper()
	if _, err := h.do("POST", "/members", macs); err != nil {
		h.t.Fatal(err)
	}
}

func (h *helper) events() []wireEvent {
	h.t.Helper()
	b, err := h.do("GET", "/events", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	var evs []wireEvent
	if err := json.Unmarshal(b, &evs); err != nil {
		h.t.Fatal(err)
	}
	return evs
}

func (h *helper) counters() Counters {
	h.t.Helper()
	b, err := h.do("GET", "/counters", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	var c Counters
	if err := json.Unmarshal(b, &c); err != nil {
		h.t.Fatal(err)
	}
	return c
}

// close closes the announcer and waits for the helper to exit.
func (h *helper) close() {
	h.t.Helper()
	_, err := h.do("POST", "/close", nil)
	if err != nil && !errors.Is(err, io.EOF) {
		h.t.Errorf("close: %v\n%s", err, h.proc.Log())
	}
	select {
	case <-h.proc.Exited():
		if err := h.proc.Wait(); err != nil {
			h.t.Errorf("helper in %s: %v\n%s", h.node.Name(), err, h.proc.Log())
		}
	case <-time.After(10 * time.Second):
		h.t.Fatalf("helper in %s did not exit after close", h.node.Name())
	}
}
