package election_test

import (
	"fmt"

	"github.com/vipd/vipd/election"
)

func ExampleDecide() {
	frontends := election.Unit{
		Key:      "frontends",
		VIPs:     []string{"192.0.2.10", "192.0.2.11"},
		Priority: map[string]int{"h1": 100},
		Failback: true,
	}
	units := []election.Unit{frontends}
	known := election.Fingerprints(units)

	view := election.View{
		Units: units,
		Hosts: []election.Host{
			{Name: "h1", Alive: true, Known: known, Passing: election.NewKeySet()}, // its check fails
			{Name: "h2", Alive: true, Known: known, Passing: election.NewKeySet("frontends")},
			{Name: "h3", Alive: false, Known: known},
		},
	}

	for _, d := range election.Decide(view) {
		fmt.Printf("%s -> %s (%v)\n", d.Key, d.Owner, d.Reason)
		for _, s := range d.Statuses() {
			fmt.Printf("  %s: %v\n", s.Host, s.Eligibility)
		}
	}
	fmt.Println("h2 announces", election.Decide(view).VIPsOwnedBy("h2"))
	// Output:
	// frontends -> h2 (elected)
	//   h1: checks failing
	//   h2: eligible
	//   h3: not alive
	// h2 announces [192.0.2.10 192.0.2.11]
}
