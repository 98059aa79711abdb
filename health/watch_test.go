package health

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

// backend is a TCP server on loopback that a test can stop, closing every
// connection it accepted, as a stopped nginx does.
type backend struct {
	ln       net.Listener
	closeNow bool // close each connection as soon as it is accepted

	mu    sync.Mutex
	conns []net.Conn
	n     int // connections accepted
}

func startBackend(t *testing.T, closeNow bool) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{ln: ln, closeNow: closeNow}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.n++
			if closeNow {
				_ = c.Close()
			} else {
				b.conns = append(b.conns, c)
			}
			b.mu.Unlock()
		}
	}()
	t.Cleanup(b.stop)
	return b
}

func (b *backend) accepted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func (b *backend) stop() {
	_ = b.ln.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		_ = c.Close()
	}
	b.conns = nil
}

// counting counts the probes of the checker it wraps, and is watchable
// like it.
type counting struct {
	*tcpChecker
	probes atomic.Int32
}

func (c *counting) Check(ctx context.Context) error {
	c.probes.Add(1)
	return c.tcpChecker.Check(ctx)
}

// watchedRunner runs a tcp check of b with watch on, a one-hour interval
// and no jitter, on a fake clock: every probe after the first is one the
// watch asked for, since the clock never reaches the next interval.
func watchedRunner(t *testing.T, b *backend) (*Runner, *counting, *fakeClock) {
	t.Helper()
	watch := true
	c := &config.Check{Type: config.CheckTCP, Address: b.ln.Addr().String(), Interval: config.D(time.Hour),
		FastInterval: config.D(time.Hour), Timeout: config.D(time.Second), Rise: 1, Fall: 2, Watch: &watch}
	tc, err := newTCPChecker(c)
	if err != nil {
		t.Fatal(err)
	}
	checker := &counting{tcpChecker: tc}
	clock := newFakeClock()
	r, err := NewRunner("web", c, checker, Options{Clock: clock, Jitter: func(time.Duration) time.Duration { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	eventually(t, "the runner waits for its first probe", func() bool { return clock.Waiters() == 1 })
	clock.Advance(0)
	eventually(t, "the first probe passes", func() bool { return r.Status().Up })
	return r, checker, clock
}

// A backend that stops closes the watched connection, and the check goes
// down at once (a refused connection needs no re-check), an hour before its
// next probe was due.
func TestAWatchedBackendThatStopsIsDownAtOnce(t *testing.T) {
	b := startBackend(t, false)
	r, checker, _ := watchedRunner(t, b)
	eventually(t, "the watch holds a connection", func() bool { return b.accepted() == 2 })
	if n := checker.probes.Load(); n != 1 {
		t.Fatalf("%d probes before the backend stopped, want 1", n)
	}
	b.stop()
	eventually(t, "the check is down", func() bool { return !r.Status().Up })
	if n := checker.probes.Load(); n != 2 {
		t.Errorf("%d probes, want 2: the first and the one the closed connection asked for", n)
	}
	if st := r.Status(); st.Reason == "" {
		t.Errorf("down without a reason: %+v", st)
	}
}

// A live backend that closes idle connections at once costs one extra
// probe and one connection per interval at most, however often it closes.
func TestAWatchedBackendThatClosesIdleConnectionsIsProbedOnceMore(t *testing.T) {
	b := startBackend(t, true)
	r, checker, clock := watchedRunner(t, b)
	eventually(t, "a second probe, asked for by the closed connection", func() bool { return checker.probes.Load() == 2 })
	// The watch now waits an interval before it dials again: only the fake
	// clock can end that wait.
	eventually(t, "the watch waits for the clock", func() bool { return clock.Waiters() >= 2 })
	if n, a := checker.probes.Load(), b.accepted(); n != 2 || a != 3 {
		t.Errorf("%d probes and %d connections, want 2 and 3 (two probes, one watch)", n, a)
	}
	if !r.Status().Up {
		t.Errorf("a live backend that closes idle connections is down: %+v", r.Status())
	}
}

// watch: false holds no connection: the probe is the only one.
func TestNoWatchHoldsNoConnection(t *testing.T) {
	b := startBackend(t, false)
	c := &config.Check{Type: config.CheckTCP, Address: b.ln.Addr().String(), Interval: config.D(time.Hour),
		Timeout: config.D(time.Second), Rise: 1, Fall: 2}
	checker, err := NewChecker(c)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner("web", c, checker, Options{Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	if r.watch != nil {
		t.Errorf("a check without watch: true has a connection watch for %s", r.watch.address)
	}
}
