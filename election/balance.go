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
	cands    []balanceCandidate // in no order
}

// balanceCandidate is a balance candidate by its index in the members,
// with its rendezvous score for the unit once scored is set. It holds no
// pointer, so a fleet's 24,000 of them cost the garbage collector nothing.
type balanceCandidate struct {
	member int32
	scored bool
	score  uint64
}

// setBalanced fills Decision.Balanced for every item; members are the
// hosts the candidates index.
func setBalanced(ds Decisions, items []balanceItem, members []member) {
	inPlay := make([]bool, len(members))
	hosts := 0
	for _, it := range items {
		for _, c := range it.cands {
			if !inPlay[c.member] {
				inPlay[c.member] = true
				hosts++
			}
		}
	}
	if hosts == 0 {
		return
	}
	share := (len(items) + hosts - 1) / hosts
	load := make([]int, len(members))
	// Hash order: the higher score first, the smaller name on a tie.
	before := func(a, b *balanceCandidate) bool {
		return a.score > b.score || (a.score == b.score && members[a.member].Name < members[b.member].Name)
	}
	for _, it := range items {
		scores := scorerOf(it.key)
		var first, firstFree *balanceCandidate
		for i := range it.cands {
			c := &it.cands[i]
			if !c.scored {
				c.score, c.scored = scores.score(members[c.member].Name), true
			}
			if first == nil || before(c, first) {
				first = c
			}
			if load[c.member] < share && (firstFree == nil || before(c, firstFree)) {
				firstFree = c
			}
		}
		target := first
		if firstFree != nil {
			target = firstFree
		}
		load[target.member]++
		ds[it.decision].Balanced = members[target.member].Name
	}
}
