package election

import (
	"fmt"
	"testing"
)

// With 1000 kept units on 24 hosts, the balanced targets load every host
// with its share (42) or a few less, never more, while the hash alone
// leaves some hosts a third over or under; and every host computes the
// same targets whatever the order of the view.
func TestBalancedTargetsAreWithinAShare(t *testing.T) {
	var units []Unit
	for i := range 1000 {
		units = append(units, Unit{Key: fmt.Sprintf("v%04d", i), VIPs: []string{fmt.Sprintf("10.0.%d.%d", i/256, i%256)}})
	}
	var hosts []Host
	for i := range 24 {
		name := fmt.Sprintf("h%02d", i+1)
		var held []string
		for j, u := range units {
			if j%24 == i {
				held = append(held, u.Key)
			}
		}
		hosts = append(hosts, node(name, units, holding(held...)))
	}
	ds := Decide(View{Units: units, Hosts: hosts})
	load, hashLoad := map[string]int{}, map[string]int{}
	var cands []candidate
	for _, h := range hosts {
		cands = append(cands, candidate{name: h.Name})
	}
	for _, d := range ds {
		if d.Reason != ReasonOwnerKept || d.Balanced == "" {
			t.Fatalf("%s: %s, balanced %q; want owner kept and a balanced host", d.Key, d.Reason, d.Balanced)
		}
		load[d.Balanced]++
		hashLoad[bestOf(d.Key, cands).name]++
	}
	share := (1000 + 23) / 24
	lo, hi := 1000, 0
	for _, h := range hosts {
		lo, hi = min(lo, load[h.Name]), max(hi, load[h.Name])
	}
	if hi > share || lo < 1000-23*share {
		t.Errorf("balanced loads from %d to %d, want at most %d and at least %d: %v", lo, hi, share, 1000-23*share, load)
	}
	hlo, hhi := 1000, 0
	for _, h := range hosts {
		hlo, hhi = min(hlo, hashLoad[h.Name]), max(hhi, hashLoad[h.Name])
	}
	t.Logf("balanced loads %d..%d; the hash alone %d..%d", lo, hi, hlo, hhi)

	reversed := make([]Host, len(hosts))
	for i, h := range hosts {
		reversed[len(hosts)-1-i] = h
	}
	for i, d := range Decide(View{Units: units, Hosts: reversed}) {
		if d.Balanced != ds[i].Balanced {
			t.Fatalf("%s: balanced %s with the hosts in reverse order, %s before", d.Key, d.Balanced, ds[i].Balanced)
		}
	}
}
