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
	units := slices.Clone(view.Units)
	slices.SortStableFunc(units, func(a, b Unit) int { return cmp.Compare(a.Key, b.Key) })
	d := decider{members: membersByName(view.Hosts)}
	facts := readFacts(d.members, units)

	decisions := make(Decisions, 0, len(units))
	for i := 0; i < len(units); {
		same := 1
		for i+same < len(units) && units[i+same].Key == units[i].Key {
			same++
		}
		if same > 1 {
			decisions = append(decisions, Decision{Key: units[i].Key, Reason: ReasonDuplicateUnit})
		} else {
			dec := d.decide(units[i], facts[i])
			if len(d.balance) > 0 {
				d.items = append(d.items, balanceItem{decision: len(decisions), key: dec.Key, cands: d.balance})
			}
			decisions = append(decisions, dec)
		}
		i += same
	}
	setBalanced(decisions, d.items)
	return decisions
}

// decider decides one unit after another over the same members.
type decider struct {
	members []member
	// eligible and holders are scratch space, reused for every unit.
	eligible, holders []candidate
	// balance are the balance candidates of the unit just decided (nil
	// when no holder keeps it); items collects them for setBalanced.
	balance []string
	items   []balanceItem
}

// candidate is an eligible host as the owner rules compare them.
type candidate struct {
	name     string
	priority int
	holds    bool
}

// decide decides unit u; facts holds what each member says about it.
func (d *decider) decide(u Unit, facts []hostFacts) Decision {
	fp := u.Fingerprint()
	out := Decision{Key: u.Key, VIPs: sortedUnique(u.VIPs), Hosts: make([]HostStatus, len(d.members))}

	d.eligible = d.eligible[:0]
	d.balance = nil
	furthest := Eligibility(0)
	for j, m := range d.members {
		e := eligibility(m, facts[j], u, fp)
		out.Hosts[j] = HostStatus{Host: m.Name, Eligibility: e}
		furthest = max(furthest, e)
		if e == Eligible {
			d.eligible = append(d.eligible, candidate{name: m.Name, priority: u.priorityOf(m.Name), holds: facts[j].holds})
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
	for _, c := range d.eligible {
		if c.priority == keeper.priority {
			d.balance = append(d.balance, c.name)
		}
	}
	return keeper.name, reason
}

// bestOf returns the candidate with the highest priority; among equals, the
// one with the highest rendezvous score for key, and if scores collide, the
// first by name, so exactly one wins. Scores are only computed when priority
// alone does not decide.
func bestOf(key string, cs []candidate) candidate {
	top, atTop := cs[0], 1
	for _, c := range cs[1:] {
		switch {
		case c.priority > top.priority:
			top, atTop = c, 1
		case c.priority == top.priority:
			atTop++
		}
	}
	if atTop == 1 {
		return top
	}

	scores := scorerOf(key)
	best, bestScore := top, scores.score(top.name)
	for _, c := range cs {
		if c.priority != top.priority || c.name == top.name {
			continue
		}
		s := scores.score(c.name)
		if s > bestScore || (s == bestScore && c.name < best.name) {
			best, bestScore = c, s
		}
	}
	return best
}
