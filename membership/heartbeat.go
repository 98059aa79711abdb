package membership

import (
	"encoding/binary"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Heartbeats.
//
// memberlist runs at membership-grade timings (a probe a second by default),
// which would take seconds to declare a crashed host dead. The owner of a
// VIP must be replaced faster, so every host also sends a tiny heartbeat to
// its watchers (watchring.go: with up to 3 hosts, every other host; beyond,
// the two that follow it by name) every Timing.HeartbeatInterval: a small
// packet to the gossip port over UDP, encrypted and authenticated with the
// gossip keys (heartbeat_wire.go), so a firewall that cuts gossip cuts
// heartbeats too, and a host with another key is not heard. The watchers
// tell the others when a member goes quiet.
//
// The rule: a host that has heard heartbeats from a member, and then hears
// none for Timing.HeartbeatTimeout, reports that member not alive in View
// (the election's view) until a heartbeat comes again or memberlist itself
// decides. Heartbeats never make a member alive that memberlist says is not.
// A member never heard from (a version without heartbeats, during a rolling
// upgrade, or a member that has just joined) is judged by memberlist alone.
//
// False deaths are avoided so:
//   - a host that stops sending to a member on purpose (its watchers
//     changed) sends it stopping heartbeats first; nobody stops sending to a
//     live host because of who owns what; and a host judges only the
//     members it watches by its own ring, so stopping heartbeats that were
//     lost kill nobody;
//   - a host that stops on purpose (Leave) sends a last heartbeat with the
//     stopping flag; its receivers forget what they heard from it and leave
//     it to memberlist, which gets the leave message;
//   - a receiver whose own loop woke late (the process was stalled, by the
//     scheduler or a pause) judges nobody on that wake-up: the heartbeats may
//     be waiting in its socket; and before it judges a member quiet it asks
//     the socket whether packets wait unread, and if so judges again once
//     the read loop has run;
//   - a host whose loop woke late lately judges with a longer timeout for a
//     while (heartbeat_stress.go): the members it watches may have been
//     starved of CPU with it;
//   - a member that memberlist sees alive again after a death (a re-merge, a
//     restart) starts unheard: only heartbeats received after that count.
//
// Cost: per host, a heartbeat of 3 bytes plus the node name (plus the
// AES-GCM nonce and tag, 28 bytes) to each watcher per interval, out and as
// many in: about 13 packets a second each way at the default 150 ms,
// whatever the size of the cluster. A packet costs a send and a wake-up at
// each end, so heartbeats are the largest part of vipd's idle cost; they
// bypass memberlist to keep each one cheap (heartbeat_wire.go). A timeout
// of two intervals and a bit is the tightest rule that still forgives one
// lost packet.

// heartbeatMagic starts every heartbeat; other user messages are dropped.
// heartbeatVersion is the version sent as a memberlist user message (see
// heartbeat_wire.go for version 2).
const (
	heartbeatMagic   = 0xb7
	heartbeatVersion = 1

	flagStopping = 1 << 0
)

// heartbeatState is the heartbeat bookkeeping, under its own mutex, which is
// taken after m.mu when both are needed and never held while calling
// memberlist.
type heartbeatState struct {
	mu sync.Mutex
	// heard is what this host heard from each member memberlist knows, by
	// name; a name not in it (not a member) is ignored.
	heard map[string]*heard
	// targets are the members heartbeats go to, rebuilt when a member's
	// state changes (dirty).
	targets []heartbeatTarget
	dirty   bool
	// ring is the watch ring (ringLocked), nil when a member's state
	// changed since it was built.
	ring []string
	// stopped: Leave sent the stopping heartbeat; send no more.
	stopped bool

	msg  []byte // this host's version 1 heartbeat
	stop []byte // this host's version 1 stopping heartbeat

	// sealer seals and opens version 2 heartbeats; wire sends them.
	sealer heartbeatSealer
	wire   memberlist.NodeAwareTransport
	// backlog reports packets waiting in the gossip socket, unread (nil:
	// never); backlogSince is when judging began to wait for them.
	backlog      func() bool
	backlogSince time.Time
	// digest is this host's metadata digest (statedigest.go); pushed is
	// the last one pushState sent.
	digest atomic.Uint32
	pushed uint32
	// scratch is the decryption buffer of the transport's read loop, the
	// only caller of receiveRawHeartbeat.
	scratch []byte

	// The watch ring (watchring.go): the members sent to at the last
	// rebuild, those being released, and the notices received, by accused
	// member and sender, with the members they make dead here.
	sentTo       map[string]bool
	releasing    map[string]int
	reports      map[string]map[string]time.Time
	deadByReport map[string]bool
	// retracting: members this host heard again after its notices, with
	// the rounds of retractions left to send.
	retracting map[string]int

	sent, received, deaths, dropped, stressed atomic.Uint64
}

// heartbeatTarget is a member heartbeats go to.
type heartbeatTarget struct {
	node *memberlist.Node
	addr string // node's host:port, for the transport
	// raw: the member reads version 2 heartbeats (its metadata says so);
	// digest: and heartbeats that carry a state digest.
	raw, digest bool
	// flags of this packet: 0, flagStopping (a release), flagNotice or
	// flagRetract; notice names the member those are about.
	flags  byte
	notice string
}

// heard is what this host heard from one member.
type heard struct {
	node *memberlist.Node
	// raw: the member's metadata says it reads version 2 heartbeats;
	// digests: and heartbeats with a state digest.
	raw, digests bool
	// alive: memberlist sees the member alive.
	alive bool
	// last is when its last heartbeat came; zero when none counts yet.
	last time.Time
	// silent: it went quiet, and View reports it not alive.
	silent bool
	// syncing: it is heard again, and stays silent until a push/pull has
	// brought its current metadata (what it holds now, not before it went
	// quiet).
	syncing bool
	// announced is the digest of its metadata it last sent, at announcedAt
	// (statedigest.go); zero time when none. metaDigest is the digest of
	// the metadata this host has; pendingSince is when they started to
	// differ (zero: they do not), pulledAt when this host last asked the
	// member for its state because of it.
	announced    uint32
	announcedAt  time.Time
	metaDigest   uint32
	pendingSince time.Time
	pulledAt     time.Time
}

func (m *Membership) initHeartbeats() {
	h := &m.hb
	h.heard = map[string]*heard{}
	h.msg = append([]byte{heartbeatMagic, heartbeatVersion, 0}, m.name...)
	h.stop = append([]byte{heartbeatMagic, heartbeatVersion, flagStopping}, m.name...)
	// Room for the longest node name memberlist allows, so decrypting
	// allocates nothing.
	h.scratch = make([]byte, 0, 512)
}

// heartbeatMember records memberlist's view of a member: called by observe
// with m.mu held. A member that memberlist sees go or come back starts
// unheard.
func (m *Membership) heartbeatMember(name string, addr net.IP, port uint16, state State, raw, digests bool, metaDigest uint32) {
	h := &m.hb
	h.mu.Lock()
	defer h.mu.Unlock()
	alive := state == StateAlive
	if h.heard == nil {
		h.heard = map[string]*heard{}
	}
	r := h.heard[name]
	if r == nil {
		r = &heard{}
		h.heard[name] = r
	}
	if r.node == nil || !r.node.Addr.Equal(addr) || r.node.Port != port {
		r.node = &memberlist.Node{Name: name, Addr: append(net.IP(nil), addr...), Port: port}
		h.changedLocked()
	}
	if r.alive != alive {
		r.alive = alive
		r.last, r.silent, r.syncing = time.Time{}, false, false
		r.announcedAt = time.Time{}
		delete(h.reports, name)
		h.changedLocked()
	}
	if r.raw != raw || r.digests != digests {
		r.raw, r.digests = raw, digests
		h.dirty = true
	}
	r.metaDigest = metaDigest
	r.refreshPending(time.Now())
}

// heartbeatForget drops a member memberlist no longer knows; m.mu is held.
func (m *Membership) heartbeatForget(name string) {
	m.hb.mu.Lock()
	delete(m.hb.heard, name)
	m.hb.changedLocked()
	m.hb.mu.Unlock()
}

// silentLocked reports whether name went quiet, as this host heard it or
// as its watchers report; m.mu is held.
func (m *Membership) silentLocked(name string) bool {
	m.hb.mu.Lock()
	defer m.hb.mu.Unlock()
	r := m.hb.heard[name]
	return r != nil && (r.silent || m.hb.deadByReport[name])
}

// receiveHeartbeat handles a user message, a version 1 heartbeat; it runs
// on memberlist's packet handler.
func (m *Membership) receiveHeartbeat(b []byte) {
	if len(b) < 4 || b[0] != heartbeatMagic || b[1] != heartbeatVersion {
		m.hb.dropped.Add(1)
		return
	}
	m.heardHeartbeat(b[2], b[3:])
}

// receiveRawHeartbeat handles a version 2 heartbeat; it runs on the
// transport's read loop, which owns hb.scratch.
func (m *Membership) receiveRawHeartbeat(b []byte) {
	h := &m.hb
	flags, name, ok := h.sealer.open(h.scratch, b)
	if !ok {
		h.dropped.Add(1)
		return
	}
	m.heardHeartbeat(flags, name)
}

// heardHeartbeat records a heartbeat from name (with flagDigest, the
// digest and the name); it only takes the heartbeat mutex.
func (m *Membership) heardHeartbeat(flags byte, name []byte) {
	h := &m.hb
	var digest uint32
	if flags&flagDigest != 0 {
		var ok bool
		if digest, name, ok = cutDigest(name); !ok {
			h.dropped.Add(1)
			return
		}
	}
	now := time.Now()
	h.mu.Lock()
	if flags&flagRetract != 0 {
		h.noteRetraction(name)
		h.mu.Unlock()
		h.received.Add(1)
		return
	}
	if flags&flagNotice != 0 {
		accused, died := h.noteNotice(m.name, name, now, m.timing.HeartbeatTimeout)
		if died {
			if h.deadByReport == nil {
				h.deadByReport = map[string]bool{}
			}
			h.deadByReport[accused] = true
		}
		h.mu.Unlock()
		h.received.Add(1)
		if died {
			h.deaths.Add(1)
			m.log.Info("every watcher of a member reports it silent; it counts as dead until they stop or gossip decides", "member", accused)
			m.signal()
		}
		return
	}
	r := h.heard[string(name)]
	if r != nil && r.alive && flags&flagDigest != 0 {
		r.noteDigest(digest, now)
	}
	if flags&flagStateOnly != 0 {
		h.mu.Unlock()
		h.received.Add(1)
		return
	}
	if r == nil || !r.alive {
		// Not a member yet, or dead to memberlist: heartbeats do not
		// bring it back, a re-join does. Only watchers of alive members
		// are sent to (watchring.go), and the next round forgets last.
		if r != nil && flags&flagStopping == 0 {
			if r.last.IsZero() {
				h.dirty = true
			}
			r.last = now
		}
		h.mu.Unlock()
		h.received.Add(1)
		return
	}
	var resync *memberlist.Node
	switch {
	case flags&flagStopping != 0:
		r.last, r.silent, r.syncing = time.Time{}, false, false
	case r.silent && !r.syncing && r.node != nil:
		r.last, r.syncing = now, true
		resync = r.node
	default:
		r.last = now
	}
	h.mu.Unlock()
	h.received.Add(1)
	if resync != nil {
		m.stopped.Add(1)
		go m.resync(resync)
	}
}

// resync exchanges state with a member heard again after it went quiet,
// then counts it alive: its metadata may have changed while nothing got
// through.
func (m *Membership) resync(n *memberlist.Node) {
	defer m.stopped.Done()
	if m.stopping() {
		return
	}
	_, err := m.ml.Join([]string{n.Address()})
	h := &m.hb
	h.mu.Lock()
	r := h.heard[n.Name]
	back := r != nil && r.syncing && err == nil
	if r != nil {
		r.syncing = false
		if back {
			r.silent = false
			h.retractLocked(n.Name)
		}
	}
	h.mu.Unlock()
	if err != nil {
		m.log.Debug("exchanging state with a member heard again", "member", n.Name, "err", err)
		return // the next heartbeat tries again
	}
	if back {
		m.log.Info("heartbeats from a member resumed and its state is current; it counts as alive again", "member", n.Name)
		m.signal()
	}
}

// heartbeats sends this host's heartbeat every HeartbeatInterval and
// judges a member that went quiet when its HeartbeatTimeout ends, until done
// is closed.
func (m *Membership) heartbeats() {
	defer m.stopped.Done()
	interval, timeout := m.timing.HeartbeatInterval, m.timing.HeartbeatTimeout
	ticks, stop := m.heartbeatTicks(interval)
	defer stop()
	// due is when the first member's timeout ends. The ticks judge too, so
	// judge is armed only when that end may come before the next tick (at
	// most an interval away): while every member is heard on time, the
	// loop wakes for nothing but its ticks (an idle host's every wake-up
	// costs CPU), and a member that goes quiet is still judged the moment
	// its timeout ends.
	judge := time.NewTimer(timeout)
	defer judge.Stop()
	due := time.Now().Add(timeout)
	armed := true
	var buf []byte
	var stress loopStress
	for {
		var send bool
		var ticked time.Time
		select {
		case <-m.done:
			return
		case ticked = <-ticks:
			send = true
		case <-judge.C:
			armed = false
		}
		now := time.Now()
		if send && stress.tick(now, now.Sub(ticked), interval, timeout) {
			m.hb.stressed.Add(1)
			m.log.Info("this host's heartbeat loop woke late, so the host is short of CPU (see its load); until the loop runs on time it judges other members' silence with a longer timeout, and a crash takes longer to notice",
				"late_by", now.Sub(ticked).Round(time.Millisecond), "timeout", stressFactor*timeout, "for_at_least", stressHold*timeout)
		}
		judging := stress.timeout(now, timeout)
		// A wake-up this late means the process was stalled: the
		// heartbeats may be waiting in the socket, so judge nobody.
		late := now.Sub(due) > judging/2
		targets, next, quiet := m.heartbeatRound(now, judging, late)
		if next.IsZero() {
			next = now.Add(judging)
		}
		switch {
		case !next.Before(now.Add(interval)):
			if armed {
				judge.Stop()
				armed = false
			}
		case !armed || !next.Equal(due):
			judge.Reset(max(next.Sub(now), time.Millisecond))
			armed = true
		}
		due = next
		// A member that just went quiet is news the others wait for: the
		// round, notices included, goes out now, not at the next tick.
		if !send && !quiet {
			continue
		}
		buf = m.sendHeartbeats(buf, targets, 0)
	}
}

// heartbeatTicks returns the heartbeat loop's ticks and the function that
// stops them: a quietTicker's, or a time.Ticker's where the kernel refuses
// a timerfd.
func (m *Membership) heartbeatTicks(interval time.Duration) (<-chan time.Time, func()) {
	quiet, err := newQuietTicker(interval)
	if err == nil {
		return quiet.C, quiet.Stop
	}
	m.log.Warn("heartbeats tick on a Go timer instead, which costs an idle host a little more CPU", "err", err)
	tick := time.NewTicker(interval)
	return tick.C, tick.Stop
}

// sendHeartbeats sends one heartbeat to every target, with flags on top
// of the target's own, sealing version 2 ones in buf, which it returns for
// the next round. Notices go only to version 2 targets.
func (m *Membership) sendHeartbeats(buf []byte, targets []heartbeatTarget, flags byte) []byte {
	h := &m.hb
	var digest [4]byte
	binary.BigEndian.PutUint32(digest[:], h.digest.Load())
	for _, t := range targets {
		f := flags | t.flags
		var err error
		switch {
		case t.raw && f&(flagNotice|flagRetract) != 0:
			buf = h.sealer.seal(buf[:0], f, nil, m.name+"\x00"+t.notice)
			_, err = h.wire.WriteTo(buf, t.addr)
		case t.raw && t.digest:
			buf = h.sealer.seal(buf[:0], f|flagDigest, digest[:], m.name)
			_, err = h.wire.WriteTo(buf, t.addr)
		case t.raw:
			buf = h.sealer.seal(buf[:0], f, nil, m.name)
			_, err = h.wire.WriteTo(buf, t.addr)
		case f&(flagNotice|flagRetract) != 0:
			continue
		case f&flagStopping != 0:
			err = m.ml.SendBestEffort(t.node, h.stop)
		default:
			err = m.ml.SendBestEffort(t.node, h.msg)
		}
		if err != nil {
			m.log.Debug("sending a heartbeat", "member", t.node.Name, "err", err)
			continue
		}
		h.sent.Add(1)
	}
	return buf
}

// heartbeatRound judges the members that went quiet and returns the members
// to send to (nil once stopped), when the next member's timeout ends (zero:
// none is heard), and whether a member went quiet in this round.
func (m *Membership) heartbeatRound(now time.Time, timeout time.Duration, late bool) ([]heartbeatTarget, time.Time, bool) {
	h := &m.hb
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return nil, time.Time{}, false
	}
	var quiet []string
	var next time.Time
	backlog := unchecked
	ring := h.ringLocked(m.name)
	for name, r := range h.heard {
		if r.last.IsZero() {
			continue
		}
		if r.raw && !slices.Contains(watchersOf(ring, name), m.name) {
			// This host no longer watches the member (the ring changed):
			// its heartbeats stopped on purpose, though the stopping ones
			// may have been lost. Its silence is no death; its watchers
			// judge it now. (An ex-watcher that took it for dead would
			// keep it dead while memberlist shows it alive, and claim its
			// VIPs while it answers them.)
			r.last, r.silent, r.syncing = time.Time{}, false, false
			continue
		}
		if end := r.last.Add(timeout); now.Before(end) || now.Equal(end) {
			if !r.silent && r.alive && (next.IsZero() || end.Before(next)) {
				next = end
			}
			continue
		}
		if !r.alive {
			// A dead member that sent heartbeats stopped: stop sending.
			r.last = time.Time{}
			h.dirty = true
			continue
		}
		if r.silent || late {
			continue
		}
		if backlog == unchecked {
			backlog = h.backlogLocked(now, timeout)
		}
		if backlog == waiting {
			// Its heartbeats may be among the packets not read yet (the
			// read loop did not run since the process woke): judge again
			// once it has.
			if end := now.Add(backlogRetry); next.IsZero() || end.Before(next) {
				next = end
			}
			continue
		}
		r.silent = true
		quiet = append(quiet, name)
	}
	if backlog != waiting {
		h.backlogSince = time.Time{}
	}
	if h.dirty {
		h.targets = h.targetsLocked(m.name)
		h.dirty = false
	}
	targets := h.targets
	if extra := append(h.releasesLocked(), h.noticesLocked(m.name)...); len(extra) > 0 {
		targets = append(slices.Clone(targets), extra...)
	}
	dead := h.reportedDeadSetLocked(m.name, now, timeout)
	reportsChanged := !maps.Equal(dead, h.deadByReport)
	var back []string
	for name := range h.deadByReport {
		if !dead[name] {
			back = append(back, name)
		}
	}
	h.deadByReport = dead
	pulls := h.pullsLocked(now)
	h.mu.Unlock()
	for _, n := range pulls {
		if m.pull != nil {
			m.stopped.Add(1)
			go m.pull(n)
		}
	}
	for _, name := range quiet {
		h.deaths.Add(1)
		m.log.Info("no heartbeat from a member; it counts as dead until it is heard again or gossip decides",
			"member", name, "silent_for", timeout)
	}
	for _, name := range back {
		m.log.Info("the watchers of a member stopped reporting it silent; it counts as alive again", "member", name)
	}
	if len(quiet) > 0 || reportsChanged {
		m.signal()
	}
	return targets, next, len(quiet) > 0
}

