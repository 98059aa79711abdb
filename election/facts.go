package election

import "reflect"

// hostFacts is what one host's gossip says about one unit.
type hostFacts struct {
	definition Fingerprint
	known      bool
	passing    bool
	holds      bool
}

// readFacts returns, for every member in order, what it says about each
// of units, which are sorted by key.
//
// Reading every host's maps for every unit was the election's costliest
// part in a fleet (24 hosts x 1000 units is 72,000 map lookups), so it
// reads each distinct map once: hosts with the same config share one Known
// map, and membership shares one Passing set among the hosts that pass
// every unit (see columns). A small set, such as
// what a host holds, is read key by key rather than unit by unit.
func readFacts(members []member, units []Unit) []memberFacts {
	c := columns{units: units, defs: map[uintptr][]definitionAt{}, sets: map[uintptr][]bool{}}
	out := make([]memberFacts, len(members))
	for j, m := range members {
		out[j] = memberFacts{defs: c.definitions(m.Known), passing: c.members(m.Passing), holds: c.members(m.Holds)}
	}
	return out
}

// memberFacts is what one member says about every unit, by unit position.
type memberFacts struct {
	defs           []definitionAt
	passing, holds []bool
}

// at returns what the member says about the unit at position i.
func (f memberFacts) at(i int) hostFacts {
	return hostFacts{definition: f.defs[i].fp, known: f.defs[i].known, passing: f.passing[i], holds: f.holds[i]}
}

// definitionAt is one unit's entry in a Known map.
type definitionAt struct {
	fp    Fingerprint
	known bool
}

// columns reads maps into per-unit columns, each distinct map once. A map
// is told apart by its storage (reflect's Pointer; every nil map is the
// same empty one), which is safe here: every map read stays referenced by
// the view for the whole call, so no other map can take its place.
type columns struct {
	units []Unit
	index map[string]int // unit key to its position; built on first need
	defs  map[uintptr][]definitionAt
	sets  map[uintptr][]bool
}

func (c *columns) definitions(known map[string]Fingerprint) []definitionAt {
	id := reflect.ValueOf(known).Pointer()
	if col, ok := c.defs[id]; ok {
		return col
	}
	col := make([]definitionAt, len(c.units))
	for i, u := range c.units {
		col[i].fp, col[i].known = known[u.Key]
	}
	c.defs[id] = col
	return col
}

func (c *columns) members(set KeySet) []bool {
	id := reflect.ValueOf(set).Pointer()
	if col, ok := c.sets[id]; ok {
		return col
	}
	col := make([]bool, len(c.units))
	if len(set)*4 < len(c.units) {
		c.buildIndex()
		for k := range set {
			if i, ok := c.index[k]; ok {
				col[i] = true
			}
		}
	} else {
		for i, u := range c.units {
			col[i] = set.Has(u.Key)
		}
	}
	c.sets[id] = col
	return col
}

// buildIndex maps each unit key to its position. A duplicated key maps to
// one of its units only: Decide decides none of them, so their facts do
// not matter.
func (c *columns) buildIndex() {
	if c.index != nil {
		return
	}
	c.index = make(map[string]int, len(c.units))
	for i, u := range c.units {
		c.index[u.Key] = i
	}
}
