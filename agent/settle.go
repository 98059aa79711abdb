package agent

import (
	"time"

	"github.com/vipd/vipd/election"
)

// firstClaimSettle is how long a decision to claim a unit that no host has
// held must stand before this host claims it. Hosts that start together
// each see the others' checks pass a moment late, so each may first elect
// itself; waiting lets their views meet, and one host claims instead of
// two. A unit some host held before (a failover) is claimed at once.
const firstClaimSettle = 500 * time.Millisecond

// firstClaimPatience is how long past firstClaimSettle a first claim waits
// while a member's announced state has not arrived (Input.Pending): that
// state may say the member claimed the unit a moment ago. Gossip brings it
// within a second even on a loaded host; the bound keeps a state that never
// comes from holding the unit back for good.
const firstClaimPatience = 2 * time.Second

// settler holds back first claims until they have stood for
// firstClaimSettle and no member's newer state is on its way.
type settler struct {
	since map[string]time.Time // unit -> when this host was first elected
}

// hold removes from want the units whose first claim has not settled yet,
// and returns when the earliest of them may have. pending: some member
// announced a state that has not arrived.
func (s *settler) hold(want, holds, everHeld election.KeySet, pending bool, now time.Time) (next time.Time) {
	keep := map[string]time.Time{}
	for k := range want {
		if holds.Has(k) || everHeld.Has(k) {
			continue
		}
		since, ok := s.since[k]
		if !ok {
			since = now
		}
		ripe := since.Add(firstClaimSettle)
		if !now.Before(ripe) && pending {
			// The member's state wakes the loop when it arrives.
			ripe = since.Add(firstClaimSettle + firstClaimPatience)
		}
		if now.Before(ripe) {
			delete(want, k)
			keep[k] = since
			if next.IsZero() || ripe.Before(next) {
				next = ripe
			}
		}
	}
	s.since = keep
	return next
}
