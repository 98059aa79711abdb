package election

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// Every claimant computes the same single winner from the same set, in any
// order, and it is the holder Decide keeps once gossip shows them all.
func TestArbitrateIsOneWinnerInAnyOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		u := genUnit(t, "u")
		u.Nodes, u.Failback = nil, false
		claimants := rapid.SliceOfNDistinct(rapid.SampledFrom(hostPool), 1, len(hostPool), rapid.ID).Draw(t, "claimants")
		winner := Arbitrate(u, claimants)
		if !slices.Contains(claimants, winner) {
			t.Fatalf("winner %q is not a claimant of %v", winner, claimants)
		}
		for range 5 {
			heard := slices.Clone(claimants)
			for i := len(heard) - 1; i > 0; i-- {
				j := rapid.IntRange(0, i).Draw(t, "swap")
				heard[i], heard[j] = heard[j], heard[i]
			}
			if got := Arbitrate(u, heard); got != winner {
				t.Fatalf("claimants heard as %v pick %q, as %v pick %q", claimants, winner, heard, got)
			}
		}

		var hosts []Host
		for _, name := range claimants {
			hosts = append(hosts, Host{
				Name: name, Alive: true, Known: Fingerprints([]Unit{u}),
				Passing: NewKeySet(u.Key), Holds: NewKeySet(u.Key),
			})
		}
		d := Decide(View{Hosts: hosts, Units: []Unit{u}})
		if d[0].Owner != winner {
			t.Fatalf("after the merge Decide keeps %q (%s), arbitration picked %q", d[0].Owner, d[0].Reason, winner)
		}
	})
}

func TestArbitrateHonoursPriority(t *testing.T) {
	u := Unit{Key: "web", Priority: map[string]int{"h3": 10}}
	if got := Arbitrate(u, []string{"h1", "h2", "h3"}); got != "h3" {
		t.Errorf("winner %q, want h3 with the highest priority", got)
	}
	if got := Arbitrate(u, nil); got != "" {
		t.Errorf("no claimants: winner %q", got)
	}
}
