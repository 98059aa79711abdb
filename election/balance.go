package election

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
	// Hash order: the higher score first, the smaller name on a tie.
	before := func(a, b scored) bool {
		return a.score > b.score || (a.score == b.score && a.name < b.name)
	}
	for _, it := range items {
		scores := scorerOf(it.key)
		var first, firstFree scored
		free := false
		for i, c := range it.cands {
			sc := scored{c, scores.score(c)}
			if i == 0 || before(sc, first) {
				first = sc
			}
			if load[c] < share && (!free || before(sc, firstFree)) {
				firstFree, free = sc, true
			}
		}
		target := first.name
		if free {
			target = firstFree.name
		}
		load[target]++
		ds[it.decision].Balanced = target
	}
}
