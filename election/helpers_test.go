package election

import (
	"cmp"
	"slices"
)

// hostOption changes a host built by node.
type hostOption func(*Host)

// node returns a healthy host: alive, not drained, with every unit in its
// config and passing checks, holding nothing.
func node(name string, units []Unit, opts ...hostOption) Host {
	h := Host{Name: name, Alive: true, Known: Fingerprints(units), Passing: KeySet{}, Holds: KeySet{}}
	for _, u := range units {
		h.Passing[u.Key] = struct{}{}
	}
	for _, o := range opts {
		o(&h)
	}
	return h
}

func dead(h *Host)    { h.Alive = false }
func drained(h *Host) { h.Drained = true }

func holding(keys ...string) hostOption {
	return func(h *Host) {
		for _, k := range keys {
			h.Holds[k] = struct{}{}
		}
	}
}

func failing(keys ...string) hostOption {
	return func(h *Host) {
		for _, k := range keys {
			delete(h.Passing, k)
		}
	}
}

func unknowing(keys ...string) hostOption {
	return func(h *Host) {
		for _, k := range keys {
			delete(h.Known, k)
		}
	}
}

// knowingAs gives the host another definition of the unit than the view's.
func knowingAs(u Unit) hostOption {
	return func(h *Host) { h.Known[u.Key] = u.Fingerprint() }
}

// byScore returns hosts from the highest rendezvous score for key to the lowest.
func byScore(key string, hosts ...string) []string {
	hosts = slices.Clone(hosts)
	slices.SortFunc(hosts, func(a, b string) int {
		return cmp.Compare(rendezvousScore(b, key), rendezvousScore(a, key))
	})
	return hosts
}
