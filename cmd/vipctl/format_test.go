package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/vipd/vipd/api"
)

// now is the fixed clock of every test.
var now = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func testStatus() api.Status {
	return api.Status{
		Node:      "h1",
		Version:   "1.0.0",
		Converged: true,
		Config:    api.ConfigState{File: "/etc/vipd.yaml", LoadedAt: now.Add(-2*time.Hour - 3*time.Minute)},
		VIPs: []api.VIPStatus{
			{
				Name: "web", Address: "192.0.2.10", Unit: "web", Interface: "eth0",
				Health: api.HealthOK, Role: api.RoleOwner, Owner: "h1", Reason: "owner kept",
				Since: now.Add(-3*time.Minute - 12*time.Second),
				Hosts: []api.HostEligibility{{Host: "h1", Eligible: true}, {Host: "h2", Eligible: true}, {Host: "h3", Reason: "drained"}},
			},
			{
				Name: "web6", Address: "2001:db8::10", Unit: "web6", Interface: "eth0",
				Health: api.HealthOK, Role: api.RoleUnhealthy, Owner: "h2",
				Reason: "check web: GET http://127.0.0.1:8404/healthz: connection refused; h2 owns it (elected)",
				Since:  now.Add(-12 * time.Second),
				Hosts:  []api.HostEligibility{{Host: "h1", Reason: "check web: GET http://127.0.0.1:8404/healthz: connection refused"}, {Host: "h2", Eligible: true}},
			},
			{
				Name: "db", Address: "192.0.2.20", Unit: "db", Interface: "eth0",
				Health: api.HealthNoOwner, Role: api.RoleUnhealthy,
				Reason: "checks failing on every host that could own it: h1: check pg: connection refused; h2: check pg: connection refused",
				Since:  now.Add(-26*time.Hour - 5*time.Minute),
				Hosts:  []api.HostEligibility{{Host: "h1", Reason: "check pg: connection refused"}, {Host: "h2", Reason: "check pg: connection refused"}},
			},
		},
	}
}

