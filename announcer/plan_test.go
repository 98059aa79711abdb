package announcer

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// planTree writes files (path below the root -> value) with fakeProcSys
// and makes dirs.
func planTree(t *testing.T, files map[string]string, dirs ...string) string {
	t.Helper()
	root := fakeProcSys(t, files)
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func confFiles(dev, arpIgnore, arpAnnounce, rpFilter string) map[string]string {
	p := "proc/sys/net/ipv4/conf/" + dev + "/"
	return map[string]string{p + "arp_ignore": arpIgnore, p + "arp_announce": arpAnnounce, p + "rp_filter": rpFilter}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestPlanTuningReadsEffectiveValuesAndChangesNothing(t *testing.T) {
	files := merge(confFiles("all", "0", "1", "1"), confFiles("eth0", "2", "0", "0"), confFiles("eth1", "0", "2", "2"))
	dir := planTree(t, files)
	got, err := PlanTuning(RootUnder(dir), []Interface{{Name: "eth0", Tuning: true}, {Name: "eth1"}})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ifc, name          string
		all, cur, eff, val int
		ok, severe, tuning bool
	}
	var rows []row
	for _, s := range got {
		rows = append(rows, row{s.Interface, s.Name, s.All, s.Current, s.Effective, s.Value, s.OK, s.Severe, s.Tuning})
		if s.Path != confKey(s.Interface, s.Name) || s.AllPath != confKey("all", s.Name) || s.Why == "" || s.Want == "" {
			t.Errorf("%s %s: paths %q %q, why %q, want %q", s.Interface, s.Name, s.Path, s.AllPath, s.Why, s.Want)
		}
	}
	want := []row{
		{"eth0", "arp_ignore", 0, 2, 2, 1, true, true, true},
		{"eth0", "arp_announce", 1, 0, 1, 2, false, false, true},
		{"eth0", "rp_filter", 1, 0, 1, 2, false, false, true},
		{"eth1", "arp_ignore", 0, 0, 0, 1, false, true, false},
		{"eth1", "arp_announce", 1, 2, 2, 2, true, false, false},
		{"eth1", "rp_filter", 1, 2, 2, 2, true, false, false},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("got\n%v\nwant\n%v", rows, want)
	}
	for p, v := range files {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || string(b) != v+"\n" {
			t.Errorf("%s changed to %q (%v)", p, b, err)
		}
	}
}

func TestPlanTuningUnreadableIsAnErrorPerSetting(t *testing.T) {
	dir := planTree(t, merge(confFiles("all", "1", "2", "0"), confFiles("eth0", "1", "two", "0")))
	got, err := PlanTuning(RootUnder(dir), []Interface{{Name: "eth0"}})
	if err == nil || !strings.Contains(err.Error(), `tuning eth0: sysctl net/ipv4/conf/eth0/arp_announce is "two", not a number`) {
		t.Errorf("error %v", err)
	}
	if len(got) != 3 || got[0].Err != nil || got[1].Err == nil || got[2].Err != nil || got[1].OK {
		t.Errorf("got %+v", got)
	}
}

// TestTunerAppliesWhatThePlanFindsWrong: one rule, two users. The tuner
// changes exactly the settings PlanTuning reports as not OK, to their Value,
// and afterwards the plan finds nothing wrong.
func TestTunerAppliesWhatThePlanFindsWrong(t *testing.T) {
	dir := planTree(t, merge(confFiles("all", "0", "0", "1"), confFiles("eth0", "0", "1", "0"), confFiles("eth1", "0", "0", "1")))
	root := RootUnder(dir)
	ifcs := []Interface{{Name: "eth0", Tuning: true}, {Name: "eth1"}}
	before, err := PlanTuning(root, ifcs)
	if err != nil {
		t.Fatal(err)
	}
	tn := &tuner{sysctlRoot: root.ProcSys, bridges: netlinkBridges{}, store: stateStore{dir: t.TempDir()}}
	changes, err := tn.plan(ifcs)
	if err != nil {
		t.Fatal(err)
	}
	var wrong []string
	for _, s := range before {
		if !s.OK && s.Tuning {
			wrong = append(wrong, s.Path+"="+strconv.Itoa(s.Value))
		}
	}
	var planned []string
	for _, c := range changes {
		planned = append(planned, c.sysctl+"="+c.value)
	}
	if !reflect.DeepEqual(planned, wrong) || len(planned) != 3 {
		t.Fatalf("tuner plans %v, PlanTuning finds wrong %v", planned, wrong)
	}
	s, err := tn.store.load()
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.tune(s, ifcs); err != nil {
		t.Fatal(err)
	}
	after, err := PlanTuning(root, ifcs)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range after {
		if s.Interface == "eth0" && !s.OK {
			t.Errorf("after tuning %s is %d (effective), still wrong", s.Path, s.Effective)
		}
		if s.Interface == "eth1" && s.OK {
			t.Errorf("tuning off, yet %s was changed to %d", s.Path, s.Current)
		}
	}
}

func TestPlanBridge(t *testing.T) {
	dir := planTree(t, map[string]string{
		"sys/class/net/eth1/brport/proxyarp":      "1",
		"sys/class/net/eth1/brport/hairpin_mode":  "0",
		"sys/class/net/veth0/brport/proxyarp":     "0",
		"sys/class/net/veth0/brport/hairpin_mode": "1",
		"sys/class/net/tap0/brport/proxyarp":      "1",
		"sys/class/net/tap0/brport/hairpin_mode":  "1",
	}, "sys/class/net/br0/bridge", "sys/class/net/br0/brif/eth1", "sys/class/net/br0/brif/veth0", "sys/class/net/br0/brif/tap0",
		"sys/class/net/eth1/device", "sys/class/net/eth0")
	root := RootUnder(dir)
	if _, ok, err := PlanBridge(root, "eth0", nil); ok || err != nil {
		t.Errorf("eth0 is no bridge, got %v %v", ok, err)
	}
	b, ok, err := PlanBridge(root, "br0", []string{"veth0", "eth7"})
	if !ok || err != nil {
		t.Fatalf("br0: %v %v", ok, err)
	}
	got := map[string]string{}
	for _, p := range b.Ports {
		var on []string
		for _, f := range p.Breaking() {
			on = append(on, f.Name)
		}
		got[p.Name] = strings.Join(on, "+")
	}
	want := map[string]string{"eth1": "proxy_arp", "veth0": "hairpin", "tap0": ""}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(b.Unknown, []string{"eth7"}) {
		t.Errorf("got %v unknown %v, want %v unknown [eth7]", got, b.Unknown, want)
	}
}

func TestForeignVIPsAndMissingFromDummy(t *testing.T) {
	web, api := netip.MustParseAddr("192.0.2.200"), netip.MustParseAddr("2001:db8::201")
	addrs := []Addr{
		{DummyName, netip.MustParsePrefix("192.0.2.200/32")},
		{"eth0", netip.MustParsePrefix("192.0.2.200/32")},
		{"eth0", netip.MustParsePrefix("192.0.2.1/24")},
	}
	if got := ForeignVIPs(addrs, []netip.Addr{web, api}); !reflect.DeepEqual(got, addrs[1:2]) {
		t.Errorf("foreign: got %v", got)
	}
	if got := MissingFromDummy(addrs, []netip.Addr{web, api}); !reflect.DeepEqual(got, []netip.Addr{api}) {
		t.Errorf("missing: got %v", got)
	}
}

func TestSysctlName(t *testing.T) {
	if got := SysctlName("net/ipv4/conf/eth0.100/rp_filter"); got != "net.ipv4.conf.eth0/100.rp_filter" {
		t.Errorf("got %s", got)
	}
}
