package membership

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/vipd/vipd/config"
)

// TestHeartbeatsDetectACrash kills a host without a leave message: every
// other host's view has it dead within a few heartbeat timeouts, long before
// memberlist's failure detector (a probe a second) says so.
func TestHeartbeatsDetectACrash(t *testing.T) {
	key, _ := GenerateKey()
	c := newCluster(t, 3, config.ProfileDefault, key)
	victim := c.remove(2)
	waitHeard(t, c.nodes, victim.Name())
	start := time.Now()
	if err := victim.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitDeadEverywhere(t, c.nodes, victim.Name(), 2*time.Second)
	took := time.Since(start)
	t.Logf("dead in every view after %v", took.Round(time.Millisecond))
	for _, m := range c.nodes {
		if st := m.HeartbeatStats(); st.Deaths != 1 || st.Silent != 1 {
			t.Errorf("%s: heartbeat deaths %d, silent %d, want 1 and 1", m.Name(), st.Deaths, st.Silent)
		}
		if took < time.Second {
			// memberlist has not had time to decide: the member is alive
			// to gossip and silent.
			for _, mem := range m.Members() {
				if mem.Name == victim.Name() && mem.State == StateAlive && !mem.Silent {
					t.Errorf("%s: %s is alive to gossip but not reported silent", m.Name(), mem.Name)
				}
			}
		}
	}
}

// waitDeadEverywhere waits until no host of nodes has name alive in its
// view.
func waitDeadEverywhere(tb testing.TB, nodes []*Membership, name string, within time.Duration) {
	tb.Helper()
	waitFor(tb, within, name+" is still alive in a view", func() bool {
		for _, m := range nodes {
			if alive(m)[name] {
				return false
			}
		}
		return true
	})
}

// waitHeard waits until every host of nodes that watches name (the watch
// ring) has heard its heartbeat while memberlist had it alive: a heartbeat
// that came before counts for nothing, and a host never heard is judged by
// memberlist alone. The others learn of its silence from the watchers.
func waitHeard(tb testing.TB, nodes []*Membership, name string) {
	tb.Helper()
	waitFor(tb, 2*time.Second, "no heartbeat from "+name+" heard while it was alive", func() bool {
		for _, m := range nodes {
			m.hb.mu.Lock()
			r := m.hb.heard[name]
			watches := slices.Contains(watchersOf(m.hb.ringLocked(m.name), name), m.name)
			heard := r != nil && r.alive && !r.last.IsZero()
			m.hb.mu.Unlock()
			if watches && !heard {
				return false
			}
		}
		return true
	})
}

// TestLeaveIsNoDeath: a host that leaves stops sending heartbeats on purpose,
// and nobody counts it dead by heartbeat.
func TestLeaveIsNoDeath(t *testing.T) {
	key, _ := GenerateKey()
	c := newCluster(t, 3, config.ProfileDefault, key)
	leaver := c.remove(2)
	waitFor(t, 2*time.Second, "no heartbeat received", func() bool {
		return c.nodes[0].HeartbeatStats().Received > 0 && c.nodes[1].HeartbeatStats().Received > 0
	})
	if err := leaver.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	if err := leaver.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "the host that left is not gone", func() bool {
		return stateIn(c.nodes[0], leaver.Name()) == StateLeft && stateIn(c.nodes[1], leaver.Name()) == StateLeft
	})
	time.Sleep(2 * Profiles[config.ProfileDefault].HeartbeatTimeout)
	for _, m := range c.nodes {
		if st := m.HeartbeatStats(); st.Deaths != 0 {
			t.Errorf("%s counted %d heartbeat deaths after a leave, want 0", m.Name(), st.Deaths)
		}
	}
}

