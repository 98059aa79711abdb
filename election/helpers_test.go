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

// Query helpers for tests; the agent reads each Decision directly.

// HostsWith returns the hosts with eligibility e, sorted by name, e.g. the
// hosts to name when status says checks fail everywhere.
func (d Decision) HostsWith(e Eligibility) []string {
	var hosts []string
	for _, s := range d.Statuses() {
		if s.Eligibility == e {
			hosts = append(hosts, s.Host)
		}
	}
	return hosts
}

// OwnerOf returns the owner of the unit key; ok is false when the unit has no
// owner or is not in the decisions.
func (ds Decisions) OwnerOf(key string) (owner string, ok bool) {
	d, found := ds.Lookup(key)
	if !found || d.Owner == "" {
		return "", false
	}
	return d.Owner, true
}

// OwnedBy returns the keys of the units host owns, sorted: what the agent on
// that host should announce.
func (ds Decisions) OwnedBy(host string) []string {
	var keys []string
	for _, d := range ds {
		if d.Owner != "" && d.Owner == host {
			keys = append(keys, d.Key)
		}
	}
	return keys
}

// VIPsOwnedBy returns the VIPs of every unit host owns, sorted.
func (ds Decisions) VIPsOwnedBy(host string) []string {
	var vips []string
	for _, d := range ds {
		if d.Owner != "" && d.Owner == host {
			vips = append(vips, d.VIPs...)
		}
	}
	slices.Sort(vips)
	return vips
}
