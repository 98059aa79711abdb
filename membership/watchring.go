package membership

import (
	"bytes"
	"slices"
	"time"
)

// Who sends heartbeats to whom.
//
// Sending to every member costs each host (n - 1) packets out and in every
// interval: at 24 hosts that is 300 packets a second per host, more CPU
// than the rest of vipd together. So a host sends its heartbeats only to
// its watchers: the watchersPerHost members that follow it in the ring of
// alive members ordered by name (with 3 hosts, both others; with 24, two of
// them). A watcher that hears a member go quiet counts it dead, as before,
// and tells every other member so with a notice, repeated every interval
// while the member stays quiet and memberlist still shows it alive. A host
// that does not watch a member counts it dead once every watcher of it
// (by its own ring, itself left out) has sent such a notice within the
// heartbeat timeout, and goes on counting it dead while every one of them
// has sent one within noticeHold timeouts; when a watcher's notices stop,
// the member counts as alive again. Two watchers must agree, so one link
// that drops packets kills nobody for the rest of the cluster; notices that
// come late, from hosts too busy to send them on time, do not bring the
// dead member back for a moment, which would hand its VIPs back to it in
// the views of the others until memberlist declared it dead (seconds).
// A watcher that hears the member again says so with a retraction
// (retractRounds of them, for packets that are lost), which ends the hold
// of its notices at once: a member taken for dead because its heartbeats
// came late (a host short of CPU) is alive again in every view within an
// interval of being heard, not noticeHold timeouts later, with its VIPs
// held by a second owner meanwhile.
//
// A host whose watchers change tells the ones it leaves with
// releasingRounds stopping heartbeats, so they do not take the silence
// that follows for a death. Members without version 2 heartbeats (an older
// vipd) get heartbeats from everyone, as they expect, and no notices.
const (
	watchersPerHost = 2
	releasingRounds = 3
	noticeHold      = 5
	retractRounds   = 3

	// flagNotice: the payload is the sender, a zero byte, and the member
	// the sender heard go quiet.
	flagNotice = 1 << 1
	// flagRetract: the payload is as a notice's; the sender hears the
	// member again. A vipd that does not know the flag reads a heartbeat
	// from no member, which it ignores.
	flagRetract = 1 << 4
)

// ringLocked returns the names of the members memberlist sees alive and
// this host's, sorted; callers do not change it. hb.mu is held.
func (h *heartbeatState) ringLocked(self string) []string {
	if h.ring != nil {
		return h.ring
	}
	ring := []string{self}
	for name, r := range h.heard {
		if r.alive && r.node != nil && name != self {
			ring = append(ring, name)
		}
	}
	slices.Sort(ring)
	h.ring = ring
	return ring
}

// changedLocked notes that a member came, went, moved or changed between
// alive and not: the ring and the targets are built again. (What changes
// only the targets sets hb.dirty alone.) hb.mu is held.
func (h *heartbeatState) changedLocked() {
	h.dirty = true
	h.ring = nil
}

// watchersOf returns the watchersPerHost members after name in ring (fewer
// when the ring is small), or nil when name is not in it.
func watchersOf(ring []string, name string) []string {
	i, ok := slices.BinarySearch(ring, name)
	if !ok {
		return nil
	}
	var out []string
	for k := 1; k <= watchersPerHost && k < len(ring); k++ {
		out = append(out, ring[(i+k)%len(ring)])
	}
	return out
}

// targetsLocked returns the members this host sends heartbeats to: its
// watchers, and every alive member without version 2 heartbeats. Members
// it stops sending to get releasingRounds stopping heartbeats. hb.mu is
// held.
func (h *heartbeatState) targetsLocked(self string) []heartbeatTarget {
	watchers := watchersOf(h.ringLocked(self), self)
	var out []heartbeatTarget
	now := map[string]bool{}
	for name, r := range h.heard {
		if r.node == nil || !r.alive {
			continue
		}
		if !r.raw || slices.Contains(watchers, name) {
			out = append(out, heartbeatTarget{node: r.node, addr: r.node.Address(), raw: r.raw, digest: r.digests})
			now[name] = true
		}
	}
	if h.releasing == nil {
		h.releasing = map[string]int{}
	}
	for name := range h.sentTo {
		if !now[name] {
			h.releasing[name] = releasingRounds
		}
	}
	for name := range now {
		delete(h.releasing, name)
	}
	h.sentTo = now
	return out
}

// releasesLocked returns the stopping heartbeats of this round for the
// members this host stopped sending to, counting the rounds down. hb.mu is
// held.
func (h *heartbeatState) releasesLocked() []heartbeatTarget {
	var out []heartbeatTarget
	for name, n := range h.releasing {
		if r := h.heard[name]; r != nil && r.node != nil {
			out = append(out, heartbeatTarget{node: r.node, addr: r.node.Address(), raw: r.raw, flags: flagStopping})
		}
		if n <= 1 {
			delete(h.releasing, name)
		} else {
			h.releasing[name] = n - 1
		}
	}
	return out
}

