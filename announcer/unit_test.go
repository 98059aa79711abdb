package announcer

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
	"github.com/vipd/vipd/config"
)

const ethHeaderLen = 14

func request(from net.HardwareAddr, spa, tpa netip.Addr) []byte {
	return newARPFrame(ethBroadcast, arp.OperationRequest, from, spa, zeroMAC, tpa)
}

func reply(from net.HardwareAddr, vip netip.Addr) []byte {
	return newARPFrame(clientMAC, arp.OperationReply, from, vip, clientMAC, clientIP4)
}

func mustParseARP(t testing.TB, b []byte) arp.Packet {
	t.Helper()
	f, err := parseARPFrame(b)
	if err != nil {
		t.Fatalf("frame does not parse: %v", err)
	}
	return f.pkt
}

func TestARPFrameRoundTrip(t *testing.T) {
	in := reply(ownMAC, testVIP4)
	if len(in) != 60 {
		t.Errorf("frame of %d bytes, want 60 (padded to the Ethernet minimum)", len(in))
	}
	f, err := parseARPFrame(in)
	if err != nil {
		t.Fatal(err)
	}
	if out := f.marshal(); string(out) != string(in) {
		t.Errorf("round trip changed the frame:\n%x\n%x", in, out)
	}
	p := f.pkt
	if p.Operation != arp.OperationReply || p.SenderIP != testVIP4 || !macEqual(p.SenderHardwareAddr, ownMAC) ||
		p.TargetIP != clientIP4 || !macEqual(p.TargetHardwareAddr, clientMAC) || !macEqual(f.eth.Destination, clientMAC) {
		t.Errorf("parsed %+v / %+v", f.eth, p)
	}
}

func TestMalformedARPIsDroppedAndCounted(t *testing.T) {
	h := offline(t, testVIP4)
	good := request(clientMAC, clientIP4, testVIP4)
	bad := map[string][]byte{
		"empty":     nil,
		"truncated": good[:30],
		"not ARP":   withByte(good, 13, 0x00),
		"VLAN":      append(append(append([]byte(nil), good[:12]...), 0x81, 0x00, 0x00, 0x05), good[12:]...),
		"IPv6 ARP":  withByte(good, ethHeaderLen+3, 0xdd),
		"hlen 8":    withByte(good, ethHeaderLen+4, 8),
		"plen 16":   withByte(good, ethHeaderLen+5, 16),
		"opcode 9":  withByte(good, ethHeaderLen+7, 9),
	}
	for name, b := range bad {
		if reply := h.r.handleARP(b); reply != nil {
			t.Errorf("%s: answered", name)
		}
	}
	if got := h.a.Counters().Malformed; got != uint64(len(bad)) {
		t.Errorf("malformed = %d, want %d", got, len(bad))
	}
}

func withByte(b []byte, i int, v byte) []byte {
	b = append([]byte(nil), b...)
	b[i] = v
	return b
}

func TestARPRequestForAnOwnedVIPIsAnsweredWithTheInterfaceMAC(t *testing.T) {
	h := offline(t, testVIP4)
	out := h.r.handleARP(request(clientMAC, clientIP4, testVIP4))
	if out == nil {
		t.Fatal("no reply")
	}
	if want := newARPFrame(clientMAC, arp.OperationReply, ownMAC, testVIP4, clientMAC, clientIP4); string(out) != string(want) {
		t.Errorf("reply %+v, want %+v", mustParseARP(t, out), mustParseARP(t, want))
	}
}

