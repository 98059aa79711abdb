package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/config"
)

const clusterYAML = `
gossip: {insecure: true}
interfaces: [{name: eth0}]
checks:
  web: {type: tcp, address: "127.0.0.1:80"}
vips:
  - {name: web, address: 192.0.2.200, checks: [web]}
  - {name: api, address: 192.0.2.201}
`

type node struct {
	name   string
	agent  *Agent
	checks *fakeChecks
	ann    *fakeAnnouncer
	file   string
	stop   context.CancelFunc
	done   chan struct{}
}

type cluster struct {
	t     *testing.T
	world *world
	log   *applyLog
	nodes map[string]*node
}

func parse(t *testing.T, yaml, host string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("vipd.yaml", []byte(yaml), host)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newCluster(t *testing.T, names ...string) *cluster {
	c := &cluster{t: t, world: newWorld(parse(t, clusterYAML, "h1")), log: newApplyLog(), nodes: map[string]*node{}}
	for _, n := range names {
		c.start(n)
	}
	return c
}

func (c *cluster) start(name string) *node {
	t := c.t
	file := filepath.Join(t.TempDir(), "vipd.yaml")
	if err := os.WriteFile(file, []byte(clusterYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := parse(t, clusterYAML, name)
	n := &node{
		name:   name,
		checks: newFakeChecks(cfg),
		ann:    &fakeAnnouncer{name: name, events: make(chan Event, 8), log: c.log},
		file:   file,
		done:   make(chan struct{}),
	}
	n.agent = New(Options{
		File:   file,
		Config: cfg,
		Load: func(f string) (*config.Config, error) {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			return config.Parse(f, data, name)
		},
		Cluster:   c.world.member(name),
		Checks:    n.checks,
		Announcer: n.ann,
	})
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	go func() { defer close(n.done); n.agent.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-n.done })
	c.nodes[name] = n
	return n
}

// crash stops a node's agent without a drain and marks it dead, as a
// SIGKILL would look to the others.
func (c *cluster) crash(name string) {
	n := c.nodes[name]
	n.stop()
	<-n.done
	c.world.kill(name)
	delete(c.nodes, name)
}

// owners returns the hosts that announce vip.
func (c *cluster) owners(vip string) []string {
	var out []string
	for name, n := range c.nodes {
		if slices.Contains(n.ann.announced(), vip) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// agreedOwner waits until exactly one host announces vip and every host's
// status names it as the owner, and returns it.
func (c *cluster) agreedOwner(vip string) string {
	c.t.Helper()
	var owner string
	eventually(c.t, vip+" has exactly one owner that every host agrees on", func() bool {
		o := c.owners(vip)
		if len(o) != 1 {
			return false
		}
		for _, n := range c.nodes {
			if statusOf(n, vip).Owner != o[0] {
				return false
			}
		}
		owner = o[0]
		return true
	})
	return owner
}

func statusOf(n *node, vip string) api.VIPStatus {
	for _, v := range n.agent.Status().VIPs {
		if v.Name == vip {
			return v
		}
	}
	return api.VIPStatus{}
}

func TestExactlyOneHostAnnouncesEachVIP(t *testing.T) {
	c := newCluster(t, "h1", "h2", "h3")
	for _, vip := range []string{"web", "api"} {
		owner := c.agreedOwner(vip)
		if st := statusOf(c.nodes[owner], vip); st.State != api.StateOwner {
			t.Errorf("%s on its owner %s: state %q, want owner", vip, owner, st.State)
		}
		for name, n := range c.nodes {
			if name != owner {
				if st := statusOf(n, vip); st.State != api.StateStandby {
					t.Errorf("%s on %s: state %q (%s), want standby", vip, name, st.State, st.Reason)
				}
			}
		}
	}
}

func TestCrashedOwnerIsReplaced(t *testing.T) {
	c := newCluster(t, "h1", "h2", "h3")
	old := c.agreedOwner("web")
	c.crash(old)
	c.agreedOwner("web") // the crashed host is no longer in c.nodes
}

func TestFailingCheckMovesTheVIPAndStatusSaysWhy(t *testing.T) {
	c := newCluster(t, "h1", "h2", "h3")
	old := c.agreedOwner("web")
	apiOwner := c.agreedOwner("api")
	reason := "check web: dial tcp 127.0.0.1:80: connect: connection refused"
	c.nodes[old].checks.set("web", false, reason)
	eventually(t, "web leaves "+old, func() bool { return !slices.Contains(c.owners("web"), old) })
	c.agreedOwner("web")
	st := statusOf(c.nodes[old], "web")
	if st.State != api.StateUnhealthy || !strings.Contains(st.Reason, reason) {
		t.Errorf("status on %s: %s: %s; want unhealthy naming %q", old, st.State, st.Reason, reason)
	}
	for name, n := range c.nodes {
		if name == old {
			continue
		}
		for _, h := range statusOf(n, "web").Hosts {
			if h.Host == old && h.Reason != "check web failing there" {
				t.Errorf("status on %s says %s is out because %q, want the check named", name, old, h.Reason)
			}
		}
	}
	if got := c.agreedOwner("api"); got != apiOwner {
		t.Errorf("api moved from %s to %s though its checks did not change", apiOwner, got)
	}
}

func TestEveryBackendDownMeansNobodyAnnounces(t *testing.T) {
	c := newCluster(t, "h1", "h2", "h3")
	c.agreedOwner("web")
	for _, n := range c.nodes {
		n.checks.set("web", false, "check web: dial tcp 127.0.0.1:80: connect: connection refused on "+n.name)
	}
	eventually(t, "nobody announces web", func() bool { return len(c.owners("web")) == 0 })
	eventually(t, "h1's status lists each host's reason", func() bool {
		st := statusOf(c.nodes["h1"], "web")
		return st.State == api.StateNoOwner && strings.Contains(st.Reason, "refused on h1")
	})
	st := statusOf(c.nodes["h1"], "web")
	if !strings.HasPrefix(st.Reason, "checks failing on every host that could own it: ") {
		t.Errorf("reason %q does not say checks fail everywhere", st.Reason)
	}
	for _, h := range st.Hosts {
		if h.Eligible || h.Reason == "" {
			t.Errorf("host row %+v: want not eligible with a reason", h)
		}
	}
}

func TestDrainHandsOverWithoutAGapAndUndrainDoesNotMoveBack(t *testing.T) {
	c := newCluster(t, "h1", "h2", "h3")
	old := c.agreedOwner("web")
	res := c.nodes[old].agent.Drain(context.Background(), true)
	if !res.Drained || len(res.StillHeld) != 0 || !slices.Contains(res.HandedOver, "web") {
		t.Fatalf("drain result %+v: want web handed over and nothing held", res)
	}
	now := c.agreedOwner("web")
	if now == old {
		t.Fatalf("web is still on drained %s", old)
	}
	if gaps := c.log.gaps["web"]; gaps != 0 {
		t.Errorf("web was announced by nobody %d times during the drain; want make-before-break", gaps)
	}
	if st := statusOf(c.nodes[old], "web"); st.State != api.StateDrained {
		t.Errorf("status on drained %s: %s (%s)", old, st.State, st.Reason)
	}
	c.nodes[old].agent.Undrain()
	eventually(t, old+" is no longer drained in status", func() bool {
		return statusOf(c.nodes[old], "web").State == api.StateStandby
	})
	if got := c.agreedOwner("web"); got != now {
		t.Errorf("undrain moved web back from %s to %s", now, got)
	}
}

func TestReloadWithABrokenFileKeepsRunning(t *testing.T) {
	c := newCluster(t, "h1")
	n := c.nodes["h1"]
	c.agreedOwner("web")
	if err := os.WriteFile(n.file, []byte("vips: [{name: web, address: 192.0.2.300}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := n.agent.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "vipd.yaml:1:") {
		t.Fatalf("reload of a broken file: err %v, want the file's position", err)
	}
	if st := n.agent.Status(); !strings.Contains(st.Config.ReloadError, "vipd.yaml:1:") {
		t.Errorf("status reload error %q, want the file's error", st.Config.ReloadError)
	}
	if got := c.owners("web"); len(got) != 1 {
		t.Errorf("web announced by %v after a failed reload", got)
	}
}

func TestReloadAddingAVIPLeavesTheOthersAlone(t *testing.T) {
	c := newCluster(t, "h1")
	n := c.nodes["h1"]
	c.agreedOwner("web")
	applies := len(c.log.announcing["web"])
	more := clusterYAML + "  - {name: db, address: 192.0.2.202}\n"
	if err := os.WriteFile(n.file, []byte(more), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := n.agent.Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Added, []string{"db"}) || len(res.Removed)+len(res.Changed) != 0 {
		t.Errorf("reload result %+v, want only db added", res)
	}
	c.agreedOwner("db")
	if c.log.gaps["web"] != 0 || len(c.log.announcing["web"]) != applies {
		t.Errorf("web was disturbed by a reload that did not touch it")
	}
	if st := n.agent.Status(); st.Config.ReloadError != "" {
		t.Errorf("reload error after a good reload: %q", st.Config.ReloadError)
	}
}

func TestNotifyHookGetsTheStateChange(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "events")
	script := filepath.Join(dir, "hook.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho \"$VIPD_VIP $VIPD_PREVIOUS_STATE $VIPD_STATE $VIPD_ADDRESS\" >> "+out+"\n"), 0o755)
	yaml := clusterYAML + "notify: [{command: [" + script + "]}]\n"
	cfg := parse(t, yaml, "h1")
	w := newWorld(cfg)
	a := New(Options{Config: cfg, Cluster: w.member("h1"), Checks: newFakeChecks(cfg), Announcer: &fakeAnnouncer{events: make(chan Event)}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, "the hook saw web become owner", func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), "web standby owner 192.0.2.200")
	})
}

func TestConflictEventShowsInStatus(t *testing.T) {
	c := newCluster(t, "h1")
	n := c.nodes["h1"]
	c.agreedOwner("web")
	n.ann.events <- Event{Kind: ForeignMAC, VIP: "192.0.2.200", MAC: "02:00:00:00:00:99", Interface: "eth0"}
	eventually(t, "web shows the conflict", func() bool {
		st := statusOf(n, "web")
		return st.State == api.StateConflict && strings.Contains(st.Reason, "02:00:00:00:00:99")
	})
}

func TestReloadRefusesWhatNeedsARestart(t *testing.T) {
	c := newCluster(t, "h1")
	n := c.nodes["h1"]
	c.agreedOwner("web")
	if err := os.WriteFile(n.file, []byte("state_dir: /tmp/elsewhere\n"+clusterYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := n.agent.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "state_dir cannot change on reload") {
		t.Fatalf("reload changing state_dir: %v, want a restart asked for", err)
	}
	if got := n.agent.Config().StateDir; got == "/tmp/elsewhere" {
		t.Errorf("the refused config was applied: state_dir %s", got)
	}
}
