package health

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

// scripted is a Checker whose results a test sets probe by probe.
type scripted struct {
	mu     sync.Mutex
	next   error
	probes int
	// takes is how long each probe lasts on clock, which the probe
	// advances itself; 0 (or a nil clock) is an instant probe.
	takes time.Duration
	clock *fakeClock
}

// setTakes makes the next probes last d on the fake clock.
func (s *scripted) setTakes(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.takes = d
}

func (s *scripted) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = err
}

func (s *scripted) Check(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probes++
	if s.takes > 0 && s.clock != nil {
		s.clock.Advance(s.takes)
	}
	return s.next
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probes
}

// runnerUnderTest runs a runner on a fake clock until the test ends.
type runnerUnderTest struct {
	t       *testing.T
	clock   *fakeClock
	checker *scripted
	runner  *Runner
}

func startRunner(t *testing.T, c *config.Check, jitter time.Duration) *runnerUnderTest {
	t.Helper()
	clock := newFakeClock()
	checker := &scripted{clock: clock}
	r, err := NewRunner("web", c, checker, Options{Clock: clock, Jitter: func(time.Duration) time.Duration { return jitter }})
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
	rt := &runnerUnderTest{t, clock, checker, r}
	eventually(t, "the runner waits for its first probe", func() bool { return clock.Waiters() == 1 })
	return rt
}

// probe advances the clock by d, expecting it to trigger exactly one probe
// that returns err, and waits until the runner has recorded it.
func (rt *runnerUnderTest) probe(d time.Duration, err error) Status {
	rt.t.Helper()
	before := rt.checker.count()
	rt.checker.set(err)
	rt.clock.Advance(d)
	eventually(rt.t, "the probe is recorded and the runner waits again", func() bool {
		return rt.checker.count() == before+1 && rt.clock.Waiters() == 1
	})
	return rt.runner.Status()
}

func checkConfig(interval time.Duration, rise, fall int) *config.Check {
	return &config.Check{Type: config.CheckTCP, Address: "127.0.0.1:1",
		Interval: config.D(interval), Timeout: config.D(interval / 2), Rise: rise, Fall: fall}
}

func TestRunnerWaitsForItsJitterThenProbesEveryInterval(t *testing.T) {
	rt := startRunner(t, checkConfig(time.Second, 2, 2), 300*time.Millisecond)
	t0 := rt.clock.Now()
	rt.expectNextProbe(t0, 300*time.Millisecond)
	rt.clock.Advance(299 * time.Millisecond)
	if n := rt.checker.count(); n != 0 {
		t.Fatalf("%d probes before the jitter has passed, want 0", n)
	}
	st := rt.probe(time.Millisecond, nil)
	if want := t0.Add(300 * time.Millisecond); !st.LastProbe.Equal(want) {
		t.Errorf("first probe at %v, want %v", st.LastProbe, want)
	}
	rt.expectNextProbe(t0, 1300*time.Millisecond)
	rt.clock.Advance(999 * time.Millisecond)
	if n := rt.checker.count(); n != 1 {
		t.Fatalf("%d probes a little less than an interval after the first, want 1", n)
	}
	st = rt.probe(time.Millisecond, nil)
	if want := t0.Add(1300 * time.Millisecond); !st.LastProbe.Equal(want) {
		t.Errorf("second probe at %v, want %v", st.LastProbe, want)
	}
}

func TestRunnerStartsDownAndRisesThenFalls(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:80: connect: connection refused")
	rt := startRunner(t, checkConfig(time.Second, 3, 2), 0)
	if st := rt.runner.Status(); st.Up || st.Reason != "not checked yet" || st.Check != "web" {
		t.Fatalf("initial status %+v, want down and not checked yet", st)
	}
	steps := []struct {
		err    error
		up     bool
		reason string
	}{
		{nil, false, "starting: passed 1 of 3 probes needed"},
		{refused, false, refused.Error()},
		{nil, false, refused.Error() + " (since then passed 1 of 3 probes needed)"},
		{nil, false, refused.Error() + " (since then passed 2 of 3 probes needed)"},
		{nil, true, "passed 3 probes in a row"},
		{refused, true, "passed 3 probes in a row"},
		{nil, true, "passed 3 probes in a row"},
		{refused, true, "passed 3 probes in a row"},
		{refused, false, refused.Error()},
		{nil, false, refused.Error() + " (since then passed 1 of 3 probes needed)"},
	}
	for i, s := range steps {
		wait := time.Second
		if i == 0 {
			wait = 0 // no jitter: the first probe is due now
		}
		st := rt.probe(wait, s.err)
		if st.Up != s.up || st.Reason != s.reason {
			t.Fatalf("after probe %d: up=%v reason %q, want up=%v reason %q", i+1, st.Up, st.Reason, s.up, s.reason)
		}
	}
}

func TestRunnerSignalsChangesWithoutBlocking(t *testing.T) {
	rt := startRunner(t, checkConfig(time.Second, 1, 1), 0)
	select {
	case <-rt.runner.Changed():
		t.Fatal("a token before anything changed")
	default:
	}
	// Up, down, up again, with nobody reading: the runner must not block,
	// and one token waits.
	rt.probe(0, nil)
	rt.probe(time.Second, errors.New("down"))
	rt.probe(time.Second, nil)
	select {
	case <-rt.runner.Changed():
	default:
		t.Fatal("no token after the check changed")
	}
	select {
	case <-rt.runner.Changed():
		t.Fatal("tokens are queued; want at most one")
	default:
	}
	rt.probe(time.Second, nil) // no change, no token
	select {
	case <-rt.runner.Changed():
		t.Fatal("a token although Up did not change")
	default:
	}
}

func TestRunnerDoesNotCountAProbeCutShort(t *testing.T) {
	started := make(chan struct{})
	blocking := CheckerFunc(func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	clock := newFakeClock()
	r, err := NewRunner("web", checkConfig(time.Second, 1, 1), blocking, Options{Clock: clock, Jitter: func(time.Duration) time.Duration { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	eventually(t, "the runner waits for its first probe", func() bool { return clock.Waiters() == 1 })
	clock.Advance(0)
	<-started
	cancel()
	<-done
	if st := r.Status(); !st.LastProbe.IsZero() || st.Failures != 0 || st.Reason != "not checked yet" {
		t.Errorf("status after a cut-short probe: %+v, want it unchanged", st)
	}
}

func TestNewRunnerRejectsBadTiming(t *testing.T) {
	for _, c := range []*config.Check{
		checkConfig(0, 1, 1), checkConfig(time.Second, 0, 1), checkConfig(time.Second, 1, 0),
		fastCheckConfig(time.Second, -time.Millisecond, 1, 1), fastCheckConfig(time.Second, 1001*time.Millisecond, 1, 1),
	} {
		if _, err := NewRunner("web", c, &scripted{}, Options{}); err == nil {
			t.Errorf("NewRunner accepted interval %s fast interval %s rise %d fall %d", c.Interval, c.FastInterval, c.Rise, c.Fall)
		}
	}
	for _, c := range []*config.Check{fastCheckConfig(time.Second, 0, 1, 1), fastCheckConfig(time.Second, time.Second, 1, 1)} {
		if _, err := NewRunner("web", c, &scripted{}, Options{}); err != nil {
			t.Errorf("NewRunner rejected fast interval %s with interval %s: %v", c.FastInterval, c.Interval, err)
		}
	}
}
