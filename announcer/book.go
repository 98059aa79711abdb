package announcer

import (
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
)

// book is who is who, read by the responders on every packet: the managed
// VIPs, those this host owns (per the last Apply) and watches (per the last
// Watch), the responder answering for each claimed VIP, and the MACs of this
// host and of the other cluster members. Its methods are safe for
// concurrent use.
type book struct {
	mu        sync.RWMutex
	managed   map[netip.Addr]string     // every VIP -> its interface
	owned     map[netip.Addr]string     // per the last Apply
	watched   map[netip.Addr]string     // per the last Watch
	answering map[netip.Addr]*responder // claims in force
	own       map[string]bool           // this host's MACs, as strings of bytes
	members   map[string]bool           // other members' MACs; own ones excluded
}

func newBook() *book {
	return &book{
		managed:   map[netip.Addr]string{},
		owned:     map[netip.Addr]string{},
		watched:   map[netip.Addr]string{},
		answering: map[netip.Addr]*responder{},
		own:       map[string]bool{},
		members:   map[string]bool{},
	}
}

// sender is what a MAC heard claiming a VIP is to this host.
type sender int

const (
	senderSelf    sender = iota + 1 // this host's own frame, seen on the way out
	senderMember                    // another cluster member
	senderForeign                   // anything else
)

// verdict is everything a handler needs to know about one VIP and one MAC,
// read under one lock.
type verdict struct {
	from       sender
	managed    bool // vip is a managed VIP
	interested bool // vip is owned or watched: a member answering for it is news
}

func (b *book) judge(vip netip.Addr, mac net.HardwareAddr) verdict {
	b.mu.RLock()
	defer b.mu.RUnlock()
	v := verdict{from: senderForeign}
	switch {
	case b.own[string(mac)]:
		v.from = senderSelf
	case b.members[string(mac)]:
		v.from = senderMember
	}
	_, v.managed = b.managed[vip]
	_, owned := b.owned[vip]
	_, watched := b.watched[vip]
	v.interested = owned || watched
	return v
}

// isOwn reports whether mac is one of this host's managed interfaces.
func (b *book) isOwn(mac net.HardwareAddr) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.own[string(mac)]
}

// answers reports whether r answers for vip right now.
func (b *book) answers(r *responder, vip netip.Addr) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.answering[vip] == r
}

func (b *book) isManaged(vip netip.Addr) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.managed[vip]
	return ok
}

// addOwn records a MAC of this host; it is never a member's.
func (b *book) addOwn(mac net.HardwareAddr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.own[string(mac)] = true
	delete(b.members, string(mac))
}

// setMembers replaces the other members' MACs; this host's are left out.
func (b *book) setMembers(macs []net.HardwareAddr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.members = map[string]bool{}
	for _, m := range macs {
		if !b.own[string(m)] {
			b.members[string(m)] = true
		}
	}
}

// memberMACs returns the other members' MACs, sorted; b.mu is held.
func (b *book) memberMACs() []net.HardwareAddr {
	out := make([]net.HardwareAddr, 0, len(b.members))
	for _, k := range slices.Sorted(maps.Keys(b.members)) {
		out = append(out, net.HardwareAddr(k))
	}
	return out
}
