package agent

import (
	"time"

	"github.com/vipd/vipd/election"
)

// handoff tracks units this host still answers for after election gave
// them to another host, until that host holds them.
type handoff struct {
	// deadline per unit key: after it this host lets go even if the new
	// owner never said it holds the unit.
	deadline map[string]time.Time
}

// desired returns the units this host should announce now. Units election
// gives this host are always in it. A unit this host holds but election
// gave to another host stays in it while this host could still serve it
// (its checks pass and its config agrees), the new owner does not hold it
// yet, and the handoff has not timed out.
func (h *handoff) desired(self string, view election.View, ds election.Decisions, passing election.KeySet, holds election.KeySet, now time.Time, timeout time.Duration) election.KeySet {
	want := election.NewKeySet()
	keep := map[string]time.Time{}
	for _, d := range ds {
		if d.Owner == self {
			want[d.Key] = struct{}{}
			continue
		}
		if !holds.Has(d.Key) || !passing.Has(d.Key) || !canServe(self, d) {
			continue
		}
		if d.Owner != "" && ownerHolds(view, d.Owner, d.Key) {
			continue
		}
		deadline, ok := h.deadline[d.Key]
		if !ok {
			deadline = now.Add(timeout)
		}
		if now.Before(deadline) {
			want[d.Key] = struct{}{}
			keep[d.Key] = deadline
		}
	}
	h.deadline = keep
	return want
}

// next is the earliest deadline of a handoff under way (zero: none).
func (h *handoff) next() time.Time {
	var at time.Time
	for _, d := range h.deadline {
		at = earliest(at, d)
	}
	return at
}

// canServe reports whether election rules this host out of the unit only
// because it is drained or another host won: a host whose config differs or
// whose node list leaves it out must let go at once.
func canServe(self string, d election.Decision) bool {
	switch d.EligibilityOf(self) {
	case election.Eligible, election.Drained:
		return true
	}
	return false
}

func ownerHolds(view election.View, owner, key string) bool {
	for _, h := range view.Hosts {
		if h.Name == owner {
			return h.Alive && h.Holds.Has(key)
		}
	}
	return false
}

// anyTaker reports whether another host could take a unit this host holds:
// election names an owner for it other than this host.
func (m *Machine) anyTaker() bool {
	for k := range m.holds {
		if d, ok := m.decisions.Lookup(k); ok && d.Owner != "" && d.Owner != m.self {
			return true
		}
	}
	return false
}
