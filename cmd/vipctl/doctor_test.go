package main

import (
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/api"
)

// fakeHost is a /proc/sys and /sys tree in a temp dir.
type fakeHost struct {
	t    *testing.T
	root string
}

func newFakeHost(t *testing.T) fakeHost { return fakeHost{t: t, root: t.TempDir()} }

func (f fakeHost) write(path, value string) {
	f.t.Helper()
	full := filepath.Join(f.root, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(value+"\n"), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f fakeHost) mkdir(path string) {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Join(f.root, path), 0o755); err != nil {
		f.t.Fatal(err)
	}
}

// iface makes a managed interface with its three sysctls.
func (f fakeHost) iface(name string, arpIgnore, arpAnnounce, rpFilter string) {
	f.mkdir("sys/class/net/" + name)
	f.write("proc/sys/net/ipv4/conf/"+name+"/arp_ignore", arpIgnore)
	f.write("proc/sys/net/ipv4/conf/"+name+"/arp_announce", arpAnnounce)
	f.write("proc/sys/net/ipv4/conf/"+name+"/rp_filter", rpFilter)
}

func (f fakeHost) probe(addrs ...announcer.Addr) hostProbe {
	return hostProbe{
		root:  announcer.RootUnder(f.root),
		addrs: func() ([]announcer.Addr, error) { return addrs, nil },
	}
}

func lineList(fs []api.Finding) string {
	return formatDoctor(sortFindings(fs))
}

func TestDoctorSysctlsTakeTheLargerOfAllAndInterface(t *testing.T) {
	f := newFakeHost(t)
	f.iface("all", "1", "0", "1")
	f.iface("eth0", "0", "2", "0")
	got := lineList(f.probe().checkInterfaces("/etc/vipd.yaml", []api.ManagedInterface{{Name: "eth0", Tuning: false}}))
	want := "warning: strict rp_filter on eth0 drops VIP traffic from clients whose route back leaves by another interface; evidence: net.ipv4.conf.all.rp_filter=1, net.ipv4.conf.eth0.rp_filter=0, effective 1 (the larger), want 0 or 2; tuning: false on eth0 in the config; fix: set tuning: true on eth0 in /etc/vipd.yaml and restart vipd, or run 'sysctl -w net.ipv4.conf.eth0.rp_filter=2'\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Loose on the interface beats strict on all: the larger wins.
	f.write("proc/sys/net/ipv4/conf/eth0/rp_filter", "2")
	if got := f.probe().checkInterfaces("/etc/vipd.yaml", []api.ManagedInterface{{Name: "eth0"}}); len(got) != 0 {
		t.Errorf("got %v, want nothing", got)
	}
}

func TestDoctorARPIgnoreWithTuningOnSaysItWasChanged(t *testing.T) {
	f := newFakeHost(t)
	f.iface("all", "0", "2", "0")
	f.iface("eth0.100", "0", "0", "0")
	got := lineList(f.probe().checkInterfaces("/etc/vipd.yaml", []api.ManagedInterface{{Name: "eth0.100", Tuning: true}}))
	for _, want := range []string{
		"error: every host's kernel answers ARP on eth0.100 for the VIPs on vipd0, not only the owner, so the LAN may send VIP traffic to a host that does not own it; evidence: net.ipv4.conf.all.arp_ignore=0, net.ipv4.conf.eth0/100.arp_ignore=0, effective 0 (the larger), want 1 or more; tuning: true on eth0.100, so it was changed after vipd started; fix: restart vipd to tune eth0.100 again, or run 'sysctl -w net.ipv4.conf.eth0/100.arp_ignore=1'\n",
	} {
		if !strings.HasPrefix(got, want) {
			t.Errorf("got\n%s\nwant it to start with\n%s", got, want)
		}
	}
}

func TestDoctorMissingInterface(t *testing.T) {
	f := newFakeHost(t)
	got := f.probe().checkInterfaces("/etc/vipd.yaml", []api.ManagedInterface{{Name: "eth9"}})
	if len(got) != 1 || got[0].Check != "interface" || got[0].Severity != api.SeverityError {
		t.Fatalf("got %+v", got)
	}
}

