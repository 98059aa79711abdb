package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// benchCell is one scenario × system of the table.
type benchCell struct {
	Scenario     string     `json:"scenario"`
	ScenarioName string     `json:"scenario_name"`
	System       string     `json:"system"`
	Runs         []benchRun `json:"runs"`
	Gap          benchStats `json:"gap_ms"`
	Failed       benchStats `json:"failed"`
	FailedTotal  int        `json:"failed_total"`
	// ResetTotal of FailedTotal were connections reset by the new owner.
	ResetTotal   int `json:"reset_total"`
	NotRecovered int `json:"not_recovered"`
	// Heal marks a heal scenario's cell; HealStats condenses its runs.
	Heal      bool           `json:"heal,omitempty"`
	HealStats *benchHealCell `json:"heal_stats,omitempty"`
}

// benchHealCell condenses the heal figures of one cell.
type benchHealCell struct {
	// Settle is over the runs that settled; NotSettled counts the others.
	Settle     benchStats `json:"settle_ms"`
	NotSettled int        `json:"not_settled"`
	Moves      benchStats `json:"moves"`
	// FaultMulti of FaultPolls ARP requests during the fault, over all
	// runs, had two or more MACs answering; FaultMaxMACs is the most.
	FaultPolls   int `json:"fault_arp_requests"`
	FaultMulti   int `json:"fault_arp_requests_2plus_macs"`
	FaultMaxMACs int `json:"fault_max_macs"`
}

// benchScale compares the failover of one VIP with that of many on the owner.
type benchScale struct {
	System    string     `json:"system"`
	VIPs      int        `json:"vips"`
	OneVIP    benchStats `json:"one_vip_gap_ms"`
	ManyVIPs  benchStats `json:"many_vips_gap_ms"`
	ManyRuns  []benchRun `json:"many_vips_runs"`
	ManyFails int        `json:"many_vips_failed_total"`
}

type benchReport struct {
	Generated   time.Time        `json:"generated"`
	Machine     map[string]any   `json:"machine"`
	RunsPerCell int              `json:"runs_per_cell"`
	Method      map[string]any   `json:"method"`
	DurationS   float64          `json:"bench_duration_s"`
	Cells       []*benchCell     `json:"cells"`
	Scale       *benchScale      `json:"scale,omitempty"`
	Convergence benchConvergence `json:"convergence"`
	Idle        []benchIdle      `json:"idle"`

	plan      benchPlan
	timelines map[string][]benchPoint // the first hard crash of each system
}

func newBenchReport(plan benchPlan) *benchReport {
	r := &benchReport{Generated: time.Now().UTC().Truncate(time.Second), RunsPerCell: plan.Runs, plan: plan,
		timelines: map[string][]benchPoint{}}
	for _, sc := range plan.Scenarios {
		for _, sys := range plan.Systems {
			r.Cells = append(r.Cells, &benchCell{Scenario: sc.Key, ScenarioName: sc.Name, System: sys, Heal: sc.Heal})
		}
	}
	r.Machine = machineInfo()
	r.Method = map[string]any{
		"hosts": 3, "probe_every_ms": ms(benchProbeEvery), "probe_timeout_ms": ms(benchProbeTimeout),
		"baseline_ms": ms(benchBaseline), "recovered_after_ms": ms(benchRecoveredFor),
		"gap":         "longest time without a successful answer at the client (lab.Summarize)",
		"vipd_checks": "http 127.0.0.1:8080 every 100ms, timeout 90ms, rise 2, fall 2",
		"keepalived":  "VRRPv3 unicast, priorities 100/90/80 with preemption, vrrp_script curl -m 0.2 interval 1 fall 1 rise 2, track_file weight 1 (priority drop writes -50)",
		"heal": fmt.Sprintf("partition: the owner's TCP+UDP 7946 (vipd) or IP protocol 112 (keepalived) dropped in and out by nftables for %v; link flap: the owner's eth0 down %v. "+
			"The client sends one ARP request after another (arping -c 1 -w %s) and counts the distinct MACs answering each; settle is the time from the heal or link up to the first request "+
			"from which on exactly one MAC, the same, answered, with at least %v observed after the heal and %v of one MAC at the end",
			benchCutFor, benchFlapFor, benchARPWait, benchHealObserve, benchHealStableFor),
	}
	return r
}

