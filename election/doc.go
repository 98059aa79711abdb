// Package election decides, from a plain View of the cluster, which host owns
// every VIP unit, and says why.
//
// It is a pure function: Decide reads no clock, socket, file or gossip
// library, and the same View gives the same Decisions on every host, on every
// architecture, in every process. That is what lets each vipd host compute the
// owner on its own and still agree with the others.
//
// # Units
//
// A Unit is what moves as one: a VIP group (all its VIPs get the same owner)
// or a single ungrouped VIP. Its Key is the group name, or the VIP's name when
// it has no group, and its VIPs travel with it into the Decision, so the
// owner knows what to announce. The caller folds a group's checks into one
// result per unit (Host.Passing).
//
// # Eligibility
//
// A host is eligible for a unit when, checked in this order, it
//
//   - has a unique name in the view (else DuplicateHost),
//   - is alive (else NotAlive),
//   - has the unit in its config (else UnknownUnit),
//   - has the same definition of it as this view's Unit (else ConfigDiffers),
//   - is allowed by the unit's node list; an empty list allows all (else NotInNodeList),
//   - is not drained (else Drained),
//   - passes its local checks for the unit (else ChecksFailing).
//
// The config rules keep hosts with different configs from both owning a VIP.
// Each host passes its own Units to Decide, and Host.Known carries, for every
// host, the Fingerprint of each unit definition in its config (see
// Fingerprints). A host counts only hosts whose definition matches its own,
// and when more alive hosts gossip another definition of the same key, it
// names no owner (ReasonConfigOutvoted) and leaves the unit to them. So every
// host that can claim a unit has the same definition and, seeing the same
// hosts, computes the same owner.
//
// # Ownership
//
// Among eligible hosts:
//
//   - One holder (a host that announces it now) keeps it: ReasonOwnerKept.
//     A rejoining host does not take it back, so there is no failback flap.
//   - Several holders (a healed partition): the best of them, by priority and
//     then rendezvous hash, keeps it and the others let go: ReasonSplitResolved.
//   - No holder: the best eligible host, by priority and then rendezvous hash,
//     takes it: ReasonElected.
//   - If the unit asks for Failback and an eligible host has a strictly higher
//     priority than the keeper, the best eligible host takes it: ReasonFailback.
//
// The rendezvous (highest-random-weight) hash scores each host for each unit
// from the two names alone, so losing a host moves only the units it owned,
// and units spread evenly over hosts of equal priority. The hash is part of
// the protocol between hosts: changing it makes hosts of different versions
// disagree, so hash_test.go pins its values.
//
// While gossip between hosts is cut, hosts that each answer for a unit on the
// LAN pick one of them with Arbitrate, the same rule as for several holders,
// so the one that keeps answering is also the owner once gossip is back.
//
// With no eligible host the unit has no owner, and the reason names the
// furthest any host got through the checks: ReasonChecksFailing,
// ReasonAllDrained, ReasonNoNodeAllowed or ReasonNoEligibleHost.
package election