// RFC 5227: a probe (sender 0.0.0.0) is answered, to the prober's MAC, so
// that the prober, a member probing its own or a watched VIP, hears it.
func TestAnARPProbeForAnOwnedVIPIsAnswered(t *testing.T) {
	h := offline(t, testVIP4)
	out := h.r.handleARP(arpProbe(memberMAC, testVIP4))
	if out == nil {
		t.Fatal("no reply to a probe")
	}
	f, err := parseARPFrame(out)
	if err != nil {
		t.Fatal(err)
	}
	if !macEqual(f.eth.Destination, memberMAC) || f.pkt.Operation != arp.OperationReply ||
		f.pkt.SenderIP != testVIP4 || !macEqual(f.pkt.SenderHardwareAddr, ownMAC) ||
		!f.pkt.TargetIP.IsUnspecified() || !macEqual(f.pkt.TargetHardwareAddr, memberMAC) {
		t.Errorf("reply to a probe %+v / %+v; want from the VIP at %s to %s, target 0.0.0.0", f.eth, f.pkt, ownMAC, memberMAC)
	}
	// A probe claims nothing, but a member probing a VIP this host owns
	// stands by for it: member-probes.
	if ev := nextEvent(t, h.a); ev.Kind != MemberProbes {
		t.Errorf("event %+v, want member-probes", ev)
	}
	noEvent(t, h.a)
}

