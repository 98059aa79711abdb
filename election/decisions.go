package election

import (
	"cmp"
	"slices"
)

// Decision is the outcome for one unit.
type Decision struct {
	Key string
	// VIPs are the unit's VIPs, sorted; they all go to Owner.
	VIPs []string
	// Owner is the host that should announce the unit; empty when none.
	Owner  string
	Reason Reason
	// Hosts says, for every host in the view, sorted by name, whether it may
	// own the unit. It is empty for ReasonDuplicateUnit.
	Hosts []HostStatus
}

// HostStatus is one host's eligibility for one unit.
type HostStatus struct {
	Host        string
	Eligibility Eligibility
}

// HostsWith returns the hosts with eligibility e, sorted by name, e.g. the
// hosts to name when status says checks fail everywhere.
func (d Decision) HostsWith(e Eligibility) []string {
	var hosts []string
	for _, s := range d.Hosts {
		if s.Eligibility == e {
			hosts = append(hosts, s.Host)
		}
	}
	return hosts
}

// Decisions holds one Decision per unit, sorted by key, as Decide returns them.
type Decisions []Decision

// Lookup returns the decision for the unit key.
func (ds Decisions) Lookup(key string) (Decision, bool) {
	i, found := slices.BinarySearchFunc(ds, key, func(d Decision, key string) int {
		return cmp.Compare(d.Key, key)
	})
	if !found {
		return Decision{}, false
	}
	return ds[i], true
}

// OwnerOf returns the owner of the unit key; ok is false when the unit has no
// owner or is not in the decisions.
func (ds Decisions) OwnerOf(key string) (owner string, ok bool) {
	d, found := ds.Lookup(key)
	if !found || d.Owner == "" {
		return "", false
	}
	return d.Owner, true
}

// OwnedBy returns the keys of the units host owns, sorted: what the agent on
// that host should announce.
func (ds Decisions) OwnedBy(host string) []string {
	var keys []string
	for _, d := range ds {
		if d.Owner != "" && d.Owner == host {
			keys = append(keys, d.Key)
		}
	}
	return keys
}

// VIPsOwnedBy returns the VIPs of every unit host owns, sorted.
func (ds Decisions) VIPsOwnedBy(host string) []string {
	var vips []string
	for _, d := range ds {
		if d.Owner != "" && d.Owner == host {
			vips = append(vips, d.VIPs...)
		}
	}
	slices.Sort(vips)
	return vips
}
