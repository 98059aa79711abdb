package membership

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// memberlist's probe of a node, started before Shutdown, waits out its
	// probe interval (1s in the default profile) before it returns; it
	// holds nothing of ours.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/hashicorp/memberlist.(*Memberlist).probeNode"))
}

// cluster is a set of in-process hosts gossiping on 127.0.0.1.
type cluster struct {
	t     testing.TB
	units []election.Unit
	nodes []*Membership
}

func newCluster(t testing.TB, n int, profile config.Profile, key []byte) *cluster {
	c := &cluster{t: t, units: []election.Unit{variant("a", 0), variant("bb", 0), variant("ccc", 0)}}
	for i := range n {
		c.add(fmt.Sprintf("n%d", i), profile, key)
	}
	c.waitConverged(10 * time.Second)
	return c
}

// start starts a host named name that has not joined anyone yet.
func (c *cluster) start(name string, profile config.Profile, key []byte) (*Membership, error) {
	var logger *slog.Logger
	if os.Getenv("VIPD_TEST_GOSSIP_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
	}
	m, err := New(Options{
		Name:   name,
		Gossip: config.Gossip{Bind: "127.0.0.1", Port: 0, Profile: profile},
		Keys:   [][]byte{key},
		Units:  c.units,
		Local:  Local{Passing: election.NewKeySet(keysOf(c.units)...)},
		Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	c.t.Cleanup(func() { _ = m.Shutdown() })
	return m, nil
}

// add starts a host and joins it to the first one.
func (c *cluster) add(name string, profile config.Profile, key []byte) *Membership {
	c.t.Helper()
	m, err := c.start(name, profile, key)
	if err != nil {
		c.t.Fatal(err)
	}
	if len(c.nodes) > 0 {
		if _, err := m.Join([]string{c.nodes[0].Addr()}); err != nil {
			c.t.Fatal(err)
		}
	}
	c.nodes = append(c.nodes, m)
	return m
}

// remove drops node i from the cluster's list, without stopping it.
func (c *cluster) remove(i int) *Membership {
	m := c.nodes[i]
	c.nodes = append(c.nodes[:i:i], c.nodes[i+1:]...)
	return m
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		<-tick.C
	}
}

// alive returns the names m's view has alive.
func alive(m *Membership) map[string]bool {
	out := map[string]bool{}
	for _, h := range m.View().Hosts {
		if h.Alive {
			out[h.Name] = true
		}
	}
	return out
}

// waitConverged waits until every node sees every node alive and settled.
func (c *cluster) waitConverged(within time.Duration) {
	c.t.Helper()
	waitFor(c.t, within, "cluster did not converge", func() bool {
		for _, m := range c.nodes {
			a := alive(m)
			if len(a) != len(c.nodes) || !m.Settled() {
				return false
			}
			for _, o := range c.nodes {
				if !a[o.Name()] {
					return false
				}
			}
		}
		return true
	})
}

// stateIn returns how observer's gossip sees the host named name.
func stateIn(observer *Membership, name string) State {
	for _, mem := range observer.Members() {
		if mem.Name == name {
			return mem.State
		}
	}
	return ""
}

func TestClusterConverges(t *testing.T) {
	key, _ := GenerateKey()
	c := newCluster(t, 4, config.ProfileDefault, key)

	// Every host decides the same owner for every unit, and each unit has one.
	var first election.Decisions
	for i, m := range c.nodes {
		d := election.Decide(m.View())
		if i == 0 {
			first = d
		}
		for _, u := range c.units {
			owner, ok := ownerOf(d, u.Key)
			want, _ := ownerOf(first, u.Key)
			if !ok || owner != want {
				t.Errorf("%s: unit %s owner %q, host %s says %q", m.Name(), u.Key, owner, c.nodes[0].Name(), want)
			}
		}
	}

	// What a host holds reaches the others.
	holder := c.nodes[1]
	if err := holder.SetLocal(Local{Passing: election.NewKeySet("a", "bb", "ccc"), Holds: election.NewKeySet("bb")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "holds did not propagate", func() bool {
		for _, m := range c.nodes {
			if !hostNamed(m.View(), holder.Name()).Holds.Has("bb") {
				return false
			}
		}
		return true
	})
}

func TestDrainedFlagPropagates(t *testing.T) {
	key, _ := GenerateKey()
	c := newCluster(t, 3, config.ProfileDefault, key)
	drained := c.nodes[2]
	if err := drained.SetLocal(Local{Drained: true, Passing: election.NewKeySet("a")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "drained flag did not reach every host", func() bool {
		for _, m := range c.nodes {
			if !hostNamed(m.View(), drained.Name()).Drained {
				return false
			}
		}
		return true
	})
	for _, m := range c.nodes {
		if got := ownedBy(election.Decide(m.View()), drained.Name()); len(got) != 0 {
			t.Errorf("%s: drained %s still owns %v", m.Name(), drained.Name(), got)
		}
	}
}

func TestWrongKeyCannotJoin(t *testing.T) {
	key, _ := GenerateKey()
	c := newCluster(t, 3, config.ProfileFast, key)
	wrong, _ := GenerateKey()
	intruder, err := c.start("intruder", config.ProfileFast, wrong)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := intruder.Join([]string{c.nodes[0].Addr()}); err == nil {
		t.Fatalf("a host with the wrong key joined %d hosts", n)
	}
	// Give gossip time to spread anything it would (several push/pull
	// rounds of the fast profile happen while the members stay converged).
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		for _, m := range c.nodes {
			if alive(m)["intruder"] {
				t.Fatalf("%s sees the intruder", m.Name())
			}
		}
		if a := alive(intruder); len(a) != 1 {
			t.Fatalf("intruder sees %v", a)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCrashedHostDisappears(t *testing.T) {
	key, _ := GenerateKey()
	c := newCluster(t, 4, config.ProfileDefault, key)
	crashed := c.remove(3)
	if err := crashed.Shutdown(); err != nil { // no Leave: as if it crashed
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the others did not declare the crashed host dead", func() bool {
		for _, m := range c.nodes {
			if alive(m)[crashed.Name()] || stateIn(m, crashed.Name()) != StateDead {
				return false
			}
		}
		return true
	})
	for _, m := range c.nodes {
		if got := ownedBy(election.Decide(m.View()), crashed.Name()); len(got) != 0 {
			t.Errorf("%s: crashed %s still owns %v", m.Name(), crashed.Name(), got)
		}
	}
}

func TestLeaveIsSeenAtOnce(t *testing.T) {
	key, _ := GenerateKey()
	c := newCluster(t, 3, config.ProfileDefault, key)
	leaver := c.remove(2)
	start := time.Now()
	if err := leaver.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	// Well under the failure detector's time to notice a crash.
	waitFor(t, 2*time.Second, "the others did not see the host leave", func() bool {
		for _, m := range c.nodes {
			if stateIn(m, leaver.Name()) != StateLeft {
				return false
			}
		}
		return true
	})
	t.Logf("leave seen by every host after %v", time.Since(start).Round(time.Millisecond))
	if err := leaver.Shutdown(); err != nil {
		t.Fatal(err)
	}
}

// TestKeyRotation rotates the cluster to a new key without a restart, then
// a host with only the new key joins and one with only the old key cannot.
func TestKeyRotation(t *testing.T) {
	oldKey, _ := GenerateKey()
	newKey, _ := GenerateKey()
	c := newCluster(t, 3, config.ProfileFast, oldKey)
	for _, keys := range [][][]byte{{oldKey, newKey}, {newKey, oldKey}, {newKey}} {
		for _, m := range c.nodes {
			if err := m.SetKeys(keys); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.add("fresh", config.ProfileFast, newKey)
	c.waitConverged(10 * time.Second)

	stale, err := c.start("stale", config.ProfileFast, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stale.Join([]string{c.nodes[0].Addr()}); err == nil {
		t.Errorf("a host with the removed key joined")
	}
}

func TestInsecureHasNoKeys(t *testing.T) {
	m, err := New(Options{Name: "h1", Gossip: config.Gossip{Bind: "127.0.0.1", Insecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	if err := m.SetKeys([][]byte{make([]byte, 32)}); err == nil {
		t.Errorf("SetKeys on an insecure cluster succeeded")
	}
}
