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
	}
	return "unknown"
}

// Event is something the announcer saw on the wire or on a link.
type Event struct {
	Kind EventKind
	// VIP is the address concerned; invalid for link events.
	VIP netip.Addr
	// MAC is the foreign hardware address claiming VIP (ForeignMAC only).
	MAC net.HardwareAddr
	// Interface is where it was seen: the managed interface for ForeignMAC
	// and link events, the interface carrying the address for ForeignAddress.
	Interface string
	At        time.Time
}

// Counters are running totals since New.
type Counters struct {
	GARPSent      uint64 // gratuitous ARPs sent (bursts and refreshes)
	NASent        uint64 // unsolicited neighbor advertisements sent
	ARPReplies    uint64 // ARP replies sent for owned VIPs
	NAReplies     uint64 // solicited neighbor advertisements sent
	ProbesSent    uint64 // ARP probes and NS sent before a fresh claim
	Malformed     uint64 // packets dropped because they did not parse
	Conflicts     uint64 // conflict events raised (before rate limiting of the channel)
	EventsDropped uint64 // events lost because nobody read Events fast enough
	SendErrors    uint64 // packets the kernel refused to send
}

type counters struct {
	garpSent, naSent, arpReplies, naReplies, probesSent atomic.Uint64
	malformed, conflicts, eventsDropped, sendErrors     atomic.Uint64
}

func (c *counters) snapshot() Counters {
	return Counters{
		GARPSent:      c.garpSent.Load(),
		NASent:        c.naSent.Load(),
		ARPReplies:    c.arpReplies.Load(),
		NAReplies:     c.naReplies.Load(),
		ProbesSent:    c.probesSent.Load(),
		Malformed:     c.malformed.Load(),
		Conflicts:     c.conflicts.Load(),
		EventsDropped: c.eventsDropped.Load(),
		SendErrors:    c.sendErrors.Load(),
	}
}
