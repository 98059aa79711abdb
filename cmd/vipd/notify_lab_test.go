package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/lab"
)

// The lab tests of notify hooks (issue 19): a hook script on each host
// records every call, and the test asserts the calls and their environment
// on takeover, release, drain and conflict; a hook that hangs is killed at
// its timeout and the VIP moves meanwhile as fast as ever.

// recordHook writes one file per call into the directory given as its first
// argument: its arguments on the first line, then its VIPD_ environment.
const recordHook = `#!/bin/sh
dir=$1
f="$dir/$(date +%s%N)-$$"
{
	printf 'argv'
	for a in "$0" "$@"; do printf '\t%s' "$a"; done
	printf '\n'
	env | grep '^VIPD_' | sort
} > "$f.tmp" && mv "$f.tmp" "$f.call"
`

// hangHook records its pid and its child's, then waits for a child that
// sleeps ten minutes.
const hangHook = `#!/bin/sh
sleep 600 &
echo "$$ $!" > "$1/hang-$$.pids"
wait
`

// hookEnvKeys are the variables every notify hook gets (agent/notify.go).
var hookEnvKeys = []string{"VIPD_VIP", "VIPD_ADDRESS", "VIPD_INTERFACE", "VIPD_UNIT", "VIPD_STATE",
	"VIPD_PREVIOUS_STATE", "VIPD_HEALTH", "VIPD_PREVIOUS_HEALTH", "VIPD_OWNER", "VIPD_REASON"}

// hookCall is one recorded call of the record hook.
type hookCall struct {
	file string
	argv []string
	env  map[string]string
}

func (c hookCall) String() string {
	var kv []string
	for _, k := range hookEnvKeys {
		if v, ok := c.env[k]; ok {
			kv = append(kv, k+"="+strconv.Quote(v))
		}
	}
	return strings.Join(kv, " ")
}

// In a wanted environment, anyValue accepts any non-empty value, anySet
// any value, the empty one too, and "~text" a value containing text.
const (
	anyValue = "<any>"
	anySet   = "<set>"
)

// mismatch says how c's environment differs from want, which must name
// every one of hookEnvKeys, or returns nil.
func (c hookCall) mismatch(want map[string]string) error {
	var diffs []string
	for _, k := range hookEnvKeys {
		w, ok := want[k]
		if !ok {
			return fmt.Errorf("test bug: wanted environment lacks %s", k)
		}
		got, set := c.env[k]
		switch {
		case !set:
			diffs = append(diffs, fmt.Sprintf("%s not set, want %q", k, w))
		case w == anySet:
		case strings.HasPrefix(w, "~"):
			if !strings.Contains(got, w[1:]) {
				diffs = append(diffs, fmt.Sprintf("%s=%q, want it to contain %q", k, got, w[1:]))
			}
		case w == anyValue && got == "":
			diffs = append(diffs, fmt.Sprintf("%s empty, want a value", k))
		case w != anyValue && got != w:
			diffs = append(diffs, fmt.Sprintf("%s=%q, want %q", k, got, w))
		}
	}
	if len(diffs) > 0 {
		return errors.New(strings.Join(diffs, "; "))
	}
	return nil
}

// matches says whether c has every key=value of sel.
func (c hookCall) matches(sel map[string]string) bool {
	for k, v := range sel {
		if c.env[k] != v {
			return false
		}
	}
	return true
}

// readHookCalls reads the calls recorded in dir, oldest first.
func readHookCalls(dir string) ([]hookCall, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.call"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files) // names start with the time in ns, all of one width
	var calls []hookCall
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		c := hookCall{file: f, env: map[string]string{}}
		for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			if i == 0 {
				c.argv = strings.Split(strings.TrimPrefix(line, "argv\t"), "\t")
				continue
			}
			if k, v, ok := strings.Cut(line, "="); ok {
				c.env[k] = v
			}
		}
		calls = append(calls, c)
	}
	return calls, nil
}

// notifyLab is a vipd lab whose hosts run notify hooks.
type notifyLab struct {
	*vipdLab
	record, hang string            // the hook scripts
	dirs         map[string]string // host -> directory its hooks write to
	callWait     time.Duration     // how long expectCall waits
}

