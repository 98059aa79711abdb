package election

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// hostPool holds every name a generated view may use, so node lists and
// priorities can name hosts that are in the view and hosts that are not.
var hostPool = []string{"h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7"}

// chance draws true with probability percent/100.
func chance(t *rapid.T, percent int, label string) bool {
	return rapid.IntRange(0, 99).Draw(t, label) < percent
}

// genUnit draws a unit definition for key.
func genUnit(t *rapid.T, key string) Unit {
	u := Unit{Key: key, VIPs: []string{"vip-of-" + key}, Failback: chance(t, 30, "failback")}
	if chance(t, 40, "has nodes") {
		u.Nodes = rapid.SliceOfNDistinct(rapid.SampledFrom(hostPool), 1, 4, rapid.ID).Draw(t, "nodes")
	}
	if chance(t, 50, "has priority") {
		u.Priority = rapid.MapOfN(rapid.SampledFrom(hostPool), rapid.IntRange(-1, 3), 1, 4).Draw(t, "priority")
	}
	return u
}

func genUnits(t *rapid.T) []Unit {
	n := rapid.IntRange(0, 6).Draw(t, "units")
	units := make([]Unit, n)
	for i := range units {
		units[i] = genUnit(t, fmt.Sprintf("u%d", i))
	}
	return units
}

// genHost draws a host's state for units. With mixedConfigs some of its
// definitions differ from units.
func genHost(t *rapid.T, name string, units []Unit, mixedConfigs bool) Host {
	h := Host{
		Name:    name,
		Alive:   chance(t, 80, "alive"),
		Drained: chance(t, 15, "drained"),
		Known:   map[string]Fingerprint{},
		Passing: KeySet{},
		Holds:   KeySet{},
	}
	for _, u := range units {
		switch {
		case chance(t, 10, "unknown"):
		case mixedConfigs && chance(t, 20, "differs"):
			h.Known[u.Key] = u.Fingerprint() + 1
		default:
			h.Known[u.Key] = u.Fingerprint()
		}
		if chance(t, 75, "passing") {
			h.Passing[u.Key] = struct{}{}
		}
		if chance(t, 30, "holds") {
			h.Holds[u.Key] = struct{}{}
		}
	}
	return h
}

// genView draws hosts with distinct names from hostPool and units u0..u5.
func genView(t *rapid.T, mixedConfigs bool) View {
	units := genUnits(t)
	names := rapid.SliceOfNDistinct(rapid.SampledFrom(hostPool), 0, len(hostPool), rapid.ID).Draw(t, "hosts")
	v := View{Units: units}
	for _, name := range names {
		v.Hosts = append(v.Hosts, genHost(t, name, units, mixedConfigs))
	}
	return v
}

// wantEligible is the eligibility rule written as one predicate, to check
// Decide's step-by-step version against.
func wantEligible(h Host, u Unit) bool {
	fp, known := h.Known[u.Key]
	return h.Alive && !h.Drained && known && fp == u.Fingerprint() &&
		(len(u.Nodes) == 0 || slices.Contains(u.Nodes, h.Name)) && h.Passing.Has(u.Key)
}

// holdingDecisions returns the view with every host holding exactly what ds
// gives it, as hosts do once they have acted on a decision.
func holdingDecisions(v View, ds Decisions) View {
	out := View{Units: v.Units, Hosts: make([]Host, len(v.Hosts))}
	for i, h := range v.Hosts {
		h.Holds = NewKeySet(ds.OwnedBy(h.Name)...)
		out.Hosts[i] = h
	}
	return out
}

func owners(ds Decisions) map[string]string {
	m := map[string]string{}
	for _, d := range ds {
		m[d.Key] = d.Owner
	}
	return m
}

