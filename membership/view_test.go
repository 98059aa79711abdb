package membership

import (
	"fmt"
	"testing"

	"github.com/vipd/vipd/election"
	"pgregory.net/rapid"
)

// hostSim is one host of a simulated cluster: its config and its state.
type hostSim struct {
	name    string
	units   []election.Unit
	passing election.KeySet
	drained bool
	holds   election.KeySet
}

// decideAll runs one round: every host builds its View from the others'
// metadata (and, where resolved[h][g], g's unit list from push/pull),
// decides, and takes the units it owns. It returns what each host owns.
func decideAll(t tb, hosts []*hostSim, resolved [][]bool) []election.KeySet {
	ms := make([]*Membership, len(hosts))
	for i, h := range hosts {
		ms[i] = offline(t, h.name, h.units, Local{Passing: h.passing, Holds: h.holds, Drained: h.drained})
	}
	for i, m := range ms {
		for j, g := range ms {
			if i == j {
				continue
			}
			m.observe(g.node(), StateAlive)
			if resolved[i][j] {
				delegate{m}.MergeRemoteState(encodeState([]*unitList{g.own}), false)
			}
		}
	}
	// Every host now knows whether it lacks a list; each sees the others'
	// current flags.
	for i, m := range ms {
		for j, g := range ms {
			if i != j {
				m.observe(g.node(), StateAlive)
			}
		}
	}
	owned := make([]election.KeySet, len(hosts))
	for i, m := range ms {
		view := m.View()
		owned[i] = election.KeySet{}
		for _, d := range election.Decide(view) {
			if d.Owner == m.name {
				owned[i][d.Key] = struct{}{}
			}
		}
	}
	return owned
}

// variant returns definition v of unit key: the variants differ in their
// VIP list and priorities, as two versions of vipd.yaml might.
func variant(key string, v int) election.Unit {
	u := election.Unit{Key: key, VIPs: []string{"192.0.2." + fmt.Sprint(len(key)+10*v)}}
	if v == 1 {
		u.Priority = map[string]int{"h0": 10}
	}
	return u
}

// TestDifferentConfigsNeverBothOwn is the rule of doc.go as a property: in
// a cluster whose hosts have different unit lists, and know each other's
// lists or not in any pattern, no unit is ever owned by two hosts, round
// after round, as long as no two held it to begin with.
func TestDifferentConfigsNeverBothOwn(t *testing.T) {
	keys := []string{"a", "bb", "ccc"}
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(2, 4).Draw(t, "hosts")
		hosts := make([]*hostSim, n)
		for i := range hosts {
			h := &hostSim{name: fmt.Sprintf("h%d", i), passing: election.KeySet{}, holds: election.KeySet{}}
			for _, k := range keys {
				switch rapid.IntRange(0, 2).Draw(t, h.name+k) {
				case 1:
					h.units = append(h.units, variant(k, 0))
				case 2:
					h.units = append(h.units, variant(k, 1))
				}
				if rapid.Bool().Draw(t, h.name+k+"passing") {
					h.passing[k] = struct{}{}
				}
			}
			h.drained = rapid.IntRange(0, 4).Draw(t, h.name+"drained") == 0
			hosts[i] = h
		}
		for round := range 4 {
			resolved := make([][]bool, n)
			for i := range resolved {
				resolved[i] = make([]bool, n)
				for j := range resolved[i] {
					resolved[i][j] = rapid.Bool().Draw(t, fmt.Sprintf("round %d: h%d knows h%d's list", round, i, j))
				}
			}
			owned := decideAll(t, hosts, resolved)
			for _, k := range keys {
				var owners []string
				for i, o := range owned {
					if o.Has(k) {
						owners = append(owners, hosts[i].name)
					}
				}
				if len(owners) > 1 {
					t.Fatalf("round %d: unit %s owned by %v", round, k, owners)
				}
			}
			for i, h := range hosts {
				h.holds = owned[i]
			}
		}
	})
}

// With the same config everywhere every unit with a healthy host gets
// exactly one owner, whatever push/pull has delivered: the lists are the
// hosts' own.
func TestSameConfigNeedsNoPushPull(t *testing.T) {
	units := []election.Unit{variant("a", 0), variant("bb", 0)}
	hosts := []*hostSim{
		{name: "h0", units: units, passing: setOf("a", "bb")},
		{name: "h1", units: units, passing: setOf("a")},
		{name: "h2", units: units, passing: setOf("bb"), drained: true},
	}
	none := [][]bool{make([]bool, 3), make([]bool, 3), make([]bool, 3)}
	owned := decideAll(t, hosts, none)
	for _, k := range []string{"a", "bb"} {
		count := 0
		for _, o := range owned {
			if o.Has(k) {
				count++
			}
		}
		if count != 1 {
			t.Errorf("unit %s has %d owners, want 1: %v", k, count, owned)
		}
	}
	if owned[2].Has("bb") {
		t.Errorf("drained h2 owns bb")
	}
}

