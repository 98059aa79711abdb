package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/lab"
	"github.com/vipd/vipd/membership"
)

// benchPlan says how much of the benchmark to run: the full one for `make
// bench`, a short one for the smoke test that keeps the harness from rotting.
type benchPlan struct {
	Runs int
	// HandoverRuns is how often vipd runs the handover scenarios (stop,
	// drain), whose promise is 0 failed requests (0: Runs).
	HandoverRuns int
	Systems      []string // keys of benchSystemMakers
	Scenarios    []benchScenario
	ScaleVIPs    int // VIPs on the owner in the scale row (0: skip)
	ScaleRuns    int
	ConvAgents   int
	ConvVIPs     int
	IdleFor      time.Duration
	IdleVIPs     int
	IdleSystems  []string // keys of benchIdleMakers
	// IdleProfiles, when set, is where the idle rows' vipd write CPU profiles.
	IdleProfiles string
	OutDir       string
	PlotScenario string
	// HealObserve is how long a heal scenario watches ARP after the heal
	// at least (0: benchHealObserve).
	HealObserve time.Duration
}

// benchSystemMakers starts each system in a fresh lab of three hosts with
// nVIPs VIPs (vipd groups them when asked, so one host owns them all).
var benchSystemMakers = map[string]func(t *testing.T, nVIPs int, group bool) benchSystem{
	"vipd default":    func(t *testing.T, n int, g bool) benchSystem { return newVIPDBench(t, "default", n, g) },
	"vipd fast":       func(t *testing.T, n int, g bool) benchSystem { return newVIPDBench(t, "fast", n, g) },
	"keepalived 1s":   func(t *testing.T, n int, _ bool) benchSystem { return newKeepalivedBench(t, "1", n) },
	"keepalived 0.1s": func(t *testing.T, n int, _ bool) benchSystem { return newKeepalivedBench(t, "0.1", n) },
}

var benchAllSystems = []string{"vipd default", "vipd fast", "keepalived 1s", "keepalived 0.1s"}

// benchIdleMakers start the systems of the idle table, which separates the
// protocol from the checks: vipd with its http check every 1 s and with no
// check at all, keepalived with its curl track script and without. Each row
// says what runs (Runs). profileDir, when set, gets vipd's CPU profiles.
var benchIdleMakers = map[string]func(t *testing.T, n int, profileDir string) idleSystem{
	"vipd default, check 1 s": func(t *testing.T, n int, dir string) idleSystem {
		return newVIPDIdle(t, "default", n, benchIdleChecks, dir)
	},
	"vipd fast, check 1 s": func(t *testing.T, n int, dir string) idleSystem {
		return newVIPDIdle(t, "fast", n, benchIdleChecks, dir)
	},
	"vipd default, no checks": func(t *testing.T, n int, dir string) idleSystem {
		return newVIPDIdle(t, "default", n, benchChecks{}, dir)
	},
	"vipd fast, no checks": func(t *testing.T, n int, dir string) idleSystem {
		return newVIPDIdle(t, "fast", n, benchChecks{}, dir)
	},
	"keepalived 1s, track script": func(t *testing.T, n int, _ string) idleSystem {
		return newKeepalivedIdle(t, "1", n, false)
	},
	"keepalived 0.1s, track script": func(t *testing.T, n int, _ string) idleSystem {
		return newKeepalivedIdle(t, "0.1", n, false)
	},
	"keepalived 1s, no track script": func(t *testing.T, n int, _ string) idleSystem {
		return newKeepalivedIdle(t, "1", n, true)
	},
	"keepalived 0.1s, no track script": func(t *testing.T, n int, _ string) idleSystem {
		return newKeepalivedIdle(t, "0.1", n, true)
	},
	// The floor: what vipd's heartbeats alone cost a Go program here.
	"floor, heartbeats of default": func(t *testing.T, _ int, _ string) idleSystem {
		return newFloorIdle(t, membership.Profiles[config.ProfileDefault].HeartbeatInterval)
	},
	"floor, heartbeats of fast": func(t *testing.T, _ int, _ string) idleSystem {
		return newFloorIdle(t, membership.Profiles[config.ProfileFast].HeartbeatInterval)
	},
}

