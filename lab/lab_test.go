package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Every goroutine the lab starts (reapers, probers, netns threads) must end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLabConnectsHostsAndClientThenLeavesNothing(t *testing.T) {
	RequireRoot(t)
	var netnses []string
	t.Run("three hosts", func(t *testing.T) {
		l := New(t, Options{Hosts: 3})
		netnses = l.Netnses()
		h1, h2, h3 := l.Host(1), l.Host(2), l.Host(3)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()

		for _, dst := range []netip.Addr{h3.IPv4(), h3.IPv6()} {
			if err := h1.Ping(ctx, dst); err != nil {
				t.Error(err)
			}
		}

		StartNginx(t, h2, NginxOptions{})
		for _, addr := range []netip.Addr{h2.IPv4(), h2.IPv6()} {
			body, err := l.Client().HTTPGet(ctx, URL(addr, 80))
			if err != nil || body != "h2\n" {
				t.Errorf("client GET %s = %q, %v; want %q", URL(addr, 80), body, err, "h2\n")
			}
		}

		prober := Probe(ctx, l.Client(), URL(h2.IPv6(), 80), 10*time.Millisecond, time.Second)
		Eventually(t, 5*time.Second, func() error {
			if n := len(prober.Results()); n < 20 {
				return fmt.Errorf("%d probe results, want at least 20", n)
			}
			return nil
		})
		summary := Summarize(prober.Stop())
		t.Logf("probe: %v", summary)
		if summary.Failed != 0 || !slices.Equal(summary.Bodies, []string{"h2"}) {
			t.Errorf("probe: %v, want only answers from h2", summary)
		}
	})

	if len(netnses) != 5 {
		t.Fatalf("lab made namespaces %v, want switch, 3 hosts and client", netnses)
	}
	left := existingNetnses(t)
	for _, name := range netnses {
		if slices.Contains(left, name) {
			t.Errorf("namespace %s still exists after cleanup", name)
		}
	}
}

func TestProberRecordsTheOutageWhileNginxIsDown(t *testing.T) {
	l := New(t, Options{Hosts: 1})
	h1 := l.Host(1)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	nginx := StartNginx(t, h1, NginxOptions{})
	prober := Probe(ctx, l.Client(), URL(h1.IPv4(), 80), 10*time.Millisecond, time.Second)
	waitFor := func(what string, count func(Summary) int, atLeast int) {
		t.Helper()
		Eventually(t, 5*time.Second, func() error {
			if s := Summarize(prober.Results()); count(s) < atLeast {
				return fmt.Errorf("%s: %v, want at least %d", what, s, atLeast)
			}
			return nil
		})
	}
	answered := func(s Summary) int { return s.OK }
	failed := func(s Summary) int { return s.Failed }

	waitFor("answers before the outage", answered, 5)
	if err := nginx.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor("failures during the outage", failed, 5)
	okBefore := Summarize(prober.Results()).OK
	StartNginx(t, h1, NginxOptions{})
	waitFor("answers after the outage", answered, okBefore+5)

	summary := Summarize(prober.Stop())
	t.Logf("probe: %v", summary)
	if !slices.Equal(summary.Bodies, []string{"h1"}) || summary.LongestGap < 50*time.Millisecond {
		t.Errorf("probe: %v, want answers only from h1 and a gap of at least five failed probes", summary)
	}
}

func TestLinkDownCutsHostOffAndLinkUpRestoresIt(t *testing.T) {
	l := New(t, Options{Hosts: 2})
	h1, h2 := l.Host(1), l.Host(2)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	if err := h1.LinkDown(ctx); err != nil {
		t.Fatal(err)
	}
	shortCtx, shortCancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer shortCancel()
	if err := h1.Ping(shortCtx, h2.IPv4()); err == nil {
		t.Error("h1 reached h2 with its link down")
	}

	if err := h1.LinkUp(ctx); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []netip.Addr{h2.IPv4(), h2.IPv6()} {
		if err := h1.Ping(ctx, dst); err != nil {
			t.Errorf("after link up: %v", err)
		}
	}
}

