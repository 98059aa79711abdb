package announcer

import (
	"net"
	"net/netip"

	"github.com/mdlayher/ndp"
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

// solicitation asks who has vip, as a short probe before a fresh claim.
func solicitation(mac net.HardwareAddr, vip netip.Addr) *ndp.NeighborSolicitation {
	return &ndp.NeighborSolicitation{
		TargetAddress: vip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: mac}},
	}
}

// ndpReply is a message to send and where to.
type ndpReply struct {
	msg *ndp.NeighborAdvertisement
	dst netip.Addr
}

// handleNDP decides what one received ICMPv6 message means on link l. It
// returns the neighbor advertisement to send, if any, and raises a conflict
// when a foreign MAC advertises a managed VIP. hopLimit is the received hop
// limit (-1 if unknown); NDP messages that crossed a router are not valid.
func (a *Announcer) handleNDP(l *link, b []byte, hopLimit int, src netip.Addr) (ndpReply, bool) {
	m, err := ndp.ParseMessage(b)
	if err != nil {
		a.count.malformed.Add(1)
		return ndpReply{}, false
	}
	if hopLimit >= 0 && hopLimit != ndp.HopLimit {
		a.count.malformed.Add(1)
		return ndpReply{}, false
	}
	switch m := m.(type) {
	case *ndp.NeighborAdvertisement:
		mac, ok := linkLayer(m.Options, ndp.Target)
		if !ok || macEqual(mac, l.mac) {
			return ndpReply{}, false
		}
		if a.isManaged(m.TargetAddress) && !a.isMemberMAC(mac) {
			a.conflict(Event{Kind: ForeignMAC, VIP: m.TargetAddress, MAC: mac, Interface: l.name})
		}
	case *ndp.NeighborSolicitation:
		if !m.TargetAddress.Is6() || m.TargetAddress.IsMulticast() {
			a.count.malformed.Add(1)
			return ndpReply{}, false
		}
		if mac, ok := linkLayer(m.Options, ndp.Source); ok && macEqual(mac, l.mac) {
			return ndpReply{}, false // our own probe
		}
		if !a.answers(l, m.TargetAddress.WithZone("")) {
			return ndpReply{}, false
		}
		na := &ndp.NeighborAdvertisement{
			Override:      true,
			TargetAddress: m.TargetAddress.WithZone(""),
			Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: l.mac}},
		}
		// A solicitation from the unspecified address is duplicate address
		// detection: the answer goes to all nodes and is not solicited.
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