// newNotifyLab starts vipd on hosts with the record hook, and first the hang
// hook killed at hangTimeout when hangTimeout is set.
func newNotifyLab(t *testing.T, hosts int, hangTimeout time.Duration) *notifyLab {
	lab.RequireRoot(t)
	n := &notifyLab{dirs: map[string]string{}, callWait: 30 * time.Second}
	scripts := t.TempDir()
	n.record, n.hang = filepath.Join(scripts, "record-hook"), filepath.Join(scripts, "hang-hook")
	for path, body := range map[string]string{n.record: recordHook, n.hang: hangHook} {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n.vipdLab = newDoctorLab(t, hosts, func(h *lab.Node) {
		dir := filepath.Join(scripts, h.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		n.dirs[h.Name()] = dir
	}, func(h *lab.Node, cfg string) string {
		cfg += "notify:\n"
		if hangTimeout > 0 {
			cfg += fmt.Sprintf("  - command: [%s, %s]\n    timeout: %s\n", n.hang, n.dirs[h.Name()], hangTimeout)
		}
		return cfg + fmt.Sprintf("  - command: [%s, %s, --vipd-hook]\n    timeout: 5s\n", n.record, n.dirs[h.Name()])
	})
	return n
}

// calls returns the calls recorded on host for VIP web.
func (n *notifyLab) calls(host string) []hookCall {
	n.t.Helper()
	all, err := readHookCalls(n.dirs[host])
	if err != nil {
		n.t.Fatal(err)
	}
	var web []hookCall
	for _, c := range all {
		if c.env["VIPD_VIP"] == "web" {
			web = append(web, c)
		}
	}
	return web
}

// expectCall waits until host's hook was called for VIP web with the
// environment sel picks out, after the first `after` calls, then checks the
// call's whole environment and arguments against want. It returns the
// number of calls recorded up to and including it.
func (n *notifyLab) expectCall(what, host string, after int, sel, want map[string]string) int {
	n.t.Helper()
	var got hookCall
	idx := -1
	lab.Eventually(n.t, n.callWait, func() error {
		calls := n.calls(host)
		for i := after; i < len(calls); i++ {
			if calls[i].matches(sel) {
				got, idx = calls[i], i
				return nil
			}
		}
		return fmt.Errorf("%s: no hook call on %s with %v among its calls for web:\n%s", what, host, sel, callList(calls))
	})
	want = withWebDefaults(want)
	if err := got.mismatch(want); err != nil {
		n.t.Errorf("%s: the hook call on %s has the wrong environment: %v\ncall: %s", what, host, err, got)
	} else {
		n.t.Logf("%s: hook on %s called with %s", what, host, got)
	}
	if wantArgv := []string{n.record, n.dirs[host], "--vipd-hook"}; !slices.Equal(got.argv, wantArgv) {
		n.t.Errorf("%s: the hook on %s got arguments %q, want %q", what, host, got.argv, wantArgv)
	}
	return idx + 1
}

// withWebDefaults fills in what every call for VIP web carries.
func withWebDefaults(want map[string]string) map[string]string {
	full := map[string]string{"VIPD_VIP": "web", "VIPD_ADDRESS": vip4, "VIPD_INTERFACE": "eth0",
		"VIPD_UNIT": "web", "VIPD_REASON": anyValue}
	for k, v := range want {
		full[k] = v
	}
	return full
}

func callList(calls []hookCall) string {
	var lines []string
	for _, c := range calls {
		lines = append(lines, "  "+c.String())
	}
	return strings.Join(lines, "\n")
}

func TestLabNotifyHooksOnTakeoverReleaseDrainAndConflict(t *testing.T) {
	n := newNotifyLab(t, 3, 0)
	first := n.agreedOwner("web")
	n.answersFrom(url4, first)

	// Start: every host's first call comes from no state.
	for _, h := range n.lab.Hosts() {
		n.expectCall("start", h.Name(), 0, map[string]string{ /* the first call */ }, map[string]string{
			// Every check starts down, so no host can own the VIP yet.
			"VIPD_PREVIOUS_STATE": "none", "VIPD_PREVIOUS_HEALTH": "none",
			"VIPD_STATE": "unhealthy", "VIPD_HEALTH": "no-owner", "VIPD_OWNER": "",
			"VIPD_REASON": "~checks failing on every host that could own it",
		})
	}
	// The owner's own takeover at start.
	n.expectCall("first takeover", first, 0, map[string]string{"VIPD_STATE": "owner"}, map[string]string{
		"VIPD_STATE": "owner", "VIPD_PREVIOUS_STATE": "standby", "VIPD_HEALTH": "ok", "VIPD_PREVIOUS_HEALTH": "ok", "VIPD_OWNER": first,
	})
	mark := map[string]int{}
	for _, h := range n.lab.Hosts() {
		mark[h.Name()] = len(n.calls(h.Name()))
	}

	// Release and takeover: the owner's backend fails.
	if err := n.nginx[first].Stop(); err != nil {
		t.Fatal(err)
	}
	second := n.agreedOwner("web", first)
	n.answersFrom(url4, second)
	mark[first] = n.expectCall("release (backend down)", first, mark[first], map[string]string{"VIPD_STATE": "unhealthy"}, map[string]string{
		"VIPD_STATE": "unhealthy", "VIPD_PREVIOUS_STATE": "owner", "VIPD_HEALTH": "ok", "VIPD_PREVIOUS_HEALTH": "ok", "VIPD_OWNER": second,
		"VIPD_REASON": "~check web: GET http://127.0.0.1:8080/",
	})
	mark[second] = n.expectCall("takeover", second, mark[second], map[string]string{"VIPD_STATE": "owner"}, map[string]string{
		"VIPD_STATE": "owner", "VIPD_PREVIOUS_STATE": "standby", "VIPD_HEALTH": "ok", "VIPD_PREVIOUS_HEALTH": "ok", "VIPD_OWNER": second,
	})

	// Drain: the new owner hands the VIP to the last healthy host.
	if out, err := n.vipctl(n.host(second), "drain", "--wait"); err != nil {
		t.Fatalf("vipctl drain --wait on %s: %v\n%s", second, err, out)
	}
	third := n.agreedOwner("web", first, second)
	mark[second] = n.expectCall("drain", second, mark[second], map[string]string{"VIPD_STATE": "drained"}, map[string]string{
		"VIPD_STATE": "drained", "VIPD_PREVIOUS_STATE": "owner", "VIPD_HEALTH": "ok", "VIPD_PREVIOUS_HEALTH": "ok", "VIPD_OWNER": third,
		"VIPD_REASON": "~this host is drained",
	})
	mark[third] = n.expectCall("takeover after drain", third, mark[third], map[string]string{"VIPD_STATE": "owner"}, map[string]string{
		"VIPD_STATE": "owner", "VIPD_PREVIOUS_STATE": "standby", "VIPD_HEALTH": "ok", "VIPD_PREVIOUS_HEALTH": "ok", "VIPD_OWNER": third,
	})

	// Conflict: the VIP put by hand on the first host's NIC.
	nsRun(t, n.host(first), "ip", "addr", "add", vip4+"/32", "dev", "eth0")
	mark[first] = n.expectCall("conflict", first, mark[first], map[string]string{"VIPD_HEALTH": "conflict"}, map[string]string{
		"VIPD_STATE": "unhealthy", "VIPD_PREVIOUS_STATE": "unhealthy", "VIPD_HEALTH": "conflict", "VIPD_PREVIOUS_HEALTH": "ok", "VIPD_OWNER": third,
		"VIPD_REASON": "~" + vip4 + " is also configured on eth0",
	})
	for _, h := range n.lab.Hosts() {
		t.Logf("calls on %s:\n%s", h.Name(), callList(n.calls(h.Name())))
	}
}

// hangRun is one run of the hang hook: its pid, its child's, and when it
// started.
type hangRun struct {
	host         string
	pid, child   int
	started      time.Time
	pidsFilePath string
}

// hangRuns reads the runs of the hang hook on host.
func (n *notifyLab) hangRuns(host string) []hangRun {
	n.t.Helper()
	files, err := filepath.Glob(filepath.Join(n.dirs[host], "hang-*.pids"))
	if err != nil {
		n.t.Fatal(err)
	}
	var runs []hangRun
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			n.t.Fatal(err)
		}
		var r hangRun
		if _, err := fmt.Sscan(string(b), &r.pid, &r.child); err != nil {
			continue // being written
		}
		fi, err := os.Stat(f)
		if err != nil {
			n.t.Fatal(err)
		}
		r.host, r.started, r.pidsFilePath = host, fi.ModTime(), f
		runs = append(runs, r)
	}
	return runs
}

