package announcer

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/lab"
)

// VIPs of the lab tests: free addresses on the lab's subnets.
var (
	vip4 = helperVIP{Name: "web4", Address: "192.0.2.200", Interface: "eth0"}
	vip6 = helperVIP{Name: "web6", Address: "2001:db8::200", Interface: "eth0"}
)

func labCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func run(t *testing.T, ctx context.Context, n *lab.Node, argv ...string) string {
	t.Helper()
	out, err := n.Run(ctx, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func macOf(t *testing.T, ctx context.Context, n *lab.Node, dev string) string {
	return run(t, ctx, n, "cat", "/sys/class/net/"+dev+"/address")
}

// startCluster runs an announcer on every host with both VIPs managed, and
// tells each the MACs of all hosts.
func startCluster(t *testing.T, ctx context.Context, l *lab.Lab) (helpers []*helper, macs []string) {
	for _, h := range l.Hosts() {
		macs = append(macs, macOf(t, ctx, h, "eth0"))
	}
	for _, h := range l.Hosts() {
		hp := startHelper(t, h, helperConfig{
			Interfaces: []Interface{{Name: "eth0", Tuning: true}},
			VIPs:       []helperVIP{vip4, vip6},
			StateDir:   t.TempDir(),
			Refresh:    time.Second,
		})
		t.Cleanup(hp.close)
		hp.setMembers(macs...)
		helpers = append(helpers, hp)
	}
	return helpers, macs
}

var macPattern = regexp.MustCompile(`(?i)\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\b`)

// macsIn returns the distinct MACs in out, lower case.
func macsIn(out string) []string {
	var macs []string
	for _, m := range macPattern.FindAllString(out, -1) {
		m = strings.ToLower(m)
		if !slices.Contains(macs, m) {
			macs = append(macs, m)
		}
	}
	slices.Sort(macs)
	return macs
}

// arpingMACs asks for ip three times from the client and returns who answered.
func arpingMACs(t *testing.T, ctx context.Context, client *lab.Node, ip string) []string {
	t.Helper()
	out, _ := client.Run(ctx, "arping", "-r", "-c", "3", "-i", "eth0", ip) // exits 1 when nobody answers
	return macsIn(out)
}

// ndiscMACs solicits ip from the client and returns every MAC that answered.
func ndiscMACs(t *testing.T, ctx context.Context, client *lab.Node, ip string) []string {
	t.Helper()
	out, _ := client.Run(ctx, "ndisc6", "-m", "-q", "-r", "2", "-w", "500", ip, "eth0")
	return macsIn(out)
}

func TestOnlyTheOwnerAnswersARPAndNDP(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 3})
	ctx := labCtx(t)
	helpers, macs := startCluster(t, ctx, l)
	client := l.Client()

	// Before anyone owns the VIPs, nobody answers: the VIPs are on vipd0 of
	// every host, and no kernel answers for them.
	if got := arpingMACs(t, ctx, client, vip4.Address); len(got) != 0 {
		t.Errorf("ARP for unowned %s answered by %v, want nobody", vip4.Address, got)
	}
	if got := ndiscMACs(t, ctx, client, vip6.Address); len(got) != 0 {
		t.Errorf("NS for unowned %s answered by %v, want nobody", vip6.Address, got)
	}

	helpers[0].apply([]string{vip4.Name, vip6.Name}, nil)
	want := []string{macs[0]}
	if got := arpingMACs(t, ctx, client, vip4.Address); !slices.Equal(got, want) {
		t.Errorf("ARP for %s answered by %v, want only h1 %v", vip4.Address, got, want)
	}
	if got := ndiscMACs(t, ctx, client, vip6.Address); !slices.Equal(got, want) {
		t.Errorf("NS for %s answered by %v, want only h1 %v", vip6.Address, got, want)
	}
	c := helpers[0].counters()
	t.Logf("h1 counters: %+v", c)
	if c.ARPReplies == 0 || c.NAReplies == 0 || c.GARPSent == 0 || c.NASent == 0 {
		t.Errorf("h1 counters %+v: want ARP and NA replies and gratuitous packets", c)
	}
	for i, hp := range helpers {
		if evs := hp.events(); len(evs) != 0 {
			t.Errorf("h%d raised events %v, want none among cluster members", i+1, evs)
		}
	}
}

// neighMAC returns the MAC the client's neighbour table holds for ip.
func neighMAC(ctx context.Context, client *lab.Node, ip string) string {
	out, err := client.Run(ctx, "ip", "neigh", "show", "to", ip, "dev", "eth0")
	if err != nil {
		return ""
	}
	if m := macsIn(out); len(m) == 1 {
		return m[0]
	}
	return ""
}