// A host whose unit list is unknown shows as unresolved, holding every unit;
// once push/pull brings its list, its real state shows.
func TestUnresolvedHostUntilPushPull(t *testing.T) {
	mine := []election.Unit{variant("a", 0), variant("bb", 0)}
	theirs := []election.Unit{variant("a", 0), variant("bb", 1), variant("ccc", 0)}
	h0 := offline(t, "h0", mine, Local{Passing: setOf("a", "bb")})
	h1 := offline(t, "h1", theirs, Local{Passing: setOf("a", "bb", "ccc"), Holds: setOf("ccc")})

	h0.observe(h1.node(), StateAlive)
	got := hostNamed(h0.View(), "h1")
	if got.Known["a"] != unresolved || !got.Holds.Has("a") || !got.Holds.Has("bb") || len(got.Passing) != 0 {
		t.Errorf("unresolved h1 = %+v, want every unit held with an unknown definition", got)
	}

	select {
	case <-h0.Changes():
	default:
		t.Errorf("observing a host signalled no change")
	}
	delegate{h0}.MergeRemoteState(delegate{h1}.LocalState(true), true)
	select {
	case <-h0.Changes():
	default:
		t.Errorf("a new unit list signalled no change")
	}
	got = hostNamed(h0.View(), "h1")
	want := election.Fingerprints(theirs)
	if got.Known["a"] != want["a"] || got.Known["bb"] != want["bb"] || got.Known["ccc"] != want["ccc"] {
		t.Errorf("resolved h1 Known = %v, want %v", got.Known, want)
	}
	if !got.Holds.Has("ccc") || got.Holds.Has("a") || !got.Passing.Has("bb") {
		t.Errorf("resolved h1 = %+v, want holds [ccc], passing [a bb ccc]", got)
	}
	d := election.Decide(h0.View())
	if owner, ok := ownerOf(d, "a"); !ok || owner == "" {
		t.Errorf("unit a, defined alike on both, has no owner: %+v", d)
	}
}

// Metadata that does not decode is counted and its host treated as
// unresolved; nothing panics.
func TestMalformedMetaIsCounted(t *testing.T) {
	h0 := offline(t, "h0", someUnits(3), Local{})
	n := offline(t, "h1", someUnits(3), Local{}).node()
	n.Meta = []byte{1, 2, 3}
	h0.observe(n, StateAlive)
	if got := h0.Stats().MalformedMeta; got != 1 {
		t.Errorf("MalformedMeta = %d, want 1", got)
	}
	if h := hostNamed(h0.View(), "h1"); h.Known["u0000"] != unresolved {
		t.Errorf("host with bad metadata = %+v, want unresolved", h)
	}
}

func hostNamed(v election.View, name string) election.Host {
	for _, h := range v.Hosts {
		if h.Name == name {
			return h
		}
	}
	return election.Host{}
}

// A host that reloads into the unit list a peer already gossips knows that
// list at once: it is settled without waiting for the peer to change.
func TestReloadingIntoAPeersUnitListSettles(t *testing.T) {
	before, after := someUnits(2), someUnits(3)
	h0 := offline(t, "h0", before, Local{})
	h1 := offline(t, "h1", before, Local{})
	h0.observe(h1.node(), StateAlive)
	if !h0.Settled() {
		t.Fatal("h0 is unsettled with a peer of the same unit list")
	}
	// h1 reloads first: h0 sees a unit list it does not know.
	if err := h1.SetUnitsOffline(after); err != nil {
		t.Fatal(err)
	}
	h0.observe(h1.node(), StateAlive)
	if h0.Settled() {
		t.Fatal("h0 is settled though it does not know h1's new unit list")
	}
	// h0 reloads into the same list: no event from h1 needed.
	if err := h0.SetUnitsOffline(after); err != nil {
		t.Fatal(err)
	}
	if !h0.Settled() {
		t.Error("h0 still unsettled after reloading into h1's unit list")
	}
}

// SetUnitsOffline is SetUnits for a Membership without memberlist.
func (m *Membership) SetUnitsOffline(units []election.Unit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.setUnitsLocked(units); err != nil {
		return err
	}
	return m.encodeMetaLocked()
}
