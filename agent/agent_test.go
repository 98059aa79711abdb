package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/membership"
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

// testAgent is one agent on a cluster of one, with its config in a file
// and its state_dir in a temporary directory.
type testAgent struct {
	*Agent
	file string
	ann  *fakeAnnouncer
}

func newTestAgent(t *testing.T, yaml, stateDir string) *testAgent {
	t.Helper()
	file := filepath.Join(t.TempDir(), "vipd.yaml")
	yaml = "node_name: h1\nstate_dir: " + stateDir + "\n" + yaml
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	ann := &fakeAnnouncer{events: make(chan announcer.Event, 8)}
	a := New(Options{
		File: file, Config: cfg,
		Load:    func(f string) (*config.Config, error) { return config.Load(f) },
		Cluster: newLoneCluster(cfg), Checks: newFakeChecks(cfg), Announcer: ann,
		Clock: &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
	})
	return &testAgent{Agent: a, file: file, ann: ann}
}

// run starts the loop, which then steps only when told to, and stops it
// when the test ends.
func (a *testAgent) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// settle steps twice, first-claim settling apart, so a lone host claims.
func (a *testAgent) settle() {
	a.step(context.Background(), nil)
	a.opts.Clock.(*fakeClock).now = a.opts.Clock.Now().Add(firstClaimSettle)
	a.step(context.Background(), nil)
}

func (a *testAgent) rewrite(t *testing.T, yaml string) {
	t.Helper()
	if err := os.WriteFile(a.file, []byte("node_name: h1\nstate_dir: "+a.Config().StateDir+"\n"+yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTheLoopCarriesOutThePlan(t *testing.T) {
	a := newTestAgent(t, clusterYAML, t.TempDir())
	a.settle()
	if got := a.ann.answering(); !slices.Equal(got, []string{"web", "api"}) {
		t.Errorf("a lone host answers for %v, want web and api", got)
	}
	select {
	case <-a.Ready():
	default:
		t.Error("not ready after a step on a settled view")
	}
}

func TestReloadWithABrokenFileKeepsRunning(t *testing.T) {
	a := newTestAgent(t, clusterYAML, t.TempDir())
	a.run(t)
	os.WriteFile(a.file, []byte("vips: [{name: web, address: 192.0.2.300}]\n"), 0o644)
	_, err := a.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "vipd.yaml:1:") {
		t.Fatalf("reload of a broken file: err %v, want the file's position", err)
	}
	if st := a.Status(); !strings.Contains(st.Config.ReloadError, "vipd.yaml:1:") {
		t.Errorf("status reload error %q, want the file's error", st.Config.ReloadError)
	}
	if got := len(a.Config().VIPs); got != 2 {
		t.Errorf("the broken file replaced the config: %d VIPs", got)
	}
}

func TestReloadAddingAVIPReportsTheDiff(t *testing.T) {
	a := newTestAgent(t, clusterYAML, t.TempDir())
	a.run(t)
	a.rewrite(t, clusterYAML+"  - {name: db, address: 192.0.2.202}\n")
	res, err := a.Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Added, []string{"db"}) || len(res.Removed)+len(res.Changed) != 0 {
		t.Errorf("reload result %+v, want only db added", res)
	}
	if st := a.Status(); st.Config.ReloadError != "" || len(st.VIPs) != 3 {
		t.Errorf("after a good reload: error %q, %d VIPs", st.Config.ReloadError, len(st.VIPs))
	}
}

func TestReloadRefusesWhatNeedsARestart(t *testing.T) {
	a := newTestAgent(t, clusterYAML, t.TempDir())
	a.run(t)
	os.WriteFile(a.file, []byte("state_dir: /tmp/elsewhere\n"+clusterYAML), 0o644)
	_, err := a.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "state_dir cannot change on reload") {
		t.Fatalf("reload changing state_dir: %v, want a restart asked for", err)
	}
	if got := a.Config().StateDir; got == "/tmp/elsewhere" {
		t.Errorf("the refused config was applied: state_dir %s", got)
	}
}

func TestADrainIsKeptAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	a := newTestAgent(t, clusterYAML, dir)
	a.step(context.Background(), nil)
	a.Drain(context.Background(), false)
	since := a.Status().DrainedSince

	again := newTestAgent(t, clusterYAML, dir)
	again.step(context.Background(), nil)
	st := again.Status()
	if !st.Drained || !st.DrainedSince.Equal(since) {
		t.Fatalf("after a restart: drained %v since %v, want drained since %v", st.Drained, st.DrainedSince, since)
	}
	if got := again.ann.answering(); len(got) != 0 {
		t.Errorf("a drained host that restarted answers for %v", got)
	}

	again.Undrain()
	third := newTestAgent(t, clusterYAML, dir)
	if third.Status().Drained {
		t.Error("undrain did not forget the recorded drain")
	}
}