func TestMovingOwnershipFlipsTheClientByGratuitousPacketsAlone(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 2})
	ctx := labCtx(t)
	lab.StartNginx(t, l.Host(1), lab.NginxOptions{})
	lab.StartNginx(t, l.Host(2), lab.NginxOptions{})
	helpers, macs := startCluster(t, ctx, l)
	client := l.Client()
	vips := []string{vip4.Name, vip6.Name}
	addrs := []string{vip4.Address, vip6.Address}

	helpers[0].apply(vips, nil)
	for _, a := range addrs {
		body, err := client.HTTPGet(ctx, lab.URL(netip.MustParseAddr(a), 80))
		if err != nil || body != "h1\n" {
			t.Fatalf("GET %s = %q, %v; want h1", a, body, err)
		}
		if got := neighMAC(ctx, client, a); got != macs[0] {
			t.Fatalf("client neighbour entry for %s is %q, want h1 %s", a, got, macs[0])
		}
	}

	// Make before break, as the agent does: h2 claims, then h1 lets go.
	helpers[1].apply(vips, nil)
	helpers[0].apply(nil, nil)
	// The client sends nothing here: only h2's gratuitous ARP and
	// unsolicited NA can change its entries.
	for _, a := range addrs {
		lab.Eventually(t, 5*time.Second, func() error {
			if got := neighMAC(ctx, client, a); got != macs[1] {
				return fmt.Errorf("client neighbour entry for %s is %q, want h2 %s", a, got, macs[1])
			}
			return nil
		})
	}
	for _, a := range addrs {
		body, err := client.HTTPGet(ctx, lab.URL(netip.MustParseAddr(a), 80))
		if err != nil || body != "h2\n" {
			t.Errorf("after the move, GET %s = %q, %v; want h2", a, body, err)
		}
	}
	if got := arpingMACs(t, ctx, client, vip4.Address); !slices.Equal(got, []string{macs[1]}) {
		t.Errorf("after the move, ARP for %s answered by %v, want only h2 %s", vip4.Address, got, macs[1])
	}
}

// tuningSnapshot reads every setting the tuning may change on h1's eth0,
// the bridge vbr0 and its port vport0.
func tuningSnapshot(t *testing.T, ctx context.Context, n *lab.Node) map[string]string {
	t.Helper()
	snap := map[string]string{}
	for _, dev := range []string{"eth0", "vbr0"} {
		for _, key := range []string{"arp_ignore", "arp_announce", "rp_filter"} {
			p := "/proc/sys/net/ipv4/conf/" + dev + "/" + key
			snap[p] = run(t, ctx, n, "cat", p)
		}
	}
	for _, key := range []string{"hairpin_mode", "proxyarp"} {
		p := "/sys/class/net/vport0/brport/" + key
		snap[p] = run(t, ctx, n, "cat", p)
	}
	return snap
}

func TestTuningIsRestoredAfterCloseAndAfterACrash(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 1})
	ctx := labCtx(t)
	h1 := l.Host(1)
	// A bridge with a virtual port, named in bridge_ports as the lab's veths
	// would be; strict rp_filter on eth0, which vipd must loosen.
	for _, cmd := range [][]string{
		{"ip", "link", "add", "vbr0", "type", "bridge"},
		{"ip", "link", "add", "vport0", "type", "veth", "peer", "name", "vpeer0"},
		{"ip", "link", "set", "vport0", "master", "vbr0"},
		{"ip", "link", "set", "vbr0", "up"},
		{"sysctl", "-q", "-w", "net.ipv4.conf.eth0.rp_filter=1"},
		// An address someone else put on vipd0, which vipd must leave alone.
		{"sh", "-c", "ip link add vipd0 type dummy 2>/dev/null || ip link add vipd0 type ifb"},
		{"ip", "addr", "add", "198.51.100.7/32", "dev", "vipd0"},
	} {
		run(t, ctx, h1, cmd...)
	}
	before := tuningSnapshot(t, ctx, h1)
	cfg := helperConfig{
		Interfaces: []Interface{
			{Name: "eth0", Tuning: true},
			{Name: "vbr0", Tuning: true},
		},
		VIPs:     []helperVIP{vip4, vip6},
		StateDir: t.TempDir(),
	}
	tuned := map[string]string{
		"/proc/sys/net/ipv4/conf/eth0/arp_ignore":   "1",
		"/proc/sys/net/ipv4/conf/eth0/arp_announce": "2",
		"/proc/sys/net/ipv4/conf/eth0/rp_filter":    "2",
		"/proc/sys/net/ipv4/conf/vbr0/arp_ignore":   "1",
		"/proc/sys/net/ipv4/conf/vbr0/arp_announce": "2",
		// Left off: on a LAN-facing port they break the VIP (see tuner.plan).
		"/sys/class/net/vport0/brport/hairpin_mode": "0",
		"/sys/class/net/vport0/brport/proxyarp":     "0",
	}
	checkTuned := func(when string) {
		t.Helper()
		now := tuningSnapshot(t, ctx, h1)
		for k, v := range tuned {
			if now[k] != v {
				t.Errorf("%s: %s = %s, want %s", when, k, now[k], v)
			}
		}
		addrs := run(t, ctx, h1, "ip", "addr", "show", "dev", "vipd0")
		for _, a := range []string{vip4.Address + "/32", vip6.Address + "/128", "198.51.100.7/32"} {
			if !strings.Contains(addrs, a) {
				t.Errorf("%s: vipd0 lacks %s:\n%s", when, a, addrs)
			}
		}
	}
	checkRestored := func(when string) {
		t.Helper()
		if now := tuningSnapshot(t, ctx, h1); !mapsEqual(now, before) {
			t.Errorf("%s: settings\n%v\nwant the originals\n%v", when, now, before)
		}
		addrs := run(t, ctx, h1, "ip", "addr", "show", "dev", "vipd0")
		if strings.Contains(addrs, vip4.Address) || strings.Contains(addrs, vip6.Address) {
			t.Errorf("%s: vipd0 still has a VIP vipd added:\n%s", when, addrs)
		}
		if !strings.Contains(addrs, "198.51.100.7/32") {
			t.Errorf("%s: vipd0 lost the address vipd did not add:\n%s", when, addrs)
		}
	}

	hp := startHelper(t, h1, cfg)
	checkTuned("while running")
	hp.close()
	checkRestored("after Close")

	hp = startHelper(t, h1, cfg)
	checkTuned("while running again")
	hp.proc.Kill()
	checkTuned("after kill -9") // nothing restored a crashed run's settings
	hp = startHelper(t, h1, cfg)
	checkTuned("after restart")
	hp.close()
	checkRestored("after kill -9, restart and Close")
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// waitEvent waits until the helper has raised an event matching want.
func waitEvent(t *testing.T, hp *helper, want wireEvent) {
	t.Helper()
	lab.Eventually(t, 5*time.Second, func() error {
		evs := hp.events()
		if slices.Contains(evs, want) {
			return nil
		}
		return fmt.Errorf("events %v, want %v", evs, want)
	})
}