func (r *benchReport) cell(scenario, system string) *benchCell {
	for _, c := range r.Cells {
		if c.Scenario == scenario && c.System == system {
			return c
		}
	}
	return nil
}

func (r *benchReport) add(sc benchScenario, system string, run benchRun) {
	c := r.cell(sc.Key, system)
	c.Runs = append(c.Runs, run)
	if sc.Key == "hard-crash" && r.timelines[system] == nil && run.Recovered {
		r.timelines[system] = run.Timeline
	}
}

func (r *benchReport) addScale(run benchRun) {
	if r.Scale == nil {
		r.Scale = &benchScale{System: "vipd fast", VIPs: r.plan.ScaleVIPs}
	}
	r.Scale.ManyRuns = append(r.Scale.ManyRuns, run)
}

func (r *benchReport) finish(took time.Duration) {
	r.DurationS = took.Round(time.Second).Seconds()
	for _, c := range r.Cells {
		var gaps, failed []float64
		c.FailedTotal, c.ResetTotal, c.NotRecovered = 0, 0, 0
		for _, run := range c.Runs {
			gaps = append(gaps, run.GapMS)
			failed = append(failed, float64(run.Failed))
			c.FailedTotal += run.Failed
			c.ResetTotal += run.Reset
			if !run.Recovered {
				c.NotRecovered++
			}
		}
		c.Gap, c.Failed = statsOf(gaps), statsOf(failed)
		if c.Heal {
			c.HealStats = healStatsOf(c.Runs)
		}
	}
	if s := r.Scale; s != nil {
		if one := r.cell("hard-crash", s.System); one != nil {
			s.OneVIP = one.Gap
		}
		var gaps []float64
		s.ManyFails = 0
		for _, run := range s.ManyRuns {
			gaps = append(gaps, run.GapMS)
			s.ManyFails += run.Failed
		}
		s.ManyVIPs = statsOf(gaps)
	}
}

func healStatsOf(runs []benchRun) *benchHealCell {
	h := &benchHealCell{}
	var settle, moves []float64
	for _, run := range runs {
		hr := run.Heal
		if hr == nil {
			h.NotSettled++
			continue
		}
		if hr.Settled {
			settle = append(settle, hr.SettleMS)
		} else {
			h.NotSettled++
		}
		moves = append(moves, float64(hr.Moves))
		h.FaultPolls += hr.FaultPolls
		h.FaultMulti += hr.FaultMulti
		h.FaultMaxMACs = max(h.FaultMaxMACs, hr.FaultMaxMACs)
	}
	h.Settle, h.Moves = statsOf(settle), statsOf(moves)
	return h
}

func fmtStats(s benchStats) string {
	return fmt.Sprintf("%.0f / %.0f / %.0f", s.Min, s.Median, s.Max)
}

