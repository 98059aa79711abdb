package main

import (
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

func (f fakeHost) probe(addrs ...ifaceAddr) hostProbe {
	return hostProbe{
		sysctlRoot: filepath.Join(f.root, "proc/sys"),
		sysRoot:    filepath.Join(f.root, "sys"),
		addrs:      func() ([]ifaceAddr, error) { return addrs, nil },
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
		ifaceAddr{"vipd0", netip.MustParsePrefix("192.0.2.200/32")},
		ifaceAddr{"eth0", netip.MustParsePrefix("192.0.2.200/32")},
		ifaceAddr{"eth0", netip.MustParsePrefix("192.0.2.1/24")},
	)
	got := lineList(p.checkAddresses([]api.DoctorVIP{{Name: "web", Address: "192.0.2.200"}, {Name: "api", Address: "192.0.2.201"}}))
	want := "error: VIP web (192.0.2.200) is also configured on eth0 of this host, outside vipd, so this host claims it whoever owns it; evidence: 192.0.2.200/32 on eth0; vipd keeps VIPs on vipd0 only; fix: run 'ip addr del 192.0.2.200/32 dev eth0' and stop the tool that put it there (keepalived, kube-vip, ifupdown, netplan)\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDoctorCluster(t *testing.T) {
	v := clusterView{
		status: api.Status{Node: "h1", VIPs: []api.VIPStatus{
			{Name: "web", Address: "192.0.2.200", Unit: "web", State: api.StateNoOwner, Hosts: []api.HostEligibility{
				{Host: "h1", Reason: "check web: connection refused"}, {Host: "h2", Reason: "check web failing there"}}},
			{Name: "api", Address: "192.0.2.201", Unit: "api", State: api.StateConflict, Owner: "h2", Conflict: "MAC 02:00:00:00:00:09 also answers for 192.0.2.201 on eth0"},
			{Name: "db", Address: "192.0.2.202", Unit: "db", State: api.StateConflict, Conflict: "192.0.2.202 is also configured on eth0 of this host"},
		}},
		members: []api.Member{
			{Name: "h1", State: "alive", Self: true, SameConfig: true},
			{Name: "h2", State: "alive", Drained: true, SameConfig: false},
			{Name: "h3", State: "dead", Address: "192.0.2.3:7946"},
			{Name: "h4", State: "left"},
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
	f := noOwnerFinding("/etc/vipd.yaml", api.VIPStatus{Name: "web", Address: "192.0.2.200", Hosts: []api.HostEligibility{{Host: "h1", Reason: "drained"}}}, []string{"h1"})
	if !strings.Contains(f.Problem, "h1 still answers for it until the handover times out") {
		t.Errorf("got %q", f.Problem)
	}
}

func TestDoctorEndToEndHealthyAndExitStatus(t *testing.T) {
	d := newFakeDaemon(t)
	cfg := filepath.Join(t.TempDir(), "vipd.yaml")
	if err := os.WriteFile(cfg, []byte("node_name: h1\ngossip: {insecure: true}\ninterfaces: [{name: eth0}]\nvips: [{name: web, address: 192.0.2.200}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.answer("GET", api.PathStatus, http.StatusOK, api.Status{Node: "h1", Config: api.ConfigState{File: cfg}})
	d.answer("GET", api.PathMembers, http.StatusOK, []api.Member{{Name: "h1", State: "alive", Self: true, SameConfig: true}})
	d.answer("GET", api.PathDoctor, http.StatusOK, api.DoctorFacts{Node: "h1", File: cfg})
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