func TestStopEndsProcessAndItsGroup(t *testing.T) {
	l := New(t, Options{Hosts: 1})
	p, err := l.Host(1).Start("sh", "-c", "sleep 1000 & echo $!; wait")
	if err != nil {
		t.Fatal(err)
	}
	var childPID int
	Eventually(t, 5*time.Second, func() error {
		_, err := fmt.Sscan(p.Log(), &childPID)
		return err
	})

	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(p.Pid(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d after Stop: kill -0 = %v, want ESRCH", p.Pid(), err)
	}
	// The orphaned child is reaped by init, not by us: wait for that.
	Eventually(t, 5*time.Second, func() error {
		if processAlive(childPID) {
			return fmt.Errorf("child pid %d of the stopped group is still alive", childPID)
		}
		return nil
	})
}

func TestStopKillsProcessThatIgnoresSIGTERM(t *testing.T) {
	l := New(t, Options{Hosts: 1})
	p, err := l.Host(1).Start("sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done")
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, 5*time.Second, func() error {
		if !strings.Contains(p.Log(), "ready") {
			return errors.New("shell has not set its trap yet")
		}
		return nil
	})
	p.grace = 200 * time.Millisecond

	if err := p.Stop(); err == nil {
		t.Error("Stop of a process ignoring SIGTERM returned nil, want an error saying it was killed")
	}
	if err := syscall.Kill(p.Pid(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d after Stop: kill -0 = %v, want ESRCH", p.Pid(), err)
	}
}

func TestRunReturnsOutputAndContextOnError(t *testing.T) {
	l := New(t, Options{Hosts: 1})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	out, err := l.Host(1).Run(ctx, "ip", "-brief", "addr", "show", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "192.0.2.11/24") || !strings.Contains(out, "2001:db8::11/64") {
		t.Errorf("h1 eth0 addresses: %q, want 192.0.2.11/24 and 2001:db8::11/64", out)
	}

	_, err = l.Host(1).Run(ctx, "sh", "-c", "echo broken >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "h1") {
		t.Errorf("failing command: error %v, want one naming h1 and quoting its output", err)
	}
}

// The guard needs no root: it refuses before any socket exists.
func TestLabRefusesAddressesOutsideDocumentationRanges(t *testing.T) {
	allowed := []string{"192.0.2.1", "198.51.100.7", "203.0.113.255", "2001:db8::1", "::ffff:192.0.2.1"}
	refused := []string{"8.8.8.8", "127.0.0.1", "10.0.0.1", "192.0.3.1", "2001:db9::1", "::1", "fe80::1"}
	for _, s := range allowed {
		if err := checkLabAddr(netip.MustParseAddr(s)); err != nil {
			t.Errorf("checkLabAddr(%s) = %v, want nil", s, err)
		}
	}
	for _, s := range refused {
		if err := checkLabAddr(netip.MustParseAddr(s)); err == nil {
			t.Errorf("checkLabAddr(%s) = nil, want an error", s)
		}
	}

	node := &Node{name: "h1", netns: "does-not-exist"}
	if _, err := node.DialContext(t.Context(), "tcp", "8.8.8.8:53"); err == nil {
		t.Error("DialContext to 8.8.8.8 succeeded, want refusal")
	}
	if _, err := node.DialContext(t.Context(), "tcp", "example.com:80"); err == nil {
		t.Error("DialContext to a host name succeeded, want refusal")
	}
	if err := node.Ping(t.Context(), netip.MustParseAddr("8.8.8.8")); err == nil {
		t.Error("Ping 8.8.8.8 succeeded, want refusal")
	}
}

func TestSummarizeCountsAnswersBodiesAndLongestGap(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	answer := func(ms int, body string) Result {
		return Result{Sent: at(ms), Latency: time.Millisecond, Body: body}
	}
	failure := func(ms int) Result {
		return Result{Sent: at(ms), Latency: 5 * time.Millisecond, Err: errors.New("connection refused")}
	}

	got := Summarize([]Result{
		answer(0, "h1"), answer(10, "h1"),
		failure(20), failure(30), failure(40), // h1 dies
		answer(50, "h2"), answer(60, "h2"), answer(70, "h1"),
	})
	want := Summary{OK: 5, Failed: 3, Bodies: []string{"h1", "h2", "h1"}, LongestGap: 40 * time.Millisecond}
	if got.OK != want.OK || got.Failed != want.Failed || !slices.Equal(got.Bodies, want.Bodies) || got.LongestGap != want.LongestGap {
		t.Errorf("Summarize = %v, want %v", got, want)
	}

	// A service that never comes back shows as a gap to the last request.
	got = Summarize([]Result{answer(0, "h1"), failure(10), failure(20)})
	if want := 24 * time.Millisecond; got.LongestGap != want {
		t.Errorf("gap after the last answer = %v, want %v", got.LongestGap, want)
	}
}

// existingNetnses lists `ip netns list`; each line is "name" or "name (id: N)".
func existingNetnses(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var names []string
	for line := range strings.Lines(string(out)) {
		if fields := strings.Fields(line); len(fields) > 0 {
			names = append(names, fields[0])
		}
	}
	return names
}

// processAlive treats a zombie as dead: it runs nothing and holds nothing.
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}