func TestARPIsNotAnsweredForVIPsNotOwnedOrAfterLettingGo(t *testing.T) {
	h := offline(t)
	if h.r.handleARP(request(clientMAC, clientIP4, testVIP4)) != nil {
		t.Error("answered for a VIP it does not own")
	}
	h = offline(t, testVIP4)
	if err := h.a.Apply(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if h.r.handleARP(request(clientMAC, clientIP4, testVIP4)) != nil {
		t.Error("answered after Apply let the VIP go")
	}
	if h.r.handleARP(request(clientMAC, clientIP4, clientIP4)) != nil {
		t.Error("answered for an address that is no VIP")
	}
	h.a.Watch(vipsOf(testVIP4))
	if h.r.handleARP(request(clientMAC, clientIP4, testVIP4)) != nil {
		t.Error("answered for a VIP it only watches")
	}
}

// AF_PACKET sockets see outgoing frames: this host's own packets, from any
// of its links, are never answered nor taken for someone else's.
func TestOwnFramesAreNeitherAnsweredNorAnAnswer(t *testing.T) {
	h := offline(t, testVIP4)
	for name, b := range map[string][]byte{
		"own reply":             reply(ownMAC, testVIP4),
		"own gratuitous":        gratuitousARP(ownMAC, testVIP4),
		"own probe":             arpProbe(ownMAC, testVIP4),
		"other link's reply":    reply(ownMAC2, testVIP4),
		"other link's probe":    arpProbe(ownMAC2, testVIP4),
		"other link's announce": gratuitousARP(ownMAC2, testVIP4),
	} {
		if out := h.r.handleARP(b); out != nil {
			t.Errorf("%s: answered", name)
		}
	}
	na := func(mac net.HardwareAddr) []byte { return ndpBytes(t, unsolicitedNA(mac, testVIP6)) }
	h.r.handleNDP(na(ownMAC), ndp.HopLimit, clientIP6)
	h.r.handleNDP(na(ownMAC2), ndp.HopLimit, clientIP6)
	noEvent(t, h.a)
}

func TestARPFromAForeignMACForAVIPIsAConflict(t *testing.T) {
	h := offline(t)
	h.r.handleARP(reply(foreignMAC, testVIP4))
	h.r.handleARP(gratuitousARP(memberMAC, testVIP4)) // a member, VIP not owned nor watched: fine
	h.r.handleARP(gratuitousARP(ownMAC, testVIP4))    // ourselves: fine
	h.r.handleARP(request(foreignMAC, clientIP4, testVIP4))
	ev := nextEvent(t, h.a)
	if ev.Kind != ForeignMAC || ev.VIP != testVIP4 || !macEqual(ev.MAC, foreignMAC) || ev.Interface != "eth0" {
		t.Errorf("event %+v, want foreign MAC %s for %s on eth0", ev, foreignMAC, testVIP4)
	}
	noEvent(t, h.a)
	if c := h.a.Counters(); c.Conflicts != 1 || c.MemberAnswers != 0 {
		t.Errorf("counters %+v, want 1 conflict and no member answer", c)
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
	h := offline(t, testVIP6)
	ns := solicitation(clientMAC, testVIP6)
	r, ok := h.r.handleNDP(ndpBytes(t, ns), ndp.HopLimit, clientIP6.WithZone("eth0"))
	if !ok {
		t.Fatal("no answer")
	}
	if r.dst.WithZone("") != clientIP6 || !r.msg.Solicited || !r.msg.Override || r.msg.Router || r.msg.TargetAddress != testVIP6 {
		t.Errorf("answer %+v to %s, want solicited+override for %s to %s", r.msg, r.dst, testVIP6, clientIP6)
	}
	if mac, _ := linkLayer(r.msg.Options, ndp.Target); !macEqual(mac, ownMAC) {
		t.Errorf("target link-layer address %s, want %s", mac, ownMAC)
	}
	// Duplicate address detection, as another member probes: to all
	// nodes, not solicited.
	dad := &ndp.NeighborSolicitation{TargetAddress: testVIP6}
	r, ok = h.r.handleNDP(ndpBytes(t, dad), ndp.HopLimit, netip.IPv6Unspecified())
	if !ok || r.dst != allNodes || r.msg.Solicited || !r.msg.Override {
		t.Errorf("DAD answer %+v to %s, ok=%v; want unsolicited override to ff02::1", r.msg, r.dst, ok)
	}
	// Not owned, a routed packet, our own probe: no answer.
	other := offline(t)
	if _, ok := other.r.handleNDP(ndpBytes(t, ns), ndp.HopLimit, clientIP6); ok {
		t.Error("answered for a VIP it does not own")
	}
	if _, ok := h.r.handleNDP(ndpBytes(t, ns), 64, clientIP6); ok {
		t.Error("answered a solicitation with hop limit 64")
	}
	if _, ok := h.r.handleNDP(ndpBytes(t, solicitation(ownMAC, testVIP6)), ndp.HopLimit, clientIP6); ok {
		t.Error("answered its own probe")
	}
	if !h.ndp.groups[netip.MustParseAddr("ff02::1:ff00:200")] {
		t.Errorf("groups joined %v, want the VIP's solicited-node group", h.ndp.groups)
	}
}

func TestAdvertisementFromAForeignMACIsAConflict(t *testing.T) {
	h := offline(t)
	h.r.handleNDP(ndpBytes(t, unsolicitedNA(memberMAC, testVIP6)), ndp.HopLimit, clientIP6)
	h.r.handleNDP(ndpBytes(t, unsolicitedNA(foreignMAC, testVIP6)), ndp.HopLimit, clientIP6)
	h.r.handleNDP(ndpBytes(t, unsolicitedNA(foreignMAC, clientIP6)), ndp.HopLimit, clientIP6) // no VIP
	ev := nextEvent(t, h.a)
	if ev.Kind != ForeignMAC || ev.VIP != testVIP6 || !macEqual(ev.MAC, foreignMAC) {
		t.Errorf("event %+v, want foreign MAC %s for %s", ev, foreignMAC, testVIP6)
	}
	noEvent(t, h.a)
	h.r.handleNDP([]byte{136, 0, 0}, ndp.HopLimit, clientIP6)
	if h.a.Counters().Malformed != 1 {
		t.Errorf("malformed = %d, want 1", h.a.Counters().Malformed)
	}
}

func TestApplyRefusesAVIPOnAnUnmanagedInterface(t *testing.T) {
	h := offline(t)
	v := testVIP("other", netip.MustParseAddr("192.0.2.201"))
	v.Interface = "eth9"
	if err := h.a.Apply(context.Background(), []config.VIP{v}, nil); err == nil {
		t.Fatal("Apply accepted a VIP on an unmanaged interface")
	}
}