func TestAForeignMACAnsweringForAVIPIsAConflict(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 1})
	ctx := labCtx(t)
	helpers, _ := startCluster(t, ctx, l)
	client := l.Client()
	rogue := macOf(t, ctx, client, "eth0")
	// The client's kernel answers ARP and NS for addresses on its eth0.
	run(t, ctx, client, "ip", "addr", "add", vip4.Address+"/32", "dev", "eth0")
	run(t, ctx, client, "ip", "addr", "add", vip6.Address+"/128", "dev", "eth0", "nodad")

	// A first claim of the IPv4 VIP probes and the rogue answers; the IPv6
	// VIP is taken over (no probe, no delay), and the rogue is found by the
	// probe that goes with the first refresh.
	helpers[0].apply([]string{vip4.Name, vip6.Name}, []string{vip4.Name})
	waitEvent(t, helpers[0], wireEvent{Kind: "foreign-mac", VIP: vip4.Address, MAC: rogue, Interface: "eth0"})
	waitEvent(t, helpers[0], wireEvent{Kind: "foreign-mac", VIP: vip6.Address, MAC: rogue, Interface: "eth0"})
	if c := helpers[0].counters(); c.ClaimProbes+c.SplitProbes == 0 || c.Conflicts == 0 {
		t.Errorf("counters %+v: want probes and conflicts", c)
	}
}

func TestAVIPOnAHostNICIsAConflict(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 1})
	ctx := labCtx(t)
	h1 := l.Host(1)
	// One VIP is on the NIC before vipd starts (the initial scan finds it),
	// the other is added while it runs (the netlink watch sees it).
	run(t, ctx, h1, "ip", "addr", "add", vip4.Address+"/32", "dev", "eth0")
	helpers, _ := startCluster(t, ctx, l)
	waitEvent(t, helpers[0], wireEvent{Kind: "foreign-address", VIP: vip4.Address, Interface: "eth0"})
	run(t, ctx, h1, "ip", "addr", "add", vip6.Address+"/128", "dev", "eth0", "nodad")
	waitEvent(t, helpers[0], wireEvent{Kind: "foreign-address", VIP: vip6.Address, Interface: "eth0"})
}

func TestLinkDownAndUpAreReported(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 1})
	ctx := labCtx(t)
	helpers, _ := startCluster(t, ctx, l)
	helpers[0].apply([]string{vip4.Name}, nil)
	if err := l.Host(1).LinkDown(ctx); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, helpers[0], wireEvent{Kind: "link-down", Interface: "eth0"})
	sent := helpers[0].counters().GARPSent
	if err := l.Host(1).LinkUp(ctx); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, helpers[0], wireEvent{Kind: "link-up", Interface: "eth0"})
	lab.Eventually(t, 5*time.Second, func() error {
		if now := helpers[0].counters().GARPSent; now < sent+3 {
			return fmt.Errorf("%d gratuitous ARPs since the link came back, want a new burst", now-sent)
		}
		return nil
	})
}
