package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

// The tests of this file are about how a check that is up confirms a
// failure: re-checks at the fast interval, and a refused connection that
// needs no re-check.

func fastCheckConfig(interval, fast time.Duration, rise, fall int) *config.Check {
	c := checkConfig(interval, rise, fall)
	c.FastInterval = config.D(fast)
	return c
}

// Errors as the checkers return them (see TestConfirmsAtOnceOnRealErrors).
var (
	errUnavailable = errors.New("GET http://127.0.0.1:80/healthz: 503 Service Unavailable")
	errRefused     = fmt.Errorf("GET http://127.0.0.1:80/healthz: %w", &net.OpError{Op: "dial", Net: "tcp",
		Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	errTimedOut = errors.New("GET http://127.0.0.1:80/healthz: timed out after 500ms")
)

// up brings rt's check (rise 1, no jitter) up with a probe at the start.
func (rt *runnerUnderTest) up() time.Time {
	rt.t.Helper()
	t0 := rt.clock.Now()
	if st := rt.probe(0, nil); !st.Up {
		rt.t.Fatalf("after a pass with rise 1: %+v, want up", st)
	}
	return t0
}

// expectNextProbe fails unless the runner, waiting after a probe, is due
// to probe next at t0+at. The fake clock knows when the runner's one timer
// fires, so this needs no waiting for something not to happen.
func (rt *runnerUnderTest) expectNextProbe(t0 time.Time, at time.Duration) {
	rt.t.Helper()
	next, ok := rt.clock.NextAt()
	if !ok {
		rt.t.Fatal("the runner waits for nothing")
	}
	if got := next.Sub(t0); got != at {
		rt.t.Fatalf("next probe due at +%s, want +%s", got, at)
	}
}

// expectProbe checks the status a probe left: its time (as an offset from
// t0), Up, and the failures in a row.
func expectProbe(t *testing.T, st Status, t0 time.Time, at time.Duration, up bool, failures int) {
	t.Helper()
	if got := st.LastProbe.Sub(t0); got != at || st.Up != up || st.Failures != failures {
		t.Fatalf("probe at +%s: up=%v failures=%d; want a probe at +%s, up=%v failures=%d (status %+v)",
			got, st.Up, st.Failures, at, up, failures, st)
	}
}

func TestRunnerStaysUpWhenTheFastRecheckPasses(t *testing.T) {
	rt := startRunner(t, fastCheckConfig(time.Second, 200*time.Millisecond, 1, 2), 0)
	t0 := rt.up()

	st := rt.probe(time.Second, errUnavailable)
	expectProbe(t, st, t0, time.Second, true, 1)

	// Re-checked 200ms later, not 1s later; it passes, so the check stays up.
	rt.expectNextProbe(t0, 1200*time.Millisecond)
	st = rt.probe(200*time.Millisecond, nil)
	expectProbe(t, st, t0, 1200*time.Millisecond, true, 0)
	if !st.Since.Equal(t0) {
		t.Errorf("Since = %v, want %v: the check never went down", st.Since, t0)
	}

	// Back to the normal interval, counted from the re-check.
	rt.expectNextProbe(t0, 2200*time.Millisecond)
	st = rt.probe(time.Second, nil)
	expectProbe(t, st, t0, 2200*time.Millisecond, true, 0)
	select {
	case <-rt.runner.Changed():
	default:
		t.Fatal("no token for coming up")
	}
	select {
	case <-rt.runner.Changed():
		t.Fatal("a token although the check stayed up")
	default:
	}
}

func TestRunnerConfirmsAFailureWithFallRechecksAtTheFastInterval(t *testing.T) {
	rt := startRunner(t, fastCheckConfig(time.Second, 200*time.Millisecond, 1, 3), 0)
	t0 := rt.up()

	expectProbe(t, rt.probe(time.Second, errUnavailable), t0, time.Second, true, 1)
	rt.expectNextProbe(t0, 1200*time.Millisecond)
	expectProbe(t, rt.probe(200*time.Millisecond, errUnavailable), t0, 1200*time.Millisecond, true, 2)
	rt.expectNextProbe(t0, 1400*time.Millisecond)
	st := rt.probe(200*time.Millisecond, errUnavailable)
	expectProbe(t, st, t0, 1400*time.Millisecond, false, 3)
	if want := t0.Add(1400 * time.Millisecond); !st.Since.Equal(want) || st.Reason != errUnavailable.Error() {
		t.Fatalf("down since %v for %q, want since %v for %q", st.Since, st.Reason, want, errUnavailable)
	}

	// Down, it probes at the normal interval again, and rises at it too.
	rt.expectNextProbe(t0, 2400*time.Millisecond)
	expectProbe(t, rt.probe(time.Second, errUnavailable), t0, 2400*time.Millisecond, false, 4)
	rt.expectNextProbe(t0, 3400*time.Millisecond)
	expectProbe(t, rt.probe(time.Second, nil), t0, 3400*time.Millisecond, true, 0)
}

func TestRunnerWithoutAFastIntervalRechecksAtTheInterval(t *testing.T) {
	rt := startRunner(t, fastCheckConfig(time.Second, time.Second, 1, 2), 0)
	t0 := rt.up()
	expectProbe(t, rt.probe(time.Second, errUnavailable), t0, time.Second, true, 1)
	rt.expectNextProbe(t0, 2*time.Second)
	expectProbe(t, rt.probe(time.Second, errUnavailable), t0, 2*time.Second, false, 2)
}

func TestRunnerGoesDownAtOnceWhenTheConnectionIsRefused(t *testing.T) {
	rt := startRunner(t, fastCheckConfig(time.Second, 200*time.Millisecond, 1, 3), 0)
	t0 := rt.up()

	st := rt.probe(time.Second, errRefused)
	expectProbe(t, st, t0, time.Second, false, 1)
	if want := t0.Add(time.Second); !st.Since.Equal(want) || st.Reason != errRefused.Error() {
		t.Fatalf("down since %v for %q, want since %v for %q", st.Since, st.Reason, want, errRefused)
	}
	select {
	case <-rt.runner.Changed():
	default:
		t.Fatal("no token after going down")
	}
	// Down already: nothing left to confirm, so the normal interval.
	rt.expectNextProbe(t0, 2*time.Second)
	expectProbe(t, rt.probe(time.Second, errRefused), t0, 2*time.Second, false, 2)
}

func TestRunnerTreatsATimeoutAsAnOrdinaryFailure(t *testing.T) {
	// The timeout (500ms) is longer than the fast interval (200ms).
	c := fastCheckConfig(time.Second, 200*time.Millisecond, 1, 2)
	c.Timeout = config.D(500 * time.Millisecond)
	rt := startRunner(t, c, 0)
	t0 := rt.up()

	// One slow response, which the checker cut at its timeout: the check
	// stays up, and the re-check comes 200ms after that probe ended, not
	// at once.
	rt.checker.setTakes(500 * time.Millisecond)
	expectProbe(t, rt.probe(time.Second, errTimedOut), t0, time.Second, true, 1)
	rt.checker.setTakes(0)
	if got := rt.clock.Now().Sub(t0); got != 1500*time.Millisecond {
		t.Fatalf("the slow probe ended at +%s, want +1.5s", got)
	}
	rt.expectNextProbe(t0, 1700*time.Millisecond)
	expectProbe(t, rt.probe(200*time.Millisecond, nil), t0, 1700*time.Millisecond, true, 0)

	// A timeout in the shape of a dial error is no stronger.
	dialTimeout := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	rt.expectNextProbe(t0, 2700*time.Millisecond)
	expectProbe(t, rt.probe(time.Second, dialTimeout), t0, 2700*time.Millisecond, true, 1)
	rt.expectNextProbe(t0, 2900*time.Millisecond)
	// Two in a row are fall 2: down.
	expectProbe(t, rt.probe(200*time.Millisecond, errTimedOut), t0, 2900*time.Millisecond, false, 2)
}

func TestConfirmsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"refused", errRefused, true},
		{"refused, unwrapped", errors.Unwrap(errRefused), true},
		{"missing unix socket", &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ENOENT)}, true},
		{"refused unix socket", &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{"the words only", errors.New("dial tcp 127.0.0.1:80: connect: connection refused"), false},
		{"reset while reading", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, false},
		{"dial timed out", &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, false},
		{"dial: no route", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, false},
		{"bad status", errUnavailable, false},
		{"timeout", errTimedOut, false},
	} {
		if got := confirmsAtOnce(tc.err); got != tc.want {
			t.Errorf("%s: confirmsAtOnce(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestConfirmsAtOnceOnRealErrors probes a stopped backend, and a slow one,
// with the real checkers on loopback.
func TestConfirmsAtOnceOnRealErrors(t *testing.T) {
	addr := closedPort(t)
	tcp := &config.Check{Type: config.CheckTCP, Address: addr, Interval: config.D(time.Second), Timeout: config.D(time.Second), Rise: 1, Fall: 1}

	socket := filepath.Join(t.TempDir(), "admin.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false) // HAProxy killed: the socket file stays, nobody listens
	l.Close()
	missing := filepath.Join(t.TempDir(), "admin.sock")

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	slowCheck := httpCheck(slow.URL + "/healthz")
	slowCheck.Timeout = config.D(50 * time.Millisecond)

	for _, tc := range []struct {
		name  string
		check *config.Check
		want  bool
	}{
		{"tcp, nothing listens", tcp, true},
		{"http, nothing listens", httpCheck("http://" + addr + "/healthz"), true},
		{"haproxy, stale socket", haproxyCheck(socket, "web", 1), true},
		{"haproxy, no socket", haproxyCheck(missing, "web", 1), true},
		{"http, timed out", slowCheck, false},
	} {
		err := mustChecker(t, tc.check).Check(context.Background())
		if err == nil {
			t.Fatalf("%s: the check passed", tc.name)
		}
		if got := confirmsAtOnce(err); got != tc.want {
			t.Errorf("%s: confirmsAtOnce(%v) = %v, want %v", tc.name, err, got, tc.want)
		}
	}
}
