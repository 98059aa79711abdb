package election

import (
	"cmp"
	"slices"
)

// Balanced targets.
//
// The rendezvous hash alone spreads units like dice: with 1000 units on 24
// hosts, some host gets a third more than its share and another a third
// less. Where a kept unit goes when the cluster rebalances is therefore the
// hash bounded by load: each unit, in key order, goes to the first host in
// its hash order among its balance candidates (the eligible hosts of its
// keeper's priority) that has fewer than its share, the number of kept
// units divided by the number of hosts that are candidates for any, rounded
// up; when every candidate is full, to its first. So no host is a target
// for more than its share, and the loads differ by little more than one
// share's rounding. Every host computes the same targets from the same view.

// balanceItem is a kept unit waiting for its target.
type balanceItem struct {
	decision int // index in the decisions
	key      string
	cands    []string // balance candidates, in no order
}

// setBalanced fills Decision.Balanced for every item.
func setBalanced(ds Decisions, items []balanceItem) {
	hosts := map[string]bool{}
	for _, it := range items {
		for _, c := range it.cands {
			hosts[c] = true
		}
	}
	if len(hosts) == 0 {
		return
	}
	share := (len(items) + len(hosts) - 1) / len(hosts)
	load := make(map[string]int, len(hosts))
	type scored struct {
		name  string
		score uint64
	}
	var order []scored
	for _, it := range items {
		order = order[:0]
		for _, c := range it.cands {
			order = append(order, scored{c, rendezvousScore(c, it.key)})
		}
		slices.SortFunc(order, func(a, b scored) int {
			if c := cmp.Compare(b.score, a.score); c != 0 {
				return c
			}
			return cmp.Compare(a.name, b.name)
		})
		target := order[0].name
		for _, o := range order {
			if load[o.name] < share {
				target = o.name
				break
			}
		}
		load[target]++
		ds[it.decision].Balanced = target
	}
}