func TestAStopDoesNotLeaveTheHostDrained(t *testing.T) {
	dir := t.TempDir()
	a := newTestAgent(t, clusterYAML, dir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a.DrainForStop(ctx)
	if newTestAgent(t, clusterYAML, dir).Status().Drained {
		t.Error("a host stopped by SIGTERM comes back drained")
	}
}

func TestConflictEventShowsInStatus(t *testing.T) {
	a := newTestAgent(t, clusterYAML, t.TempDir())
	a.settle()
	a.step(context.Background(), []announcer.Event{simEvent(t, []string{"foreign-mac", "192.0.2.200", "02:00:00:00:00:99"})})
	for _, v := range a.Status().VIPs {
		if v.Name != "web" {
			continue
		}
		if v.Health != api.HealthConflict || v.Role != api.RoleOwner || !strings.Contains(v.Conflict, "02:00:00:00:00:99") {
			t.Errorf("web: health %s role %s conflict %q, want a conflict naming the MAC while this host still owns it", v.Health, v.Role, v.Conflict)
		}
	}
}

func TestNotifyHookEnvironment(t *testing.T) {
	yaml := clusterYAML + "notify: [{command: [/bin/true]}]\n"
	a := newTestAgent(t, yaml, t.TempDir())
	a.settle()
	var env []string
	for len(env) == 0 {
		select {
		case run := <-a.notify.queue:
			if slices.Contains(run.env, "VIPD_VIP=web") && slices.Contains(run.env, "VIPD_PREVIOUS_STATE=standby") {
				env = run.env
			}
		default:
			t.Fatal("no hook run queued for web")
		}
	}
	for _, want := range []string{"VIPD_ADDRESS=192.0.2.200", "VIPD_STATE=owner", "VIPD_PREVIOUS_STATE=standby", "VIPD_HEALTH=ok", "VIPD_OWNER=h1"} {
		if !slices.Contains(env, want) {
			t.Errorf("hook environment %v lacks %s", env, want)
		}
	}
}

func TestMembersShowHostsWithAnotherKey(t *testing.T) {
	members := []api.Member{
		{Name: "h1", Address: "198.51.100.11:7946", State: api.MemberAlive, Self: true},
		{Name: "h2", Address: "198.51.100.12:7946", State: api.MemberDead},
		{Name: "h3", Address: "198.51.100.13:7946", State: api.MemberAlive},
	}
	got := markWrongKeys([]membership.KeyMismatch{
		{Addr: "198.51.100.12:7946", Node: "h2"},
		{Addr: "198.51.100.14:7946"},
		{Addr: "198.51.100.13:7946", Node: "h3"},
	}, members)
	want := map[string]api.MemberState{"h1": api.MemberAlive, "h2": api.MemberWrongKey, "h3": api.MemberAlive, "?": api.MemberWrongKey}
	if len(got) != 4 {
		t.Fatalf("members %+v, want h1-h3 and the unknown host", got)
	}
	for _, m := range got {
		if m.State != want[m.Name] {
			t.Errorf("%s (%s): %s, want %s", m.Name, m.Address, m.State, want[m.Name])
		}
	}
}

func TestMetricsShowTheDrainAndStartCountersAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newTestAgent(t, clusterYAML, t.TempDir())
	a.opts.Metrics = NewMetrics(reg)
	a.settle()
	if got, ok := gathered(t, reg, "vipd_splits_total", "vip", "web"); !ok || got != 0 {
		t.Errorf("vipd_splits_total{vip=web} = %v (%v) before any split, want a series at 0", got, ok)
	}
	if got, ok := gathered(t, reg, "vipd_conflicts_total", "vip", "api", "kind", "foreign_address"); !ok || got != 0 {
		t.Errorf("vipd_conflicts_total{vip=api,kind=foreign_address} = %v (%v), want a series at 0", got, ok)
	}
	if got, _ := gathered(t, reg, "vipd_drained"); got != 0 {
		t.Errorf("vipd_drained = %v, want 0", got)
	}
	a.Drain(context.Background(), false)
	a.step(context.Background(), nil)
	if got, _ := gathered(t, reg, "vipd_drained"); got != 1 {
		t.Errorf("vipd_drained = %v after a drain, want 1", got)
	}
	since := float64(a.Status().DrainedSince.Unix())
	if got, _ := gathered(t, reg, "vipd_drained_since_timestamp_seconds"); got != since {
		t.Errorf("vipd_drained_since_timestamp_seconds = %v, want %v", got, since)
	}
	a.step(context.Background(), []announcer.Event{simEvent(t, []string{"foreign-mac", "192.0.2.200", "02:00:00:00:00:99"})})
	if got, _ := gathered(t, reg, "vipd_conflicts_total", "vip", "web", "address", "192.0.2.200", "kind", "foreign_mac"); got != 1 {
		t.Errorf("vipd_conflicts_total{vip=web,kind=foreign_mac} = %v, want 1", got)
	}
}

