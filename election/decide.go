package election

import (
	"cmp"
	"slices"
)

// Decide returns the owner of every unit in the view, or why it has none,
// sorted by unit key. See the package documentation for the rules.
//
// Decide expects a view that passes Validate. On one that does not, it still
// answers deterministically, and gives no owner to a duplicated unit key or
// to a host whose name appears twice.
func Decide(view View) Decisions {
	byKey := func(a, b Unit) int { return cmp.Compare(a.Key, b.Key) }
	units := view.Units // read only; sorted, as membership gives them, it needs no copy
	if !slices.IsSortedFunc(units, byKey) {
		units = slices.Clone(units)
		slices.SortStableFunc(units, byKey)
	}
	d := decider{members: membersByName(view.Hosts), units: len(units)}
	cols := readFacts(d.members, units)
	// Every decision shares the names, and its eligibilities are a window
	// of one array: a list per unit would be a thousand allocations a step
	// in a fleet.
	names := make([]string, len(d.members))
	for j, m := range d.members {
		names[j] = m.Name
	}
	eligibility := make([]Eligibility, len(units)*len(d.members))
	facts := make([]hostFacts, len(d.members))

	decisions := make(Decisions, 0, len(units))
	for i := 0; i < len(units); {
		same := 1
		for i+same < len(units) && units[i+same].Key == units[i].Key {
			same++
		}
		if same > 1 {
			decisions = append(decisions, Decision{Key: units[i].Key, Reason: ReasonDuplicateUnit})
		} else {
			for j := range facts {
				facts[j] = cols[j].at(i)
			}
			n := len(d.members)
			dec := d.decide(units[i], facts, names, eligibility[i*n:(i+1)*n:(i+1)*n])
			if len(d.balance) > 0 {
				d.items = append(d.items, balanceItem{decision: len(decisions), key: dec.Key, cands: d.balance})
			}
			decisions = append(decisions, dec)
		}
		i += same
	}
	setBalanced(decisions, d.items, d.members)
	return decisions
}

// decider decides one unit after another over the same members.
type decider struct {
	members []member
	units   int // how many units there are
	// eligible and holders are scratch space, reused for every unit.
	eligible, holders []candidate
	// balance are the balance candidates of the unit just decided (nil
	// when no holder keeps it), a window of pool; items collects them for
	// setBalanced.
	balance []balanceCandidate
	pool    []balanceCandidate
	items   []balanceItem
}

// candidate is an eligible host as the owner rules compare them. score is
// its rendezvous score for the unit, once scored is set: Decide scores a
// host at most once per unit, for the owner and its balanced host alike.
type candidate struct {
	name     string
	member   int // index in decider.members
	priority int
	holds    bool
	scored   bool
	score    uint64
}

// decide decides unit u; facts holds what each member says about it, names
// are the members' names, and verdicts, as long, receives their eligibility.
func (d *decider) decide(u Unit, facts []hostFacts, names []string, verdicts []Eligibility) Decision {
	fp := u.Fingerprint()
	out := Decision{Key: u.Key, VIPs: sortedUnique(u.VIPs), Hosts: names, Eligibility: verdicts}

	d.eligible = d.eligible[:0]
	d.balance = nil
	furthest := Eligibility(0)
	for j, m := range d.members {
		e := eligibility(m, facts[j], u, fp)
		out.Eligibility[j] = e
		furthest = max(furthest, e)
		if e == Eligible {
			d.eligible = append(d.eligible, candidate{name: m.Name, member: j, priority: u.priorityOf(m.Name), holds: facts[j].holds})
		}
	}

	if agreed, ok := agreedDefinition(d.members, facts); ok && agreed != fp {
		out.Reason = ReasonConfigOutvoted
		return out
	}
	if len(d.eligible) == 0 {
		out.Reason = noOwnerReason(furthest)
		return out
	}
	out.Owner, out.Reason = d.chooseOwner(u)
	return out
}

// chooseOwner applies the ownership rules to the non-empty d.eligible, and
// when a holder keeps the unit, sets d.balance to the eligible hosts of the
// keeper's priority: the hash spreads hosts of one priority, and a higher
// one takes a unit back only with failback.
func (d *decider) chooseOwner(u Unit) (string, Reason) {
	best := bestOf(u.Key, d.eligible)

	d.holders = d.holders[:0]
	for _, c := range d.eligible {
		if c.holds {
			d.holders = append(d.holders, c)
		}
	}
	if len(d.holders) == 0 {
		return best.name, ReasonElected
	}

	keeper := bestOf(u.Key, d.holders)
	if u.Failback && best.priority > keeper.priority {
		return best.name, ReasonFailback
	}
	reason := ReasonOwnerKept
	if len(d.holders) > 1 {
		reason = ReasonSplitResolved
	}
	// The candidates go to a pool shared by every unit, sized once: a
	// slice per unit would be a thousand allocations a step in a fleet.
	if d.pool == nil {
		d.pool = make([]balanceCandidate, 0, d.units*len(d.members))
	}
	start := len(d.pool)
	for _, c := range d.eligible {
		if c.priority == keeper.priority {
			d.pool = append(d.pool, balanceCandidate{member: int32(c.member), scored: c.scored, score: c.score})
		}
	}
	d.balance = d.pool[start:len(d.pool):len(d.pool)]
	return keeper.name, reason
}

// bestOf returns the candidate with the highest priority; among equals, the
// one with the highest rendezvous score for key, and if scores collide, the
// first by name, so exactly one wins. Scores are only computed when priority
// alone does not decide, and are kept in cs for later use.
func bestOf(key string, cs []candidate) candidate {
	top, atTop := 0, 1
	for i := 1; i < len(cs); i++ {
		switch {
		case cs[i].priority > cs[top].priority:
			top, atTop = i, 1
		case cs[i].priority == cs[top].priority:
			atTop++
		}
	}
	if atTop == 1 {
		return cs[top]
	}

	scores := scorerOf(key)
	best := -1
	for i := range cs {
		c := &cs[i]
		if c.priority != cs[top].priority {
			continue
		}
		if !c.scored {
			c.score, c.scored = scores.score(c.name), true
		}
		if best < 0 || c.score > cs[best].score || (c.score == cs[best].score && c.name < cs[best].name) {
			best = i
		}
	}
	return cs[best]
}
