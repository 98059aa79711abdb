package membership

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/hashicorp/memberlist"
	"github.com/vipd/vipd/election"
)

// tb is what offline needs of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
}

// offline returns a Membership with no gossip running, for tests that feed
// it memberlist events and push/pull state by hand.
func offline(t tb, name string, units []election.Unit, local Local) *Membership {
	t.Helper()
	m := &Membership{
		name:    name,
		log:     slog.New(slog.DiscardHandler),
		changes: make(chan struct{}, 1),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		peers:   map[string]*peer{},
		lists:   map[ConfigFingerprint]*unitList{},
	}
	m.initRejoin()
	if err := m.setUnitsLocked(units); err != nil {
		t.Fatal(err)
	}
	if err := m.setLocalLocked(local); err != nil {
		t.Fatal(err)
	}
	return m
}

// node returns the memberlist node that m would appear as to others.
func (m *Membership) node() *memberlist.Node {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &memberlist.Node{Name: m.name, Addr: net.IPv4(127, 0, 0, 1), Port: 7946, Meta: m.meta, State: memberlist.StateAlive}
}

// units returns n single-VIP units named u0000, u0001, ...
func someUnits(n int) []election.Unit {
	units := make([]election.Unit, n)
	for i := range units {
		units[i] = election.Unit{Key: fmt.Sprintf("u%04d", i), VIPs: []string{fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}}
	}
	return units
}

func keysOf(units []election.Unit) []string {
	keys := make([]string, len(units))
	for i, u := range units {
		keys[i] = u.Key
	}
	return keys
}

func setOf(keys ...string) election.KeySet { return election.NewKeySet(keys...) }

// ownerOf returns the owner of the unit key; ok is false when it has none.
func ownerOf(ds election.Decisions, key string) (string, bool) {
	d, found := ds.Lookup(key)
	if !found || d.Owner == "" {
		return "", false
	}
	return d.Owner, true
}

// ownedBy returns the keys of the units host owns, sorted.
func ownedBy(ds election.Decisions, host string) []string {
	var keys []string
	for _, d := range ds {
		if d.Owner != "" && d.Owner == host {
			keys = append(keys, d.Key)
		}
	}
	return keys
}
