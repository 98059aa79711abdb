package announcer

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// allNodes is where unsolicited neighbor advertisements go (RFC 4861 7.2.6).
var allNodes = netip.MustParseAddr("ff02::1")

// unsolicitedNA tells every node on the link that vip is now at mac.
// Override is set so caches that hold the old owner's MAC take the new one.
func unsolicitedNA(mac net.HardwareAddr, vip netip.Addr) *ndp.NeighborAdvertisement {
	return &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: vip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}},
	}
}

// solicitation asks who has vip from an address of this host's.
func solicitation(mac net.HardwareAddr, vip netip.Addr) *ndp.NeighborSolicitation {
	return &ndp.NeighborSolicitation{
		TargetAddress: vip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: mac}},
	}
}

// dadSolicitation is the whole Ethernet frame of a neighbor solicitation
// for vip from the unspecified address, as duplicate address detection
// sends it (RFC 4862 5.4.2): to vip's solicited-node group, with no source
// link-layer option, so no neighbour learns anything from it. A holder
// answers to all nodes. An ICMPv6 socket cannot send from ::, so the frame
// goes out on a packet socket, with the checksum computed here.
func dadSolicitation(mac net.HardwareAddr, vip netip.Addr) ([]byte, net.HardwareAddr, error) {
	group, err := ndp.SolicitedNodeMulticast(vip)
	if err != nil {
		return nil, nil, err
	}
	body, err := ndp.MarshalMessage(&ndp.NeighborSolicitation{TargetAddress: vip})
	if err != nil {
		return nil, nil, err
	}
	src := netip.IPv6Unspecified()
	m, err := icmp.ParseMessage(58, body)
	if err != nil {
		return nil, nil, err
	}
	icmpBytes, err := m.Marshal(icmp.IPv6PseudoHeader(src.AsSlice(), group.AsSlice()))
	if err != nil {
		return nil, nil, err
	}
	ip := make([]byte, ipv6.HeaderLen, ipv6.HeaderLen+len(icmpBytes))
	ip[0] = 6 << 4
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(icmpBytes)))
	ip[6] = 58 // ICMPv6
	ip[7] = ndp.HopLimit
	s, d := src.As16(), group.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	// 33:33 and the group's low 32 bits (RFC 2464 7).
	dst := net.HardwareAddr{0x33, 0x33, d[12], d[13], d[14], d[15]}
	eth := ethernet.Frame{Destination: dst, Source: mac, EtherType: ethernet.EtherTypeIPv6, Payload: append(ip, icmpBytes...)}
	frame, err := eth.MarshalBinary()
	return frame, dst, err
}

// ndpReply is a message to send and where to.
type ndpReply struct {
	msg *ndp.NeighborAdvertisement
	dst netip.Addr
}

// handleNDP decides what one received ICMPv6 message means on this link.
// It returns the neighbor advertisement to send, if any, and reports a
// foreign MAC or another member advertising a VIP. hopLimit is the received
// hop limit (-1 if unknown); NDP messages that crossed a router are not
// valid.
func (r *responder) handleNDP(b []byte, hopLimit int, src netip.Addr) (ndpReply, bool) {
	m, err := ndp.ParseMessage(b)
	if err != nil {
		r.count.malformed.Add(1)
		return ndpReply{}, false
	}
	if hopLimit >= 0 && hopLimit != ndp.HopLimit {
		r.count.malformed.Add(1)
		return ndpReply{}, false
	}
	switch m := m.(type) {
	case *ndp.NeighborAdvertisement:
		mac, ok := linkLayer(m.Options, ndp.Target)
		if !ok {
			return ndpReply{}, false
		}
		// Solicited or not, an advertisement is an answer.
		r.heard(m.TargetAddress.WithZone(""), mac, true)
	case *ndp.NeighborSolicitation:
		if !m.TargetAddress.Is6() || m.TargetAddress.IsMulticast() {
			r.count.malformed.Add(1)
			return ndpReply{}, false
		}
		if mac, ok := linkLayer(m.Options, ndp.Source); ok && r.book.isOwn(mac) {
			return ndpReply{}, false // this host's own solicitation
		}
		target := m.TargetAddress.WithZone("")
		if !r.book.answers(r, target) {
			return ndpReply{}, false
		}
		na := unsolicitedNA(r.mac, target)
		// A solicitation from the unspecified address is duplicate address
		// detection (or another member's probe): the answer goes to all
		// nodes and is not solicited.
		if src.WithZone("").IsUnspecified() {
			return ndpReply{msg: na, dst: allNodes}, true
		}
		na.Solicited = true
		return ndpReply{msg: na, dst: src}, true
	}
	return ndpReply{}, false
}

func linkLayer(opts []ndp.Option, dir ndp.Direction) (net.HardwareAddr, bool) {
	for _, o := range opts {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == dir && len(lla.Addr) == 6 {
			return lla.Addr, true
		}
	}
	return nil, false
}
