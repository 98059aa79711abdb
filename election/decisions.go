package election

import (
	"cmp"
	"slices"
)

// Decision is the outcome for one unit.
type Decision struct {
	Key string
	// VIPs are the unit's VIPs, sorted; they all go to Owner. They may be
	// the view's own slice: read them, never change them.
	VIPs []string
	// Owner is the host that should announce the unit; empty when none.
	Owner  string
	Reason Reason
	// Balanced is where the unit goes when the cluster rebalances: an
	// eligible host of the owner's priority, by the rendezvous hash bounded
	// by load (balance.go). Set only when a holder keeps the unit
	// (ReasonOwnerKept or ReasonSplitResolved); it may be the owner.
	Balanced string `json:",omitempty"`
	// Hosts names every host in the view, sorted by name, and Eligibility
	// says for each whether it may own the unit. The decisions of one
	// Decide share one Hosts slice: read it, never change it. Both are
	// empty for ReasonDuplicateUnit.
	Hosts       []string
	Eligibility []Eligibility
}

// HostStatus is one host's eligibility for one unit.
type HostStatus struct {
	Host        string
	Eligibility Eligibility
}

// Statuses returns every host's eligibility for the unit, sorted by host.
func (d Decision) Statuses() []HostStatus {
	out := make([]HostStatus, len(d.Eligibility))
	for i, e := range d.Eligibility {
		out[i] = HostStatus{Host: d.Hosts[i], Eligibility: e}
	}
	return out
}

// EligibilityOf returns host's eligibility for the unit; NotAlive for a
// host that is not in the view.
func (d Decision) EligibilityOf(host string) Eligibility {
	i, found := slices.BinarySearch(d.Hosts, host)
	if !found || i >= len(d.Eligibility) {
		return NotAlive
	}
	return d.Eligibility[i]
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
