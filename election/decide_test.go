package election

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecideRules(t *testing.T) {
	web := Unit{Key: "web", VIPs: []string{"192.0.2.10"}}
	prio := func(u Unit, p map[string]int) Unit { u.Priority = p; return u }
	failback := func(u Unit) Unit { u.Failback = true; return u }
	nodes := func(u Unit, n ...string) Unit { u.Nodes = n; return u }
	units := []Unit{web}
	// ranked lists h1..h3 by rendezvous score for "web", best first, so the
	// table does not depend on which name happens to hash highest.
	ranked := byScore("web", "h1", "h2", "h3")
	first, second, third := ranked[0], ranked[1], ranked[2]

	tests := []struct {
		name       string
		unit       Unit
		hosts      []Host
		wantOwner  string
		wantReason Reason
		// wantHosts lists only the hosts that are not Eligible.
		wantHosts map[string]Eligibility
	}{
		{
			name:       "no hosts",
			unit:       web,
			wantReason: ReasonNoEligibleHost,
		},
		{
			name:       "every host dead",
			unit:       web,
			hosts:      []Host{node("h1", units, dead), node("h2", units, dead, holding("web"))},
			wantReason: ReasonNoEligibleHost,
			wantHosts:  map[string]Eligibility{"h1": NotAlive, "h2": NotAlive},
		},
		{
			name:       "holder keeps it",
			unit:       web,
			hosts:      []Host{node("h1", units), node("h2", units, holding("web")), node("h3", units)},
			wantOwner:  "h2",
			wantReason: ReasonOwnerKept,
		},
		{
			name:       "holder keeps it against a higher priority without failback",
			unit:       prio(web, map[string]int{"h1": 10}),
			hosts:      []Host{node("h1", units), node("h2", units, holding("web"))},
			wantOwner:  "h2",
			wantReason: ReasonOwnerKept,
		},
		{
			name:       "failback to a higher priority",
			unit:       failback(prio(web, map[string]int{"h1": 10})),
			hosts:      []Host{node("h1", units), node("h2", units, holding("web"))},
			wantOwner:  "h1",
			wantReason: ReasonFailback,
		},
		{
			name:       "failback needs a strictly higher priority",
			unit:       failback(prio(web, map[string]int{"h1": 10, "h2": 10})),
			hosts:      []Host{node("h1", units), node("h2", units, holding("web"))},
			wantOwner:  "h2",
			wantReason: ReasonOwnerKept,
		},
		{
			name:       "failback goes to the highest priority",
			unit:       failback(prio(web, map[string]int{"h1": 5, "h3": 10})),
			hosts:      []Host{node("h1", units), node("h2", units, holding("web")), node("h3", units)},
			wantOwner:  "h3",
			wantReason: ReasonFailback,
		},
		{
			name:       "failback ignores an ineligible higher priority",
			unit:       failback(prio(web, map[string]int{"h1": 10})),
			hosts:      []Host{node("h1", units, drained), node("h2", units, holding("web"))},
			wantOwner:  "h2",
			wantReason: ReasonOwnerKept,
			wantHosts:  map[string]Eligibility{"h1": Drained},
		},
		{
			name:       "highest priority elected",
			unit:       prio(web, map[string]int{"h3": 5, "h1": -1}),
			hosts:      []Host{node("h1", units), node("h2", units), node("h3", units)},
			wantOwner:  "h3",
			wantReason: ReasonElected,
		},
		{
			name:       "equal priority elected by rendezvous hash",
			unit:       web,
			hosts:      []Host{node("h1", units), node("h2", units), node("h3", units)},
			wantOwner:  first,
			wantReason: ReasonElected,
		},
		{
			name:       "dead holder is replaced",
			unit:       prio(web, map[string]int{"h2": 1}),
			hosts:      []Host{node("h1", units, dead, holding("web")), node("h2", units), node("h3", units)},
			wantOwner:  "h2",
			wantReason: ReasonElected,
			wantHosts:  map[string]Eligibility{"h1": NotAlive},
		},
		{
			name:       "holder failing its checks lets go",
			unit:       prio(web, map[string]int{"h1": 9, "h3": 1}),
			hosts:      []Host{node("h1", units, failing("web"), holding("web")), node("h2", units), node("h3", units)},
			wantOwner:  "h3",
			wantReason: ReasonElected,
			wantHosts:  map[string]Eligibility{"h1": ChecksFailing},
		},
		{
			name:       "drained holder lets go",
			unit:       prio(web, map[string]int{"h2": 1}),
			hosts:      []Host{node("h1", units, drained, holding("web")), node("h2", units), node("h3", units)},
			wantOwner:  "h2",
			wantReason: ReasonElected,
			wantHosts:  map[string]Eligibility{"h1": Drained},
		},
		{
			name:       "split resolved by rendezvous hash among the holders",
			unit:       web,
			hosts:      []Host{node(first, units), node(second, units, holding("web")), node(third, units, holding("web"))},
			wantOwner:  second,
			wantReason: ReasonSplitResolved,
		},
		{
			name:       "split resolved by priority first",
			unit:       prio(web, map[string]int{third: 1}),
			hosts:      []Host{node(first, units, holding("web")), node(second, units, holding("web")), node(third, units, holding("web"))},
			wantOwner:  third,
			wantReason: ReasonSplitResolved,
		},
		{
			name:       "split with failback goes to a higher priority non-holder",
			unit:       failback(prio(web, map[string]int{"h2": 5})),
			hosts:      []Host{node("h1", units, holding("web")), node("h2", units), node("h3", units, holding("web"))},
			wantOwner:  "h2",
			wantReason: ReasonFailback,
		},
		{
			name:       "all drained",
			unit:       web,
			hosts:      []Host{node("h1", units, drained), node("h2", units, drained, holding("web")), node("h3", units, dead)},
			wantReason: ReasonAllDrained,
			wantHosts:  map[string]Eligibility{"h1": Drained, "h2": Drained, "h3": NotAlive},
		},
		{
			name:       "checks failing everywhere",
			unit:       web,
			hosts:      []Host{node("h1", units, failing("web")), node("h2", units, failing("web"), holding("web"))},
			wantReason: ReasonChecksFailing,
			wantHosts:  map[string]Eligibility{"h1": ChecksFailing, "h2": ChecksFailing},
		},
		{
			name:       "checks failing on every host not drained",
			unit:       web,
			hosts:      []Host{node("h1", units, failing("web")), node("h2", units, drained)},
			wantReason: ReasonChecksFailing,
			wantHosts:  map[string]Eligibility{"h1": ChecksFailing, "h2": Drained},
		},
		{
			name:       "node list restricts the owner",
			unit:       nodes(prio(web, map[string]int{"h1": 10}), "h3"),
			hosts:      []Host{node("h1", units), node("h2", units), node("h3", units)},
			wantOwner:  "h3",
			wantReason: ReasonElected,
			wantHosts:  map[string]Eligibility{"h1": NotInNodeList, "h2": NotInNodeList},
		},
		{
			name:       "holder outside the node list lets go",
			unit:       nodes(prio(web, map[string]int{"h3": 1}), "h2", "h3"),
			hosts:      []Host{node("h1", units, holding("web")), node("h2", units), node("h3", units)},
			wantOwner:  "h3",
			wantReason: ReasonElected,
			wantHosts:  map[string]Eligibility{"h1": NotInNodeList},
		},
		{
			name:       "nobody in the node list alive",
			unit:       nodes(web, "h3"),
			hosts:      []Host{node("h1", units), node("h2", units), node("h3", units, dead)},
			wantReason: ReasonNoNodeAllowed,
			wantHosts:  map[string]Eligibility{"h1": NotInNodeList, "h2": NotInNodeList, "h3": NotAlive},
		},
		{
			name:       "host without the unit in its config is not eligible",
			unit:       prio(web, map[string]int{"h1": 10, "h2": 1}),
			hosts:      []Host{node("h1", units, unknowing("web")), node("h2", units), node("h3", units)},
			wantOwner:  "h2",
			wantReason: ReasonElected,
			wantHosts:  map[string]Eligibility{"h1": UnknownUnit},
		},
		{
			name:       "no host has the unit in its config",
			unit:       web,
			hosts:      []Host{node("h1", nil), node("h2", nil)},
			wantReason: ReasonNoEligibleHost,
			wantHosts:  map[string]Eligibility{"h1": UnknownUnit, "h2": UnknownUnit},
		},
		{
			name:       "host with another definition is not eligible",
			unit:       prio(web, map[string]int{"h1": 10, "h2": 1}),
			hosts:      []Host{node("h1", units, knowingAs(nodes(web, "h1"))), node("h2", units), node("h3", units)},
			wantOwner:  "h2",
			wantReason: ReasonElected,
			wantHosts:  map[string]Eligibility{"h1": ConfigDiffers},
		},
		{
			name: "definition held by more hosts outvotes this one",
			unit: web,
			hosts: []Host{
				node("h1", units),
				node("h2", units, knowingAs(failback(web))),
				node("h3", units, knowingAs(failback(web))),
			},
			wantReason: ReasonConfigOutvoted,
			wantHosts:  map[string]Eligibility{"h2": ConfigDiffers, "h3": ConfigDiffers},
		},
		{
			name: "dead hosts do not vote on the definition",
			unit: web,
			hosts: []Host{
				node("h1", units),
				node("h2", units, dead, knowingAs(failback(web))),
				node("h3", units, dead, knowingAs(failback(web))),
			},
			wantOwner:  "h1",
			wantReason: ReasonElected,
			wantHosts:  map[string]Eligibility{"h2": NotAlive, "h3": NotAlive},
		},
		{
			name:       "tied definitions: the holder's wins (holder elsewhere)",
			unit:       web,
			hosts:      []Host{node("h1", units), node("h2", units, knowingAs(failback(web)), holding("web"))},
			wantReason: ReasonConfigOutvoted,
			wantHosts:  map[string]Eligibility{"h2": ConfigDiffers},
		},
		{
			name:       "tied definitions: the holder's wins (holder here)",
			unit:       web,
			hosts:      []Host{node("h1", units, holding("web")), node("h2", units, knowingAs(failback(web)))},
			wantOwner:  "h1",
			wantReason: ReasonOwnerKept,
			wantHosts:  map[string]Eligibility{"h2": ConfigDiffers},
		},
		{
			name:       "duplicate host name owns nothing",
			unit:       prio(web, map[string]int{"h1": 10}),
			hosts:      []Host{node("h1", units), node("h1", units), node("h2", units)},
			wantOwner:  "h2",
			wantReason: ReasonElected,
			wantHosts:  map[string]Eligibility{"h1": DuplicateHost},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Hosts are built knowing plain web; they share the case's
			// definition unless knowingAs gave them another one.
			for _, h := range tt.hosts {
				if fp, ok := h.Known[web.Key]; ok && fp == web.Fingerprint() {
					h.Known[web.Key] = tt.unit.Fingerprint()
				}
			}
			got, ok := Decide(View{Hosts: tt.hosts, Units: []Unit{tt.unit}}).Lookup(tt.unit.Key)
			if !ok {
				t.Fatalf("no decision for %q", tt.unit.Key)
			}
			if got.Owner != tt.wantOwner || got.Reason != tt.wantReason {
				t.Errorf("owner %q (%v), want %q (%v)", got.Owner, got.Reason, tt.wantOwner, tt.wantReason)
			}
			notEligible := map[string]Eligibility{}
			for _, s := range got.Statuses() {
				if s.Eligibility != Eligible {
					notEligible[s.Host] = s.Eligibility
				}
			}
			if diff := cmp.Diff(tt.wantHosts, notEligible, cmpEmptyMapsEqual); diff != "" {
				t.Errorf("hosts not eligible (-want +got):\n%s", diff)
			}
		})
	}
}

