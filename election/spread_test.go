package election

import (
	"fmt"
	"testing"
)

// With equal priorities and nobody holding anything, rendezvous hashing should
// spread units evenly: 1000 units on 5 hosts, each within 20% of 200.
func TestSpreadIsEven(t *testing.T) {
	const hosts, units = 5, 1000
	view := View{}
	for i := range units {
		view.Units = append(view.Units, Unit{Key: fmt.Sprintf("vip-%d", i)})
	}
	for i := range hosts {
		view.Hosts = append(view.Hosts, node(fmt.Sprintf("h%d", i+1), view.Units))
	}

	count := map[string]int{}
	for _, d := range Decide(view) {
		count[d.Owner]++
	}

	lo, hi := units, 0
	for _, h := range view.Hosts {
		lo, hi = min(lo, count[h.Name]), max(hi, count[h.Name])
	}
	t.Logf("spread over %d hosts: min %d max %d", hosts, lo, hi)
	want := units / hosts
	if lo < want*8/10 || hi > want*12/10 {
		t.Errorf("spread %v, want every host within 20%% of %d", count, want)
	}
}
