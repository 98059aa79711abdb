package announcer

import (
	"errors"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

var (
	ethBroadcast = ethernet.Broadcast
	zeroMAC      = net.HardwareAddr{0, 0, 0, 0, 0, 0}
)

// errMalformed marks a packet that does not parse; it is dropped and counted.
var errMalformed = errors.New("malformed packet")

// arpFrame is an Ethernet frame carrying an ARP packet for IPv4 over
// Ethernet.
type arpFrame struct {
	eth ethernet.Frame // Payload is not used: pkt is the payload
	pkt arp.Packet
}

// parseARPFrame parses an untagged Ethernet frame holding an ARP request or
// reply for IPv4 over Ethernet. Anything else, including a truncated frame,
// is errMalformed. Trailing padding is ignored. The result does not alias b.
func parseARPFrame(b []byte) (arpFrame, error) {
	var f arpFrame
	if err := f.eth.UnmarshalBinary(b); err != nil {
		return f, errMalformed
	}
	// The socket is bound to ARP: the kernel has taken any VLAN tag off.
	if f.eth.EtherType != ethernet.EtherTypeARP || f.eth.VLAN != nil || f.eth.ServiceVLAN != nil {
		return f, errMalformed
	}
	if err := f.pkt.UnmarshalBinary(f.eth.Payload); err != nil {
		return f, errMalformed
	}
	f.eth.Payload = nil
	p := &f.pkt
	if p.HardwareType != 1 || p.ProtocolType != uint16(ethernet.EtherTypeIPv4) ||
		p.HardwareAddrLength != 6 || p.IPLength != 4 {
		return f, errMalformed
	}
	if p.Operation != arp.OperationRequest && p.Operation != arp.OperationReply {
		return f, errMalformed
	}
	return f, nil
}

// marshal returns the frame, padded to the Ethernet minimum.
func (f arpFrame) marshal() []byte {
	payload, err := f.pkt.MarshalBinary()
	if err != nil {
		return nil // arp.Packet.MarshalBinary never fails
	}
	eth := f.eth
	eth.EtherType = ethernet.EtherTypeARP
	eth.Payload = payload
	b, err := eth.MarshalBinary()
	if err != nil {
		return nil // only a service VLAN without a VLAN fails, and there is none
	}
	return b
}

// newARPFrame builds a frame from mac (this host's) to dst.
func newARPFrame(dst net.HardwareAddr, op arp.Operation, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	p, err := arp.NewPacket(op, sha, spa, tha, tpa)
	if err != nil {
		return nil // the callers pass 6-byte MACs and IPv4 addresses
	}
	return arpFrame{eth: ethernet.Frame{Destination: dst, Source: sha}, pkt: *p}.marshal()
}

// gratuitousARP is the broadcast ARP request a new owner sends: sender and
// target are both the VIP, so every neighbour that has the VIP in its cache
// updates it to mac, and none that does not adds it.
func gratuitousARP(mac net.HardwareAddr, vip netip.Addr) []byte {
	return newARPFrame(ethBroadcast, arp.OperationRequest, mac, vip, zeroMAC, vip)
}

// arpProbe asks who has vip without claiming it (RFC 5227): sender address
// 0.0.0.0, so no neighbour updates its cache, while any holder answers.
func arpProbe(mac net.HardwareAddr, vip netip.Addr) []byte {
	return newARPFrame(ethBroadcast, arp.OperationRequest, mac, netip.IPv4Unspecified(), zeroMAC, vip)
}

// handleARP decides what one received frame means on this link: it returns
// the reply to send, if any, and reports a foreign MAC or another member
// claiming a VIP. It never blocks.
func (r *responder) handleARP(b []byte) []byte {
	f, err := parseARPFrame(b)
	if err != nil {
		r.count.malformed.Add(1)
		return nil
	}
	p := &f.pkt
	// AF_PACKET sockets see this host's own frames on the way out.
	if r.book.isOwn(f.eth.Source) || r.book.isOwn(p.SenderHardwareAddr) {
		return nil
	}
	gratuitous := p.Operation == arp.OperationRequest && p.SenderIP == p.TargetIP
	// Whoever sends an ARP packet with a VIP as sender address claims it:
	// a reply, a gratuitous ARP, or a request from a host using the VIP.
	// From a member only replies and gratuitous ARPs count: they are what
	// an owner sends.
	if !p.SenderIP.IsUnspecified() {
		r.heard(p.SenderIP, p.SenderHardwareAddr, p.Operation == arp.OperationReply || gratuitous)
	} else if p.Operation == arp.OperationRequest {
		r.probedBy(p.TargetIP, p.SenderHardwareAddr)
	}
	if p.Operation != arp.OperationRequest || gratuitous {
		return nil // replies and announcements ask nothing
	}
	if !r.book.answers(r, p.TargetIP) {
		return nil
	}
	if p.SenderHardwareAddr[0]&1 == 1 {
		return nil // no unicast sender to answer to
	}
	// A probe (sender 0.0.0.0, RFC 5227) is answered like any request: to
	// the prober's MAC, target address 0.0.0.0, so the prober hears the
	// holder.
	return newARPFrame(p.SenderHardwareAddr, arp.OperationReply, r.mac, p.TargetIP, p.SenderHardwareAddr, p.SenderIP)
}