// table is the benchmark's one table as printed, with the scale and idle rows.
func (r *benchReport) table() string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\tsystem\tgap ms min / median / max\tfailed min / median / max (total)\tof which resets\tnot recovered\n")
	for _, c := range r.Cells {
		if c.Heal || len(c.Runs) == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s (%d)\t%d\t%d/%d\n", c.ScenarioName, c.System, fmtStats(c.Gap),
			fmtStats(c.Failed), c.FailedTotal, c.ResetTotal, c.NotRecovered, len(c.Runs))
	}
	tw.Flush()
	if r.hasHeal() {
		b.WriteString("\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "heal scenario\tsystem\tone MAC after heal ms min / median / max\tfailed min / median / max (total)\tgap ms min / median / max\tmoves min / median / max\tARP requests with 2+ MACs during fault\tnot settled\n")
		for _, c := range r.Cells {
			if !c.Heal || c.HealStats == nil {
				continue
			}
			h := c.HealStats
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s (%d)\t%s\t%s\t%d/%d (most %d MACs)\t%d/%d\n", c.ScenarioName, c.System,
				fmtStats(h.Settle), fmtStats(c.Failed), c.FailedTotal, fmtStats(c.Gap), fmtStats(h.Moves),
				h.FaultMulti, h.FaultPolls, h.FaultMaxMACs, h.NotSettled, len(c.Runs))
		}
		tw.Flush()
	}
	if s := r.Scale; s != nil {
		fmt.Fprintf(&b, "\nscale: hard crash, %s: median gap 1 VIP %.0f ms, %d VIPs on the owner %.0f ms (%+.0f ms); %d VIPs min / median / max %s, failed %d\n",
			s.System, s.OneVIP.Median, s.VIPs, s.ManyVIPs.Median, s.ManyVIPs.Median-s.OneVIP.Median, s.VIPs, fmtStats(s.ManyVIPs), s.ManyFails)
	}
	if c := r.Convergence; c.Agents > 0 {
		fmt.Fprintf(&b, "scale: %d simulated agents × %d VIPs, owner %s dies (%d VIPs move): all agree %.1f ms after the death is in every view (election.Decide per agent min / median / max %.1f / %.1f / %.1f ms), agreed=%v\n",
			c.Agents, c.VIPs, c.Dead, c.Moved, c.AgreementMS, c.DecideMS.Min, c.DecideMS.Median, c.DecideMS.Max, c.Agreed)
	}
	if len(r.Idle) > 0 {
		b.WriteString("\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "idle (%d hosts, %d VIPs, %.0f s)\tCPU %% of a core per host\tRSS MiB per host\tof which private (RssAnon)\tprocesses per host\twhat runs\n",
			r.Idle[0].Hosts, r.Idle[0].VIPs, r.Idle[0].Secs)
		for _, i := range r.Idle {
			fmt.Fprintf(tw, "%s\t%.2f\t%.1f\t%.1f\t%d (%s)\t%s\n", i.System, i.CPUPercent, i.RSSMiB, i.AnonMiB, i.Processes, strings.Join(i.Commands, ", "), i.Runs)
		}
		tw.Flush()
	}
	fmt.Fprintf(&b, "\nbench duration: %s\n", time.Duration(r.DurationS*float64(time.Second)))
	return b.String()
}

func (r *benchReport) hasHeal() bool {
	for _, c := range r.Cells {
		if c.Heal && len(c.Runs) > 0 {
			return true
		}
	}
	return false
}

// healGoals are the figures issue #15 reads the heal rows against.
func (r *benchReport) healGoals() []string {
	var out []string
	check := func(what string, ok bool, got string) {
		verdict := "met"
		if !ok {
			verdict = "**missed**"
		}
		out = append(out, fmt.Sprintf("- %s: %s (%s)", what, verdict, got))
	}
	for _, sys := range []string{"vipd default", "vipd fast"} {
		profile := strings.TrimPrefix(sys, "vipd ")
		if c := r.cell("partition-heal", sys); c != nil && c.HealStats != nil && len(c.Runs) > 0 {
			h := c.HealStats
			check(fmt.Sprintf("partition heal: one MAC within 2 s of the heal on `%s`, every run", profile),
				h.NotSettled == 0 && h.Settle.Max <= 2000,
				fmt.Sprintf("max %.0f ms, %d of %d runs not settled", h.Settle.Max, h.NotSettled, len(c.Runs)))
		}
		if c := r.cell("link-flap", sys); c != nil && c.HealStats != nil && len(c.Runs) > 0 {
			h := c.HealStats
			check(fmt.Sprintf("link flap: one MAC within 2 s of link up and at most one move on `%s`, every run", profile),
				h.NotSettled == 0 && h.Settle.Max <= 2000 && h.Moves.Max <= 1,
				fmt.Sprintf("max %.0f ms, most moves %.0f, %d of %d runs not settled", h.Settle.Max, h.Moves.Max, h.NotSettled, len(c.Runs)))
		}
	}
	return out
}