func TestDoctorBridgePorts(t *testing.T) {
	f := newFakeHost(t)
	f.iface("all", "1", "2", "0")
	f.iface("br0", "0", "0", "0")
	f.mkdir("sys/class/net/br0/bridge")
	for _, p := range []string{"eth1", "veth0", "tap0"} {
		f.mkdir("sys/class/net/br0/brif/" + p)
		f.write("sys/class/net/"+p+"/brport/proxyarp", "0")
		f.write("sys/class/net/"+p+"/brport/hairpin_mode", "0")
	}
	f.mkdir("sys/class/net/eth1/device") // hardware
	f.write("sys/class/net/eth1/brport/proxyarp", "1")
	f.write("sys/class/net/veth0/brport/hairpin_mode", "1")
	f.write("sys/class/net/tap0/brport/proxyarp", "1")
	ifc := api.ManagedInterface{Name: "br0", Tuning: false, BridgePorts: []string{"veth0", "eth7"}}
	got := f.probe().checkInterfaces("/etc/vipd.yaml", []api.ManagedInterface{ifc})
	var checks []string
	for _, g := range got {
		checks = append(checks, g.Check+" "+g.Subject)
	}
	want := "bridge-port eth1,bridge-port veth0,bridge-port eth7"
	if strings.Join(checks, ",") != want {
		t.Fatalf("got %v, want %s\n%s", checks, want, lineList(got))
	}
	if !strings.Contains(got[0].Problem, "faces the LAN with proxy_arp on") || strings.Contains(got[0].Problem, "hairpin") {
		t.Errorf("eth1: %s", got[0].Problem)
	}
	if !strings.Contains(got[1].Problem, "faces the LAN with hairpin on") || strings.Contains(got[1].Problem, "proxy_arp") {
		t.Errorf("veth0: %s", got[1].Problem)
	}
	// tap0 is neither hardware nor listed (a VM's port, where proxy_arp
	// may be wanted): not checked.
	for _, g := range got {
		if g.Subject == "tap0" {
			t.Errorf("tap0 checked: %+v", g)
		}
	}
}

func TestDoctorForeignAddress(t *testing.T) {
	f := newFakeHost(t)
	p := f.probe(
		announcer.Addr{Interface: "vipd0", Prefix: netip.MustParsePrefix("192.0.2.200/32")},
		announcer.Addr{Interface: "eth0", Prefix: netip.MustParsePrefix("192.0.2.200/32")},
		announcer.Addr{Interface: "eth0", Prefix: netip.MustParsePrefix("192.0.2.1/24")},
	)
	got := lineList(p.checkAddresses([]api.DoctorVIP{{Name: "web", Address: "192.0.2.200"}, {Name: "api", Address: "192.0.2.201"}}, false))
	want := "error: VIP web (192.0.2.200) is also configured on eth0 of this host, outside vipd, so this host claims it whoever owns it; evidence: 192.0.2.200/32 on eth0; vipd keeps VIPs on vipd0 only; fix: run 'ip addr del 192.0.2.200/32 dev eth0' and stop the tool that put it there (keepalived, kube-vip, ifupdown, netplan)\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDoctorCluster(t *testing.T) {
	v := clusterView{
		status: api.Status{Node: "h1", VIPs: []api.VIPStatus{
			{Name: "web", Address: "192.0.2.200", Unit: "web", Health: api.HealthNoOwner, Role: api.RoleUnhealthy, Hosts: []api.HostEligibility{
				{Host: "h1", Eligibility: "checks-failing", Reason: "check web: connection refused"},
				{Host: "h2", Eligibility: "checks-failing", Reason: "check web failing there"}}},
			{Name: "api", Address: "192.0.2.201", Unit: "api", Health: api.HealthConflict, Role: api.RoleStandby, Owner: "h2", Conflict: "MAC 02:00:00:00:00:09 also answers for 192.0.2.201 on eth0"},
			{Name: "db", Address: "192.0.2.202", Unit: "db", Health: api.HealthConflict, Role: api.RoleOwner, Conflict: "192.0.2.202 is also configured on eth0 of this host"},
			{Name: "ok", Address: "192.0.2.203", Unit: "ok", Health: api.HealthOK, Role: api.RoleOwner, Owner: "h1"},
		}},
		members: []api.Member{
			{Name: "h1", State: api.MemberAlive, Self: true, SameConfig: true},
			{Name: "h2", State: api.MemberAlive, Drained: true, SameConfig: false},
			{Name: "h3", State: api.MemberDead, Address: "192.0.2.3:7946"},
			{Name: "h4", State: api.MemberLeft},
		},
		facts: api.DoctorFacts{VIPs: []api.DoctorVIP{{Name: "web", Nodes: []string{"h1", "h2", "h9"}}}},
	}
	got := checkCluster("/etc/vipd.yaml", v, map[string]bool{"db": true})
	var checks []string
	for _, g := range got {
		checks = append(checks, g.Check+" "+g.Subject)
	}
	want := "no-owner web,conflict api,drained h2,config-differs h2,member h3,node-list web"
	if strings.Join(checks, ",") != want {
		t.Fatalf("got %v\nwant %s\n%s", checks, want, lineList(got))
	}
	if got[0].Evidence != "h1: check web: connection refused; h2: check web failing there" || !strings.HasPrefix(got[0].Fix, "fix the backend") {
		t.Errorf("no-owner: %+v", got[0])
	}
}