// socketBacklog is what heartbeatRound learnt of the gossip socket: asked
// only when a member is about to be judged quiet, once a round.
type socketBacklog int

const (
	unchecked socketBacklog = iota
	notWaiting
	waiting
)

// backlogRetry is how soon a member whose judgement waited for unread
// packets is judged again: long enough for the read loop to run.
const backlogRetry = time.Millisecond

// backlogLocked asks the socket whether packets wait unread. Packets that
// stay unread for a whole timeout (a read loop stuck behind memberlist's
// handler) hold judgement back no longer. hb.mu is held.
func (h *heartbeatState) backlogLocked(now time.Time, timeout time.Duration) socketBacklog {
	if h.backlog == nil || !h.backlog() {
		return notWaiting
	}
	if h.backlogSince.IsZero() {
		h.backlogSince = now
	}
	if now.Sub(h.backlogSince) >= timeout {
		return notWaiting
	}
	return waiting
}

// stopHeartbeats sends the stopping heartbeat to every member it sends to,
// and stops sending: the others leave this host to memberlist.
func (m *Membership) stopHeartbeats() {
	h := &m.hb
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	h.stopped = true
	targets := h.targetsLocked(m.name)
	h.mu.Unlock()
	m.sendHeartbeats(nil, targets, flagStopping)
}

// HeartbeatStats counts heartbeats (the metrics' figures).
type HeartbeatStats struct {
	Sent, Received, Dropped uint64
	// Deaths counts the times a member went quiet and was counted dead.
	Deaths uint64
	// Silent is the number of members counted dead now by heartbeat alone.
	Silent int
	// LateLoops counts the spells the loop judged with a longer timeout
	// because it woke late (heartbeat_stress.go).
	LateLoops uint64
}

// HeartbeatStats returns the heartbeat counts.
func (m *Membership) HeartbeatStats() HeartbeatStats {
	h := &m.hb
	s := HeartbeatStats{Sent: h.sent.Load(), Received: h.received.Load(), Dropped: h.dropped.Load(), Deaths: h.deaths.Load(), LateLoops: h.stressed.Load()}
	h.mu.Lock()
	for _, r := range h.heard {
		if r.silent {
			s.Silent++
		}
	}
	h.mu.Unlock()
	return s
}