// goals are the figures issue #9 reads the results against.
func (r *benchReport) goals() []string {
	var out []string
	check := func(what string, ok bool, got string) {
		verdict := "met"
		if !ok {
			verdict = "**missed**"
		}
		out = append(out, fmt.Sprintf("- %s: %s (%s)", what, verdict, got))
	}
	if c := r.cell("hard-crash", "vipd default"); c != nil && len(c.Runs) > 0 {
		check("hard crash median ≤ 1.0 s on `default`", c.Gap.Median <= 1000, fmt.Sprintf("%.0f ms", c.Gap.Median))
	}
	if c := r.cell("hard-crash", "vipd fast"); c != nil && len(c.Runs) > 0 {
		check("hard crash median ≤ 0.3 s on `fast`", c.Gap.Median <= 300, fmt.Sprintf("%.0f ms", c.Gap.Median))
	}
	for _, sc := range []string{"stop", "drain"} {
		for _, sys := range []string{"vipd default", "vipd fast"} {
			if c := r.cell(sc, sys); c != nil && len(c.Runs) > 0 {
				check(fmt.Sprintf("%s on `%s` loses 0 requests", c.ScenarioName, strings.TrimPrefix(sys, "vipd ")),
					c.FailedTotal == 0, fmt.Sprintf("%d failed in %d runs", c.FailedTotal, len(c.Runs)))
			}
		}
	}
	if s := r.Scale; s != nil && len(s.ManyRuns) > 0 && s.OneVIP.Median > 0 {
		d := s.ManyVIPs.Median - s.OneVIP.Median
		check(fmt.Sprintf("%d VIPs within +100 ms of 1 VIP", s.VIPs), d <= 100, fmt.Sprintf("%+.0f ms", d))
	}
	return out
}

// perfGoals are the figures issue #16 reads the results against.
func (r *benchReport) perfGoals() []string {
	var out []string
	check := func(what string, ok bool, got string) {
		verdict := "met"
		if !ok {
			verdict = "**missed**"
		}
		out = append(out, fmt.Sprintf("- %s: %s (%s)", what, verdict, got))
	}
	for _, i := range r.Idle {
		var limit float64
		switch i.System {
		case "vipd default, check every 1s":
			limit = 0.3
		case "vipd fast, check every 1s":
			limit = 1
		default:
			continue
		}
		check(fmt.Sprintf("idle CPU ≤ %.1f %% of a core and RSS ≤ 20 MiB per host, %s", limit, i.System),
			i.CPUPercent <= limit && i.RSSMiB <= 20, fmt.Sprintf("%.2f %%, %.1f MiB", i.CPUPercent, i.RSSMiB))
	}
	for _, g := range []struct {
		sys   string
		limit float64
	}{{"vipd default", 400}, {"vipd fast", 200}} {
		if c := r.cell("hard-crash", g.sys); c != nil && len(c.Runs) > 0 {
			check(fmt.Sprintf("hard crash median ≤ %.1f s on `%s`", g.limit/1000, strings.TrimPrefix(g.sys, "vipd ")),
				c.Gap.Median <= g.limit, fmt.Sprintf("%.0f ms", c.Gap.Median))
		}
	}
	for _, sys := range []string{"vipd default", "vipd fast"} {
		if c := r.cell("backend-default", sys); c != nil && len(c.Runs) > 0 {
			check(fmt.Sprintf("backend failure with default check settings median ≤ 0.6 s on `%s`", strings.TrimPrefix(sys, "vipd ")),
				c.Gap.Median <= 600, fmt.Sprintf("%.0f ms", c.Gap.Median))
		}
	}
	for _, sc := range []string{"stop", "drain"} {
		for _, sys := range []string{"vipd default", "vipd fast"} {
			if c := r.cell(sc, sys); c != nil && len(c.Runs) > 0 {
				check(fmt.Sprintf("%s on `%s`: 0 failed requests other than resets", c.ScenarioName, strings.TrimPrefix(sys, "vipd ")),
					c.FailedTotal == c.ResetTotal,
					fmt.Sprintf("%d failed in %d runs, %d of them resets", c.FailedTotal, len(c.Runs), c.ResetTotal))
			}
		}
	}
	return out
}

func (r *benchReport) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "benchmarks.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var order []string
	for _, sys := range r.plan.Systems {
		if r.timelines[sys] != nil {
			order = append(order, sys)
		}
	}
	// A partial run (VIPD_BENCH_ONLY without hard-crash) has nothing to plot.
	if len(order) > 0 || slices.Contains(r.plan.Scenarios, benchScenarios[0]) {
		if err := writeFailoverPlot(filepath.Join(dir, "failover.png"), order, r.timelines); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	return os.WriteFile(filepath.Join(dir, "benchmarks.md"), []byte(r.markdown()), 0o644)
}