func TestDoctorNoOwnerWhileAHostStillHolds(t *testing.T) {
	f := noOwnerFinding("/etc/vipd.yaml", api.VIPStatus{Name: "web", Address: "192.0.2.200", Hosts: []api.HostEligibility{{Host: "h1", Eligibility: "drained", Reason: "drained"}}}, []string{"h1"})
	if !strings.Contains(f.Problem, "h1 still answers for it until the handover times out") {
		t.Errorf("got %q", f.Problem)
	}
}

// doctorDaemon is a daemon h1, alone in its cluster, running the config
// text from a temp file, with facts besides its node and file.
func doctorDaemon(t *testing.T, text string, facts api.DoctorFacts) (d *fakeDaemon, cfg string) {
	d = newFakeDaemon(t)
	cfg = filepath.Join(t.TempDir(), "vipd.yaml")
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	facts.Node, facts.File = "h1", cfg
	d.answer("GET", api.PathStatus, http.StatusOK, api.Status{Node: "h1", Config: api.ConfigState{File: cfg}})
	d.answer("GET", api.PathMembers, http.StatusOK, []api.Member{{Name: "h1", State: api.MemberAlive, Self: true, SameConfig: true}})
	d.answer("GET", api.PathDoctor, http.StatusOK, facts)
	return d, cfg
}

