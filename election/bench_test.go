package election

import (
	"fmt"
	"testing"
)

// BenchmarkDecide measures a large cluster in its steady state: 100 hosts,
// 1000 units, every host holding what the previous decision gave it.
func BenchmarkDecide(b *testing.B) {
	view := View{}
	for i := range 1000 {
		view.Units = append(view.Units, Unit{
			Key:      fmt.Sprintf("vip-%d", i),
			VIPs:     []string{fmt.Sprintf("vip-%d", i)},
			Priority: map[string]int{fmt.Sprintf("h%d", i%100): 1},
			Failback: i%2 == 0,
		})
	}
	for i := range 100 {
		view.Hosts = append(view.Hosts, node(fmt.Sprintf("h%d", i), view.Units))
	}
	view = holdingDecisions(view, Decide(view))

	b.ReportAllocs()
	for b.Loop() {
		Decide(view)
	}
}