var benchAllIdle = []string{
	"vipd default, check 1 s", "vipd fast, check 1 s", "vipd default, no checks", "vipd fast, no checks",
	"keepalived 1s, track script", "keepalived 0.1s, track script", "keepalived 1s, no track script", "keepalived 0.1s, no track script",
	"floor, heartbeats of default", "floor, heartbeats of fast",
}

func newVIPDIdle(t *testing.T, profile string, n int, checks benchChecks, profileDir string) benchSystem {
	name := "vipd " + profile + ", no checks"
	if checks.Interval > 0 {
		name = fmt.Sprintf("vipd %s, check every %v", profile, checks.Interval)
	}
	return newVIPDBenchWith(t, name, profile, n, false, checks, "info", profileDir)
}

func newKeepalivedIdle(t *testing.T, advert string, n int, noScript bool) benchSystem {
	k := newKeepalivedBenchWith(t, advert, n, noScript)
	k.name = "keepalived " + advert + "s, track script 1 s"
	if noScript {
		k.name = "keepalived " + advert + "s, no track script"
	}
	return k
}

// benchOnly reads VIPD_BENCH_ONLY, a comma-separated list of scenario keys
// (hard-crash, stop, ...) and parts (idle, scale, convergence) to run while
// iterating on one figure; empty runs everything, as make bench does.
// VIPD_BENCH_IDLE_ROWS keeps the idle rows whose names contain one of its
// |-separated parts (e.g. "vipd default|keepalived 1s").
func benchOnly(plan benchPlan) (benchPlan, error) {
	only := os.Getenv("VIPD_BENCH_ONLY")
	if only == "" {
		return plan, nil
	}
	want := map[string]bool{}
	for _, k := range strings.Split(only, ",") {
		want[strings.TrimSpace(k)] = true
	}
	known := map[string]bool{"idle": true, "scale": true, "convergence": true}
	var scs []benchScenario
	for _, sc := range plan.Scenarios {
		known[sc.Key] = true
		if want[sc.Key] {
			scs = append(scs, sc)
		}
	}
	for k := range want {
		if !known[k] {
			return plan, fmt.Errorf("VIPD_BENCH_ONLY=%q: %q is no scenario or part; use %v", only, k, slices.Sorted(maps.Keys(known)))
		}
	}
	plan.Scenarios = scs
	if len(scs) == 0 {
		plan.Systems = nil
	}
	if !want["idle"] {
		plan.IdleFor = 0
	}
	if rows := os.Getenv("VIPD_BENCH_IDLE_ROWS"); rows != "" {
		var keep []string
		for _, name := range plan.IdleSystems {
			for _, r := range strings.Split(rows, "|") {
				if strings.TrimSpace(r) != "" && strings.Contains(name, strings.TrimSpace(r)) {
					keep = append(keep, name)
					break
				}
			}
		}
		plan.IdleSystems = keep
	}
	if !want["scale"] {
		plan.ScaleVIPs = 0
	}
	if !want["convergence"] {
		plan.ConvAgents = 0
	}
	return plan, nil
}

