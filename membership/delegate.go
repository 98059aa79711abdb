package membership

import (
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate answers memberlist's questions. Its methods only take m.mu for
// the time of a copy and never call into memberlist, so they never block it.
type delegate struct{ m *Membership }

func (d delegate) NodeMeta(limit int) []byte {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	if len(d.m.meta) > limit {
		return nil // encodeMeta keeps it within MetaMaxSize; never make memberlist panic
	}
	return d.m.meta
}

// NotifyMsg gets the heartbeats (heartbeat.go), vipd's only user messages.
func (d delegate) NotifyMsg(b []byte) { d.m.receiveHeartbeat(b) }

// GetBroadcasts: vipd broadcasts nothing of its own.
func (d delegate) GetBroadcasts(int, int) [][]byte { return nil }

// LocalState sends this host's unit list and the lists of the other alive
// hosts it knows, so one exchange resolves every config in the cluster.
func (d delegate) LocalState(bool) []byte {
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	lists := []*unitList{m.own}
	seen := map[ConfigFingerprint]bool{m.own.fp: true}
	for _, p := range m.peers {
		if p.state != StateAlive || p.metaErr != nil || seen[p.meta.Config] {
			continue
		}
		if l := m.resolveLocked(p); l != nil && len(lists) < maxLists {
			lists = append(lists, l)
			seen[l.fp] = true
		}
	}
	return encodeState(lists)
}

func (d delegate) MergeRemoteState(buf []byte, _ bool) {
	m := d.m
	lists, err := decodeState(buf)
	if err != nil {
		m.malformedState.Add(1)
		m.log.Debug("dropped push/pull state", "err", err)
		return
	}
	m.mu.Lock()
	added := false
	for _, l := range lists {
		if _, ok := m.lists[l.fp]; !ok {
			m.lists[l.fp] = l
			added = true
		}
	}
	if added {
		m.forgetLocked(time.Now())
		m.refreshSettledLocked()
	}
	m.mu.Unlock()
	if added {
		m.signal()
	}
}

// events tracks the other hosts. memberlist calls it one event at a time.
type events struct{ m *Membership }

func (e events) NotifyJoin(n *memberlist.Node)   { e.m.observe(n, StateAlive) }
func (e events) NotifyUpdate(n *memberlist.Node) { e.m.observe(n, StateAlive) }

// NotifyLeave: memberlist does not tell a leave from a death here (n.State
// is not kept up to date), so a host counts as left when it said it was
// leaving.
func (e events) NotifyLeave(n *memberlist.Node) { e.m.observe(n, StateDead) }

// observe records n, decoding its metadata, and signals a change.
func (m *Membership) observe(n *memberlist.Node, state State) {
	if n.Name == m.name {
		return
	}
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		m.malformedMeta.Add(1)
	}
	addr, _ := netip.AddrFromSlice(n.Addr)
	p := &peer{
		name:    n.Name,
		addr:    netip.AddrPortFrom(addr.Unmap(), n.Port),
		state:   state,
		since:   time.Now(),
		meta:    meta,
		metaErr: err,
	}
	m.mu.Lock()
	old, ok := m.peers[n.Name]
	if err != nil && (!ok || old.metaErr == nil || old.metaErr.Error() != err.Error()) {
		// Once per member and reason, not per gossip message.
		m.log.Warn("a member's node metadata cannot be read, so it takes part in no election here and this host claims nothing new until it can; "+
			"it runs another vipd version, or sends bad metadata: run the same vipd version on every host",
			"member", n.Name, "err", err)
	}
	if state == StateDead && ((err == nil && meta.Leaving) || (ok && old.meta.Leaving)) {
		p.state = StateLeft
	}
	if ok && old.state == p.state {
		p.since = old.since
	}
	m.peers[n.Name] = p
	m.heartbeatMember(n.Name, n.Addr, n.Port, p.state, err == nil && meta.RawHeartbeats, err == nil && meta.StateDigests, metaDigest(n.Meta))
	if !ok || old.state != p.state {
		// A member went (or came back): the re-join loop, asleep while
		// nothing is missing, has a target again (or one less).
		m.wakeRejoin()
	}
	switch p.state {
	case StateDead:
		if _, seen := m.lost[n.Name]; !seen || m.lost[n.Name].addr != p.addr {
			m.lost[n.Name] = lostPeer{addr: p.addr, since: p.since}
		}
	default:
		delete(m.lost, n.Name)
	}
	m.refreshSettledLocked()
	m.mu.Unlock()
	m.signal()
}