var cmpEmptyMapsEqual = cmp.FilterValues(func(a, b map[string]Eligibility) bool {
	return len(a) == 0 && len(b) == 0
}, cmp.Ignore())

func TestDecideGroupMovesAsOne(t *testing.T) {
	group := Unit{Key: "frontends", VIPs: []string{"192.0.2.11", "192.0.2.10", "2001:db8::10"}}
	solo := Unit{Key: "192.0.2.20", VIPs: []string{"192.0.2.20"}, Priority: map[string]int{"h1": 1}}
	units := []Unit{group, solo}
	view := View{
		Units: units,
		Hosts: []Host{node("h1", units), node("h2", units, holding("frontends"))},
	}

	got := Decide(view)

	want := Decisions{
		{Key: "192.0.2.20", VIPs: []string{"192.0.2.20"}, Owner: "h1", Reason: ReasonElected,
			Hosts: []string{"h1", "h2"}, Eligibility: []Eligibility{Eligible, Eligible}},
		{Key: "frontends", VIPs: []string{"192.0.2.10", "192.0.2.11", "2001:db8::10"}, Owner: "h2", Reason: ReasonOwnerKept,
			Balanced: "h2", Hosts: []string{"h1", "h2"}, Eligibility: []Eligibility{Eligible, Eligible}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Decide (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"192.0.2.10", "192.0.2.11", "2001:db8::10"}, got.VIPsOwnedBy("h2")); diff != "" {
		t.Errorf("VIPsOwnedBy(h2) (-want +got):\n%s", diff)
	}

	// A failing check anywhere in the group fails the whole unit on that host,
	// so the whole group moves, never a part of it.
	view.Hosts[1] = node("h2", units, holding("frontends"), failing("frontends"))
	got = Decide(view)
	if owner, _ := got.OwnerOf("frontends"); owner != "h1" {
		t.Errorf("after h2 fails the group's checks, owner %q, want h1", owner)
	}
	if diff := cmp.Diff([]string{"192.0.2.10", "192.0.2.11", "192.0.2.20", "2001:db8::10"}, got.VIPsOwnedBy("h1")); diff != "" {
		t.Errorf("VIPsOwnedBy(h1) (-want +got):\n%s", diff)
	}
}

func TestDecideDuplicateUnitHasNoOwner(t *testing.T) {
	a := Unit{Key: "web"}
	b := Unit{Key: "web", Failback: true}
	got := Decide(View{Units: []Unit{a, b}, Hosts: []Host{node("h1", []Unit{a})}})
	want := Decisions{{Key: "web", Reason: ReasonDuplicateUnit}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Decide (-want +got):\n%s", diff)
	}
}

func TestDecideEmptyView(t *testing.T) {
	if got := Decide(View{}); len(got) != 0 {
		t.Fatalf("Decide(View{}) = %v, want no decisions", got)
	}
}

// Balanced names where a kept unit goes when the cluster rebalances: the
// host the hash prefers among the eligible hosts of the keeper's priority;
// never a host of higher priority (that is failback's job), nor one that
// is not eligible.
func TestDecideNamesTheBalancedHost(t *testing.T) {
	units := []Unit{{Key: "web", VIPs: []string{"192.0.2.10"}}}
	hosts := []string{"h1", "h2", "h3", "h4"}
	preferred := bestOf("web", []candidate{{name: "h1"}, {name: "h2"}, {name: "h3"}, {name: "h4"}}).name
	var other string
	for _, h := range hosts {
		if h != preferred {
			other = h
			break
		}
	}
	view := func(mut func(name string, h *Host)) View {
		v := View{Units: units}
		for _, name := range hosts {
			h := node(name, units)
			if name == other {
				h = node(name, units, holding("web"))
			}
			if mut != nil {
				mut(name, &h)
			}
			v.Hosts = append(v.Hosts, h)
		}
		return v
	}
	d := Decide(view(nil))[0]
	if d.Owner != other || d.Reason != ReasonOwnerKept || d.Balanced != preferred {
		t.Errorf("kept by %s: owner %s (%s), balanced %q; want %s kept, balanced %s", other, d.Owner, d.Reason, d.Balanced, other, preferred)
	}
	// The preferred host not eligible: the next by hash.
	d = Decide(view(func(name string, h *Host) {
		if name == preferred {
			h.Passing = NewKeySet()
		}
	}))[0]
	if d.Balanced == preferred || d.Balanced == "" {
		t.Errorf("balanced %q with %s failing its checks", d.Balanced, preferred)
	}
	// A unit that prefers another host by priority, without failback: the
	// keeper's priority decides where it balances to.
	units[0].Priority = map[string]int{preferred: 10}
	d = Decide(view(nil))[0]
	if d.Owner != other || d.Balanced == preferred {
		t.Errorf("priority 10 on %s, no failback: owner %s, balanced %q; want %s kept and balanced among the others", preferred, d.Owner, d.Balanced, other)
	}
	// No holder: elected, nothing to balance.
	units[0].Priority = nil
	d = Decide(View{Units: units, Hosts: []Host{node("h1", units), node("h2", units)}})[0]
	if d.Reason != ReasonElected || d.Balanced != "" {
		t.Errorf("no holder: %s, balanced %q; want elected, none", d.Reason, d.Balanced)
	}
}
