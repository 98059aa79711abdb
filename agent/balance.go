package agent

import (
	"encoding/binary"
	"hash/fnv"
	"hash/maphash"
	"reflect"
	"slices"
	"strings"
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
	// balanceClaimFor is how long a host keeps a unit it claimed to
	// rebalance while the old owner has not let go yet: gossip brings the
	// claim to the old owner within a second, or a few in a large fleet
	// that is busy moving units.
	balanceClaimFor = 5 * time.Second
	// balanceRetry is how long after a claim that did not take a host
	// tries the same unit again, while the cluster stays the same.
	balanceRetry = 30 * time.Second
)

// balancer moves units kept by one host (owner kept) to their balanced
// host (Decision.Balanced), once the cluster has been stable for
// balanceAfter. The balanced host claims them one by one and keeps them for
// up to balanceClaimFor although two holders make the election name the
// old owner; the old owner, seeing the balanced host hold a unit it owns,
// lets go. Make-before-break: the new owner answers before the old one
// stops. Both sides act only while their views agree on the target, and a
// unit is claimed at most once every balanceRetry, so views that differ for
// a moment cannot move one back and forth: a claim the old owner does not
// answer times out, and the usual rules take over until the next try.
type balancer struct {
	picture     uint64    // hash of what the cluster looked like
	stableSince time.Time // when the picture last changed
	lastClaim   time.Time
	tried       map[string]time.Time // units claimed since the picture changed, and when
	claiming    map[string]time.Time // units claimed, kept until then
}

// look notes the cluster's picture at now: which hosts are alive, drained,
// and passing which units. Who holds what is left out: moves change it.
func (b *balancer) look(view election.View, now time.Time) {
	h := fnv.New64a()
	hosts := slices.Clone(view.Hosts)
	slices.SortFunc(hosts, func(a, c election.Host) int { return strings.Compare(a.Name, c.Name) })
	var word [8]byte
	// Hosts that pass every unit share one Passing set (membership), so
	// each distinct set is summed once.
	sums := map[uintptr]uint64{}
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
		// A sum of the keys' hashes, in no order: sorting 1000 keys of
		// every host at every step cost more than the election.
		id := reflect.ValueOf(host.Passing).Pointer()
		passing, ok := sums[id]
		if !ok {
			for k := range host.Passing {
				passing += maphash.String(pictureSeed, k)
			}
			sums[id] = passing
		}
		binary.LittleEndian.PutUint64(word[:], passing)
		h.Write(word[:])
	}
	if sum := h.Sum64(); sum != b.picture || b.stableSince.IsZero() {
		b.picture, b.stableSince = sum, now
		b.tried = map[string]time.Time{}
		b.claiming = nil
	}
}

// pictureSeed seeds the hashes of the balancer's picture, which is only
// ever compared with this process's earlier pictures.
var pictureSeed = maphash.MakeSeed()

// stable reports whether the cluster has looked the same for balanceAfter.
func (b *balancer) stable(now time.Time) bool {
	return !b.stableSince.IsZero() && !now.Before(b.stableSince.Add(balanceAfter))
}

// keepClaims adds to want the units this host claimed to rebalance and is
// still taking over, and forgets those taken over, no longer its balanced
// ones, or timed out.
func (b *balancer) keepClaims(self string, ds election.Decisions, want election.KeySet, now time.Time) {
	for unit, until := range b.claiming {
		d, ok := ds.Lookup(unit)
		if !ok || !now.Before(until) || d.Balanced != self || (d.Owner == self && d.Reason == election.ReasonOwnerKept) {
			delete(b.claiming, unit)
			continue
		}
		want[unit] = struct{}{}
	}
}

// release removes from want the units this host owns whose balanced host
// is another that now holds them too: that host is taking them over.
func (b *balancer) release(self string, view election.View, ds election.Decisions, want election.KeySet, now time.Time) {
	if !b.stable(now) {
		return
	}
	for unit := range want {
		d, ok := ds.Lookup(unit)
		if !ok || d.Owner != self || d.Balanced == "" || d.Balanced == self {
			continue
		}
		if ownerHolds(view, d.Balanced, unit) {
			delete(want, unit)
		}
	}
}

// next returns the unit this host claims now to rebalance, or "" and when
// to look again (zero: nothing to do until the cluster changes).
// claimable are the units this host could take: passing, not blocked.
func (b *balancer) next(self string, ds election.Decisions, claimable election.KeySet, now time.Time) (string, time.Time) {
	var candidate string
	for _, d := range ds {
		at, tried := b.tried[d.Key]
		if d.Reason == election.ReasonOwnerKept && d.Owner != self && d.Balanced == self &&
			claimable.Has(d.Key) && (!tried || now.Sub(at) >= balanceRetry) {
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
	b.tried[candidate] = now
	if b.claiming == nil {
		b.claiming = map[string]time.Time{}
	}
	b.claiming[candidate] = now.Add(balanceClaimFor)
	return candidate, now.Add(balanceEvery)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
