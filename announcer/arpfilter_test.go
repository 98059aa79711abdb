package announcer

import (
	"net"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
	"golang.org/x/net/bpf"
)

// The kernel filter drops a member's ARP about a VIP this host neither
// owns nor watches, and lets through everything a handler acts on: any
// packet naming an owned or watched VIP, and anything from a MAC that is no
// member's (clients, foreign holders).
func TestARPFilterDropsOnlyMembersTalkOfOtherVIPs(t *testing.T) {
	member := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x07}
	client := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x64}
	owned, watched, other := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.12")
	prog, ok := arpFilter([]netip.Addr{owned, watched, netip.MustParseAddr("2001:db8::10")}, []net.HardwareAddr{member, {0x02, 0, 0, 0, 0, 0x08}})
	if !ok {
		t.Fatal("no filter for 3 VIPs and 2 members")
	}
	vm := vmOf(t, prog)
	clientIP := netip.MustParseAddr("192.0.2.100")
	for _, tc := range []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"a member's gratuitous ARP for another VIP", gratuitousARP(member, other), false},
		{"a member's probe of another VIP", arpProbe(member, other), false},
		{"a member's gratuitous ARP for an owned VIP", gratuitousARP(member, owned), true},
		{"a member's probe of a watched VIP", arpProbe(member, watched), true},
		{"a member's reply for an owned VIP", newARPFrame(client, arp.OperationReply, member, owned, client, clientIP), true},
		{"a client asking for an owned VIP", newARPFrame(ethBroadcast, arp.OperationRequest, client, clientIP, zeroMAC, owned), true},
		{"a client asking for another VIP", newARPFrame(ethBroadcast, arp.OperationRequest, client, clientIP, zeroMAC, other), true},
		{"a foreign gratuitous ARP for another VIP", gratuitousARP(client, other), true},
	} {
		n, err := vm.Run(tc.frame)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := n > 0; got != tc.want {
			t.Errorf("%s: passed %v, want %v", tc.name, got, tc.want)
		}
	}

	var many []netip.Addr
	for i := range 1100 {
		many = append(many, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
	}
	if _, ok := arpFilter(many, nil); ok {
		t.Error("a filter for 1100 VIPs, past the kernel's 4096 instructions; want none (take everything)")
	}
}

func vmOf(t *testing.T, raw []bpf.RawInstruction) *bpf.VM {
	t.Helper()
	var prog []bpf.Instruction
	for _, r := range raw {
		prog = append(prog, r.Disassemble())
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}