func TestPropertyOwnerIsEligible(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		mixed := rapid.Bool().Draw(t, "mixed configs")
		v := genView(t, mixed)
		ds := Decide(v)

		if len(ds) != len(v.Units) {
			t.Fatalf("%d decisions for %d units", len(ds), len(v.Units))
		}
		hosts := map[string]Host{}
		for _, h := range v.Hosts {
			hosts[h.Name] = h
		}
		for i, d := range ds {
			if i > 0 && ds[i-1].Key >= d.Key {
				t.Fatalf("decisions not sorted by key: %q before %q", ds[i-1].Key, d.Key)
			}
			u := v.Units[slices.IndexFunc(v.Units, func(u Unit) bool { return u.Key == d.Key })]
			if len(d.Hosts) != len(v.Hosts) {
				t.Fatalf("%s: %d host statuses for %d hosts", d.Key, len(d.Hosts), len(v.Hosts))
			}
			anyEligible := false
			for j, s := range d.Statuses() {
				if j > 0 && d.Hosts[j-1] >= s.Host {
					t.Fatalf("%s: host statuses not sorted by name", d.Key)
				}
				if want := wantEligible(hosts[s.Host], u); (s.Eligibility == Eligible) != want {
					t.Fatalf("%s: %s is %v, want eligible=%v", d.Key, s.Host, s.Eligibility, want)
				}
				anyEligible = anyEligible || s.Eligibility == Eligible
			}
			if d.Reason.HasOwner() != (d.Owner != "") {
				t.Fatalf("%s: owner %q with reason %v", d.Key, d.Owner, d.Reason)
			}
			if d.Owner != "" && !wantEligible(hosts[d.Owner], u) {
				t.Fatalf("%s: owner %s is not eligible", d.Key, d.Owner)
			}
			if d.Reason == ReasonConfigOutvoted {
				if !mixed {
					t.Fatalf("%s: outvoted although every host has the same config", d.Key)
				}
				continue
			}
			if anyEligible != (d.Owner != "") {
				t.Fatalf("%s: owner %q (%v), but eligible host exists = %v", d.Key, d.Owner, d.Reason, anyEligible)
			}
		}
	})
}

func TestPropertyOrderDoesNotMatter(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := genView(t, rapid.Bool().Draw(t, "mixed configs"))
		shuffled := View{
			Hosts: rapid.Permutation(v.Hosts).Draw(t, "hosts order"),
			Units: rapid.Permutation(v.Units).Draw(t, "units order"),
		}
		for i, u := range shuffled.Units {
			u.Nodes = rapid.Permutation(u.Nodes).Draw(t, "nodes order")
			shuffled.Units[i] = u
		}
		if diff := cmp.Diff(Decide(v), Decide(shuffled)); diff != "" {
			t.Fatalf("decisions depend on order (-original +shuffled):\n%s", diff)
		}
	})
}

// Decide reads a map that several hosts share once for all of them
// (readFacts); sharing must not change what it decides.
func TestPropertySharedMapsDecideAsCopies(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := genView(t, rapid.Bool().Draw(t, "mixed configs"))
		shared := View{Units: v.Units, Hosts: slices.Clone(v.Hosts)}
		for i := 1; i < len(shared.Hosts); i++ {
			h, prev := &shared.Hosts[i], shared.Hosts[i-1]
			if chance(t, 50, "share known") {
				h.Known = prev.Known
			}
			if chance(t, 50, "share passing") {
				h.Passing = prev.Passing
			}
			if chance(t, 30, "share holds") {
				h.Holds = prev.Holds
			}
		}
		copied := View{Units: v.Units, Hosts: slices.Clone(shared.Hosts)}
		for i := range copied.Hosts {
			h := &copied.Hosts[i]
			h.Known, h.Passing, h.Holds = maps.Clone(h.Known), maps.Clone(h.Passing), maps.Clone(h.Holds)
		}
		if diff := cmp.Diff(Decide(copied), Decide(shared)); diff != "" {
			t.Fatalf("decisions differ when hosts share maps (-copies +shared):\n%s", diff)
		}
	})
}

func TestPropertyActingOnADecisionChangesNothing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := genView(t, false)
		first := Decide(v)
		again := Decide(holdingDecisions(v, first))
		if diff := cmp.Diff(owners(first), owners(again)); diff != "" {
			t.Fatalf("owners changed once hosts hold what they were given (-first +again):\n%s", diff)
		}
		for _, d := range again {
			if d.Owner != "" && d.Reason != ReasonOwnerKept {
				t.Fatalf("%s: reason %v, want %v", d.Key, d.Reason, ReasonOwnerKept)
			}
		}
	})
}

