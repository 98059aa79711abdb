package membership

import (
	"slices"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

func TestWatchersOfFollowTheRing(t *testing.T) {
	ring := []string{"a", "b", "c", "d", "e"}
	for _, tc := range []struct {
		name string
		want []string
	}{{"a", []string{"b", "c"}}, {"d", []string{"e", "a"}}, {"e", []string{"a", "b"}}, {"x", nil}} {
		if got := watchersOf(ring, tc.name); !slices.Equal(got, tc.want) {
			t.Errorf("watchersOf(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := watchersOf([]string{"a", "b"}, "a"); !slices.Equal(got, []string{"b"}) {
		t.Errorf("two hosts: watchers of a %v, want [b]", got)
	}
}

// With six hosts, each sends heartbeats to its two watchers only. A host
// that leaves on purpose kills nobody, though the ring changes; a host that
// crashes is dead in every view within a couple of heartbeat timeouts (long
// before memberlist's own detector): its watchers hear it go quiet and the
// others follow their notices.
func TestWatchersReportACrashToTheRest(t *testing.T) {
	key, _ := GenerateKey()
	c := newCluster(t, 6, config.ProfileDefault, key)
	waitFor(t, 5*time.Second, "a host sends heartbeats to other than its two watchers", func() bool {
		for _, m := range c.nodes {
			m.hb.mu.Lock()
			n := len(m.hb.targets)
			m.hb.mu.Unlock()
			if n != watchersPerHost {
				return false
			}
		}
		return true
	})

	leaver := c.remove(5)
	if err := leaver.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	_ = leaver.Shutdown()
	waitDeadEverywhere(t, c.nodes, leaver.Name(), 5*time.Second)
	// Two heartbeat timeouts after the ring changed, nobody died.
	time.Sleep(2 * Profiles[config.ProfileDefault].HeartbeatTimeout)
	for _, m := range c.nodes {
		if st := m.HeartbeatStats(); st.Deaths != 0 {
			t.Errorf("%s: %d heartbeat deaths after a host left on purpose, want 0", m.Name(), st.Deaths)
		}
	}

	victim := c.remove(1)
	var watchers []*Membership
	for _, m := range c.nodes {
		m.hb.mu.Lock()
		ring := m.hb.ringLocked(m.Name())
		m.hb.mu.Unlock()
		if slices.Contains(watchersOf(ring, victim.Name()), m.Name()) {
			watchers = append(watchers, m)
		}
	}
	if len(watchers) != watchersPerHost {
		t.Fatalf("%d watchers of %s, want %d", len(watchers), victim.Name(), watchersPerHost)
	}
	waitHeard(t, watchers, victim.Name())
	start := time.Now()
	if err := victim.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitDeadEverywhere(t, c.nodes, victim.Name(), 2*time.Second)
	t.Logf("dead in every view after %v", time.Since(start).Round(time.Millisecond))
}

// A member that every watcher reported quiet stays dead here while every
// watcher's last notice is younger than noticeHold timeouts, though the
// notices are too old to make it die now; one watcher alone that goes on
// reporting does not keep it dead.
func TestNoticesHoldADeathUntilTheyStop(t *testing.T) {
	m := offlineWith(t, "s", "a", "b", "c")
	timeout := m.timing.HeartbeatTimeout
	m.hb.mu.Lock()
	watchers := watchersOf(m.hb.ringLocked("s"), "a")
	m.hb.mu.Unlock()
	if !slices.Equal(watchers, []string{"b", "c"}) {
		t.Fatalf("watchers of a %v, want [b c]", watchers)
	}
	notice := func(from string) { m.heardHeartbeat(flagNotice, []byte(from+"\x00a")) }
	isAlive := func() bool { return alive(m)["a"] }

	notice("b")
	if !isAlive() {
		t.Fatal("one watcher's notice killed a; both must agree")
	}
	notice("c")
	if isAlive() {
		t.Fatal("both watchers reported a quiet, still alive")
	}
	start := time.Now()
	m.heartbeatRound(start.Add(2*timeout), timeout, false)
	if isAlive() {
		t.Error("a came back two timeouts after the last notices; it stays dead while they are younger than noticeHold timeouts")
	}
	// b goes on reporting; c's last notice grows older than the hold.
	m.hb.mu.Lock()
	m.hb.reports["a"]["b"] = start.Add(noticeHold * timeout)
	m.hb.mu.Unlock()
	m.heartbeatRound(start.Add((noticeHold+1)*timeout), timeout, false)
	if !isAlive() {
		t.Error("one watcher's notices alone keep a dead; every watcher must go on reporting it")
	}
	if st := m.HeartbeatStats(); st.Deaths != 1 {
		t.Errorf("%d deaths counted, want 1", st.Deaths)
	}
}

// A host judges the silence only of members it watches: one whose
// heartbeats it heard before the ring changed, and whose stopping
// heartbeats were lost, is no death here.
func TestOnlyWatchersJudgeSilence(t *testing.T) {
	m := offlineWith(t, "s", "a", "b", "c", "d")
	timeout := m.timing.HeartbeatTimeout
	// Ring a b c d s: b and c watch a; s and a watch d.
	hb := func(from string) { m.receiveHeartbeat(append([]byte{heartbeatMagic, heartbeatVersion, 0}, from...)) }
	hb("a")
	hb("d")
	m.heartbeatRound(time.Now().Add(2*timeout), timeout, false)
	if view := alive(m); !view["a"] {
		t.Error("a went quiet and is dead here, though s does not watch it")
	}
	if view := alive(m); view["d"] {
		t.Error("d, which s watches, went quiet and is still alive here")
	}
}

// offlineWith returns host self on the default profile, with members
// joined as memberlist would report them.
func offlineWith(t *testing.T, self string, members ...string) *Membership {
	units := someUnits(2)
	m := offline(t, self, units, Local{})
	m.timing = Profiles[config.ProfileDefault]
	for _, name := range members {
		events{m}.NotifyJoin(offline(t, name, units, Local{}).node())
	}
	return m
}

// A watcher that hears the member again retracts its notices, and the
// others count the member alive at their next round, not when the hold of
// the notices ends: a member whose heartbeats came late is not left dead,
// with its VIPs on a second owner, for noticeHold timeouts.
func TestARetractionEndsANoticesHold(t *testing.T) {
	m := offlineWith(t, "s", "a", "b", "c")
	timeout := m.timing.HeartbeatTimeout
	m.heardHeartbeat(flagNotice, []byte("b\x00a"))
	m.heardHeartbeat(flagNotice, []byte("c\x00a"))
	if alive(m)["a"] {
		t.Fatal("both watchers reported a quiet, still alive")
	}
	now := time.Now()
	m.heartbeatRound(now, timeout, false)
	m.heardHeartbeat(flagRetract, []byte("b\x00a"))
	if alive(m)["a"] {
		t.Error("a came back before the next round; the round decides")
	}
	m.heartbeatRound(now.Add(timeout/4), timeout, false)
	if !alive(m)["a"] {
		t.Error("b retracted its notices about a and c's alone keep it dead; every watcher must report it")
	}
	// Malformed retractions change nothing and do not panic.
	for _, p := range []string{"", "b", "\x00a", "b\x00"} {
		m.heardHeartbeat(flagRetract, []byte(p))
	}
}

// A watcher that hears a member again sends retractRounds retractions
// about it to every other member, and then none.
func TestAWatcherRetractsForRetractRounds(t *testing.T) {
	m := offlineWith(t, "s", "a", "b", "c")
	m.hb.mu.Lock()
	defer m.hb.mu.Unlock()
	m.hb.retractLocked("a")
	for round := 1; round <= retractRounds+1; round++ {
		var to []string
		for _, tg := range m.hb.noticesLocked("s") {
			if tg.flags != flagRetract || tg.notice != "a" {
				t.Fatalf("round %d: a target with flags %b about %q, want retractions about a", round, tg.flags, tg.notice)
			}
			to = append(to, tg.node.Name)
		}
		slices.Sort(to)
		want := []string{"b", "c"}
		if round > retractRounds {
			want = nil
		}
		if !slices.Equal(to, want) {
			t.Errorf("round %d: retractions to %v, want %v", round, to, want)
		}
	}
}
