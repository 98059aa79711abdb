package health

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vipd/vipd/config"
)

func fileCheck(path string) *config.Check {
	return &config.Check{Type: config.CheckFile, Path: path, Interval: config.D(time.Second), Timeout: config.D(500 * time.Millisecond), Rise: 2, Fall: 2}
}

// setUnderTest runs a Set on a fake clock with no jitter.
type setUnderTest struct {
	t      *testing.T
	clock  *fakeClock
	set    *Set
	cancel context.CancelFunc
	done   chan struct{}
}

func startSet(t *testing.T, cfg *config.Config) *setUnderTest {
	t.Helper()
	clock := newFakeClock()
	s, err := NewSet(cfg, Options{Clock: clock, Jitter: func(time.Duration) time.Duration { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &setUnderTest{t: t, clock: clock, set: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(st.done)
		s.Run(ctx)
	}()
	t.Cleanup(st.stop)
	eventually(t, "every runner waits for its first probe", func() bool { return clock.Waiters() == len(cfg.Checks) })
	return st
}

// stop ends Run and checks that it took every goroutine of the set along.
func (st *setUnderTest) stop() {
	st.cancel()
	<-st.done
	goleak.VerifyNone(st.t)
}

// tick advances the clock by d, waits until the checks named have probed
// at the new time, and until waiters Afters are pending again.
func (st *setUnderTest) tick(d time.Duration, probed []string, waiters int) {
	st.t.Helper()
	st.clock.Advance(d)
	now := st.clock.Now()
	eventually(st.t, "the checks have probed and wait again", func() bool {
		for _, s := range st.set.Statuses() {
			if slices.Contains(probed, s.Check) && !s.LastProbe.Equal(now) {
				return false
			}
		}
		return st.clock.Waiters() == waiters
	})

}

func (st *setUnderTest) expectEligible(want ...string) {
	st.t.Helper()
	if got := st.set.Eligible(); !slices.Equal(got, want) {
		st.t.Errorf("Eligible() = %q, want %q\nunits: %+v", got, want, st.set.Units())
	}
}

func (st *setUnderTest) expectToken(want bool) {
	st.t.Helper()
	select {
	case <-st.set.Changed():
		if !want {
			st.t.Error("a token on Changed, want none")
		}
	default:
		if want {
			st.t.Error("no token on Changed")
		}
	}
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSetEligibleUnitsNeedAllTheirChecksUp(t *testing.T) {
	dir := t.TempDir()
	webFile, lbFile, apiFile := filepath.Join(dir, "web"), filepath.Join(dir, "lb"), filepath.Join(dir, "api")
	cfg := &config.Config{
		Checks: map[string]*config.Check{"web": fileCheck(webFile), "lb": fileCheck(lbFile), "api": fileCheck(apiFile)},
		VIPs: []config.VIP{
			{Name: "web4", Group: "front", Checks: []string{"web"}},
			{Name: "web6", Group: "front", Checks: []string{"lb", "web"}},
			{Name: "api", Checks: []string{"api"}},
			{Name: "bare"},
		},
	}
	touch(t, apiFile)
	st := startSet(t, cfg)
	all := []string{"api", "lb", "web"}

	st.expectEligible("bare")
	want := []UnitStatus{
		{Unit: "api", Checks: []string{"api"}, Reason: "check api: not checked yet"},
		{Unit: "bare", Eligible: true},
		{Unit: "front", Checks: []string{"lb", "web"}, Reason: "check lb: not checked yet; check web: not checked yet"},
	}
	if diff := cmp.Diff(want, st.set.Units(), cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })); diff != "" {
		t.Errorf("units before any probe (-want +got):\n%s", diff)
	}

	st.tick(0, all, 3)
	st.expectEligible("bare")
	st.expectToken(false)
	st.tick(time.Second, all, 3)
	st.expectEligible("bare", "front")
	st.expectToken(true)
	if got, want := st.set.Units()[0].Reason, "check api: maintenance file "+apiFile+" exists; remove it to put this host back in service"; got != want {
		t.Errorf("reason of unit api:\n  %q\nwant\n  %q", got, want)
	}

	// One failure is tolerated, the second takes the group down.
	touch(t, lbFile)
	if err := os.Remove(apiFile); err != nil {
		t.Fatal(err)
	}
	st.tick(time.Second, all, 3)
	st.expectEligible("bare", "front")
	st.tick(time.Second, all, 3)
	st.expectEligible("api", "bare")
	st.expectToken(true)
	front := st.set.Units()[2]
	if want := "check lb: maintenance file " + lbFile + " exists; remove it to put this host back in service"; front.Reason != want {
		t.Errorf("reason of unit front:\n  %q\nwant\n  %q", front.Reason, want)
	}

	var names []string
	for _, s := range st.set.Statuses() {
		names = append(names, s.Check)
	}
	if !slices.Equal(names, all) {
		t.Errorf("Statuses() are of %q, want %q", names, all)
	}
}

func TestSetApplyKeepsTheStateOfUnchangedChecks(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	cfg := &config.Config{
		Checks: map[string]*config.Check{"a": fileCheck(path("a")), "b": fileCheck(path("b")), "c": fileCheck(path("c")), "e": fileCheck(path("e"))},
		VIPs: []config.VIP{
			{Name: "v1", Checks: []string{"a"}}, {Name: "v2", Checks: []string{"b"}},
			{Name: "v3", Checks: []string{"c"}}, {Name: "v4", Checks: []string{"e"}},
		},
	}
	st := startSet(t, cfg)
	st.tick(0, []string{"a", "b", "c", "e"}, 4)
	st.tick(time.Second, []string{"a", "b", "c", "e"}, 4)
	st.expectEligible("v1", "v2", "v3", "v4")
	st.expectToken(true)
	lastProbe := st.clock.Now()

	next := &config.Config{
		Checks: map[string]*config.Check{
			"a": fileCheck(path("a")),  // the same: keeps running as it was
			"b": fileCheck(path("b2")), // probes another file: starts down
			"c": fileCheck(path("c")),  // only rise and fast_interval change: resumes up
			"d": fileCheck(path("d")),  // new: starts down
		},
		VIPs: []config.VIP{
			{Name: "v1", Checks: []string{"a"}}, {Name: "v2", Checks: []string{"b"}},
			{Name: "v3", Checks: []string{"c"}}, {Name: "v4", Checks: []string{"d"}},
		},
	}
	next.Checks["c"].Rise = 3
	next.Checks["c"].FastInterval = config.D(100 * time.Millisecond)
	if err := st.set.Apply(next); err != nil {
		t.Fatal(err)
	}
	st.expectToken(true)
	st.expectEligible("v1", "v3")
	byName := map[string]Status{}
	for _, s := range st.set.Statuses() {
		byName[s.Check] = s
	}
	if len(byName) != 4 || byName["e"].Check != "" {
		t.Errorf("statuses after reload are of %v, want a, b, c and d", slices.Sorted(func(yield func(string) bool) {
			for k := range byName {
				yield(k)
			}
		}))
	}
	if s := byName["a"]; !s.Up || !s.LastProbe.Equal(lastProbe) || s.Passes != 2 {
		t.Errorf("unchanged check a after reload: %+v, want it up as before", s)
	}
	if s := byName["c"]; !s.Up || s.Passes != 2 {
		t.Errorf("check c whose rise changed: %+v, want it up with its passes kept", s)
	}
	if s := byName["b"]; s.Up || s.Reason != "not checked yet" {
		t.Errorf("check b that probes another file: %+v, want it down, not checked yet", s)
	}

	// The new runners of b, c and d are due at once; a, and the stopped
	// runners of b, c and e, in a second.
	eventually(t, "the new runners wait for their first probe", func() bool { return st.clock.Waiters() == 4+3 })
	st.tick(0, []string{"b", "c", "d"}, 4+3)
	st.expectEligible("v1", "v3")
	st.tick(time.Second, []string{"a", "b", "c", "d"}, 4)
	st.expectEligible("v1", "v2", "v3", "v4")

	// A bad config changes nothing.
	bad := &config.Config{Checks: map[string]*config.Check{"a": fileCheck(path("a"))}, VIPs: []config.VIP{{Name: "v1", Checks: []string{"zz"}}}}
	if err := st.set.Apply(bad); err == nil || !strings.Contains(err.Error(), `check "zz" is not defined`) {
		t.Errorf("Apply of a config with an undefined check: %v", err)
	}
	bad = &config.Config{Checks: map[string]*config.Check{"a": {Type: config.CheckTCP, Address: "127.0.0.1:80", Timeout: config.D(time.Second)}}}
	if err := st.set.Apply(bad); err == nil {
		t.Error("Apply accepted a check with interval 0")
	}
	st.expectEligible("v1", "v2", "v3", "v4")
	if n := len(st.set.Statuses()); n != 4 {
		t.Errorf("%d checks after a rejected reload, want the 4 from before", n)
	}

	// The same config again restarts nothing.
	if err := st.set.Apply(next); err != nil {
		t.Fatal(err)
	}
	if n := st.clock.Waiters(); n != 4 {
		t.Errorf("%d pending Afters after reapplying the same config, want the 4 of the running checks", n)
	}
	st.expectEligible("v1", "v2", "v3", "v4")
}

func TestSetApplyBeforeAndAfterRun(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{Checks: map[string]*config.Check{"a": fileCheck(filepath.Join(dir, "a"))}, VIPs: []config.VIP{{Name: "v1", Checks: []string{"a"}}}}
	s, err := NewSet(cfg, Options{Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(&config.Config{VIPs: []config.VIP{{Name: "v2"}}}); err != nil {
		t.Fatal(err)
	}
	if got := s.Eligible(); !slices.Equal(got, []string{"v2"}) {
		t.Errorf("Eligible() = %q after Apply before Run, want [v2]", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Run(ctx) // returns at once
	if err := s.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t) // Apply after Run starts nothing
	defer func() {
		if recover() == nil {
			t.Error("a second Run did not panic")
		}
	}()
	s.Run(ctx)
}

func TestNewSetRejectsWhatItCannotRun(t *testing.T) {
	for name, c := range map[string]*config.Check{
		"no timeout":         {Type: config.CheckTCP, Address: "127.0.0.1:80", Interval: config.D(time.Second), Rise: 1, Fall: 1},
		"relative command":   {Type: config.CheckExec, Command: []string{"check.sh"}, Interval: config.D(time.Second), Timeout: config.D(time.Millisecond), Rise: 1, Fall: 1},
		"socket and address": {Type: config.CheckHAProxy, Socket: "/run/h.sock", Address: "127.0.0.1:1", Backend: "web", Interval: config.D(time.Second), Timeout: config.D(time.Millisecond), Rise: 1, Fall: 1},
		"not a URL":          {Type: config.CheckHTTP, URL: "127.0.0.1:80/healthz", Interval: config.D(time.Second), Timeout: config.D(time.Millisecond), Rise: 1, Fall: 1},
		"unknown type":       {Type: "ping", Interval: config.D(time.Second), Timeout: config.D(time.Millisecond), Rise: 1, Fall: 1},
	} {
		if _, err := NewSet(&config.Config{Checks: map[string]*config.Check{"x": c}}, Options{}); err == nil {
			t.Errorf("%s: NewSet accepted %+v", name, c)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
