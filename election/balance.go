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
//
// A target depends on which hosts there are: when one goes or comes back,
// the targets of units far from it shift too (a host filled earlier in key
// order pushes a later unit to its next choice). Moving those would shuffle
// VIPs that no fault touched, and back again when the host returns. So a
// unit is sent to its target only when that evens the load out: its keeper
// has more than its share plus a slack, or the target has less than its
// share minus the slack (a host that came back empty); otherwise its keeper
// stays its balanced host. The slack is a tenth of the share, so small
// clusters balance exactly and a fleet settles within about 10 %: after a
// crash, the units of the dead host stay where the hash put them.
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
	keep := keptLoads(ds, items)
	slack := share / 10
	for _, it := range items {
		d := &ds[it.decision]
		if keeper := d.Owner; keeper != "" && keep[keeper] <= share+slack && keep[d.Balanced] >= share-slack {
			d.Balanced = keeper
		}
	}
}

// keptLoads counts the units each host keeps now.
func keptLoads(ds Decisions, items []balanceItem) map[string]int {
	load := map[string]int{}
	for _, it := range items {
		load[ds[it.decision].Owner]++
	}
	return load
}
