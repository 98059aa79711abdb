// Package bgpwire is what vipd and its BGP helper, vipd-bgp, say to each
// other: one JSON object per line, requests on the helper's stdin and
// replies and events on its stdout.
//
// The helper exists so that the daemon does not carry GoBGP: linked in, it
// made every vipd, BGP or not, map about 5 MiB more of its binary (issue
// #16). vipd starts the helper only when the config has a bgp section.
// Everything the helper does is GoBGP's part of announcing: the sessions,
// the paths and the session status. What vipd owns, which VIP addresses sit
// on vipd0, and when a takeover route settles stay in vipd.
package bgpwire

import (
	"net/netip"
	"time"
)

// Request is one call; the helper answers each with a Reply of the same
// ID, in order. Exactly one of the fields after ID is set.
type Request struct {
	ID uint64 `json:"id"`
	// Start configures and starts the speaker: the first request, once.
	Start *Start `json:"start,omitempty"`
	// Apply changes the announced routes.
	Apply *Apply `json:"apply,omitempty"`
	// Peers asks for every session's status.
	Peers bool `json:"peers,omitempty"`
	// Stop withdraws every route, waits until the peers were sent the
	// withdrawals (at most Stop), closes the sessions and ends the helper
	// after its reply.
	Stop *Stop `json:"stop,omitempty"`
}

// Start is the speaker's global config and its peers.
type Start struct {
	ASN      uint32 `json:"asn"`
	RouterID string `json:"router_id"`
	// Listen is host:port to accept BGP connections on; empty: none.
	Listen string `json:"listen,omitempty"`
	Peers  []Peer `json:"peers"`
}

// Peer is one configured session.
type Peer struct {
	Address netip.Addr `json:"address"`
	ASN     uint32     `json:"asn"`
	Port    uint16     `json:"port"`
	// HoldTime and Keepalive are whole seconds.
	HoldTime  uint64 `json:"hold_time"`
	Keepalive uint64 `json:"keepalive"`
	// Password is the TCP MD5 password vipd read from the password file.
	Password string `json:"password,omitempty"`
	BFD      *BFD   `json:"bfd,omitempty"`
}

// BFD is a session's BFD timers.
type BFD struct {
	MinTx      time.Duration `json:"min_tx"`
	MinRx      time.Duration `json:"min_rx"`
	Multiplier uint32        `json:"multiplier"`
}

// Route is a VIP's /32 or /128 with this host's ASN prepended Prepend
// times.
type Route struct {
	Addr    netip.Addr `json:"addr"`
	Prepend int        `json:"prepend"`
}

// Apply withdraws, then announces (a route announced again replaces its
// path: a new prepend). When it announced a route, it waits until every
// peer of that family established before has been sent an UPDATE since, at
// most Wait.
type Apply struct {
	Withdraw []Route       `json:"withdraw,omitempty"`
	Announce []Route       `json:"announce,omitempty"`
	Wait     time.Duration `json:"wait,omitempty"`
}

// Stop is how long the helper may wait for the withdrawals to leave.
type Stop struct {
	Wait time.Duration `json:"wait"`
}

// Reply answers the Request of the same ID. A Reply with ID 0 is no answer
// but an Event.
type Reply struct {
	ID uint64 `json:"id,omitempty"`
	// Err says why the request failed, in part or whole.
	Err string `json:"err,omitempty"`
	// Failed names the routes of an Apply that failed; the others took.
	Failed []netip.Addr `json:"failed,omitempty"`
	// Peers answers a Peers request.
	Peers []PeerStatus `json:"peers,omitempty"`
	Event *Event       `json:"event,omitempty"`
}

// Event says that an address family's sessions went up (one of its peers
// established) or down (none is).
type Event struct {
	// IPv4 is the family: IPv4 when true, IPv6 when false.
	IPv4 bool `json:"ipv4"`
	Up   bool `json:"up"`
}

// PeerStatus is one BGP session as status and metrics show it.
type PeerStatus struct {
	Address string `json:"address"`
	ASN     uint32 `json:"asn"`
	// State is the session state: idle, connect, active, opensent,
	// openconfirm or established.
	State string `json:"state"`
	// Reason says why a session that is not established went down.
	Reason string `json:"reason,omitempty"`
	// Since is when the session was last established or went down.
	Since time.Time `json:"since,omitzero"`
	// HoldTime is the negotiated hold time of an established session.
	HoldTime time.Duration `json:"hold_time,omitempty"`
	// Announced counts the routes sent to the peer; Received and Accepted
	// count the routes the peer sent to this host.
	Announced uint64 `json:"announced"`
	Received  uint64 `json:"received"`
	Accepted  uint64 `json:"accepted"`
}