// alive says whether pid runs: it exists and is no zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func TestLabHangingNotifyHookIsKilledAndTheVIPMovesMeanwhile(t *testing.T) {
	const hangTimeout = 3 * time.Second
	n := newNotifyLab(t, 3, hangTimeout)
	n.callWait = 60 * time.Second // each call waits for the hang hooks queued before it
	owner := n.agreedOwner("web")
	n.answersFrom(url4, owner)

	// Every host has a hang hook running (the changes of start-up).
	hanging := map[string]hangRun{}
	lab.Eventually(t, 20*time.Second, func() error {
		for _, h := range n.lab.Hosts() {
			for _, r := range n.hangRuns(h.Name()) {
				if alive(r.pid) && alive(r.child) {
					hanging[h.Name()] = r
				}
			}
			if _, ok := hanging[h.Name()]; !ok {
				return fmt.Errorf("no hang hook running on %s", h.Name())
			}
		}
		return nil
	})

	// The owner's backend fails while the hooks hang everywhere.
	probe := lab.Probe(context.Background(), n.lab.Client(), url4, labProbe, 200*time.Millisecond)
	if err := n.nginx[owner].Stop(); err != nil {
		t.Fatal(err)
	}
	next := n.agreedOwner("web", owner)
	n.answersFrom(url4, next)
	moved := time.Now()
	probe.WaitHeard(t, next, 10*time.Second)
	sum := lab.Summarize(probe.Stop())
	t.Logf("backend failure on %s with a hook hanging on every host (timeout %s): %s", owner, hangTimeout, sum)
	if r := hanging[next]; moved.Sub(r.started) >= hangTimeout {
		t.Fatalf("the hang hook on %s started %s before the VIP moved to it, longer than its timeout: the test did not fail over while it hung", next, moved.Sub(r.started).Round(time.Millisecond))
	}
	if sum.LongestGap >= hangTimeout {
		t.Errorf("the client's longest gap was %s, not below the hook timeout %s: the failover waited for the hook", sum.LongestGap, hangTimeout)
	}
	if got := sum.Last(); got != next {
		t.Errorf("the client's last answers came from %s, want %s", got, next)
	}

	// Every hang hook that ran is killed at its timeout with its child, the
	// one hanging on the new owner as it took over too.
	lab.Eventually(t, 3*hangTimeout, func() error {
		if r := hanging[next]; alive(r.pid) || alive(r.child) {
			return fmt.Errorf("the hang hook of %s (pid %d, child %d) still runs %s after it started; its timeout is %s",
				next, r.pid, r.child, time.Since(r.started).Round(time.Millisecond), hangTimeout)
		}
		return nil
	})
	for _, h := range n.lab.Hosts() {
		for _, r := range n.hangRuns(h.Name()) {
			if age := time.Since(r.started); (alive(r.pid) || alive(r.child)) && age > hangTimeout+2*time.Second {
				t.Errorf("hang hook on %s (pid %d, child %d) still runs %s after it started; its timeout is %s",
					h.Name(), r.pid, r.child, age.Round(time.Millisecond), hangTimeout)
			}
		}
	}
	// vipd logs the kill once it has reaped the hook and read the rest of
	// its output, a moment after the processes are gone.
	lab.Eventually(t, 5*time.Second, func() error {
		if !strings.Contains(n.vipd[next].Log(), "notify hook killed at its timeout") {
			return fmt.Errorf("the log of vipd on %s does not say a notify hook was killed at its timeout", next)
		}
		return nil
	})

	// The hook after the hanging one still runs, for the takeover too.
	n.expectCall("takeover behind a hanging hook", next, 0, map[string]string{"VIPD_STATE": "owner"}, map[string]string{
		"VIPD_STATE": "owner", "VIPD_PREVIOUS_STATE": "standby", "VIPD_HEALTH": "ok", "VIPD_PREVIOUS_HEALTH": "ok", "VIPD_OWNER": next,
	})
}

