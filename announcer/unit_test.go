package announcer

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/mdlayher/ndp"
	"github.com/vipd/vipd/config"
)

var (
	ownMAC     = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	memberMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	foreignMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x66}
	clientMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x64}
	testVIP4   = netip.MustParseAddr("192.0.2.200")
	testVIP6   = netip.MustParseAddr("2001:db8::200")
	clientIP4  = netip.MustParseAddr("192.0.2.100")
	clientIP6  = netip.MustParseAddr("2001:db8::100")
)

func testVIP(name string, a netip.Addr) config.VIP {
	return config.VIP{Name: name, Address: config.Address{Prefix: netip.PrefixFrom(a, a.BitLen())}, Interface: "eth0"}
}

// offline builds an announcer with one link and no sockets, owning owned.
func offline(t testing.TB, owned ...netip.Addr) (*Announcer, *link) {
	opts, err := Options{
		Interfaces: []Interface{{Name: "eth0"}},
		VIPs:       []config.VIP{testVIP("web4", testVIP4), testVIP("web6", testVIP6)},
		StateDir:   t.TempDir(),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	a := newAnnouncer(opts)
	t.Cleanup(a.cancel)
	l := &link{name: "eth0", index: 2, mac: ownMAC, groups: map[netip.Addr]int{}, up: true}
	a.links["eth0"] = l
	a.SetClusterMACs([]net.HardwareAddr{memberMAC})
	for _, vip := range owned {
		a.owned[vip] = &claim{vip: vip, link: l, cancel: func() {}}
	}
	return a, l
}

func request(from net.HardwareAddr, spa, tpa netip.Addr) []byte {
	return arpFrame{ethDst: broadcastMAC, ethSrc: from, op: arpRequest, sha: from, spa: spa, tha: zeroMAC, tpa: tpa}.marshal()
}

func TestARPFrameRoundTrip(t *testing.T) {
	in := arpFrame{ethDst: broadcastMAC, ethSrc: ownMAC, op: arpReply, sha: ownMAC, spa: testVIP4, tha: clientMAC, tpa: clientIP4}
	out, err := parseARPFrame(in.marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.marshal(), in.marshal()) {
		t.Errorf("round trip changed the frame: %+v -> %+v", in, out)
	}
}

func TestMalformedARPIsDroppedAndCounted(t *testing.T) {
	a, l := offline(t, testVIP4)
	good := request(clientMAC, clientIP4, testVIP4)
	bad := map[string][]byte{
		"empty":     nil,
		"truncated": good[:30],
		"not ARP":   append(append([]byte(nil), good[:12]...), append([]byte{0x08, 0x00}, good[14:]...)...),
		"IPv6 ARP":  withByte(good, ethHeaderLen+3, 0xdd),
		"hlen 8":    withByte(good, ethHeaderLen+4, 8),
		"opcode 9":  withByte(good, ethHeaderLen+7, 9),
	}
	for name, b := range bad {
		if reply := a.handleARP(l, b); reply != nil {
			t.Errorf("%s: answered", name)
		}
	}
	if got := a.Counters().Malformed; got != uint64(len(bad)) {
		t.Errorf("malformed = %d, want %d", got, len(bad))
	}
}

func withByte(b []byte, i int, v byte) []byte {
	b = append([]byte(nil), b...)
	b[i] = v
	return b
}

func TestARPRequestForAnOwnedVIPIsAnsweredWithTheInterfaceMAC(t *testing.T) {
	a, l := offline(t, testVIP4)
	reply := a.handleARP(l, request(clientMAC, clientIP4, testVIP4))
	if reply == nil {
		t.Fatal("no reply")
	}
	f, err := parseARPFrame(reply)
	if err != nil {
		t.Fatal(err)
	}
	want := arpFrame{ethDst: clientMAC, ethSrc: ownMAC, op: arpReply, sha: ownMAC, spa: testVIP4, tha: clientMAC, tpa: clientIP4}
	if !bytes.Equal(f.marshal(), want.marshal()) {
		t.Errorf("reply %+v, want %+v", f, want)
	}
}

func TestARPIsNotAnsweredForVIPsNotOwnedOrAfterLettingGo(t *testing.T) {
	a, l := offline(t)
	if a.handleARP(l, request(clientMAC, clientIP4, testVIP4)) != nil {
		t.Error("answered for a VIP it does not own")
	}
	a, l = offline(t, testVIP4)
	if err := a.Apply(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if a.handleARP(l, request(clientMAC, clientIP4, testVIP4)) != nil {
		t.Error("answered after Apply let the VIP go")
	}
	if a.handleARP(l, request(clientMAC, clientIP4, clientIP4)) != nil {
		t.Error("answered for an address that is no VIP")
	}
}

func TestARPFromAForeignMACForAVIPIsAConflict(t *testing.T) {
	a, l := offline(t)
	reply := arpFrame{ethDst: ownMAC, ethSrc: foreignMAC, op: arpReply, sha: foreignMAC, spa: testVIP4, tha: ownMAC, tpa: netip.IPv4Unspecified()}
	a.handleARP(l, reply.marshal())
	a.handleARP(l, gratuitousARP(memberMAC, testVIP4).marshal()) // a member: fine
	a.handleARP(l, gratuitousARP(ownMAC, testVIP4).marshal())    // ourselves: fine
	a.handleARP(l, request(foreignMAC, clientIP4, testVIP4))     // a question: fine
	select {
	case ev := <-a.Events():
		if ev.Kind != ForeignMAC || ev.VIP != testVIP4 || !macEqual(ev.MAC, foreignMAC) || ev.Interface != "eth0" {
			t.Errorf("event %+v, want foreign MAC %s for %s on eth0", ev, foreignMAC, testVIP4)
		}
	default:
		t.Fatal("no conflict event")
	}
	select {
	case ev := <-a.Events():
		t.Errorf("unexpected second event %+v", ev)
	default:
	}
}

func ndpBytes(t testing.TB, m ndp.Message) []byte {
	b, err := ndp.MarshalMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNeighborSolicitationGetsASolicitedOverrideAdvertisement(t *testing.T) {
	a, l := offline(t, testVIP6)
	ns := solicitation(clientMAC, testVIP6)
	r, ok := a.handleNDP(l, ndpBytes(t, ns), ndp.HopLimit, clientIP6.WithZone("eth0"))
	if !ok {
		t.Fatal("no answer")
	}
	if r.dst.WithZone("") != clientIP6 || !r.msg.Solicited || !r.msg.Override || r.msg.Router || r.msg.TargetAddress != testVIP6 {
		t.Errorf("answer %+v to %s, want solicited+override for %s to %s", r.msg, r.dst, testVIP6, clientIP6)
	}
	if mac, _ := linkLayer(r.msg.Options, ndp.Target); !macEqual(mac, ownMAC) {
		t.Errorf("target link-layer address %s, want %s", mac, ownMAC)
	}
	// Duplicate address detection: to all nodes, not solicited.
	dad := &ndp.NeighborSolicitation{TargetAddress: testVIP6}
	r, ok = a.handleNDP(l, ndpBytes(t, dad), ndp.HopLimit, netip.IPv6Unspecified())
	if !ok || r.dst != allNodes || r.msg.Solicited || !r.msg.Override {
		t.Errorf("DAD answer %+v to %s, ok=%v; want unsolicited override to ff02::1", r.msg, r.dst, ok)
	}
	// Not owned, a routed packet, our own probe: no answer.
	b, _ := offline(t)
	if _, ok := b.handleNDP(l, ndpBytes(t, ns), ndp.HopLimit, clientIP6); ok {
		t.Error("answered for a VIP it does not own")
	}
	if _, ok := a.handleNDP(l, ndpBytes(t, ns), 64, clientIP6); ok {
		t.Error("answered a solicitation with hop limit 64")
	}
	if _, ok := a.handleNDP(l, ndpBytes(t, solicitation(ownMAC, testVIP6)), ndp.HopLimit, clientIP6); ok {
		t.Error("answered its own probe")
	}
}

func TestAdvertisementFromAForeignMACIsAConflict(t *testing.T) {
	a, l := offline(t)
	a.handleNDP(l, ndpBytes(t, unsolicitedNA(memberMAC, testVIP6)), ndp.HopLimit, clientIP6)
	a.handleNDP(l, ndpBytes(t, unsolicitedNA(foreignMAC, testVIP6)), ndp.HopLimit, clientIP6)
	a.handleNDP(l, ndpBytes(t, unsolicitedNA(foreignMAC, clientIP6)), ndp.HopLimit, clientIP6) // no VIP
	select {
	case ev := <-a.Events():
		if ev.Kind != ForeignMAC || ev.VIP != testVIP6 || !macEqual(ev.MAC, foreignMAC) {
			t.Errorf("event %+v, want foreign MAC %s for %s", ev, foreignMAC, testVIP6)
		}
	default:
		t.Fatal("no conflict event")
	}
	select {
	case ev := <-a.Events():
		t.Errorf("unexpected second event %+v", ev)
	default:
	}
	a.handleNDP(l, []byte{136, 0, 0}, ndp.HopLimit, clientIP6)
	if a.Counters().Malformed != 1 {
		t.Errorf("malformed = %d, want 1", a.Counters().Malformed)
	}
}

// fakeBridges is bridgeOps for a host with one bridge br0 that has a
// hardware port eth1 and a virtual port veth1.
type fakeBridges struct{ flags map[string]portFlags }

func (f *fakeBridges) setPortFlags(port string, fl portFlags) error {
	f.flags[port] = fl
	return nil
}

// fakeProcSys writes a /proc/sys tree with the given values.
func fakeProcSys(t *testing.T, values map[string]string) string {
	root := t.TempDir()
	for k, v := range values {
		p := filepath.Join(root, k)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readTree(t *testing.T, root string, keys map[string]string) map[string]string {
	out := map[string]string{}
	for k := range keys {
		b, err := os.ReadFile(filepath.Join(root, k))
		if err != nil {
			t.Fatal(err)
		}
		out[k] = string(bytes.TrimSpace(b))
	}
	return out
}

func TestTuningRecordsOriginalsFirstAndRestoresThemAfterACrash(t *testing.T) {
	orig := map[string]string{
		"net/ipv4/conf/all/arp_ignore":    "0",
		"net/ipv4/conf/all/arp_announce":  "0",
		"net/ipv4/conf/all/rp_filter":     "1",
		"net/ipv4/conf/eth0/arp_ignore":   "0",
		"net/ipv4/conf/eth0/arp_announce": "1",
		"net/ipv4/conf/eth0/rp_filter":    "0",
		"net/ipv4/conf/br0/arp_ignore":    "2", // already stricter: left alone
		"net/ipv4/conf/br0/arp_announce":  "0",
		"net/ipv4/conf/br0/rp_filter":     "2",
		"net/ipv4/conf/eth2/arp_ignore":   "0", // tuning off
		"net/ipv4/conf/eth2/arp_announce": "0",
		"net/ipv4/conf/eth2/rp_filter":    "1",
	}
	root := fakeProcSys(t, orig)
	bridges := &fakeBridges{flags: map[string]portFlags{}}
	store := stateStore{dir: filepath.Join(t.TempDir(), "state")}
	tn := &tuner{sysctlRoot: root, bridges: bridges, store: store}
	ifcs := []Interface{{Name: "eth0", Tuning: true}, {Name: "br0", Tuning: true}, {Name: "eth2"}}

	s, err := store.load()
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.tune(s, ifcs); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"net/ipv4/conf/eth0/arp_ignore":   "1",
		"net/ipv4/conf/eth0/arp_announce": "2",
		"net/ipv4/conf/eth0/rp_filter":    "2", // all=1 makes it strict
		"net/ipv4/conf/br0/arp_ignore":    "2",
		"net/ipv4/conf/br0/arp_announce":  "2",
		"net/ipv4/conf/br0/rp_filter":     "2",
		"net/ipv4/conf/eth2/rp_filter":    "1",
	}
	got := readTree(t, root, orig)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("after tuning %s = %s, want %s", k, got[k], v)
		}
	}
	if len(bridges.flags) != 0 {
		t.Errorf("bridge port flags changed: %+v; vipd leaves bridge ports alone", bridges.flags)
	}

	// A crash: the next start reads the state file and tunes again, over
	// tuned values. It must keep the originals.
	s2, err := store.load()
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.tune(s2, ifcs); err != nil {
		t.Fatal(err)
	}
	if err := tn.restore(s2); err != nil {
		t.Fatal(err)
	}
	if err := store.save(s2); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, root, orig); !mapsEqual(got, orig) {
		t.Errorf("after crash, restart and restore:\n%v\nwant\n%v", got, orig)
	}
	if _, err := os.Stat(store.path()); !os.IsNotExist(err) {
		t.Errorf("state file left after a full restore: %v", err)
	}
}

func TestACorruptStateFileIsAnErrorNotAFreshStart(t *testing.T) {
	store := stateStore{dir: t.TempDir()}
	if err := os.WriteFile(store.path(), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := store.load(); err == nil {
		t.Fatal("load accepted a corrupt state file")
	}
}

func TestApplyRefusesAVIPOnAnUnmanagedInterface(t *testing.T) {
	a, _ := offline(t)
	v := testVIP("other", netip.MustParseAddr("192.0.2.201"))
	v.Interface = "eth9"
	if err := a.Apply(context.Background(), []config.VIP{v}, nil); err == nil {
		t.Fatal("Apply accepted a VIP on an unmanaged interface")
	}
}