// noticesLocked returns this round's notices and retractions: for every
// member this host heard go quiet and memberlist still shows alive, or has
// heard again since (retractLocked), one to every other member that reads
// version 2 heartbeats. hb.mu is held.
func (h *heartbeatState) noticesLocked(self string) []heartbeatTarget {
	var out []heartbeatTarget
	for name, r := range h.heard {
		if r.silent && r.alive {
			out = h.toOthersLocked(out, self, name, flagNotice)
		}
	}
	for name, n := range h.retracting {
		// One that went quiet again gets a notice above instead.
		if r := h.heard[name]; r == nil || !r.silent || !r.alive {
			out = h.toOthersLocked(out, self, name, flagRetract)
		}
		if n <= 1 {
			delete(h.retracting, name)
		} else {
			h.retracting[name] = n - 1
		}
	}
	return out
}

// toOthersLocked appends a packet with flag about member about to every
// alive member but this host and about that reads version 2 heartbeats
// and is not silent. hb.mu is held.
func (h *heartbeatState) toOthersLocked(out []heartbeatTarget, self, about string, flag byte) []heartbeatTarget {
	for name, r := range h.heard {
		if name == about || name == self || !r.alive || !r.raw || r.silent || r.node == nil {
			continue
		}
		out = append(out, heartbeatTarget{node: r.node, addr: r.node.Address(), raw: true, flags: flag, notice: about})
	}
	return out
}

// retractLocked makes the next retractRounds rounds tell every member that
// this host hears name again, after its notices said it went quiet. hb.mu
// is held.
func (h *heartbeatState) retractLocked(name string) {
	if h.retracting == nil {
		h.retracting = map[string]int{}
	}
	h.retracting[name] = retractRounds
}

// noteRetraction forgets sender's notices about the member payload names:
// sender hears it again. The next round counts it alive unless its other
// watchers still report it. hb.mu is held.
func (h *heartbeatState) noteRetraction(payload []byte) {
	sender, q, ok := bytes.Cut(payload, []byte{0})
	if !ok || len(sender) == 0 || len(q) == 0 {
		return
	}
	delete(h.reports[string(q)], string(sender))
}

// noteNotice records a notice from sender that accused went quiet, and
// reports whether that made accused count as dead here. hb.mu is held.
func (h *heartbeatState) noteNotice(self string, payload []byte, now time.Time, timeout time.Duration) (accused string, died bool) {
	sender, q, ok := bytes.Cut(payload, []byte{0})
	if !ok || len(sender) == 0 || len(q) == 0 || string(q) == self {
		return "", false
	}
	accused = string(q)
	if h.heard[accused] == nil {
		return "", false
	}
	was := h.deadByReport[accused] || h.reportedDeadLocked(self, accused, now, timeout)
	if h.reports == nil {
		h.reports = map[string]map[string]time.Time{}
	}
	if h.reports[accused] == nil {
		h.reports[accused] = map[string]time.Time{}
	}
	h.reports[accused][string(sender)] = now
	return accused, !was && h.reportedDeadLocked(self, accused, now, timeout)
}

// reportedDeadLocked reports whether name counts as dead here by notices:
// this host does not hear it directly, memberlist shows it alive, and every
// watcher of it but this host sent a notice within timeout. hb.mu is held.
func (h *heartbeatState) reportedDeadLocked(self, name string, now time.Time, timeout time.Duration) bool {
	r := h.heard[name]
	if r == nil || !r.alive || !r.last.IsZero() || len(h.reports[name]) == 0 {
		return false
	}
	n := 0
	for _, w := range watchersOf(h.ringLocked(self), name) {
		if w == self {
			continue
		}
		at, ok := h.reports[name][w]
		if !ok || now.Sub(at) > timeout {
			return false
		}
		n++
	}
	return n > 0
}

// reportedDeadSetLocked returns the members that count as dead by notices
// now, and forgets notices older than noticeHold timeouts. hb.mu is held.
func (h *heartbeatState) reportedDeadSetLocked(self string, now time.Time, timeout time.Duration) map[string]bool {
	out := map[string]bool{}
	hold := noticeHold * timeout
	for name, from := range h.reports {
		if h.reportedDeadLocked(self, name, now, timeout) || (h.deadByReport[name] && h.reportedDeadLocked(self, name, now, hold)) {
			out[name] = true
		}
		for w, at := range from {
			if now.Sub(at) > hold {
				delete(from, w)
			}
		}
		if len(from) == 0 {
			delete(h.reports, name)
		}
	}
	return out
}
