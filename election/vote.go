package election

import (
	"cmp"
	"slices"
)

// agreedDefinition returns the definition of a unit that the cluster decides
// by: the fingerprint most alive hosts have, then one that a holder has (so a
// config rollout does not move the unit before it has to), then the lowest.
// Every host sees the same hosts, so every host agrees on it, and only hosts
// with it can own the unit. facts holds what each member says about the unit;
// ok is false when no alive host has the unit.
func agreedDefinition(members []member, facts []hostFacts) (agreed Fingerprint, ok bool) {
	type support struct {
		definition Fingerprint
		held       bool
		hosts      int
	}
	var votes []support
	for j, m := range members {
		f := facts[j]
		if m.duplicate || !m.Alive || !f.known {
			continue
		}
		i := slices.IndexFunc(votes, func(s support) bool { return s.definition == f.definition })
		if i < 0 {
			votes = append(votes, support{definition: f.definition})
			i = len(votes) - 1
		}
		votes[i].hosts++
		votes[i].held = votes[i].held || f.holds
	}
	if len(votes) == 0 {
		return 0, false
	}
	best := slices.MinFunc(votes, func(a, b support) int {
		if a.hosts != b.hosts {
			return cmp.Compare(b.hosts, a.hosts)
		}
		if a.held != b.held {
			if a.held {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.definition, b.definition)
	})
	return best.definition, true
}
