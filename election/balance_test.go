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

// A crash moves only the dead host's units, and balancing afterwards moves
// nothing else; when the host comes back empty, only units bound for it
// move, and once they have, nothing moves again: no unit goes back and
// forth because of a host it never lived on.
func TestBalancingMovesOnlyWhatAHostChangeNeeds(t *testing.T) {
	var units []Unit
	for i := range 1000 {
		units = append(units, Unit{Key: fmt.Sprintf("v%04d", i), VIPs: []string{fmt.Sprintf("10.0.%d.%d", i/256, i%256)}})
	}
	names := make([]string, 24)
	for i := range names {
		names[i] = fmt.Sprintf("h%02d", i+1)
	}
	// decide returns the decisions with owner holding each unit it owns.
	decide := func(owner map[string]string, alive func(string) bool) Decisions {
		held := map[string][]string{}
		for u, h := range owner {
			held[h] = append(held[h], u)
		}
		var hosts []Host
		for _, n := range names {
			h := node(n, units, holding(held[n]...))
			h.Alive = alive(n)
			hosts = append(hosts, h)
		}
		return Decide(View{Units: units, Hosts: hosts})
	}
	everyone := func(string) bool { return true }
	// A balanced fleet: every unit on its balanced host, found by moving
	// units to their targets until none moves.
	owner := map[string]string{}
	for i, u := range units {
		owner[u.Key] = names[i%len(names)]
	}
	settle := func(alive func(string) bool) (moved map[string]string) {
		moved = map[string]string{}
		for range 10 {
			again := false
			for _, d := range decide(owner, alive) {
				if d.Balanced != "" && d.Balanced != owner[d.Key] {
					owner[d.Key], moved[d.Key], again = d.Balanced, d.Balanced, true
				}
			}
			if !again {
				return moved
			}
		}
		t.Fatal("balancing did not settle in 10 rounds")
		return nil
	}
	settle(everyone)

	// h07 dies: its units go where the election sends them.
	const victim = "h07"
	notVictim := func(n string) bool { return n != victim }
	var orphans []string
	for u, h := range owner {
		if h == victim {
			orphans = append(orphans, u)
			delete(owner, u)
		}
	}
	for _, d := range decide(owner, notVictim) {
		if owner[d.Key] == "" {
			owner[d.Key] = d.Owner
		}
	}
	if moved := settle(notVictim); len(moved) > 0 {
		t.Errorf("after %s died and its %d units were taken over, balancing moved %d more: %v", victim, len(orphans), len(moved), moved)
	}

	// h07 comes back holding nothing.
	moved := settle(everyone)
	for u, to := range moved {
		if to != victim {
			t.Errorf("%s came back: %s moved to %s, not to it", victim, u, to)
		}
	}
	load := map[string]int{}
	for _, h := range owner {
		load[h]++
	}
	if share := (1000 + 23) / 24; load[victim] < share-share/10 {
		t.Errorf("%s came back and got %d units, want at least %d", victim, load[victim], share-share/10)
	}
	t.Logf("%s died with %d units and came back: %d moved, all to it", victim, len(orphans), len(moved))
}
