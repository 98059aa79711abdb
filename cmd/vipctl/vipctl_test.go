package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/api"
)

// fakeDaemon serves canned answers on a unix socket in t.TempDir(), the
// way vipd's control API does.
type fakeDaemon struct {
	socket string
	mux    *http.ServeMux
}

func newFakeDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{socket: filepath.Join(t.TempDir(), "vipd.sock"), mux: http.NewServeMux()}
	ln, err := net.Listen("unix", d.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: d.mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return d
}

// answer makes the daemon answer method path with code and v as JSON.
func (d *fakeDaemon) answer(method, path string, code int, v any) {
	d.mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	})
}

type result struct {
	code           int
	stdout, stderr string
}

// vipctl runs the command line args against the environment given and
// returns what it printed and its exit status.
func vipctl(t *testing.T, environ map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := env{
		stdout: &stdout,
		stderr: &stderr,
		getenv: func(k string) string { return environ[k] },
		now:    func() time.Time { return now },
	}
	code := run(context.Background(), args, e)
	return result{code, stdout.String(), stderr.String()}
}

func (r result) expect(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	if r.stdout != stdout {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, stdout)
	}
	if r.stderr != stderr {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, stderr)
	}
}

func TestStatusEndToEnd(t *testing.T) {
	d := newFakeDaemon(t)
	d.answer("GET", api.PathStatus, http.StatusOK, testStatus())
	r := vipctl(t, nil, "status", "--socket", d.socket)
	r.expect(t, 1, formatStatus(testStatus(), now, false), "vipctl: 1 of 3 VIPs is not ok (run 'vipctl doctor'): db (no-owner)\n")
	if !strings.Contains(r.stdout, "web   192.0.2.10    ok        h1     owner      3m12s ago  owner kept\n") {
		t.Errorf("stdout lacks the owner's row:\n%s", r.stdout)
	}
}

func TestStatusAllOwnedExitsZero(t *testing.T) {
	d := newFakeDaemon(t)
	st := testStatus()
	st.VIPs = st.VIPs[:2]
	d.answer("GET", api.PathStatus, http.StatusOK, st)
	vipctl(t, nil, "status", "-v", "--socket", d.socket).expect(t, 0, formatStatus(st, now, true), "")
}

func TestStatusFindsTheSocketInTheEnvironment(t *testing.T) {
	d := newFakeDaemon(t)
	st := api.Status{Node: "h1", Converged: true, Config: api.ConfigState{File: "/etc/vipd.yaml"}, VIPs: []api.VIPStatus{}}
	d.answer("GET", api.PathStatus, http.StatusOK, st)
	vipctl(t, map[string]string{"VIPD_SOCKET": d.socket}, "status").expect(t, 0,
		"node h1, not drained, config /etc/vipd.yaml\n\nno VIPs configured: add them under vips: in /etc/vipd.yaml and run 'vipctl reload'\n", "")
}

func TestStatusJSON(t *testing.T) {
	d := newFakeDaemon(t)
	st := api.Status{
		Node: "h1", Version: "1.0.0", Converged: true,
		Config: api.ConfigState{File: "/etc/vipd.yaml", LoadedAt: now.Add(-time.Hour)},
		VIPs: []api.VIPStatus{{
			Name: "web", Address: "192.0.2.10", Unit: "web", Interface: "eth0", Health: api.HealthOK, Role: api.RoleOwner, Owner: "h1",
			Reason: "elected", Since: now.Add(-time.Minute), Hosts: []api.HostEligibility{{Host: "h1", Eligible: true, Eligibility: "eligible"}},
		}},
	}
	d.answer("GET", api.PathStatus, http.StatusOK, st)
	want := `{
  "node": "h1",
  "version": "1.0.0",
  "drained": false,
  "converged": true,
  "config": {
    "file": "/etc/vipd.yaml",
    "loaded_at": "2026-03-14T14:09:26Z"
  },
  "vips": [
    {
      "name": "web",
      "address": "192.0.2.10",
      "unit": "web",
      "interface": "eth0",
      "health": "ok",
      "role": "owner",
      "owner": "h1",
      "reason": "elected",
      "since": "2026-03-14T15:08:26Z",
      "hosts": [
        {
          "host": "h1",
          "eligible": true,
          "eligibility": "eligible",
          "reason": ""
        }
      ]
    }
  ]
}
`
	vipctl(t, nil, "--json", "status", "--socket", d.socket).expect(t, 0, want, "")
}

