package election

import "fmt"

// Reason says why a unit has the owner it has, or why it has none.
type Reason int

// The zero Reason is not a decision, so a Decision left unset never reads as one.
const (
	// ReasonOwnerKept: the one eligible host that holds the unit keeps it.
	ReasonOwnerKept Reason = iota + 1
	// ReasonElected: no eligible host held it; the best eligible host takes it.
	ReasonElected
	// ReasonFailback: the unit asks for failback and a host with a higher
	// priority than its holder takes it.
	ReasonFailback
	// ReasonSplitResolved: several eligible hosts held it (after a partition);
	// the best of them keeps it and the others let go.
	ReasonSplitResolved
	// ReasonNoEligibleHost: no alive host has the unit in its config.
	ReasonNoEligibleHost
	// ReasonNoNodeAllowed: hosts have the unit, but none of them is in its node list.
	ReasonNoNodeAllowed
	// ReasonAllDrained: every host that could own it is drained.
	ReasonAllDrained
	// ReasonChecksFailing: every host that could own it and is not drained
	// fails its checks.
	ReasonChecksFailing
	// ReasonConfigOutvoted: more alive hosts have a different definition of the
	// unit than this view's; those hosts decide it, and this view names no owner.
	ReasonConfigOutvoted
	// ReasonDuplicateUnit: the view defines the key twice, so nobody owns it.
	ReasonDuplicateUnit
)

type names struct {
	token  string // stable, for JSON and metric labels
	phrase string // for people, in status output
}

var reasonNames = map[Reason]names{
	ReasonOwnerKept:      {"owner-kept", "owner kept"},
	ReasonElected:        {"elected", "elected"},
	ReasonFailback:       {"failback", "failed back to a higher priority host"},
	ReasonSplitResolved:  {"split-resolved", "several hosts held it; one kept it"},
	ReasonNoEligibleHost: {"no-eligible-host", "no alive host has it in its config"},
	ReasonNoNodeAllowed:  {"no-node-allowed", "no host in its node list is available"},
	ReasonAllDrained:     {"all-drained", "every host that could own it is drained"},
	ReasonChecksFailing:  {"checks-failing", "checks failing on every host that could own it"},
	ReasonConfigOutvoted: {"config-outvoted", "most hosts have a different config for it"},
	ReasonDuplicateUnit:  {"duplicate-unit", "defined twice"},
}

// String returns a short phrase for status output.
func (r Reason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n.phrase
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// HasOwner reports whether a decision with this reason names an owner.
func (r Reason) HasOwner() bool {
	switch r {
	case ReasonOwnerKept, ReasonElected, ReasonFailback, ReasonSplitResolved:
		return true
	}
	return false
}

// MarshalText gives a stable token such as "checks-failing". The zero Reason
// is not a decision and does not marshal.
func (r Reason) MarshalText() ([]byte, error) {
	n, ok := reasonNames[r]
	if !ok {
		return nil, fmt.Errorf("election: unknown reason %d", int(r))
	}
	return []byte(n.token), nil
}

// UnmarshalText reads a token written by MarshalText.
func (r *Reason) UnmarshalText(text []byte) error {
	for v, n := range reasonNames {
		if n.token == string(text) {
			*r = v
			return nil
		}
	}
	return fmt.Errorf("election: unknown reason %q", text)
}

// Eligibility says whether a host may own a unit, or the first check it
// fails. One byte: a fleet's decisions hold tens of thousands.
type Eligibility uint8

// The values are in the order Decide checks them, so a larger value means the
// host got further; the reason for a unit with no owner comes from the
// furthest any host got.
const (
	DuplicateHost Eligibility = iota + 1
	NotAlive
	UnknownUnit
	ConfigDiffers
	NotInNodeList
	Drained
	ChecksFailing
	Eligible
)

var eligibilityNames = map[Eligibility]names{
	DuplicateHost: {"duplicate-host", "another host has the same name"},
	NotAlive:      {"not-alive", "not alive"},
	UnknownUnit:   {"unknown-unit", "not in its config"},
	ConfigDiffers: {"config-differs", "its config for it differs"},
	NotInNodeList: {"not-in-node-list", "not in the node list"},
	Drained:       {"drained", "drained"},
	ChecksFailing: {"checks-failing", "checks failing"},
	Eligible:      {"eligible", "eligible"},
}

// String returns a short phrase for status output.
func (e Eligibility) String() string {
	if n, ok := eligibilityNames[e]; ok {
		return n.phrase
	}
	return fmt.Sprintf("Eligibility(%d)", int(e))
}

// MarshalText gives a stable token such as "not-in-node-list".
func (e Eligibility) MarshalText() ([]byte, error) {
	n, ok := eligibilityNames[e]
	if !ok {
		return nil, fmt.Errorf("election: unknown eligibility %d", int(e))
	}
	return []byte(n.token), nil
}

// UnmarshalText reads a token written by MarshalText.
func (e *Eligibility) UnmarshalText(text []byte) error {
	for v, n := range eligibilityNames {
		if n.token == string(text) {
			*e = v
			return nil
		}
	}
	return fmt.Errorf("election: unknown eligibility %q", text)
}

// noOwnerReason names why nobody owns a unit, from the furthest any host got.
func noOwnerReason(furthest Eligibility) Reason {
	switch furthest {
	case ChecksFailing:
		return ReasonChecksFailing
	case Drained:
		return ReasonAllDrained
	case NotInNodeList:
		return ReasonNoNodeAllowed
	}
	return ReasonNoEligibleHost
}
