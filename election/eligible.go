package election

import (
	"cmp"
	"slices"
)

// member is a host of the view with what Decide learns about it up front.
type member struct {
	Host
	// duplicate marks a name the view holds more than once. Such hosts own
	// nothing: two machines that both think they are "h1" would both announce.
	duplicate bool
}

// membersByName returns the view's hosts sorted by name, so that results never
// depend on the order gossip listed them in.
func membersByName(hosts []Host) []member {
	members := make([]member, len(hosts))
	for i, h := range hosts {
		members[i] = member{Host: h}
	}
	slices.SortStableFunc(members, func(a, b member) int { return cmp.Compare(a.Name, b.Name) })
	for i := 1; i < len(members); i++ {
		if members[i].Name == members[i-1].Name {
			members[i].duplicate = true
			members[i-1].duplicate = true
		}
	}
	return members
}

// eligibility returns Eligible, or the first check m fails for unit u, whose
// definition in this view has fingerprint fp; f is what m says about u.
func eligibility(m member, f hostFacts, u Unit, fp Fingerprint) Eligibility {
	switch {
	case m.duplicate:
		return DuplicateHost
	case !m.Alive:
		return NotAlive
	case !f.known:
		return UnknownUnit
	case f.definition != fp:
		return ConfigDiffers
	case !u.allows(m.Name):
		return NotInNodeList
	case m.Drained:
		return Drained
	case !f.passing:
		return ChecksFailing
	}
	return Eligible
}
