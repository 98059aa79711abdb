package membership

import (
	"encoding/binary"
	"hash/crc32"
	"slices"
	"time"

	"github.com/hashicorp/memberlist"
)

// State digests.
//
// A host's metadata (what it passes, what it holds) reaches the others by
// memberlist's gossip: within a gossip round or two, later when a host is
// loaded. A host that claims a unit nobody held acts on its copy of that
// metadata, so when another host claimed the unit a moment before and the
// news is still on its way, both claim it. To close that gap, every
// heartbeat to a member that reads them carries a digest of the sender's
// current metadata (CRC-32 of its bytes), and when the metadata changes the
// host at once sends a state-only heartbeat with the new digest to every
// alive member, ahead of the gossip. A receiver whose copy of a member's
// metadata has another digest knows that member's state is on its way:
// Pending names it, and the agent holds first claims until it arrives.
//
// A digest heard more than pendingFor ago is not believed any more: a
// reordered or lost packet must not hold claims back for good. Watchers
// hear the digest again with every heartbeat.
//
// memberlist's gossip reaches every member with high probability, not
// always: a member that hears a digest and still lacks the metadata after
// pullAfter asks the sender for its state at once (a push/pull), instead
// of waiting up to a push/pull interval. A host handing its VIPs over on
// SIGTERM waited 4.5 s that way for one new owner's claim.
const (
	pendingFor = 2 * time.Second
	pullAfter  = 500 * time.Millisecond
)

const (
	// flagDigest: the payload starts with the 4-byte digest of the
	// sender's metadata, big endian, before the name.
	flagDigest = 1 << 2
	// flagStateOnly: the packet announces a new digest and is no
	// heartbeat: it says nothing about liveness to a member that does not
	// watch the sender.
	flagStateOnly = 1 << 3
)

func metaDigest(meta []byte) uint32 { return crc32.ChecksumIEEE(meta) }

// cutDigest splits a heartbeat payload with flagDigest into the digest and
// the rest; ok is false when the payload is too short to hold a name.
func cutDigest(payload []byte) (digest uint32, rest []byte, ok bool) {
	if len(payload) < 5 {
		return 0, nil, false
	}
	return binary.BigEndian.Uint32(payload), payload[4:], true
}

// noteDigest records the digest a member announced; hb.mu is held.
func (r *heard) noteDigest(digest uint32, now time.Time) {
	r.announced, r.announcedAt = digest, now
	r.refreshPending(now)
}

// refreshPending notes whether the announced digest and the metadata's
// differ, and since when; hb.mu is held.
func (r *heard) refreshPending(now time.Time) {
	switch {
	case r.announcedAt.IsZero() || r.announced == r.metaDigest:
		r.pendingSince = time.Time{}
	case r.pendingSince.IsZero():
		r.pendingSince = now
	}
}

// pullsLocked returns the alive members whose announced state has not
// arrived for pullAfter, at most one pull per member every pullAfter, and
// notes the pulls; hb.mu is held.
func (h *heartbeatState) pullsLocked(now time.Time) []*memberlist.Node {
	var out []*memberlist.Node
	for _, r := range h.heard {
		if !r.alive || r.node == nil || r.pendingSince.IsZero() || now.Sub(r.announcedAt) > pendingFor ||
			now.Sub(r.pendingSince) < pullAfter || now.Sub(r.pulledAt) < pullAfter {
			continue
		}
		r.pulledAt = now
		out = append(out, r.node)
	}
	return out
}

// pullState exchanges state with n (memberlist's push/pull), which brings
// its current metadata; it is m.pull.
func (m *Membership) pullState(n *memberlist.Node) {
	defer m.stopped.Done()
	if m.stopping() {
		return
	}
	if _, err := m.ml.Join([]string{n.Address()}); err != nil {
		m.log.Debug("asking a member for the state it announced", "member", n.Name, "err", err)
	}
}

// pushState sends this host's new digest to every alive member that reads
// digests, once per change of the metadata.
func (m *Membership) pushState() {
	h := &m.hb
	digest := h.digest.Load()
	h.mu.Lock()
	if h.stopped || digest == h.pushed {
		h.mu.Unlock()
		return
	}
	h.pushed = digest
	var targets []heartbeatTarget
	for _, r := range h.heard {
		if r.alive && r.raw && r.digests && r.node != nil {
			targets = append(targets, heartbeatTarget{node: r.node, addr: r.node.Address(), raw: true, digest: true, flags: flagStateOnly})
		}
	}
	h.mu.Unlock()
	m.sendHeartbeats(nil, targets, 0)
}

// Pending returns the alive members that announced, within pendingFor, a
// state whose metadata has not reached this host yet, sorted.
func (m *Membership) Pending() []string {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hb.mu.Lock()
	defer m.hb.mu.Unlock()
	var out []string
	for name, r := range m.hb.heard {
		p := m.peers[name]
		if p == nil || p.state != StateAlive || p.metaErr != nil || !r.alive ||
			r.pendingSince.IsZero() || now.Sub(r.announcedAt) > pendingFor {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
