package membership

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
)

// UnitsFromConfig returns the election units of a config's VIPs: one per
// group, one per VIP without a group, sorted by key. A unit's VIPs are the
// addresses of its VIPs; its node list, priorities and failback come from its
// first VIP (config validation makes a group's VIPs agree on them).
func UnitsFromConfig(vips []config.VIP) []election.Unit {
	byKey := map[string]int{}
	var units []election.Unit
	for _, v := range vips {
		addr := v.Address.Addr().String()
		if i, ok := byKey[v.Unit()]; ok {
			units[i].VIPs = append(units[i].VIPs, addr)
			continue
		}
		byKey[v.Unit()] = len(units)
		units = append(units, election.Unit{
			Key:      v.Unit(),
			VIPs:     []string{addr},
			Nodes:    slices.Clone(v.Nodes),
			Priority: maps.Clone(v.Priority),
			Failback: v.Failback,
		})
	}
	slices.SortFunc(units, func(a, b election.Unit) int { return cmp.Compare(a.Key, b.Key) })
	return units
}

// ConfigFingerprint identifies a host's whole unit list: the sorted unit keys
// and the election.Fingerprint of each. Hosts with the same ConfigFingerprint
// index their metadata bitmaps alike.
type ConfigFingerprint uint64

// String returns the fingerprint as 16 hex digits.
func (c ConfigFingerprint) String() string { return fmt.Sprintf("%016x", uint64(c)) }

// unitList is a host's unit list as gossip needs it: keys in the order that
// indexes the metadata bitmaps, the definition of each, and the fingerprint
// of the whole.
type unitList struct {
	keys  []string // sorted, unique
	known map[string]election.Fingerprint
	index map[string]int
	// all holds every key. keySet hands it out for every host that passes
	// every unit, the usual case, so those hosts share one set, which the
	// election then reads once instead of once per host.
	all election.KeySet
	fp  ConfigFingerprint
}

// newUnitList builds the list from keys and their definitions. Keys must be
// sorted and unique.
func newUnitList(keys []string, fps []election.Fingerprint) *unitList {
	l := &unitList{
		keys:  keys,
		known: make(map[string]election.Fingerprint, len(keys)),
		index: make(map[string]int, len(keys)),
		all:   election.NewKeySet(keys...),
	}
	h := sha256.New()
	h.Write([]byte("vipd/membership/units/v1\x00"))
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(len(keys)))
	h.Write(buf[:])
	for i, k := range keys {
		l.known[k] = fps[i]
		l.index[k] = i
		binary.BigEndian.PutUint64(buf[:], uint64(len(k)))
		h.Write(buf[:])
		h.Write([]byte(k))
		binary.BigEndian.PutUint64(buf[:], uint64(fps[i]))
		h.Write(buf[:])
	}
	l.fp = ConfigFingerprint(binary.BigEndian.Uint64(h.Sum(nil)))
	return l
}

// unitListOf returns the list of units, which must have unique keys.
func unitListOf(units []election.Unit) (*unitList, error) {
	if len(units) > MaxUnits {
		return nil, fmt.Errorf("membership: %d VIP units, more than the %d that node metadata can carry; put VIPs that move together in a group", len(units), MaxUnits)
	}
	if err := (election.View{Units: units}).Validate(); err != nil {
		return nil, err
	}
	for _, u := range units {
		if len(u.Key) > maxKeyLen {
			return nil, fmt.Errorf("membership: unit key %.20q... is longer than %d bytes", u.Key, maxKeyLen)
		}
	}
	sorted := slices.Clone(units)
	slices.SortFunc(sorted, func(a, b election.Unit) int { return cmp.Compare(a.Key, b.Key) })
	keys := make([]string, len(sorted))
	fps := make([]election.Fingerprint, len(sorted))
	for i, u := range sorted {
		keys[i] = u.Key
		fps[i] = u.Fingerprint()
	}
	return newUnitList(keys, fps), nil
}

// bits returns the indexes of the list's keys that are in set; keys the
// list does not hold are ignored.
func (l *unitList) bits(set election.KeySet) []int {
	idx := make([]int, 0, len(set))
	for k := range set {
		if i, ok := l.index[k]; ok {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	return idx
}

// isAll reports whether idx lists every index of the list, in order.
func (l *unitList) isAll(idx []int) bool {
	if len(idx) != len(l.keys) {
		return false
	}
	for i, v := range idx {
		if v != i {
			return false
		}
	}
	return true
}

// keySet returns the keys at the indexes idx, which are all below len(l.keys).
// The set is shared when it holds every key: read it, never change it.
func (l *unitList) keySet(idx []int) election.KeySet {
	if l.isAll(idx) {
		return l.all
	}
	s := make(election.KeySet, len(idx))
	for _, i := range idx {
		s[l.keys[i]] = struct{}{}
	}
	return s
}