// TestHookCallMismatch: the check of a call's environment fails on a wrong,
// empty or missing variable, so the lab tests above fail when a hook gets a
// wrong environment.
func TestHookCallMismatch(t *testing.T) {
	good := hookCall{env: map[string]string{"VIPD_VIP": "web", "VIPD_ADDRESS": vip4, "VIPD_INTERFACE": "eth0",
		"VIPD_UNIT": "web", "VIPD_STATE": "owner", "VIPD_PREVIOUS_STATE": "standby", "VIPD_HEALTH": "ok",
		"VIPD_PREVIOUS_HEALTH": "ok", "VIPD_OWNER": "h2", "VIPD_REASON": "elected"}}
	want := withWebDefaults(map[string]string{"VIPD_STATE": "owner", "VIPD_PREVIOUS_STATE": "standby",
		"VIPD_HEALTH": "ok", "VIPD_PREVIOUS_HEALTH": anyValue, "VIPD_OWNER": "h2"})
	if err := good.mismatch(want); err != nil {
		t.Fatalf("a right environment: %v", err)
	}
	for _, bad := range []struct{ key, value string }{
		{"VIPD_PREVIOUS_STATE", "owner"},
		{"VIPD_OWNER", "h1"},
		{"VIPD_ADDRESS", "192.0.2.201"},
		{"VIPD_REASON", ""},
		{"VIPD_UNIT", ""},
	} {
		c := hookCall{env: maps.Clone(good.env)}
		c.env[bad.key] = bad.value
		if err := c.mismatch(want); err == nil || !strings.Contains(err.Error(), bad.key) {
			t.Errorf("%s=%q: mismatch = %v, want an error naming %s", bad.key, bad.value, err, bad.key)
		}
		delete(c.env, bad.key)
		if err := c.mismatch(want); err == nil || !strings.Contains(err.Error(), bad.key+" not set") {
			t.Errorf("%s unset: mismatch = %v, want %s not set", bad.key, err, bad.key)
		}
	}
}