func TestStatusJSONKeepsTheExitStatus(t *testing.T) {
	d := newFakeDaemon(t)
	d.answer("GET", api.PathStatus, http.StatusOK, testStatus())
	r := vipctl(t, nil, "status", "--json", "--socket", d.socket)
	var buf bytes.Buffer
	writeJSON(&buf, testStatus())
	r.expect(t, 1, buf.String(), "vipctl: 1 of 3 VIPs is not ok (run 'vipctl doctor'): db (no-owner)\n")
}

func TestMembersEndToEnd(t *testing.T) {
	d := newFakeDaemon(t)
	d.answer("GET", api.PathMembers, http.StatusOK, testMembers())
	vipctl(t, nil, "members", "--socket", d.socket).expect(t, 0, formatMembers(testMembers()), "")
	want := `[
  {
    "name": "h1",
    "address": "192.0.2.1:7946",
    "state": "alive",
    "drained": false,
    "self": true,
    "macs": [
      "02:00:00:00:00:01"
    ],
    "same_config": true,
    "holds": [
      "web"
    ]
  }
]
`
	d2 := newFakeDaemon(t)
	d2.answer("GET", api.PathMembers, http.StatusOK, testMembers()[:1])
	vipctl(t, nil, "members", "--json", "--socket", d2.socket).expect(t, 0, want, "")
}

func TestChecksEndToEnd(t *testing.T) {
	d := newFakeDaemon(t)
	d.answer("GET", api.PathChecks, http.StatusOK, testChecks())
	vipctl(t, nil, "checks", "--socket", d.socket).expect(t, 1, formatChecks(testChecks(), now), "vipctl: 2 of 3 checks down: pg, spare\n")

	up := testChecks()[2:]
	d2 := newFakeDaemon(t)
	d2.answer("GET", api.PathChecks, http.StatusOK, up)
	vipctl(t, nil, "checks", "--socket", d2.socket).expect(t, 0, formatChecks(up, now), "")
}

func TestDrainWaitEndToEnd(t *testing.T) {
	d := newFakeDaemon(t)
	d.mux.HandleFunc("POST "+api.PathDrain, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("wait") != "true" {
			http.Error(w, `{"error":"want wait=true"}`, http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(api.DrainResult{Drained: true, HandedOver: []string{"web"}})
	})
	vipctl(t, nil, "drain", "--wait", "--socket", d.socket).expect(t, 0, "drained: handed over to other hosts: web\n", "")
}

func TestDrainLeavingVIPsHeldExitsOne(t *testing.T) {
	d := newFakeDaemon(t)
	res := api.DrainResult{Drained: true, HandedOver: []string{"web"}, StillHeld: []string{"db"}}
	d.answer("POST", api.PathDrain, http.StatusOK, res)
	vipctl(t, nil, "drain", "--wait", "--socket", d.socket).expect(t, 1, formatDrain(res, true),
		"vipctl: drain left db held by this host; 'vipctl status -v' shows why no other host takes it\n")
	// Without --wait the VIPs are still being handed over: not a problem.
	vipctl(t, nil, "drain", "--socket", d.socket).expect(t, 0, formatDrain(res, false), "")
}

func TestDrainWaitGivesUpAndNamesWhatIsHeld(t *testing.T) {
	d := newFakeDaemon(t)
	d.mux.HandleFunc("POST "+api.PathDrain, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // hand-over never finishes
	})
	d.answer("GET", api.PathStatus, http.StatusOK, testStatus())
	vipctl(t, nil, "drain", "--wait", "--wait-timeout", "50ms", "--socket", d.socket).expect(t, 1, "",
		"vipctl: drain --wait gave up after 50ms; this host is drained but still holds web; 'vipctl status -v' shows why\n")
}

func TestUndrainEndToEnd(t *testing.T) {
	d := newFakeDaemon(t)
	d.answer("POST", api.PathUndrain, http.StatusOK, api.DrainResult{})
	vipctl(t, nil, "undrain", "--socket", d.socket).expect(t, 0, "undrained: this host may take VIPs again; owners keep theirs\n", "")
	vipctl(t, nil, "undrain", "--json", "--socket", d.socket).expect(t, 0, "{\n  \"drained\": false\n}\n", "")
}

func TestReloadEndToEnd(t *testing.T) {
	d := newFakeDaemon(t)
	res := api.ReloadResult{File: "/etc/vipd.yaml", Added: []string{"api"}, Removed: []string{"old"}}
	d.answer("POST", api.PathReload, http.StatusOK, res)
	vipctl(t, nil, "reload", "--socket", d.socket).expect(t, 0, "reloaded /etc/vipd.yaml\n  added:    api\n  removed:  old\n", "")
}