func TestPropertyLosingAHostMovesOnlyItsUnits(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := genView(t, false)
		if len(v.Hosts) == 0 {
			t.Skip("no host to lose")
		}
		v = holdingDecisions(v, Decide(v))
		before := Decide(v)

		i := rapid.IntRange(0, len(v.Hosts)-1).Draw(t, "lost host")
		lost := v.Hosts[i].Name
		after := View{Units: v.Units, Hosts: slices.Clone(v.Hosts)}
		if rapid.Bool().Draw(t, "remove rather than mark dead") {
			after.Hosts = slices.Delete(after.Hosts, i, i+1)
		} else {
			after.Hosts[i].Alive = false
		}

		now := owners(Decide(after))
		for key, was := range owners(before) {
			switch {
			case was == lost && now[key] == lost:
				t.Fatalf("%s: still owned by lost host %s", key, lost)
			case was != lost && now[key] != was:
				t.Fatalf("%s: moved from %q to %q when %s was lost", key, was, now[key], lost)
			}
		}
	})
}

func TestPropertyAddingAHostMovesOnlyForFailback(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := genView(t, false)
		var free []string
		for _, name := range hostPool {
			if !slices.ContainsFunc(v.Hosts, func(h Host) bool { return h.Name == name }) {
				free = append(free, name)
			}
		}
		if len(free) == 0 {
			t.Skip("no name left for a new host")
		}
		v = holdingDecisions(v, Decide(v))
		before := Decide(v)

		added := genHost(t, rapid.SampledFrom(free).Draw(t, "added host"), v.Units, false)
		added.Holds = KeySet{}
		after := Decide(View{Units: v.Units, Hosts: append(slices.Clone(v.Hosts), added)})

		for _, u := range v.Units {
			was, _ := before.OwnerOf(u.Key)
			now, _ := after.OwnerOf(u.Key)
			switch {
			case now == was:
			case was == "" && now == added.Name:
			case u.Failback && now == added.Name && u.priorityOf(added.Name) > u.priorityOf(was):
			default:
				t.Fatalf("%s: moved from %q to %q when %s joined", u.Key, was, now, added.Name)
			}
		}
	})
}

// Every alive host decides with its own config. Whatever the configs, no two
// hosts claim a unit, and a host named as owner by anyone claims it itself.
func TestPropertyDifferentConfigsNeverBothOwn(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		keys := []string{"u0", "u1", "u2"}
		variants := map[string][]Unit{}
		for _, k := range keys {
			variants[k] = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) Unit { return genUnit(t, k) }), 1, 3).Draw(t, "variants of "+k)
		}
		names := rapid.SliceOfNDistinct(rapid.SampledFrom(hostPool), 1, 6, rapid.ID).Draw(t, "hosts")
		configs := map[string][]Unit{}
		var hosts []Host
		for _, name := range names {
			var config []Unit
			for _, k := range keys {
				if chance(t, 85, "has "+k) {
					config = append(config, rapid.SampledFrom(variants[k]).Draw(t, "variant of "+k))
				}
			}
			configs[name] = config
			h := genHost(t, name, config, false)
			hosts = append(hosts, h)
		}

		decided := map[string]Decisions{}
		claims := map[string][]string{}
		for _, h := range hosts {
			if !h.Alive {
				continue // a dead host announces nothing
			}
			ds := Decide(View{Hosts: hosts, Units: configs[h.Name]})
			decided[h.Name] = ds
			for _, key := range ds.OwnedBy(h.Name) {
				claims[key] = append(claims[key], h.Name)
			}
		}
		for key, by := range claims {
			if len(by) > 1 {
				t.Fatalf("%s claimed by %v", key, by)
			}
		}
		for name, ds := range decided {
			for _, d := range ds {
				if d.Owner == "" {
					continue
				}
				if owner, _ := decided[d.Owner].OwnerOf(d.Key); owner != d.Owner {
					t.Fatalf("%s: %s names %s as owner, but %s names %q", d.Key, name, d.Owner, d.Owner, owner)
				}
			}
		}
	})
}