// gathered returns the value of the series of metric name with the given
// label pairs, and whether it exists.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels ...string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// Steps that cost a millisecond or more are followed by a pause of three
// times their cost, at most 100 ms; cheaper steps by none.
func TestCostlyStepsArePaced(t *testing.T) {
	for _, c := range []struct{ step, pause time.Duration }{
		{50 * time.Microsecond, 0},
		{999 * time.Microsecond, 0},
		{time.Millisecond, 3 * time.Millisecond},
		{6 * time.Millisecond, 18 * time.Millisecond},
		{time.Second, 100 * time.Millisecond},
	} {
		if got := stepPause(c.step); got != c.pause {
			t.Errorf("stepPause(%v) = %v, want %v", c.step, got, c.pause)
		}
	}
}

// A member counted alive at the last step that is now dead, silent or gone
// is a death; members that were dead already, or that merely changed, are
// not.
func TestMemberDied(t *testing.T) {
	alive := func(name string) membership.Member {
		return membership.Member{Name: name, State: membership.StateAlive}
	}
	silent := alive("b")
	silent.Silent = true
	dead := alive("b")
	dead.State = membership.StateDead
	drained := alive("b")
	drained.Drained = true
	before := []membership.Member{alive("a"), alive("b")}
	for _, c := range []struct {
		name string
		now  []membership.Member
		want bool
	}{
		{"nothing changed", []membership.Member{alive("a"), alive("b")}, false},
		{"b drained", []membership.Member{alive("a"), drained}, false},
		{"a member joined", []membership.Member{alive("a"), alive("b"), alive("c")}, false},
		{"b silent", []membership.Member{alive("a"), silent}, true},
		{"b dead", []membership.Member{alive("a"), dead}, true},
		{"b gone", []membership.Member{alive("a")}, true},
	} {
		if got := memberDied(before, c.now); got != c.want {
			t.Errorf("%s: memberDied = %v, want %v", c.name, got, c.want)
		}
	}
	if memberDied([]membership.Member{alive("a"), dead}, []membership.Member{alive("a"), dead}) {
		t.Error("a member dead at the last step died again")
	}
}

// membersCluster is a loneCluster whose members a test sets; asked gets a
// token each time Members is called.
type membersCluster struct {
	*loneCluster
	mu      sync.Mutex
	members []membership.Member
	asked   chan struct{}
}

func (c *membersCluster) Members() []membership.Member {
	select {
	case c.asked <- struct{}{}:
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.members)
}

// stoppedClock's timers never fire.
type stoppedClock struct{}

func (stoppedClock) Now() time.Time                       { return time.Unix(0, 0) }
func (stoppedClock) After(time.Duration) <-chan time.Time { return nil }

// The pause after a costly step lasts while only news comes, and ends at
// once when a member dies.
func TestAMemberDeathEndsThePause(t *testing.T) {
	cfg := &config.Config{NodeName: "h1"}
	alive := []membership.Member{{Name: "h1", State: membership.StateAlive}, {Name: "h2", State: membership.StateAlive}}
	c := &membersCluster{loneCluster: newLoneCluster(cfg), members: alive, asked: make(chan struct{}, 1)}
	a := &Agent{opts: Options{Clock: stoppedClock{}, Cluster: c}, members: alive}
	ended := make(chan bool, 1)
	go func() { ended <- a.pause(t.Context(), time.Hour) }()

	c.changes <- struct{}{} // news, nobody died
	select {
	case <-c.asked: // the pause has read the members as they were
	case <-time.After(5 * time.Second):
		t.Fatal("the pause did not look at the members when news came")
	}
	c.mu.Lock()
	c.members = []membership.Member{alive[0], {Name: "h2", State: membership.StateDead}}
	c.mu.Unlock()
	// A pause still going takes the next news; one that ended on the
	// first does not.
	select {
	case c.changes <- struct{}{}:
	case <-ended:
		t.Fatal("the pause ended on news of no death")
	}
	select {
	case changed := <-ended:
		if !changed {
			t.Error("the pause ended on a death but does not say the cluster changed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a member died and the pause goes on")
	}
}