func TestDoctorEndToEndHealthyAndExitStatus(t *testing.T) {
	d, cfg := doctorDaemon(t, "node_name: h1\ngossip: {insecure: true}\ninterfaces: [{name: eth0}]\nvips: [{name: web, address: 192.0.2.200}]\n", api.DoctorFacts{})
	r := vipctl(t, nil, "--socket", d.socket, "doctor")
	r.expect(t, 0, "", "vipctl: doctor: no problems found on h1\n")
	r = vipctl(t, nil, "--socket", d.socket, "doctor", "--json")
	r.expect(t, 0, "{\n  \"node\": \"h1\",\n  \"config\": \""+cfg+"\",\n  \"findings\": []\n}\n", "vipctl: doctor: no problems found on h1\n")

	// A broken file is a finding; the exit status says a problem.
	if err := os.WriteFile(cfg, []byte("vips: oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = vipctl(t, nil, "--socket", d.socket, "doctor")
	if r.code != exitProblem || !strings.HasPrefix(r.stdout, "error: "+cfg+" does not pass validation") {
		t.Errorf("got %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestDoctorWithoutDaemonExits3(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "vipd.yaml")
	if err := os.WriteFile(cfg, []byte("node_name: h1\ngossip: {insecure: true}\ninterfaces: [{name: eth0}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := vipctl(t, nil, "--socket", filepath.Join(t.TempDir(), "none.sock"), "doctor", "-c", cfg)
	if r.code != exitNotRunning || !strings.Contains(r.stderr, "doctor checked this host only") {
		t.Errorf("got %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestDoctorEachSysctlRule passes and fails each tuning rule on its own,
// the others set right.
func TestDoctorEachSysctlRule(t *testing.T) {
	type values struct{ arpIgnore, arpAnnounce, rpFilter string }
	good := values{"1", "2", "2"}
	for _, tc := range []struct {
		name     string
		all, own values
		want     string // "check severity", or "" for no finding
	}{
		{"all good", values{"0", "0", "0"}, good, ""},
		{"arp_ignore 0", values{"0", "2", "0"}, values{"0", "2", "2"}, "arp_ignore error"},
		{"arp_ignore 2 is stricter", values{"0", "2", "0"}, values{"2", "2", "2"}, ""},
		{"arp_ignore from all", values{"1", "0", "0"}, values{"0", "2", "0"}, ""},
		{"arp_announce 1", values{"1", "1", "0"}, values{"1", "1", "0"}, "arp_announce warning"},
		{"arp_announce from all", values{"1", "2", "0"}, values{"1", "0", "0"}, ""},
		{"rp_filter strict", values{"1", "2", "0"}, values{"1", "2", "1"}, "rp_filter warning"},
		{"rp_filter off", values{"1", "2", "0"}, values{"1", "2", "0"}, ""},
		{"rp_filter strict from all", values{"1", "2", "1"}, values{"1", "2", "0"}, "rp_filter warning"},
		{"rp_filter loose beats strict all", values{"1", "2", "1"}, values{"1", "2", "2"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeHost(t)
			f.iface("all", tc.all.arpIgnore, tc.all.arpAnnounce, tc.all.rpFilter)
			f.iface("eth0", tc.own.arpIgnore, tc.own.arpAnnounce, tc.own.rpFilter)
			got := f.probe().checkInterfaces("/etc/vipd.yaml", []api.ManagedInterface{{Name: "eth0", Tuning: true}})
			var checks []string
			for _, g := range got {
				checks = append(checks, g.Check+" "+g.Severity)
			}
			if strings.Join(checks, ",") != tc.want {
				t.Errorf("got %q, want %q\n%s", checks, tc.want, lineList(got))
			}
		})
	}
}

func TestDoctorUnreadableSysctlSaysSo(t *testing.T) {
	f := newFakeHost(t)
	f.iface("all", "1", "2", "0")
	f.iface("eth0", "1", "2", "0")
	f.write("proc/sys/net/ipv4/conf/eth0/arp_announce", "lots")
	got := f.probe().checkInterfaces("/etc/vipd.yaml", []api.ManagedInterface{{Name: "eth0"}})
	if len(got) != 1 || got[0].Check != "arp_announce" || got[0].Problem != "cannot read arp_announce of eth0" ||
		got[0].Evidence != `sysctl net/ipv4/conf/eth0/arp_announce is "lots", not a number` {
		t.Errorf("got %+v", got)
	}
}

func TestDoctorExistingInterfaceWithNoSysctlsIsNotMissing(t *testing.T) {
	f := newFakeHost(t)
	f.mkdir("sys/class/net/eth0")
	got := f.probe().checkInterfaces("/etc/vipd.yaml", []api.ManagedInterface{{Name: "eth0"}})
	for _, g := range got {
		if g.Check == "interface" {
			t.Errorf("eth0 exists, yet: %+v", g)
		}
	}
	if len(got) != 3 {
		t.Errorf("want one unreadable finding per sysctl, got\n%s", lineList(got))
	}
}

func TestDoctorCleanBridgeAndNonBridge(t *testing.T) {
	f := newFakeHost(t)
	f.iface("all", "1", "2", "0")
	f.iface("br0", "0", "0", "0")
	f.iface("eth0", "0", "0", "0")
	f.mkdir("sys/class/net/br0/bridge")
	f.mkdir("sys/class/net/br0/brif/eth1")
	f.mkdir("sys/class/net/eth1/device")
	f.write("sys/class/net/eth1/brport/proxyarp", "0")
	f.write("sys/class/net/eth1/brport/hairpin_mode", "0")
	// eth0 is no bridge: brport files of a port elsewhere do not matter.
	f.write("sys/class/net/eth0/brport/proxyarp", "1")
	got := f.probe().checkInterfaces("/etc/vipd.yaml", []api.ManagedInterface{{Name: "br0", BridgePorts: []string{"eth1"}}, {Name: "eth0"}})
	if len(got) != 0 {
		t.Errorf("want nothing, got\n%s", lineList(got))
	}
	// Turning a flag on makes it fail: the test can fail.
	f.write("sys/class/net/eth1/brport/hairpin_mode", "1")
	got = f.probe().checkInterfaces("/etc/vipd.yaml", []api.ManagedInterface{{Name: "br0"}, {Name: "eth0"}})
	want := "error: bridge br0's hardware port eth1 faces the LAN with hairpin on: with hairpin on the LAN's broadcasts go back to the LAN and the switch learns their MACs on this port; evidence: " +
		f.root + "/sys/class/net/eth1/brport/proxyarp=0, " + f.root + "/sys/class/net/eth1/brport/hairpin_mode=1; fix: run 'ip link set dev eth1 type bridge_slave proxy_arp off hairpin off' and remove what turns them on; vipd answers with the bridge's own MAC and needs neither, nor promiscuous mode\n"
	if got := lineList(got); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDoctorVIPMissingFromVipd0OnlyWhileVipdRuns(t *testing.T) {
	f := newFakeHost(t)
	p := f.probe(
		announcer.Addr{Interface: "vipd0", Prefix: netip.MustParsePrefix("192.0.2.200/32")},
		announcer.Addr{Interface: "eth0", Prefix: netip.MustParsePrefix("192.0.2.1/24")},
	)
	vips := []api.DoctorVIP{{Name: "web", Address: "192.0.2.200"}, {Name: "api", Address: "2001:db8::201"}}
	if got := p.checkAddresses(vips, false); len(got) != 0 {
		t.Errorf("vipd not running: want nothing, got\n%s", lineList(got))
	}
	got := lineList(p.checkAddresses(vips, true))
	want := "error: VIP api (2001:db8::201) is not on vipd0 although vipd runs, so HAProxy or nginx cannot bind it and this host's kernel drops its traffic when it owns it; evidence: 'ip addr show dev vipd0' lacks 2001:db8::201; vipd puts every VIP there at start and on reload; fix: restart vipd to put it back, and stop whatever removes addresses from vipd0 (ifupdown, NetworkManager, netplan)\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestDoctorNoOwnerFixFollowsTheEligibilityToken: the fix comes from
// election's token, the furthest any host got, not from words in reasons.
func TestDoctorNoOwnerFixFollowsTheEligibilityToken(t *testing.T) {
	for _, tc := range []struct {
		tokens []string
		fix    string
	}{
		{[]string{"checks-failing", "drained"}, "fix the backend on at least one host"},
		{[]string{"not-alive", "drained"}, "run 'vipctl undrain' on one of the drained hosts"},
		{[]string{"not-in-node-list", "not-alive"}, "add an alive host to nodes: of VIP web"},
		{[]string{"config-differs"}, "give every host the same /etc/vipd.yaml"},
		{[]string{"not-alive"}, "start vipd on a host that may own it"},
		{[]string{"duplicate-host"}, "give every host its own node_name"},
		{[]string{""}, "make one host eligible"},
	} {
		var hosts []api.HostEligibility
		for i, tok := range tc.tokens {
			// The reason text names a check and drained on purpose: words
			// must not pick the fix.
			hosts = append(hosts, api.HostEligibility{Host: fmt.Sprintf("h%d", i+1), Eligibility: tok, Reason: "drained check config node list"})
		}
		f := noOwnerFinding("/etc/vipd.yaml", api.VIPStatus{Name: "web", Address: "192.0.2.200", Health: api.HealthNoOwner, Hosts: hosts}, nil)
		if !strings.HasPrefix(f.Fix, tc.fix) {
			t.Errorf("%v: fix %q, want it to start with %q", tc.tokens, f.Fix, tc.fix)
		}
	}
}

func splitView(state api.MemberState) clusterView {
	return clusterView{
		status: api.Status{Node: "h2", VIPs: []api.VIPStatus{{
			Name: "web", Address: "198.51.100.200", Unit: "web", Interface: "eth0", Health: api.HealthSplit, Role: api.RoleOwner, Owner: "h2",
			Split:     "h1 (02:00:00:00:00:01) answers for 198.51.100.200 on eth0; gossip says h1 is " + string(state),
			SplitWith: []string{"h1"},
		}}},
		members: []api.Member{
			{Name: "h1", Address: "198.51.100.11:7946", State: state, SameConfig: true},
			{Name: "h2", Address: "198.51.100.12:7946", State: api.MemberAlive, Self: true, SameConfig: true, Holds: []string{"web"}},
		},
	}
}

func TestDoctorSplitNamesTheBlockedGossip(t *testing.T) {
	got := lineList(checkCluster("/etc/vipd.yaml", splitView(api.MemberDead), nil))
	want := "error: gossip to h1 (198.51.100.11:7946) is down — h1 is dead in 'vipctl members' — but h1 answers for 198.51.100.200 on eth0: gossip is blocked between these hosts; " +
		"evidence: h1 (02:00:00:00:00:01) answers for 198.51.100.200 on eth0; gossip says h1 is dead; " +
		"fix: check firewalls for TCP and UDP 7946 between this host and h1 (198.51.100.11); vipd merges the cluster within seconds once gossip passes\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDoctorSplitWithTheMemberAliveSaysTheyDisagree(t *testing.T) {
	got := checkCluster("/etc/vipd.yaml", splitView(api.MemberAlive), nil)
	if len(got) != 1 || got[0].Check != "split" || !strings.HasPrefix(got[0].Problem, "h1 answers for 198.51.100.200 (VIP web) on eth0 while gossip shows it alive and not holding it") {
		t.Errorf("got\n%s", lineList(got))
	}
}

func TestDoctorSplitWithAnUnknownMember(t *testing.T) {
	v := splitView(api.MemberDead)
	v.status.VIPs[0].Split = "02:00:00:00:00:09 answers for 198.51.100.200 on eth0"
	v.status.VIPs[0].SplitWith = nil
	got := checkCluster("/etc/vipd.yaml", v, nil)
	var checks []string
	for _, g := range got {
		checks = append(checks, g.Check+" "+g.Subject)
	}
	if strings.Join(checks, ",") != "split web,member h1" || !strings.HasPrefix(got[0].Problem, "another member answers for VIP web") {
		t.Errorf("got\n%s", lineList(got))
	}
}

// keyView is the cluster as seen from a host with the wrong key (alone),
// or from the healthy cluster (with h2 alive), while h3 or the others
// cannot decrypt each other's gossip and something answers for web.
func keyView(healthy bool) clusterView {
	v := clusterView{
		status: api.Status{Node: "h1", VIPs: []api.VIPStatus{{
			Name: "web", Address: "198.51.100.200", Unit: "web", Interface: "eth0", Health: api.HealthConflict,
			Conflict: "MAC 02:00:00:00:00:03 also answers for 198.51.100.200 on eth0",
		}}},
		members: []api.Member{{Name: "h1", Address: "198.51.100.11:7946", State: api.MemberAlive, Self: true, SameConfig: true}},
		facts: api.DoctorFacts{Node: "h1", GossipKeyFile: "/etc/vipd/gossip.key",
			VIPs: []api.DoctorVIP{{Name: "web", Address: "198.51.100.200", Nodes: []string{"h1", "h2"}}}},
	}
	if healthy {
		v.members = append(v.members, api.Member{Name: "h2", Address: "198.51.100.12:7946", State: api.MemberAlive, SameConfig: true})
		v.facts.KeyMismatches = []api.GossipPeer{{Node: "h3", Address: "198.51.100.13:7946"}}
	} else {
		v.facts.KeyMismatches = []api.GossipPeer{{Node: "h2", Address: "198.51.100.12:7946"}, {Address: "198.51.100.13:7946"}}
	}
	return v
}

// TestDoctorKeyMismatch: the host with the wrong key says its key differs;
// the healthy cluster names the host whose gossip it cannot decrypt; on
// neither side is the conflict "something outside the cluster".
func TestDoctorKeyMismatch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		healthy  bool
		key      string // the gossip-key line
		conflict string // in the conflict line
	}{
		{"wrong-key host", false,
			"error: this host's gossip key differs from its peers' (h2 (198.51.100.12:7946), 198.51.100.13:7946): it cannot join the cluster, so it claims no VIP; " +
				"evidence: gossip with h2 (198.51.100.12:7946), 198.51.100.13:7946 did not decrypt within the last 30 s; no member is alive here but this host; " +
				"fix: put the same key file on every host: copy /etc/vipd/gossip.key from a host of the cluster to this one (mode 0600) and restart vipd here",
			"most likely the cluster's owner, which this host cannot see because its gossip key differs"},
		{"healthy cluster", true,
			"warning: h3 (198.51.100.13:7946) cannot join the cluster: its gossip does not decrypt here, so its gossip key differs from this cluster's and it can take over no VIP; " +
				"evidence: gossip with h3 (198.51.100.13:7946) did not decrypt within the last 30 s; alive here: h2; " +
				"fix: put the same key file on every host: copy /etc/vipd/gossip.key of this host to it (mode 0600) and restart vipd there",
			"most likely h3 (198.51.100.13:7946), which cannot join because its gossip key differs"},
	} {
		got := checkCluster("/etc/vipd.yaml", keyView(tc.healthy), nil)
		lines := map[string]string{}
		for _, f := range got {
			lines[f.Check] = findingLine(f)
		}
		if len(got) != 2 || lines["gossip-key"] != tc.key {
			t.Errorf("%s: got\n%s\nwant the line\n%s", tc.name, lineList(got), tc.key)
		}
		if c := lines["conflict"]; strings.Contains(c, "outside the cluster claims") || !strings.Contains(c, tc.conflict) {
			t.Errorf("%s: conflict line: %s", tc.name, c)
		}
	}
}

func TestDoctorConflictWithoutKeyMismatchIsOutsideTheCluster(t *testing.T) {
	v := keyView(true)
	v.facts.KeyMismatches = nil
	got := checkCluster("/etc/vipd.yaml", v, nil)
	if len(got) != 1 || !strings.HasPrefix(got[0].Problem, "something outside the cluster claims VIP web") {
		t.Errorf("got\n%s", lineList(got))
	}
}

func TestDoctorEndToEndKeyMismatch(t *testing.T) {
	d, _ := doctorDaemon(t, "node_name: h1\ngossip: {insecure: true}\ninterfaces: [{name: eth0}]\n", api.DoctorFacts{
		GossipKeyFile: "/etc/vipd/gossip.key", KeyMismatches: []api.GossipPeer{{Node: "h2", Address: "192.0.2.2:7946"}}})
	r := vipctl(t, nil, "--socket", d.socket, "doctor")
	if r.code != exitProblem || !strings.HasPrefix(r.stdout, "error: this host's gossip key differs from its peers' (h2 (192.0.2.2:7946))") {
		t.Errorf("got %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestDoctorNamesBGPSessionsThatAreDown(t *testing.T) {
	b := &api.BGPStatus{Peers: []api.BGPPeer{
		{Address: "198.51.100.1", ASN: 64512, State: "established"},
		{Address: "198.51.100.2", ASN: 64512, State: "active", Reason: "wrong ASN: the peer's AS number is not the one configured in bgp.peers"},
	}}
	got := bgpFindings(b)
	if len(got) != 1 || got[0].Subject != "198.51.100.2" || got[0].Severity != api.SeverityWarning || !strings.Contains(got[0].Evidence, "wrong ASN") {
		t.Fatalf("findings %+v, want one warning for 198.51.100.2 with the reason", got)
	}
	b.Peers[0].State = "idle"
	if got := bgpFindings(b); len(got) != 2 || got[0].Severity != api.SeverityError || !strings.Contains(got[0].Problem, "claims no BGP VIP") {
		t.Errorf("with no session up: %+v, want errors saying no BGP VIP is claimed", got)
	}
	if got := bgpFindings(nil); got != nil {
		t.Errorf("without BGP: %+v", got)
	}
}

func TestDoctorNamesBGPRoutesNoSessionCarries(t *testing.T) {
	b := &api.BGPStatus{
		Peers: []api.BGPPeer{{Address: "192.0.2.254", ASN: 64512, State: "established", Announced: 1}},
		Routes: []api.BGPRoute{
			{VIP: "web", Prefix: "198.51.100.10/32", Mode: "owner", Prepend: 2},
			{VIP: "web6", Prefix: "2001:db8:ff::10/128", Mode: "owner", Prepend: 2},
		},
	}
	got := bgpFindings(b)
	if len(got) != 1 || got[0].Subject != "web6" || got[0].Severity != api.SeverityError ||
		!strings.Contains(got[0].Problem, "no IPv6 BGP session") || got[0].Evidence != "established sessions: 192.0.2.254" {
		t.Fatalf("findings %+v, want one error naming web6 and the missing IPv6 session", got)
	}
	b.Peers = append(b.Peers, api.BGPPeer{Address: "2001:db8::fe", ASN: 64512, State: "established", Announced: 1})
	if got := bgpFindings(b); len(got) != 0 {
		t.Errorf("with a session of each family: %+v, want none", got)
	}
}