func TestRejectedReloadExitsOneWithEveryError(t *testing.T) {
	d := newFakeDaemon(t)
	d.answer("POST", api.PathReload, http.StatusUnprocessableEntity, api.Error{
		Error: "/etc/vipd.yaml:3:14: vips[0].address: \"192.0.2.10/24\" is a /24 network\n/etc/vipd.yaml:9:5: checks.web.type: is missing",
	})
	vipctl(t, nil, "reload", "--socket", d.socket).expect(t, 1, "", `vipctl: reload failed; vipd still runs the config it had:
  /etc/vipd.yaml:3:14: vips[0].address: "192.0.2.10/24" is a /24 network
  /etc/vipd.yaml:9:5: checks.web.type: is missing
  Fix the file, test it with 'vipd check', then run 'vipctl reload' again.
`)
}

func TestNoDaemonExitsThree(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "vipd.sock")
	for _, args := range [][]string{{"status"}, {"members"}, {"checks"}, {"drain", "--wait"}, {"undrain"}, {"reload"}, {"status", "--json"}} {
		r := vipctl(t, nil, append(args, "--socket", sock)...)
		r.expect(t, 3, "", "vipctl: vipd is not running: nothing listens on "+sock+"; start it with 'systemctl start vipd' or point --socket at its control.socket\n")
	}
}

func TestForbiddenExitsFour(t *testing.T) {
	d := newFakeDaemon(t)
	for _, p := range []string{api.PathDrain, api.PathUndrain, api.PathReload} {
		what := strings.TrimPrefix(p, "/v1/")
		d.answer("POST", p, http.StatusForbidden, api.Error{Error: what + " is for root only: run it with sudo"})
	}
	for _, cmd := range []string{"drain", "undrain", "reload"} {
		vipctl(t, nil, cmd, "--socket", d.socket).expect(t, 4, "", "vipctl: permission denied: "+cmd+" is for root only: run it with sudo\n")
	}
}

func TestDaemonThatDoesNotAnswerExitsOne(t *testing.T) {
	d := newFakeDaemon(t)
	d.mux.HandleFunc("GET "+api.PathStatus, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	vipctl(t, nil, "status", "--timeout", "50ms", "--socket", d.socket).expect(t, 1, "",
		"vipctl: vipd on "+d.socket+" did not answer within 50ms; see 'journalctl -u vipd', or wait longer with --timeout\n")
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"bogus"}, "vipctl: unknown command \"bogus\" for \"vipctl\"\nRun 'vipctl --help' for usage.\n"},
		{[]string{"status", "--nope"}, "vipctl: unknown flag: --nope\nRun 'vipctl status --help' for usage.\n"},
		{[]string{"members", "extra"}, "vipctl: unknown command \"extra\" for \"vipctl members\"\nRun 'vipctl members --help' for usage.\n"},
		{[]string{"status", "--timeout", "0s"}, "vipctl: --timeout must be above zero, like 5s\nRun 'vipctl status --help' for usage.\n"},
		{[]string{"drain", "--wait-timeout", "5s"}, "vipctl: --wait-timeout needs --wait\nRun 'vipctl drain --help' for usage.\n"},
	} {
		vipctl(t, nil, tc.args...).expect(t, 2, "", tc.stderr)
	}
}

func TestHelpDocumentsExitStatus(t *testing.T) {
	for _, cmd := range []string{"", "status", "members", "checks", "drain", "undrain", "reload"} {
		args := []string{"--help"}
		if cmd != "" {
			args = []string{cmd, "--help"}
		}
		r := vipctl(t, nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "EXIT STATUS\n") || !strings.Contains(r.stdout, "  3  vipd is not running") {
			t.Errorf("vipctl %s --help: exit %d, no EXIT STATUS section with status 3:\n%s", cmd, r.code, r.stdout)
		}
	}
}

type brokenPipe struct{}

func (brokenPipe) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestOutputThatCannotBeWrittenIsNotAUsageError(t *testing.T) {
	d := newFakeDaemon(t)
	d.answer("POST", api.PathUndrain, http.StatusOK, api.DrainResult{})
	var stderr bytes.Buffer
	e := env{stdout: brokenPipe{}, stderr: &stderr, getenv: func(string) string { return "" }, now: func() time.Time { return now }}
	if code := run(context.Background(), []string{"undrain", "--socket", d.socket}, e); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if want := "vipctl: write the answer: broken pipe\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

func TestUndrainThatDidNotTakeExitsOne(t *testing.T) {
	d := newFakeDaemon(t)
	d.answer("POST", api.PathUndrain, http.StatusOK, api.DrainResult{Drained: true})
	vipctl(t, nil, "undrain", "--socket", d.socket).expect(t, 1, "this host is still drained\n",
		"vipctl: vipd did not take the undrain; see 'journalctl -u vipd'\n")
}
