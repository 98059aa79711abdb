package announcer

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
)

// Wire constants of Ethernet and ARP for IPv4 over Ethernet (RFC 826).
const (
	etherTypeARP  = 0x0806
	etherTypeIPv4 = 0x0800
	ethHeaderLen  = 14
	arpLen        = 28
	minFrameLen   = 60 // without FCS; shorter frames are padded
	arpHTEthernet = 1
	arpRequest    = 1
	arpReply      = 2
)

var (
	broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	zeroMAC      = net.HardwareAddr{0, 0, 0, 0, 0, 0}
)

// errMalformed marks a packet that does not parse; it is dropped and counted.
var errMalformed = errors.New("malformed packet")

// arpFrame is an Ethernet frame carrying an IPv4-over-Ethernet ARP packet.
type arpFrame struct {
	ethDst, ethSrc net.HardwareAddr
	op             uint16
	sha            net.HardwareAddr // sender hardware address
	spa            netip.Addr       // sender protocol address
	tha            net.HardwareAddr // target hardware address
	tpa            netip.Addr       // target protocol address
}

// parseARPFrame parses an Ethernet frame holding an ARP request or reply for
// IPv4 over Ethernet. Anything else, including a truncated frame, is
// errMalformed. Trailing padding is ignored. The result does not alias b.
func parseARPFrame(b []byte) (arpFrame, error) {
	var f arpFrame
	if len(b) < ethHeaderLen+arpLen {
		return f, errMalformed
	}
	if binary.BigEndian.Uint16(b[12:14]) != etherTypeARP {
		return f, errMalformed
	}
	p := b[ethHeaderLen:]
	if binary.BigEndian.Uint16(p[0:2]) != arpHTEthernet ||
		binary.BigEndian.Uint16(p[2:4]) != etherTypeIPv4 ||
		p[4] != 6 || p[5] != 4 {
		return f, errMalformed
	}
	f.op = binary.BigEndian.Uint16(p[6:8])
	if f.op != arpRequest && f.op != arpReply {
		return f, errMalformed
	}
	f.ethDst = cloneMAC(b[0:6])
	f.ethSrc = cloneMAC(b[6:12])
	f.sha = cloneMAC(p[8:14])
	f.spa = netip.AddrFrom4([4]byte(p[14:18]))
	f.tha = cloneMAC(p[18:24])
	f.tpa = netip.AddrFrom4([4]byte(p[24:28]))
	return f, nil
}

func cloneMAC(b []byte) net.HardwareAddr { return net.HardwareAddr(append([]byte(nil), b...)) }

// marshal returns the frame padded to the Ethernet minimum.
func (f arpFrame) marshal() []byte {
	b := make([]byte, minFrameLen)
	copy(b[0:6], f.ethDst)
	copy(b[6:12], f.ethSrc)
	binary.BigEndian.PutUint16(b[12:14], etherTypeARP)
	p := b[ethHeaderLen:]
	binary.BigEndian.PutUint16(p[0:2], arpHTEthernet)
	binary.BigEndian.PutUint16(p[2:4], etherTypeIPv4)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], f.op)
	copy(p[8:14], f.sha)
	spa := f.spa.As4()
	copy(p[14:18], spa[:])
	copy(p[18:24], f.tha)
	tpa := f.tpa.As4()
	copy(p[24:28], tpa[:])
	return b
}

// gratuitousARP is the broadcast ARP request a new owner sends: sender and
// target are both the VIP, so every neighbour that has the VIP in its cache
// updates it to mac, and none that does not adds it.
func gratuitousARP(mac net.HardwareAddr, vip netip.Addr) arpFrame {
	return arpFrame{ethDst: broadcastMAC, ethSrc: mac, op: arpRequest,
		sha: mac, spa: vip, tha: zeroMAC, tpa: vip}
}

// arpProbe asks who has vip without claiming it (RFC 5227): sender address
// 0.0.0.0, so no neighbour updates its cache, while any holder answers.
func arpProbe(mac net.HardwareAddr, vip netip.Addr) arpFrame {
	return arpFrame{ethDst: broadcastMAC, ethSrc: mac, op: arpRequest,
		sha: mac, spa: netip.IPv4Unspecified(), tha: zeroMAC, tpa: vip}
}

// arpAnswer is the reply to request q for vip, from mac.
func arpAnswer(q arpFrame, mac net.HardwareAddr, vip netip.Addr) arpFrame {
	return arpFrame{ethDst: q.sha, ethSrc: mac, op: arpReply,
		sha: mac, spa: vip, tha: q.sha, tpa: q.spa}
}

// handleARP decides what one received frame means on link l: it returns the
// reply to send, if any, and raises a conflict when a foreign MAC claims a
// managed VIP. It never blocks.
func (a *Announcer) handleARP(l *link, b []byte) []byte {
	f, err := parseARPFrame(b)
	if err != nil {
		a.count.malformed.Add(1)
		return nil
	}
	if macEqual(f.ethSrc, l.mac) || macEqual(f.sha, l.mac) {
		return nil // our own packet, seen on the way out
	}
	// Whoever sends an ARP packet with a VIP as sender address claims it:
	// a reply, a gratuitous ARP, or a request from a host using the VIP.
	if f.spa.IsValid() && !f.spa.IsUnspecified() && a.isManaged(f.spa) && !a.isMemberMAC(f.sha) {
		a.conflict(Event{Kind: ForeignMAC, VIP: f.spa, MAC: f.sha, Interface: l.name})
	}
	if f.op != arpRequest || f.spa == f.tpa {
		return nil // replies and announcements ask nothing
	}
	if !a.answers(l, f.tpa) {
		return nil
	}
	if len(f.sha) != 6 || f.sha[0]&1 == 1 {
		return nil // no unicast sender to answer to
	}
	return arpAnswer(f, l.mac, f.tpa).marshal()
}

func macEqual(x, y net.HardwareAddr) bool { return string(x) == string(y) }
