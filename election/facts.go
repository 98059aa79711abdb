package election

// hostFacts is what one host's gossip says about one unit.
type hostFacts struct {
	definition Fingerprint
	known      bool
	passing    bool
	holds      bool
}

// readFacts returns, for every unit and every member in order, what the
// member says about the unit. It reads each host's maps once, one host at a
// time: with a hundred hosts and a thousand units, visiting the maps unit by
// unit misses the cache on nearly every lookup, and is several times slower.
func readFacts(members []member, units []Unit) [][]hostFacts {
	all := make([]hostFacts, len(units)*len(members))
	table := make([][]hostFacts, len(units))
	for i := range units {
		table[i] = all[i*len(members) : (i+1)*len(members)]
	}
	for j, m := range members {
		for i, u := range units {
			fp, known := m.Known[u.Key]
			table[i][j] = hostFacts{
				definition: fp,
				known:      known,
				passing:    m.Passing.Has(u.Key),
				holds:      m.Holds.Has(u.Key),
			}
		}
	}
	return table
}
