package announcer

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"

	"golang.org/x/net/bpf"
)

// The ARP socket's kernel filter.
//
// Every ARP packet on the LAN reaches every host's ARP socket, and each
// costs a wake-up. In a fleet most of them are other members refreshing
// their own VIPs: with 1000 VIPs and the default 10 s refresh, 100 a second
// that no host but their owner cares about. The filter lets through what
// this host needs and drops the rest in the kernel:
//
//   - a packet whose sender or target address is a VIP this host owns or
//     watches (requests to answer, probes, and other holders' answers);
//   - anything not sent from a cluster member's MAC (clients, and foreign
//     hosts claiming a VIP, which are conflicts on any host).
//
// So what is dropped is a member's ARP about a VIP this host neither owns
// nor watches: nothing a handler here would act on.

// Offsets in an Ethernet frame carrying ARP for IPv4 over Ethernet.
const (
	arpSenderMAC = 14 + 8
	arpSenderIP  = 14 + 14
	arpTargetIP  = 14 + 24
	// arpFilterMax bounds the program (the kernel takes 4096 instructions).
	arpFilterMax = 4000
)

// arpFilter returns the filter for this host's owned and watched IPv4 VIPs
// and the members' MACs, or false when it would be too long (then the
// socket takes everything).
func arpFilter(interest []netip.Addr, members []net.HardwareAddr) ([]bpf.RawInstruction, bool) {
	var prog []bpf.Instruction
	accept := bpf.RetConstant{Val: 1 << 16}
	drop := bpf.RetConstant{Val: 0}
	var ips []uint32
	for _, a := range interest {
		if a.Is4() {
			b := a.As4()
			ips = append(ips, binary.BigEndian.Uint32(b[:]))
		}
	}
	slices.Sort(ips)
	ips = slices.Compact(ips)
	for _, off := range []uint32{arpSenderIP, arpTargetIP} {
		prog = append(prog, bpf.LoadAbsolute{Off: off, Size: 4})
		for _, ip := range ips {
			// Equal: the next instruction accepts; not: skip it.
			prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: ip, SkipFalse: 1}, accept)
		}
	}
	for _, mac := range members {
		if len(mac) != 6 {
			continue
		}
		hi, lo := binary.BigEndian.Uint32(mac[:4]), uint32(binary.BigEndian.Uint16(mac[4:]))
		prog = append(prog,
			bpf.LoadAbsolute{Off: arpSenderMAC, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: hi, SkipFalse: 3},
			bpf.LoadAbsolute{Off: arpSenderMAC + 4, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: lo, SkipFalse: 1},
			drop,
		)
	}
	prog = append(prog, accept)
	if len(prog) > arpFilterMax {
		return nil, false
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, false
	}
	return raw, true
}

// acceptAll is the filter that takes every packet.
var acceptAll, _ = bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 1 << 16}})

// bpfSetter is a socket that takes a kernel filter (*packet.Conn).
type bpfSetter interface {
	SetBPF([]bpf.RawInstruction) error
}

// setARPFilter installs the filter for interest and members on r's ARP
// socket, when it changed; a filter that cannot be built takes everything.
func (r *responder) setARPFilter(interest []netip.Addr, members []net.HardwareAddr) {
	s, ok := r.arp.(bpfSetter)
	if !ok {
		return
	}
	prog, ok := arpFilter(interest, members)
	if !ok {
		prog = acceptAll
	}
	if slices.Equal(prog, r.arpFilter) {
		return
	}
	if err := s.SetBPF(prog); err != nil {
		r.log.Warn("setting the ARP socket's filter failed; it takes every packet", "interface", r.name, "err", err)
		_ = s.SetBPF(acceptAll)
		prog = acceptAll
	}
	r.arpFilter = prog
}
