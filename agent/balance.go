package agent

import (
	"hash/fnv"
	"slices"
	"time"

	"github.com/vipd/vipd/election"
)

const (
	// balanceAfter is how long the cluster must have looked the same (the
	// same hosts alive, drained and passing the same checks) before a host
	// takes units back to spread them: long enough that a host that comes
	// and goes, or a flapping check, moves nothing.
	balanceAfter = 10 * time.Second
	// balanceEvery paces one host's rebalancing claims: one unit at a time,
	// at most five a second, so that neither the LAN nor the clients see a
	// burst of moves.
	balanceEvery = 200 * time.Millisecond
)

// balancer moves units kept by one host (owner kept) to the host the
// election's hash prefers (Decision.Balanced), when that is this host: it
// claims them one by one while the cluster is stable. The claim is
// make-before-break: this host answers first, and the old owner, seeing
// two holders, lets go to the one the same hash prefers (split resolved),
// which is this host. A unit is claimed at most once until the cluster
// changes, so views that differ for a moment cannot move one back and
// forth.
type balancer struct {
	picture     uint64    // hash of what the cluster looked like
	stableSince time.Time // when the picture last changed
	lastClaim   time.Time
	tried       election.KeySet // units claimed since the picture changed
}

// look notes the cluster's picture at now: which hosts are alive, drained,
// and passing which units. Who holds what is left out: moves change it.
func (b *balancer) look(view election.View, now time.Time) {
	h := fnv.New64a()
	hosts := slices.Clone(view.Hosts)
	slices.SortFunc(hosts, func(a, c election.Host) int {
		switch {
		case a.Name < c.Name:
			return -1
		case a.Name > c.Name:
			return 1
		}
		return 0
	})
	for _, host := range hosts {
		h.Write([]byte(host.Name))
		flags := []byte{0, 0}
		if host.Alive {
			flags[0] = 1
		}
		if host.Drained {
			flags[1] = 1
		}
		h.Write(flags)
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range host.Passing {
				if !yield(k) {
					return
				}
			}
		}) {
			h.Write([]byte(k))
			h.Write([]byte{0})
		}
	}
	if sum := h.Sum64(); sum != b.picture || b.stableSince.IsZero() {
		b.picture, b.stableSince = sum, now
		b.tried = election.NewKeySet()
	}
}

// next returns the unit this host claims now to rebalance, or "" and when
// to look again (zero: nothing to do until the cluster changes).
// claimable are the units this host could take: passing, not blocked.
func (b *balancer) next(self string, ds election.Decisions, claimable election.KeySet, now time.Time) (string, time.Time) {
	var candidate string
	for _, d := range ds {
		if d.Reason == election.ReasonOwnerKept && d.Owner != self && d.Balanced == self &&
			claimable.Has(d.Key) && !b.tried.Has(d.Key) {
			candidate = d.Key
			break
		}
	}
	if candidate == "" {
		return "", time.Time{}
	}
	at := b.stableSince.Add(balanceAfter)
	if !b.lastClaim.IsZero() {
		at = later(at, b.lastClaim.Add(balanceEvery))
	}
	if now.Before(at) {
		return "", at
	}
	b.lastClaim = now
	b.tried[candidate] = struct{}{}
	return candidate, now.Add(balanceEvery)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
