package election

import "slices"

// View is everything Decide looks at: the hosts as gossip reports them and the
// units in this host's config.
type View struct {
	Hosts []Host
	Units []Unit
}

// Host is one member of the cluster as gossip reports it.
type Host struct {
	Name    string
	Alive   bool
	Drained bool
	// Known maps each unit key in the host's config to the fingerprint of its
	// definition there (see Fingerprints).
	Known map[string]Fingerprint
	// Passing holds the unit keys whose local checks pass on the host.
	Passing KeySet
	// Holds holds the unit keys the host announces now.
	Holds KeySet
}

// Unit is what moves from host to host as one: a VIP group, or a single VIP
// that has no group.
type Unit struct {
	// Key is the group name, or the VIP's name when it has no group.
	Key string
	// VIPs are the VIPs that move with the unit: the group's members, or the
	// one VIP. They are part of the unit's Fingerprint, and Decide hands them,
	// sorted, to the Decision, so the owner knows what to announce.
	VIPs []string
	// Nodes lists the hosts allowed to own the unit; empty allows every host.
	Nodes []string
	// Priority ranks hosts for the unit; a host missing from it has 0.
	Priority map[string]int
	// Failback lets an eligible host with a higher priority take the unit
	// from its current holder.
	Failback bool
}

// KeySet is a set of unit keys. A nil KeySet is empty.
type KeySet map[string]struct{}

// NewKeySet returns a set holding keys.
func NewKeySet(keys ...string) KeySet {
	s := make(KeySet, len(keys))
	for _, k := range keys {
		s[k] = struct{}{}
	}
	return s
}

// Has reports whether key is in the set.
func (s KeySet) Has(key string) bool {
	_, ok := s[key]
	return ok
}

// Sorted returns the keys in order, so callers never depend on map order.
func (s KeySet) Sorted() []string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// allows reports whether the node list lets host own the unit.
func (u Unit) allows(host string) bool {
	return len(u.Nodes) == 0 || slices.Contains(u.Nodes, host)
}

// priorityOf returns host's priority for the unit; a missing entry is 0.
func (u Unit) priorityOf(host string) int {
	return u.Priority[host]
}