// TestBenchmarkVsKeepalived is `sudo make bench`: vipd against keepalived
// in the same lab, in the same run. It runs only with VIPD_BENCH=1, prints
// the table and writes docs/benchmarks.{md,json} and docs/failover.png. It
// asserts no timing. VIPD_BENCH_RUNS changes the number of runs (default 5),
// VIPD_BENCH_HANDOVER_RUNS that of vipd's stop and drain runs (default 20);
// VIPD_BENCH_ONLY runs a part (see benchOnly), VIPD_BENCH_IDLE the length of
// each idle row's sample (default 30s), VIPD_BENCH_PROFILE=DIR writes a CPU profile
// of every vipd of the idle rows to DIR, and VIPD_BENCH_OUT where the
// outputs go (default docs/).
func TestBenchmarkVsKeepalived(t *testing.T) {
	if os.Getenv("VIPD_BENCH") != "1" {
		t.Skip("the benchmark runs with VIPD_BENCH=1 (sudo make bench)")
	}
	lab.RequireRoot(t)
	runs := envInt(t, "VIPD_BENCH_RUNS", 5)
	handoverRuns := envInt(t, "VIPD_BENCH_HANDOVER_RUNS", 20)
	out := os.Getenv("VIPD_BENCH_OUT")
	if out == "" {
		out = filepath.Join("..", "..", "docs")
	}
	idleFor := 30 * time.Second
	if s := os.Getenv("VIPD_BENCH_IDLE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("VIPD_BENCH_IDLE=%q: want a duration such as 60s", s)
		}
		idleFor = d
	}
	if dir := os.Getenv("VIPD_BENCH_PROFILE"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("VIPD_BENCH_PROFILE: %v", err)
		}
	}
	plan, err := benchOnly(benchPlan{
		Runs: runs, HandoverRuns: handoverRuns, Systems: benchAllSystems, Scenarios: benchScenarios,
		ScaleVIPs: 1000, ScaleRuns: runs,
		ConvAgents: 100, ConvVIPs: 1000,
		IdleFor: idleFor, IdleVIPs: 10, IdleSystems: benchAllIdle,
		IdleProfiles: os.Getenv("VIPD_BENCH_PROFILE"),
		OutDir:       out,
	})
	if err != nil {
		t.Fatal(err)
	}
	runBench(t, plan)
}

// TestBenchSmoke runs the benchmark harness once, small: one run of every
// scenario for vipd fast and keepalived 0.1s, a 30-VIP scale row, a small
// convergence and a short idle sample, writing its outputs to a temporary
// directory. It checks that the harness works, not how fast anything is:
// besides, that each heal run ended with exactly one MAC answering ARP.
func TestBenchSmoke(t *testing.T) {
	lab.RequireRoot(t)
	if testing.Short() {
		t.Skip("the benchmark smoke test needs a lab; skipped with -short")
	}
	out := t.TempDir()
	rep := runBench(t, benchPlan{
		Runs: 1, Systems: []string{"vipd fast", "keepalived 0.1s"}, Scenarios: benchScenarios,
		ScaleVIPs: 30, ScaleRuns: 1,
		ConvAgents: 10, ConvVIPs: 100,
		IdleFor: 3 * time.Second, IdleVIPs: 10, IdleSystems: []string{"vipd fast, no checks", "keepalived 0.1s, no track script"},
		OutDir: out, HealObserve: 2 * time.Second,
	})
	if t.Failed() {
		return
	}
	for _, f := range []string{"benchmarks.md", "benchmarks.json", "failover.png"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("the harness wrote no %s: %v", f, err)
		}
	}
	for _, c := range rep.Cells {
		if len(c.Runs) == 0 && !(setsChecks(c.Scenario) && strings.HasPrefix(c.System, "keepalived")) {
			// keepalived's checks cannot be changed per scenario: it has
			// no run of a row that sets them.
			t.Errorf("%s / %s: no run recorded", c.Scenario, c.System)
		}
		if !c.Heal {
			continue
		}
		for _, run := range c.Runs {
			switch hr := run.Heal; {
			case hr == nil:
				t.Errorf("%s / %s: no heal figures", c.Scenario, c.System)
			case !hr.Settled || hr.Final == "":
				t.Errorf("%s / %s: the run did not end with one MAC answering ARP for %s; who answered: %+v",
					c.Scenario, c.System, vip4, hr.Changes)
			case hr.FaultPolls == 0:
				t.Errorf("%s / %s: no ARP request during the fault", c.Scenario, c.System)
			}
		}
	}
	if len(rep.Idle) != 2 {
		t.Errorf("idle rows: %d, want 2", len(rep.Idle))
	}
	for _, r := range rep.Idle {
		if r.RSSMiB <= 0 {
			t.Errorf("idle row %s: RSS %v MiB, want the daemons' memory", r.System, r.RSSMiB)
		}
	}
	if !rep.Convergence.Agreed {
		t.Errorf("the simulated agents did not agree: %+v", rep.Convergence)
	}
}