func (r *benchReport) markdown() string {
	var b strings.Builder
	b.WriteString("# vipd benchmarks: failover, scale and idle cost, side by side with keepalived\n\n")
	b.WriteString("Generated by `sudo make bench` (`TestBenchmarkVsKeepalived` in `cmd/vipd/bench_test.go`); ")
	b.WriteString("the same figures are in [benchmarks.json](benchmarks.json). Do not edit by hand: run the benchmark again.\n\n")
	fmt.Fprintf(&b, "Run: %s, %d runs per cell, whole benchmark %s. Machine: %v.\n\n",
		r.Generated.Format(time.RFC3339), r.RunsPerCell, time.Duration(r.DurationS*float64(time.Second)), machineLine(r.Machine))
	b.WriteString("## Method\n\n")
	b.WriteString("Each system runs in its own netns lab: three hosts (h1..h3) on a Linux bridge, nginx on each answering `GET /` on :8080 ")
	b.WriteString("with its host name, and a client namespace that GETs the VIP `http://192.0.2.200:8080/` every 10 ms on a fresh connection with a 200 ms timeout. ")
	b.WriteString("A run waits until the system has settled (all daemons up, one owner, the client answering from it), probes for 300 ms, ")
	b.WriteString("makes the owner fail, and stops when the client has had 300 ms of answers from another host without a failure. ")
	b.WriteString("**Gap** is the longest time the client went without a successful answer; **failed** counts requests that got an error or timed out. ")
	b.WriteString("Then the lab is put back (link up and daemon restarted, nginx restarted, undrain) for the next run.\n\n")
	b.WriteString("Scenarios:\n\n")
	b.WriteString("- **hard crash**: SIGKILL of the daemon's process group on the owner, then its eth0 set down (cable pulled).\n")
	b.WriteString("- **graceful stop**: SIGTERM to the owner's daemon (vipd hands its VIPs over; keepalived sends a priority-0 advert).\n")
	b.WriteString("- **drain / priority drop**: vipd: `vipctl drain --wait` on the owner. keepalived: the owner's `track_file` is set to -50, dropping its priority from 100 to 50, below both backups, which preempt.\n")
	b.WriteString("- **backend failure**: nginx stopped on the owner; vipd's http check (every 100 ms, fall 2) or keepalived's `vrrp_script` (curl every 1 s, the shortest interval keepalived allows, fall 1) notices.\n")
	b.WriteString("- **backend failure, default check settings**: the same, vipd only, after a reload to the check settings a user gets by default (interval 1 s, timeout 500 ms, fall 2, a failing check re-checked every `fast_interval` 200 ms, a refused connection down at once); keepalived's row is the one above.\n\n")
	fmt.Fprintf(&b, "vipd's graceful stop and drain run %d times each (their promise is 0 failed requests); **of which resets** counts the failed requests whose connection was open when the client's neighbour entry moved to the new owner, which reset it.\n\n", r.plan.HandoverRuns)
	b.WriteString("Heal scenarios (issue #15): the fault is undone after a while, and what counts is how fast the cluster is back to **exactly one MAC answering ARP** for the VIP. ")
	fmt.Fprintf(&b, "Besides the HTTP probes, the client sends one ARP request for the VIP after another (`arping -c 1 -w %s`, about 3 a second) and counts the distinct MACs that answer each. ", benchARPWait)
	fmt.Fprintf(&b, "A run watches at least %v after the heal and ends once one MAC has answered alone for %v.\n\n", benchHealObserve, benchHealStableFor)
	fmt.Fprintf(&b, "- **partition heal**: the owner's cluster traffic is dropped in and out by nftables for %v while the LAN stays whole (the client reaches every host): ", benchCutFor)
	b.WriteString("for vipd TCP and UDP port 7946 (gossip), for keepalived IP protocol 112 (VRRP), so keepalived has two MASTERs during the cut. Then the rule is removed (the heal).\n")
	fmt.Fprintf(&b, "- **link flap of the owner**: the owner's eth0 down for %v, then up again; the client probes throughout.\n\n", benchFlapFor)
	b.WriteString("Heal columns: **one MAC after heal** is the time from the heal (partition) or link up (flap) to the first ARP request from which on exactly one MAC, the same until the end of the run, answered ")
	b.WriteString("(0 if one MAC already answered alone before the heal; resolution about 0.35 s: one request's wait plus starting arping in the client's namespace); ")
	b.WriteString("**failed** and **gap** are the client's HTTP figures over the whole run (300 ms before the fault to the end); **moves** are owner changes the client saw over HTTP (hosts answering in turn, minus one); ")
	b.WriteString("**ARP requests with 2+ MACs during fault** counts, over all runs, the ARP requests sent while the fault lasted that two or more MACs answered (a split as the LAN sees it); ")
	b.WriteString("**not settled** counts runs that did not end with one MAC answering within 20 s of the heal.\n\n")
	b.WriteString("Systems: vipd with gossip profile `default` and `fast` (one VIP, the same http check in both), and keepalived 2.2.7 with `advert_int 1` and `0.1` ")
	b.WriteString("(VRRPv3, unicast to the two other hosts, VIP as a /32 on eth0, priorities 100/90/80, preemption on, the generated keepalived.conf is in `bench_keepalived_test.go`).\n\n")
	b.WriteString("## Failover\n\n```\n")
	b.WriteString(r.table())
	b.WriteString("```\n\n")
	if g := r.goals(); len(g) > 0 {
		b.WriteString("Goals from issue #9:\n\n")
		b.WriteString(strings.Join(g, "\n"))
		b.WriteString("\n\n")
	}
	if g := r.perfGoals(); len(g) > 0 {
		b.WriteString("Goals from issue #16 (idle cost, default checks, handovers):\n\n")
		b.WriteString(strings.Join(g, "\n"))
		b.WriteString("\n\n")
	}
	if g := r.healGoals(); len(g) > 0 {
		b.WriteString("Goals from issue #15 (heal rows):\n\n")
		b.WriteString(strings.Join(g, "\n"))
		b.WriteString("\n\n")
	}
	b.WriteString("| scenario | system | gap ms min | median | max | failed min | median | max | failed total | of which resets | not recovered |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, c := range r.Cells {
		if c.Heal || len(c.Runs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %d | %d | %d/%d |\n", c.ScenarioName, c.System,
			c.Gap.Min, c.Gap.Median, c.Gap.Max, c.Failed.Min, c.Failed.Median, c.Failed.Max, c.FailedTotal, c.ResetTotal, c.NotRecovered, len(c.Runs))
	}
	if r.hasHeal() {
		b.WriteString("\n| heal scenario | system | one MAC after heal ms min | median | max | failed min | median | max | failed total | gap ms median | moves min | median | max | ARP requests with 2+ MACs during fault | not settled |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, c := range r.Cells {
			if !c.Heal || c.HealStats == nil {
				continue
			}
			h := c.HealStats
			fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %d | %.0f | %.0f | %.0f | %.0f | %d/%d (most %d MACs) | %d/%d |\n",
				c.ScenarioName, c.System, h.Settle.Min, h.Settle.Median, h.Settle.Max, c.Failed.Min, c.Failed.Median, c.Failed.Max,
				c.FailedTotal, c.Gap.Median, h.Moves.Min, h.Moves.Median, h.Moves.Max, h.FaultMulti, h.FaultPolls, h.FaultMaxMACs, h.NotSettled, len(c.Runs))
		}
		b.WriteString("\nWho answered ARP in each heal run, as changes over time (seconds from the heal; negative: during the fault), is in benchmarks.json (`heal.arp_changes`).\n")
	}
	b.WriteString("\n## The client's view of one hard crash per system\n\n")
	b.WriteString("Each dot is one request, placed at the time it was sent relative to the fault (t = 0) and at the host that answered it; ")
	b.WriteString("requests that failed sit on the `failed` line. Taken from the first hard-crash run of each system.\n\n")
	b.WriteString("![client view of a hard-crash failover per system](failover.png)\n\n")
	b.WriteString("## Scale\n\n")
	b.WriteString("- A real fleet, 24 hosts × 1000 VIPs in network namespaces (cold start, crash, rolling restart and reload, idle cost): [benchmarks-fleet.md](benchmarks-fleet.md), with the client's view of the crash in [fleet-crash.png](fleet-crash.png).\n")
	if s := r.Scale; s != nil {
		fmt.Fprintf(&b, "- Failover (hard crash, %s) with 1 VIP vs %d VIPs on the owner (one group, so one host owns them all; the client probes one of them): ", s.System, s.VIPs)
		fmt.Fprintf(&b, "median gap %.0f ms vs %.0f ms (%+.0f ms); %d VIPs min / median / max %s ms over %d runs, %d requests failed in all.\n",
			s.OneVIP.Median, s.ManyVIPs.Median, s.ManyVIPs.Median-s.OneVIP.Median, s.VIPs, fmtStats(s.ManyVIPs), len(s.ManyRuns), s.ManyFails)
	}
	if c := r.Convergence; c.Agents > 0 {
		fmt.Fprintf(&b, "- %d simulated agents × %d VIPs, in process: the owner %s of %d VIPs dies; every live agent runs `election.Decide` on its own view of that. ", c.Agents, c.VIPs, c.Dead, c.Moved)
		fmt.Fprintf(&b, "All agreed on every owner, and only the dead host's VIPs moved: %v. One Decide took %s ms (min / median / max), so with every agent deciding on its own host all agree %.1f ms after the death is in every view (the slowest agent); simulating all %d one after another took %.0f ms on this machine. ",
			c.Agreed, fmt.Sprintf("%.1f / %.1f / %.1f", c.DecideMS.Min, c.DecideMS.Median, c.DecideMS.Max), c.AgreementMS, c.Agents-1, c.SimulationMS)
		b.WriteString("This is the decision alone: in a real cluster agreement follows once gossip has spread the death, which the lab figures above include ")
		b.WriteString("(and `go test ./membership -bench DeadDetection` measures).\n")
	}
	if len(r.Idle) > 0 {
		fmt.Fprintf(&b, "\n## Idle cost\n\n%d hosts, %d VIPs, nothing failing, every row in its own lab and alone on the machine, one after another, measured over %.0f s from /proc: ", r.Idle[0].Hosts, r.Idle[0].VIPs, r.Idle[0].Secs)
		b.WriteString("CPU is utime+stime of the daemon's process group, children included (keepalived's curl checks), per host in percent of one core; RSS is VmRSS of the group per host, averaged over samples every 5 s.\n\n")
		b.WriteString("The rows separate the protocol from the checks: vipd with its http check and with none, keepalived with its curl track script (a fork a second) and without.\n\n")
		b.WriteString("RSS counts the executable's pages mapped into the process too; **private** is RssAnon, the process's own memory (heap, stacks). ")
		b.WriteString("vipd is one Go binary of some 35 MB (GoBGP included) that the kernel may map with huge pages, so its RSS is about the binary's size plus the private part; the binary's pages are shared with the page cache and every vipd on the host.\n\n")
		b.WriteString("| system | CPU % of a core per host | RSS MiB per host | of which private MiB | processes per host | what runs |\n|---|--:|--:|--:|---|---|\n")
		for _, i := range r.Idle {
			fmt.Fprintf(&b, "| %s | %.2f | %.1f | %.1f | %d (%s) | %s |\n", i.System, i.CPUPercent, i.RSSMiB, i.AnonMiB, i.Processes, strings.Join(i.Commands, ", "), i.Runs)
		}
	}
	b.WriteString("\n## Caveats\n\n")
	b.WriteString("- The machine has few cores (see above) and other work (other test suites, builds) may run at the same time; ")
	b.WriteString("tail figures (max) are noisy, medians less so. Compare systems within one run, as this page does, rather than across runs.\n")
	b.WriteString("- A veth bridge has no real NIC or switch latency: ARP updates reach the client at once. On real networks add the switch's and clients' ARP handling.\n")
	b.WriteString("- keepalived's `vrrp_script` cannot run more often than once a second, so its backend-failure figures are bounded by that, not by `advert_int`.\n")
	b.WriteString("- The gap includes the client's own 200 ms request timeout when a request was in flight to the dead owner.\n")
	return b.String()
}

func machineInfo() map[string]any {
	m := map[string]any{"cores": runtime.NumCPU(), "go": runtime.Version(), "goarch": runtime.GOARCH}
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		m["kernel"] = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command(keepalivedPath, "--version").CombinedOutput(); err == nil {
		m["keepalived"] = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "model name"); ok {
				m["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["loadavg_at_start"] = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

func machineLine(m map[string]any) string {
	return fmt.Sprintf("%v cores (%v), Linux %v, %v, %v, load average at start %v",
		m["cores"], m["cpu"], m["kernel"], m["go"], m["keepalived"], m["loadavg_at_start"])
}
