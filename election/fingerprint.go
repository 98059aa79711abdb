package election

import (
	"fmt"
	"slices"
)

// Fingerprint identifies a unit's definition: two hosts whose units have the
// same Fingerprint decide them alike. Hosts gossip it in Host.Known.
type Fingerprint uint64

// String returns the fingerprint as 16 hex digits, for status and logs.
func (f Fingerprint) String() string {
	return fmt.Sprintf("%016x", uint64(f))
}

// Fingerprint returns the fingerprint of the unit's definition. It ignores
// what does not change a decision: the order of VIPs and Nodes, repeats in
// them, and priorities of 0.
func (u Unit) Fingerprint() Fingerprint {
	vips := sortedUnique(u.VIPs)
	nodes := sortedUnique(u.Nodes)

	prioritized := make([]string, 0, len(u.Priority))
	for host, p := range u.Priority {
		if p != 0 {
			prioritized = append(prioritized, host)
		}
	}
	slices.Sort(prioritized)

	h := newHasher()
	h.writeString("vipd/election/unit/v1")
	h.writeString(u.Key)
	h.writeBool(u.Failback)
	h.writeUint64(uint64(len(vips)))
	for _, v := range vips {
		h.writeString(v)
	}
	h.writeUint64(uint64(len(nodes)))
	for _, n := range nodes {
		h.writeString(n)
	}
	h.writeUint64(uint64(len(prioritized)))
	for _, host := range prioritized {
		h.writeString(host)
		h.writeUint64(uint64(int64(u.Priority[host])))
	}
	return Fingerprint(h.sum())
}

// Fingerprints returns what a host whose config holds units gossips as
// Host.Known.
func Fingerprints(units []Unit) map[string]Fingerprint {
	known := make(map[string]Fingerprint, len(units))
	for _, u := range units {
		known[u.Key] = u.Fingerprint()
	}
	return known
}

// sortedUnique returns s sorted without repeats: s itself, capped so an
// append cannot write into it, when it already is (a VIP unit's one VIP,
// every step), else a sorted copy.
func sortedUnique(s []string) []string {
	strictlySorted := true
	for i := 1; i < len(s) && strictlySorted; i++ {
		strictlySorted = s[i-1] < s[i]
	}
	if strictlySorted {
		return s[:len(s):len(s)]
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
