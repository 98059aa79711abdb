package membership

import (
	"strings"
	"testing"

	"github.com/vipd/vipd/election"
)

// A member whose metadata is of a newer version than this vipd reads (a
// rolling upgrade that changed the format) disagrees with this host: it is
// eligible for nothing here, it counts as holding every unit, and while it
// is alive gossip is not settled, so no unit moves to a new owner here; the
// reason is kept for status. Once it speaks a version this host reads (the
// rest of the fleet upgraded, or it went back), it takes part normally.
func TestAMemberOfANewerVersionIsLeftOutAndFreezesClaims(t *testing.T) {
	units := someUnits(2)
	m := offline(t, "h1", units, Local{Passing: election.NewKeySet(units[0].Key, units[1].Key), Holds: election.NewKeySet(units[0].Key)})
	ev := events{m}
	old := offline(t, "h2", units, Local{Passing: election.NewKeySet(units[0].Key, units[1].Key)}).node()
	ev.NotifyJoin(old)
	newer := offline(t, "h3", units, Local{Passing: election.NewKeySet(units[0].Key, units[1].Key)}).node()
	newer.Meta[0] = metaVersion + 1
	ev.NotifyJoin(newer)

	if m.Settled() {
		t.Error("settled while a member's metadata cannot be read; want claims frozen")
	}
	m.mu.Lock()
	problem := m.peers["h3"].metaErr
	m.mu.Unlock()
	if problem == nil || !strings.Contains(problem.Error(), "version 2") {
		t.Errorf("h3's problem %v, want one naming metadata version 2", problem)
	}
	ds := election.Decide(m.View())
	for _, d := range ds {
		if d.EligibilityOf("h3") == election.Eligible {
			t.Errorf("%s: h3, whose metadata cannot be read, is eligible", d.Key)
		}
		if d.Owner == "h3" {
			t.Errorf("%s owned by h3, whose metadata cannot be read", d.Key)
		}
	}
	// h1 keeps what it holds; the unit nobody holds goes to nobody new
	// while the cluster is frozen.
	if d, _ := ds.Lookup(units[0].Key); d.Owner != "h1" {
		t.Errorf("%s: owner %q, want h1 to keep it", units[0].Key, d.Owner)
	}
	if d, _ := ds.Lookup(units[1].Key); d.Owner != "" {
		t.Errorf("%s: owner %q while claims are frozen, want none", units[1].Key, d.Owner)
	}

	// h3 speaks this version again: it takes part, and the free unit gets
	// an owner.
	newer.Meta[0] = metaVersion
	ev.NotifyUpdate(newer)
	if !m.Settled() {
		t.Fatal("not settled once every member's metadata reads")
	}
	if d, _ := election.Decide(m.View()).Lookup(units[1].Key); d.Owner == "" {
		t.Errorf("%s has no owner once every member's metadata reads: %s", units[1].Key, d.Reason)
	}
}