// TestHeartbeatRule drives the rule by hand: a member never heard is judged
// by gossip alone; one heard and then quiet is dead in the view until it is
// heard again; a stopping heartbeat or gossip seeing it die and come back
// makes it unheard; a late wake-up judges nobody.
func TestHeartbeatRule(t *testing.T) {
	units := someUnits(2)
	m := offline(t, "self", units, Local{})
	m.timing = Profiles[config.ProfileDefault]
	timeout := m.timing.HeartbeatTimeout
	peer := offline(t, "p", units, Local{})
	ev := events{m}
	ev.NotifyJoin(peer.node())
	viewAlive := func() bool { return alive(m)["p"] }
	hb := func(flags byte) { m.receiveHeartbeat(append([]byte{heartbeatMagic, heartbeatVersion, flags}, "p"...)) }

	m.heartbeatRound(time.Now().Add(time.Hour), timeout, false)
	if !viewAlive() {
		t.Fatal("a member never heard from is dead in the view; want it judged by gossip alone")
	}
	hb(0)
	if targets, _, _ := m.heartbeatRound(time.Now(), timeout, false); len(targets) != 1 || targets[0].node.Name != "p" {
		t.Errorf("heartbeat targets %v, want p", targets)
	}
	if _, _, quiet := m.heartbeatRound(time.Now().Add(timeout/2), timeout, false); quiet {
		t.Error("a round before the timeout says a member went quiet")
	}
	if !viewAlive() {
		t.Fatal("dead in the view before the timeout")
	}
	m.heartbeatRound(time.Now().Add(2*timeout), timeout, true)
	if !viewAlive() {
		t.Fatal("a late wake-up judged the member dead")
	}
	// The round that judges it says so: the loop sends that round's
	// notices at once.
	if _, _, quiet := m.heartbeatRound(time.Now().Add(2*timeout), timeout, false); !quiet {
		t.Error("the round that judged the member quiet does not say so; the notices would wait for the next tick")
	}
	if viewAlive() {
		t.Fatal("quiet for twice the timeout, still alive in the view")
	}
	if _, _, quiet := m.heartbeatRound(time.Now().Add(3*timeout), timeout, false); quiet {
		t.Error("a member already judged quiet is news again in the next round")
	}
	if st := m.HeartbeatStats(); st.Deaths != 1 || st.Silent != 1 {
		t.Errorf("stats %+v, want 1 death, 1 silent", st)
	}
	// Heard again: alive once a push/pull brought its state (offline here:
	// mark it done by hand).
	m.hb.mu.Lock()
	m.hb.heard["p"].silent = false
	m.hb.mu.Unlock()
	if !viewAlive() {
		t.Fatal("heard again, still dead in the view")
	}

	// Stopping on purpose: unheard, judged by gossip.
	hb(flagStopping)
	m.heartbeatRound(time.Now().Add(time.Hour), timeout, false)
	if !viewAlive() {
		t.Fatal("a stopping heartbeat made the member dead")
	}

	// Gossip says dead, then alive again (a re-merge): heard before, it
	// starts unheard.
	hb(0)
	n := peer.node()
	n.State = memberlist.StateDead
	ev.NotifyLeave(n)
	ev.NotifyJoin(peer.node())
	m.heartbeatRound(time.Now().Add(time.Hour), timeout, false)
	if !viewAlive() {
		t.Fatal("a member back from the dead is judged by old heartbeats")
	}

	// Not a heartbeat: dropped and counted.
	m.receiveHeartbeat([]byte("hello"))
	if st := m.HeartbeatStats(); st.Dropped != 1 {
		t.Errorf("dropped %d, want 1", st.Dropped)
	}
}

// A member past its timeout is not judged while packets wait unread in the
// gossip socket: its heartbeats may be among them. It is judged once they
// have been read, soon after.
func TestJudgingWaitsForUnreadPackets(t *testing.T) {
	m := offlineWith(t, "s", "a")
	timeout := m.timing.HeartbeatTimeout
	unread := true
	asked := 0
	m.hb.backlog = func() bool { asked++; return unread }
	m.receiveHeartbeat(append([]byte{heartbeatMagic, heartbeatVersion, 0}, "a"...))

	now := time.Now().Add(2 * timeout)
	_, next, quiet := m.heartbeatRound(now, timeout, false)
	if quiet || !alive(m)["a"] {
		t.Fatal("a member was judged quiet while packets waited unread in the socket")
	}
	if next.IsZero() || next.After(now.Add(10*time.Millisecond)) {
		t.Errorf("next judgement at %v after the round, want within 10ms", next.Sub(now))
	}
	unread = false
	if _, _, quiet := m.heartbeatRound(now.Add(backlogRetry), timeout, false); !quiet || alive(m)["a"] {
		t.Error("the socket is read and the member still silent, yet it is not judged quiet")
	}
	// Packets that stay unread for a whole timeout hold judgement back no
	// longer.
	m.hb.mu.Lock() // heard again (offline: by hand)
	m.hb.heard["a"].silent, m.hb.heard["a"].last = false, time.Now()
	m.hb.mu.Unlock()
	unread = true
	stuck := time.Now().Add(2 * timeout)
	if _, _, quiet := m.heartbeatRound(stuck, timeout, false); quiet {
		t.Fatal("judged quiet at once while packets waited unread")
	}
	if _, _, quiet := m.heartbeatRound(stuck.Add(timeout), timeout, false); !quiet {
		t.Error("packets unread for a whole timeout still hold the judgement back")
	}
	unread = false
	// The socket is asked only when a member is about to be judged.
	asked = 0
	m.heartbeatRound(now.Add(2*backlogRetry), timeout, false)
	if asked != 0 {
		t.Errorf("the socket was asked %d times in a round that judged nobody", asked)
	}
}

// A heartbeat loop that wakes late lengthens the timeout it judges with,
// for a while; on-time ticks change nothing.
func TestLateLoopLengthensTheTimeout(t *testing.T) {
	const interval, timeout = 150 * time.Millisecond, 400 * time.Millisecond
	var s loopStress
	t0 := time.Now()
	if s.tick(t0, interval/4, interval, timeout) || s.timeout(t0, timeout) != timeout {
		t.Fatal("a tick a quarter interval late lengthened the timeout")
	}
	if !s.tick(t0, interval, interval, timeout) {
		t.Error("a tick an interval late did not start a stressed spell")
	}
	if got := s.timeout(t0, timeout); got != stressFactor*timeout {
		t.Errorf("timeout after a late tick %v, want %v", got, stressFactor*timeout)
	}
	later := t0.Add(stressHold * timeout / 2)
	if s.tick(later, interval, interval, timeout) {
		t.Error("a late tick within a stressed spell started another")
	}
	end := later.Add(stressHold * timeout)
	if got := s.timeout(end.Add(-time.Millisecond), timeout); got != stressFactor*timeout {
		t.Errorf("timeout before the spell ends %v, want %v", got, stressFactor*timeout)
	}
	if got := s.timeout(end, timeout); got != timeout {
		t.Errorf("timeout once the spell ended %v, want %v", got, timeout)
	}
}
