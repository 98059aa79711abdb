package announcer

import (
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// EventKind is the type of an Event.
type EventKind int

// Kinds of Event.
const (
	// ForeignMAC: a MAC that is not a cluster member's claims a managed VIP
	// (ARP reply, gratuitous ARP, ARP with the VIP as sender, or NA).
	ForeignMAC EventKind = iota + 1
	// ForeignAddress: a managed VIP is on an interface other than vipd0.
	ForeignAddress
	// LinkDown: a managed interface lost its link.
	LinkDown
	// LinkUp: a managed interface has its link back.
	LinkUp
	// MemberAnswers: another cluster member's MAC (see SetClusterMACs)
	// answers ARP, answers a neighbor solicitation, or sends a gratuitous
	// ARP or unsolicited NA for a VIP this host owns (per the last Apply) or
	// watches (per the last Watch). At most one per VIP and MAC every
	// memberAnswersEvery (250 ms).
	MemberAnswers
	// MemberProbes: another cluster member's MAC sends an ARP probe (sender
	// 0.0.0.0, RFC 5227) for an IPv4 VIP this host owns or watches: it
	// holds the VIP too and stands by, or is about to claim it. Rate-limited
	// like MemberAnswers. (An IPv6 probe's sender MAC is not seen here.)
	MemberProbes
)

func (k EventKind) String() string {
	switch k {
	case ForeignMAC:
		return "foreign-mac"
	case ForeignAddress:
		return "foreign-address"
	case LinkDown:
		return "link-down"
	case LinkUp:
		return "link-up"
	case MemberAnswers:
		return "member-answers"
	case MemberProbes:
		return "member-probes"
	}
	return "unknown"
}

// Event is something the announcer saw on the wire or on a link.
type Event struct {
	Kind EventKind
	// VIP is the address concerned; invalid for link events.
	VIP netip.Addr
	// MAC is the hardware address claiming VIP: a foreign one for
	// ForeignMAC, a cluster member's for MemberAnswers and MemberProbes.
	MAC net.HardwareAddr
	// Interface is where it was seen: the managed interface for ForeignMAC,
	// MemberAnswers and link events, the interface carrying the address for
	// ForeignAddress.
	Interface string
	At        time.Time
}

// Counters are running totals since New.
type Counters struct {
	GARPSent      uint64 // gratuitous ARPs sent (bursts and refreshes)
	NASent        uint64 // unsolicited neighbor advertisements sent
	ARPReplies    uint64 // ARP replies sent for owned VIPs
	NAReplies     uint64 // neighbor advertisements sent in answer to a solicitation
	ClaimProbes   uint64 // ARP probes and NS sent before the first claim of a VIP nobody held
	SplitProbes   uint64 // ARP probes and NS sent to hear other holders of watched VIPs
	RefreshProbes uint64 // ARP probes and NS sent with every sixth refresh, to find a foreign holder
	Malformed     uint64 // packets dropped because they did not parse
	Conflicts     uint64 // ForeignMAC and ForeignAddress events raised (before the channel)
	MemberAnswers uint64 // MemberAnswers events raised (before the channel)
	MemberProbes  uint64 // MemberProbes events raised (before the channel)
	EventsDropped uint64 // events lost because nobody read Events fast enough
	SendErrors    uint64 // packets the kernel refused to send
}

type counters struct {
	garpSent, naSent, arpReplies, naReplies         atomic.Uint64
	claimProbes, splitProbes, refreshProbes         atomic.Uint64
	malformed, conflicts, memberAnswers, eventsDrop atomic.Uint64
	memberProbes                                    atomic.Uint64
	sendErrors                                      atomic.Uint64
}

func (c *counters) snapshot() Counters {
	return Counters{
		GARPSent:      c.garpSent.Load(),
		NASent:        c.naSent.Load(),
		ARPReplies:    c.arpReplies.Load(),
		NAReplies:     c.naReplies.Load(),
		ClaimProbes:   c.claimProbes.Load(),
		SplitProbes:   c.splitProbes.Load(),
		RefreshProbes: c.refreshProbes.Load(),
		Malformed:     c.malformed.Load(),
		Conflicts:     c.conflicts.Load(),
		MemberAnswers: c.memberAnswers.Load(),
		MemberProbes:  c.memberProbes.Load(),
		EventsDropped: c.eventsDrop.Load(),
		SendErrors:    c.sendErrors.Load(),
	}
}