func TestFormatStatus(t *testing.T) {
	got := formatStatus(testStatus(), now, false)
	want := `node h1 (vipd 1.0.0), not drained, config /etc/vipd.yaml loaded 2h3m ago

VIP   ADDRESS       HEALTH    OWNER  THIS HOST  SINCE      REASON
web   192.0.2.10    ok        h1     owner      3m12s ago  owner kept
web6  2001:db8::10  ok        h2     unhealthy  12s ago    check web: GET http://127.0.0.1:8404/healthz: connection refused; h2 owns it (elected)
db    192.0.2.20    no-owner  -      unhealthy  1d2h ago   checks failing on every host that could own it: h1: check pg: connection refused; h2: check pg: connection refused
`
	if got != want {
		t.Errorf("status:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormatStatusVerbose(t *testing.T) {
	st := testStatus()
	st.VIPs = st.VIPs[:2]
	got := formatStatus(st, now, true)
	want := `node h1 (vipd 1.0.0), not drained, config /etc/vipd.yaml loaded 2h3m ago

VIP   ADDRESS       HEALTH  OWNER  THIS HOST  SINCE      REASON
web   192.0.2.10    ok      h1     owner      3m12s ago  owner kept
    h1 (this host)  eligible
    h2              eligible
    h3              not eligible: drained
web6  2001:db8::10  ok      h2     unhealthy  12s ago    check web: GET http://127.0.0.1:8404/healthz: connection refused; h2 owns it (elected)
    h1 (this host)  not eligible: check web: GET http://127.0.0.1:8404/healthz: connection refused
    h2              eligible
`
	if got != want {
		t.Errorf("status -v:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormatStatusDrainedWithReloadErrorAndConflict(t *testing.T) {
	st := api.Status{
		Node:         "h2",
		Drained:      true,
		DrainedSince: now.Add(-90 * time.Minute),
		Config: api.ConfigState{
			File:        "/etc/vipd.yaml",
			ReloadError: "/etc/vipd.yaml:3:14: vips[0].address: \"192.0.2.10/24\" is a /24 network\n/etc/vipd.yaml:9:5: checks.web.type: is missing",
		},
		VIPs: []api.VIPStatus{{
			Name: "web", Address: "192.0.2.10", Health: api.HealthConflict, Role: api.RoleDrained, Owner: "h1",
			Reason: "00:11:22:33:44:55 also answers ARP for 192.0.2.10", Conflict: "00:11:22:33:44:55 also answers ARP for 192.0.2.10",
			Since: now.Add(-500 * time.Millisecond),
		}},
	}
	got := formatStatus(st, now, false)
	want := `node h2, DRAINED since 1h30m ago (kept across restarts): takes no VIP until 'vipctl undrain', config /etc/vipd.yaml
note: this host is still learning the cluster; owners may change
WARNING: the last reload failed; vipd still runs the config it had:
  /etc/vipd.yaml:3:14: vips[0].address: "192.0.2.10/24" is a /24 network
  /etc/vipd.yaml:9:5: checks.web.type: is missing
  Fix the file, test it with 'vipd check', then run 'vipctl reload'.

VIP  ADDRESS     HEALTH    OWNER  THIS HOST  SINCE     REASON
web  192.0.2.10  conflict  h1     drained    just now  00:11:22:33:44:55 also answers ARP for 192.0.2.10
`
	if got != want {
		t.Errorf("status:\n%s\nwant:\n%s", got, want)
	}
	if p := statusProblems(st); len(p) != 1 || p[0] != "web (conflict)" {
		t.Errorf("statusProblems = %q, want [web (conflict)]", p)
	}
}

func TestFormatStatusWithoutVIPs(t *testing.T) {
	st := api.Status{Node: "h1", Converged: true, Config: api.ConfigState{File: "/etc/vipd.yaml"}}
	got := formatStatus(st, now, true)
	want := `node h1, not drained, config /etc/vipd.yaml

no VIPs configured: add them under vips: in /etc/vipd.yaml and run 'vipctl reload'
`
	if got != want {
		t.Errorf("status:\n%s\nwant:\n%s", got, want)
	}
}

func TestStatusProblemsNamesNoOwnerAndConflictOnly(t *testing.T) {
	p := statusProblems(testStatus())
	if len(p) != 1 || p[0] != "db (no-owner)" {
		t.Errorf("statusProblems = %q, want [db (no-owner)]", p)
	}
}

func testMembers() []api.Member {
	return []api.Member{
		{Name: "h1", Address: "192.0.2.1:7946", State: "alive", Self: true, SameConfig: true, Holds: []string{"web"}, MACs: []string{"02:00:00:00:00:01"}},
		{Name: "h2", Address: "192.0.2.2:7946", State: "alive", SameConfig: true, Holds: []string{"web6"}, MACs: []string{"02:00:00:00:00:02", "02:00:00:00:01:02"}},
		{Name: "h3", Address: "192.0.2.3:7946", State: "suspect", Drained: true},
	}
}

func TestFormatMembers(t *testing.T) {
	got := formatMembers(testMembers())
	want := `NAME            ADDRESS         STATE    DRAINED  CONFIG   HOLDS  MACS
h1 (this host)  192.0.2.1:7946  alive    no       same     web    02:00:00:00:00:01
h2              192.0.2.2:7946  alive    no       same     web6   02:00:00:00:00:02, 02:00:00:00:01:02
h3              192.0.2.3:7946  suspect  yes      differs  -      -
`
	if got != want {
		t.Errorf("members:\n%s\nwant:\n%s", got, want)
	}
}

func testChecks() []api.Check {
	return []api.Check{
		{Name: "pg", Type: "tcp", Up: false, Reason: "dial tcp 127.0.0.1:5432: connection refused", Since: now.Add(-26*time.Hour - 5*time.Minute), VIPs: []string{"db"}},
		{Name: "spare", Type: "exec", Up: false, Reason: "", LastError: "exit status 2", Since: now.Add(-time.Minute)},
		{Name: "web", Type: "http", Up: true, Reason: "passed 3 probes in a row", LastError: "GET http://127.0.0.1:8404/healthz: 503 Service Unavailable", Since: now.Add(-3*time.Minute - 12*time.Second), VIPs: []string{"web", "web6"}},
	}
}

func TestFormatChecks(t *testing.T) {
	got := formatChecks(testChecks(), now)
	want := `CHECK  TYPE  STATE  SINCE      VIPS       REASON
pg     tcp   down   1d2h ago   db         dial tcp 127.0.0.1:5432: connection refused
spare  exec  down   1m0s ago   -          exit status 2
web    http  up     3m12s ago  web, web6  latest probe failed: GET http://127.0.0.1:8404/healthz: 503 Service Unavailable
`
	if got != want {
		t.Errorf("checks:\n%s\nwant:\n%s", got, want)
	}
	if got := formatChecks(nil, now); got != "no health checks configured\n" {
		t.Errorf("no checks: %q", got)
	}
}

func TestFormatDrain(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    api.DrainResult
		wait bool
		want string
	}{
		{"nothing held", api.DrainResult{Drained: true}, true, "drained: this host holds no VIP\n"},
		{"all moved", api.DrainResult{Drained: true, HandedOver: []string{"db", "web"}}, true, "drained: handed over to other hosts: db, web\n"},
		{"some held after wait", api.DrainResult{Drained: true, HandedOver: []string{"web"}, StillHeld: []string{"db"}}, true,
			"drained: handed over to other hosts: web\nstill held by this host: db; no other host could take it before drain_timeout, so this host keeps answering\n"},
		{"handing over", api.DrainResult{Drained: true, StillHeld: []string{"db", "web"}}, false,
			"drained\nhanding over: db, web; 'vipctl status' shows when they have moved, 'vipctl drain --wait' waits for it\n"},
	} {
		if got := formatDrain(tc.r, tc.wait); got != tc.want {
			t.Errorf("%s: got\n%s\nwant:\n%s", tc.name, got, tc.want)
		}
	}
}

func TestFormatReload(t *testing.T) {
	got := formatReload(api.ReloadResult{File: "/etc/vipd.yaml", Added: []string{"api", "api6"}, Changed: []string{"web"}})
	want := `reloaded /etc/vipd.yaml
  added:    api, api6
  changed:  web
`
	if got != want {
		t.Errorf("reload:\n%s\nwant:\n%s", got, want)
	}
	if got := formatReload(api.ReloadResult{File: "/etc/vipd.yaml"}); got != "reloaded /etc/vipd.yaml: no VIP added, removed or changed\n" {
		t.Errorf("empty reload: %q", got)
	}
}

func TestAgo(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{-5 * time.Second, "just now"},
		{999 * time.Millisecond, "just now"},
		{time.Second, "1s ago"},
		{59*time.Second + 999*time.Millisecond, "59s ago"},
		{time.Minute, "1m0s ago"},
		{3*time.Minute + 12*time.Second, "3m12s ago"},
		{time.Hour, "1h0m ago"},
		{23*time.Hour + 59*time.Minute + 59*time.Second, "23h59m ago"},
		{50 * time.Hour, "2d2h ago"},
	} {
		if got := ago(now.Add(-tc.d), now); got != tc.want {
			t.Errorf("ago(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := ago(time.Time{}, now); got != "-" {
		t.Errorf("ago(zero) = %q, want -", got)
	}
}

func TestTableKeepsEachRowOnOneLine(t *testing.T) {
	got := table([]string{"A", "B"}, [][]string{{"x\ty", "line one\nline two"}, {"", " "}})
	want := []string{"A    B", "x y  line one line two", "-    -"}
	if len(got) != len(want) {
		t.Fatalf("table = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestStatusJSONIsTheDaemonsStruct(t *testing.T) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, testStatus()); err != nil {
		t.Fatal(err)
	}
	var back api.Status
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.MarshalIndent(back, "", "  ")
	if string(again)+"\n" != buf.String() {
		t.Errorf("JSON does not round-trip:\n%s\nvs\n%s", buf.String(), again)
	}
}

func TestFormatStatusWithBGP(t *testing.T) {
	st := testStatus()
	st.VIPs = st.VIPs[:1]
	st.BGP = &api.BGPStatus{
		Peers: []api.BGPPeer{
			{Address: "198.51.100.1", ASN: 64512, State: "established", Since: now.Add(-5 * time.Minute), Announced: 2},
			{Address: "198.51.100.2", ASN: 64512, State: "active", Reason: "never established; the peer refuses the connection, or TCP 179 is blocked, or the peer has no neighbor statement for this host"},
		},
		Routes: []api.BGPRoute{{VIP: "web", Prefix: "192.0.2.10/32", Mode: "owner", Prepend: 2, Since: now.Add(-3 * time.Minute)}},
	}
	got := formatStatus(st, now, false)
	want := `node h1 (vipd 1.0.0), not drained, config /etc/vipd.yaml loaded 2h3m ago

VIP  ADDRESS     HEALTH  OWNER  THIS HOST  SINCE      REASON
web  192.0.2.10  ok      h1     owner      3m12s ago  owner kept

BGP PEER      ASN    STATE        SINCE     SENT  RECEIVED  REASON
198.51.100.1  64512  established  5m0s ago  2     0         -
198.51.100.2  64512  active       -         0     0         never established; the peer refuses the connection, or TCP 179 is blocked, or the peer has no neighbor statement for this host

ROUTE          VIP  MODE   AS-PATH PREPEND  SINCE
192.0.2.10/32  web  owner  2                3m0s ago
`
	if got != want {
		t.Errorf("status:\n%s\nwant:\n%s", got, want)
	}
}
