package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// freePort returns a port free for TCP and UDP on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// hostConfig writes a config with no managed interface, so the daemon
// touches nothing on the host, and returns its path and control socket.
func hostConfig(t *testing.T, peers ...string) (file, socket string) {
	dir := t.TempDir()
	socket = filepath.Join(dir, "vipd.sock")
	var quoted []string
	for _, p := range peers {
		quoted = append(quoted, fmt.Sprintf("%q", p))
	}
	yaml := fmt.Sprintf(`node_name: h1
state_dir: %s
gossip:
  bind: 127.0.0.1
  port: %d
  insecure: true
  peers: [%s]
control:
  socket: %s
  group: ""
metrics:
  listen: ""
`, filepath.Join(dir, "state"), freePort(t), strings.Join(quoted, ", "), socket)
	file = filepath.Join(dir, "vipd.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, socket
}

// syncBuffer is a log sink safe for the daemon's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func logTo(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestStopAtAnyMomentOfStartUp cancels Run at moments before, during and
// after the join wait on a host whose only peer never answers: each time
// Run returns nil soon, says "vipd stopped", and leaves no goroutine.
func TestStopAtAnyMomentOfStartUp(t *testing.T) {
	// A peer address nobody listens on: connections are refused at once.
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	for _, after := range []time.Duration{0, 20 * time.Millisecond, 200 * time.Millisecond, time.Second, 2500 * time.Millisecond, 3500 * time.Millisecond} {
		t.Run(after.String(), func(t *testing.T) {
			file, _ := hostConfig(t, dead)
			var logs syncBuffer
			d := New(Options{File: file, Logger: logTo(&logs)})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			time.Sleep(after)
			stopAt := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run after a stop at %v: %v\n%s", after, err, logs.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("Run did not return 10s after a stop at %v\n%s", after, logs.String())
			}
			took := time.Since(stopAt)
			t.Logf("stopped at %v: Run returned after %v", after, took.Round(time.Millisecond))
			if !strings.Contains(logs.String(), "vipd stopped") {
				t.Errorf("no \"vipd stopped\" in the log:\n%s", logs.String())
			}
			// Within a second even during the join wait: nothing waits for
			// it to time out.
			if took > 2*time.Second {
				t.Errorf("stopping took %v", took)
			}
		})
	}
}

// TestRunServesAndStops runs a lone host until its control socket answers,
// reloads it, and stops it.
func TestRunServesAndStops(t *testing.T) {
	file, socket := hostConfig(t)
	var logs syncBuffer
	d := New(Options{File: file, Logger: logTo(&logs)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", socket); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("the control socket never answered\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.Reload()
	waitLog(t, &logs, "reload done")

	// A second daemon with the same socket refuses to start.
	other := New(Options{File: file, Logger: logTo(&syncBuffer{})})
	if err := other.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "another vipd answers") {
		t.Errorf("a second vipd on the same socket: %v, want a refusal naming the other vipd", err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v\n%s", err, logs.String())
	}
	for _, want := range []string{"vipd started", "stopping: handing over", "vipd stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %q in the log:\n%s", want, logs.String())
		}
	}
}

func waitLog(t *testing.T, logs *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", want, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBadConfigSaysWhy(t *testing.T) {
	file := filepath.Join(t.TempDir(), "vipd.yaml")
	if err := os.WriteFile(file, []byte("node_name: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := New(Options{File: file}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "vipd check -c "+file) {
		t.Errorf("Run with a broken file: %v, want an error saying how to check it", err)
	}
	err = New(Options{File: file + ".missing"}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "examples") {
		t.Errorf("Run with no file: %v, want an error saying where examples are", err)
	}
}

func TestSmallConfigsCollectGarbageSooner(t *testing.T) {
	for _, c := range []struct{ vips, want int }{{1, 50}, {smallConfigVIPs, 50}, {smallConfigVIPs + 1, 100}, {1000, 100}} {
		if got := gcPercentFor(c.vips); got != c.want {
			t.Errorf("gcPercentFor(%d) = %d, want %d", c.vips, got, c.want)
		}
	}
}