// runBench runs the plan, prints the table and writes the outputs.
func runBench(t *testing.T, plan benchPlan) *benchReport {
	started := time.Now()
	rep := newBenchReport(plan)
	for _, name := range plan.Systems {
		t.Run(safeName(name), func(t *testing.T) {
			sys := benchSystemMakers[name](t, 1, false)
			_, isVIPD := sys.(*vipdBench)
			for _, sc := range plan.Scenarios {
				runs := plan.Runs
				if sc.Handover && isVIPD && plan.HandoverRuns > 0 {
					runs = plan.HandoverRuns
				}
				if sc.Checks != nil {
					setter, ok := sys.(benchCheckSetter)
					if !ok {
						continue // its checks are what they are: the backend row
					}
					if err := setter.SetChecks(*sc.Checks); err != nil {
						t.Errorf("%s: %v", sc.Key, err)
						continue
					}
				}
				for i := range runs {
					var run benchRun
					var err error
					if sc.Heal {
						observe := plan.HealObserve
						if observe == 0 {
							observe = benchHealObserve
						}
						run, err = runHealScenario(t, sys, sc, observe)
					} else {
						run, err = runScenario(t, sys, sc)
					}
					if err != nil {
						t.Errorf("run %d: %v", i+1, err)
						if run.Owner == "" {
							continue
						}
					}
					if hr := run.Heal; hr != nil {
						t.Logf("%s / %s run %d: owner %s, one MAC (%s) %.0f ms after the heal, settled %v; during the fault %d of %d ARP requests had 2+ MACs (most %d); client gap %.0f ms failed %d answered by %v; ARP answers: %s",
							sc.Key, name, i+1, run.Owner, hr.Final, hr.SettleMS, hr.Settled, hr.FaultMulti, hr.FaultPolls,
							hr.FaultMaxMACs, run.GapMS, run.Failed, run.Bodies, fmtARPChanges(hr.Changes))
					} else {
						t.Logf("%s / %s run %d: owner %s gap %.0f ms failed %d (resets %d) answered by %v recovered %v",
							sc.Key, name, i+1, run.Owner, run.GapMS, run.Failed, run.Reset, run.Bodies, run.Recovered)
					}
					rep.add(sc, name, run)
				}
				if sc.Checks != nil {
					if err := sys.(benchCheckSetter).SetChecks(benchFailoverChecks); err != nil {
						t.Errorf("%s: putting the bench's checks back: %v", sc.Key, err)
					}
				}
			}
		})
	}
	if plan.ScaleVIPs > 0 {
		t.Run("scale", func(t *testing.T) {
			name := fmt.Sprintf("vipd fast, %d VIPs in one group", plan.ScaleVIPs)
			sys := newVIPDBench(t, "fast", plan.ScaleVIPs, true)
			sys.name = name
			for i := range plan.ScaleRuns {
				run, err := runScenario(t, sys, benchScenarios[0])
				if err != nil {
					t.Errorf("run %d: %v", i+1, err)
					if run.Owner == "" {
						continue
					}
				}
				t.Logf("hard crash / %s run %d: gap %.0f ms failed %d answered by %v", name, i+1, run.GapMS, run.Failed, run.Bodies)
				rep.addScale(run)
			}
		})
	}
	if plan.ConvAgents > 0 {
		rep.Convergence = simulateConvergence(plan.ConvAgents, plan.ConvVIPs)
		t.Logf("convergence: %+v", rep.Convergence)
	}
	if plan.IdleFor > 0 {
		t.Run("idle", func(t *testing.T) {
			rep.Idle = measureIdle(t, plan.IdleSystems, plan.IdleVIPs, plan.IdleFor, plan.IdleProfiles)
		})
	}
	rep.finish(time.Since(started))
	fmt.Print(rep.table())
	if g := rep.perfGoals(); len(g) > 0 {
		fmt.Printf("\ngoals from issue #16:\n%s\n", strings.Join(g, "\n"))
	}
	if err := rep.write(plan.OutDir); err != nil {
		t.Error(err)
	}
	return rep
}

func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == ' ' || c == ',' {
			b[i] = '_'
		}
	}
	return string(b)
}

// setsChecks reports whether the scenario with key changes the checks.
func setsChecks(key string) bool {
	for _, sc := range benchScenarios {
		if sc.Key == key {
			return sc.Checks != nil
		}
	}
	return false
}
