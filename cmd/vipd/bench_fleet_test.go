package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/lab"
)

// fleetBench holds what TestBenchmarkFleet measured.
type fleetBench struct {
	Hosts, VIPs, IPv4 int
	Profile           string

	ColdAgreed   time.Duration // every host agrees on an owner for every VIP
	ColdBalanced time.Duration // and every host is within 20 % of an even share
	PerHostMin   int
	PerHostMax   int
	WireWrong    int // VIPs not answered by their owner alone, in one sweep after balancing
	WireAgain    int // of those, the ones still wrong in a second sweep, with the owners then agreed on

	IdleCPU     float64   // % of a core per host
	BaseCPU     float64   // the same, 3 hosts x 10 VIPs: the mean of BaseCPUs
	BaseCPUs    []float64 // measured before the fleet starts and after it ends
	IdleRSS     float64   // MiB per host
	StatusMS    float64   // median of vipctl status --json
	StatusBytes int

	CrashHost     string
	CrashVIPs     int
	CrashAllMS    float64 // until the client got an answer from a new owner for every VIP of the crashed host
	CrashMedianMS float64
	CrashAgreeMS  float64   // until every host's status of the moved VIPs agrees again
	CrashTimes    []float64 // ms until each moved VIP answered, sorted
	CrashFailed   int
	CrashCPU      float64 // CPU seconds of every vipd from the crash until every moved VIP answered

	ReloadAdded, ReloadRemoved int
	ReloadDuration             time.Duration // every host reloaded and agreeing on every owner
	ReloadNewAnswered          time.Duration // from the first reload until every new VIP had answered
	ReloadNewMedian            time.Duration // and until half of them had
	ReloadFailed               int           // on untouched VIPs, other than resets
	ReloadResets               int
	ReloadSample               int

	RollDuration    time.Duration
	RollKilled      int // stops that outlasted the unit's TimeoutStopSec
	RollLongestStop time.Duration
	RollFailed      int // other than resets in flight
	RollResets      int
	RollSample      int
	RollSilent      int // members a restarted vipd heard go quiet, per its log: stopping hosts whose last heartbeats were lost, or live ones taken for dead
	RollChecksDown  int // checks a restarted vipd saw go down, per its log

	// The crash again, in a fleet on the fast profile.
	Fast fleetFastCrash

	// Keepalived is what keepalived said of the fleet's VIPs.
	Keepalived string
}

// fleetFastCrash is the crashes of hosts of a fleet on the fast profile.
type fleetFastCrash struct {
	ColdAgreed time.Duration
	Runs       []fleetCrashRun
}

// fleetCrashRun is one crash of a host.
type fleetCrashRun struct {
	Host            string
	VIPs            int
	AllMS, MedianMS float64
	AgreeMS         float64
	Failed          int
	CPU             float64 // seconds every vipd used until every moved VIP answered
}

// fleetFastCrashes is how many hosts the fast part crashes, one after
// another: one crash is a noisy figure on a machine the whole fleet shares.
const fleetFastCrashes = 3

// worst returns the run whose last moved VIP answered latest.
func (f fleetFastCrash) worst() fleetCrashRun {
	var w fleetCrashRun
	for _, r := range f.Runs {
		if r.AllMS >= w.AllMS {
			w = r
		}
	}
	return w
}

// column returns one figure of every run, joined by " / ".
func (f fleetFastCrash) column(of func(fleetCrashRun) string) string {
	var parts []string
	for _, r := range f.Runs {
		parts = append(parts, of(r))
	}
	return strings.Join(parts, " / ")
}

// TestBenchmarkFleet is the fleet row of `make bench`: 24 hosts in network
// namespaces on one bridge, each a real vipd with the same 1000 VIPs (635
// IPv4, 365 IPv6, no groups) and one in-process http check against its own
// nginx, and a client. It measures a cold start, the steady state, the
// crash of one host, a rolling restart and a rolling reload, prints them
// and writes docs/benchmarks-fleet.md and docs/fleet-crash.png. It asserts
// nothing about timing.
// VIPD_FLEET_HOSTS and VIPD_FLEET_VIPS change the size; VIPD_FLEET_PARTS
// ("default", "fast" or both) runs a part alone, which writes no docs.
func TestBenchmarkFleet(t *testing.T) {
	if os.Getenv("VIPD_BENCH") != "1" {
		t.Skip("the benchmark runs with VIPD_BENCH=1 (sudo make bench)")
	}
	lab.RequireRoot(t)
	r := fleetBench{Hosts: envInt(t, "VIPD_FLEET_HOSTS", 24), VIPs: envInt(t, "VIPD_FLEET_VIPS", 1000), Profile: "default"}
	r.IPv4 = r.VIPs * 635 / 1000
	vips := fleetVIPs(r.VIPs, r.IPv4)
	// The 10-VIP figure the fleet's idle cost is held against: issue #16's
	// 3-host lab, alone on the machine, before the fleet starts and after
	// it ends. This VM's idle figures move by up to a half from one
	// sample to the next; the mean of one on each side of the fleet's
	// steady state is held against it, not whichever is luckier.
	parts := os.Getenv("VIPD_FLEET_PARTS")
	baseline := func(t *testing.T) {
		if parts != "" && !strings.Contains(parts, "default") {
			t.Skip("VIPD_FLEET_PARTS has no default part")
		}
		if rows := measureIdle(t, []string{"vipd default, check 1 s"}, 10, 30*time.Second, ""); len(rows) == 1 {
			r.BaseCPUs = append(r.BaseCPUs, rows[0].CPUPercent)
		}
	}
	t.Run("idle baseline before", baseline)
	if parts == "" || strings.Contains(parts, "default") {
		t.Run("default profile", func(t *testing.T) { r.fleetDefault(t, vips) })
		if t.Failed() {
			return
		}
	}
	t.Run("idle baseline after", baseline)
	if len(r.BaseCPUs) == 2 {
		r.BaseCPU = (r.BaseCPUs[0] + r.BaseCPUs[1]) / 2
	}
	// The crash again on the fast profile, in a fleet of its own: the
	// profile is read at start.
	if parts == "" || strings.Contains(parts, "fast") {
		t.Run("fast profile crash", func(t *testing.T) { r.Fast = fleetCrashFast(t, r.Hosts, vips) })
	}
	if parts != "" {
		fmt.Print(r.report())
		return // a part alone writes no docs
	}

	report := r.report()
	fmt.Print(report)
	out := os.Getenv("VIPD_BENCH_OUT")
	if out == "" {
		out = filepath.Join("..", "..", "docs")
	}
	if err := os.WriteFile(filepath.Join(out, "benchmarks-fleet.md"), []byte(r.markdown(report)), 0o644); err != nil {
		t.Fatal(err)
	}
	title := fmt.Sprintf("%d hosts x %d VIPs: %s (%d VIPs) killed and its link pulled at t = 0", r.Hosts, r.VIPs, r.CrashHost, r.CrashVIPs)
	if err := writeFleetCrashPlot(filepath.Join(out, "fleet-crash.png"), title, r.CrashTimes); err != nil {
		t.Fatal(err)
	}
}

// fleetDefault runs the fleet on the default profile: cold start, steady
// state, crash, rolling restart and rolling reload.
func (r *fleetBench) fleetDefault(t *testing.T, vips []fleetVIP) {
	started := time.Now()
	// vipd logs at info, as in production: debug lines for 1000 VIPs cost
	// CPU the bench measures.
	// vipd runs at nice 5: when 24 daemons saturate the 2 cores, they
	// wait, not the client that measures them nor nginx that answers it,
	// which on a real network have CPUs of their own.
	l := newFleetLab(t, r.Hosts, "vfb", r.Profile, "info", fleetNice, vips)

	// Cold start.
	l.fleetOwners(vips, 5*time.Minute)
	r.ColdAgreed = time.Since(started)
	t.Logf("cold start: every host agreed after %v", r.ColdAgreed.Round(time.Millisecond))
	_, r.PerHostMin, r.PerHostMax = l.fleetBalanced(vips, 5*time.Minute)
	r.ColdBalanced = time.Since(started)
	t.Logf("balanced after %v: %d to %d VIPs per host", r.ColdBalanced.Round(time.Millisecond), r.PerHostMin, r.PerHostMax)
	// Within 20 % is not the end of balancing: hosts go on moving units
	// to their balanced targets. The wire and the crash need owners that
	// stay put.
	owners := l.fleetSettledOwners(vips, 5*time.Second, 3*time.Minute)
	t.Logf("no VIP moved for 5 s after %v", time.Since(started).Round(time.Millisecond))
	wrong := l.fleetWire(vips, owners)
	r.WireWrong = len(wrong)
	for _, w := range wrong {
		t.Logf("wire: %s", w)
	}
	// A balance move that a failed claim retried late (balanceRetry)
	// may land between the owners read and the sweep: the new owner then
	// answers alone, against the owner read before. A second look at the
	// same VIPs, with the owners every host agrees on then, tells that
	// from a host answering for a VIP it does not own.
	if len(wrong) > 0 {
		again := l.fleetWire(wrongVIPs(vips, wrong), l.fleetOwners(vips, time.Minute))
		r.WireAgain = len(again)
		for _, w := range again {
			t.Logf("wire, second sweep: %s", w)
		}
	}

	// Steady state, after the same quiet as the 10-VIP baseline's: the
	// wire sweep just asked for all 1000 VIPs.
	time.Sleep(idleQuietAfterStart)
	r.IdleCPU, r.IdleRSS = l.fleetIdle(30 * time.Second)
	r.StatusMS, r.StatusBytes = l.statusCost(l.lab.Hosts()[0], 10)
	t.Logf("steady: %.2f %% of a core and %.1f MiB per host; vipctl status --json %.0f ms, %d bytes", r.IdleCPU, r.IdleRSS, r.StatusMS, r.StatusBytes)

	// The owners as they are now: a late balance move may have come
	// since the sweep.
	owners = l.fleetOwners(vips, time.Minute)
	victim, moved := l.fleetVictim(vips, owners, nil)
	r.CrashHost, r.CrashVIPs = victim.Name(), len(moved)
	r.CrashTimes, r.CrashAgreeMS, r.CrashFailed, r.CrashCPU = l.fleetCrash(victim, moved, vips)
	r.CrashAllMS, r.CrashMedianMS = r.CrashTimes[len(r.CrashTimes)-1], r.CrashTimes[len(r.CrashTimes)/2]
	t.Logf("crash of %s (%d VIPs): every VIP answered by a new owner %.0f ms after (median %.0f ms), every host agreed after %.0f ms; %d requests failed; every vipd used %.2f s of CPU until every VIP answered",
		r.CrashHost, r.CrashVIPs, r.CrashAllMS, r.CrashMedianMS, r.CrashAgreeMS, r.CrashFailed, r.CrashCPU)
	owners = l.fleetOwners(vips, 2*time.Minute)

	// Rolling restart with one probed VIP per host.
	sample := fleetSample(vips, owners, r.Hosts)
	r.RollSample = len(sample)
	var probes []*lab.Prober
	for _, v := range sample {
		probes = append(probes, lab.Probe(t.Context(), l.lab.Client(), lab.URL(v.Address, webPort), 20*time.Millisecond, 300*time.Millisecond))
	}
	rollStart := time.Now()
	var steps []rollStep // what the roll was doing when, to place a failure
	for _, h := range l.lab.Hosts() {
		// As systemctl restart: SIGTERM, then SIGKILL after the unit's
		// TimeoutStopSec. A kill is counted and reported, not fatal.
		stopped := time.Now()
		steps = append(steps, rollStep{stopped, "SIGTERM to " + h.Name()})
		if err := l.vipd[h.Name()].StopWithin(unitStopTimeout); err != nil {
			r.RollKilled++
			t.Logf("rolling restart: %v", err)
		}
		r.RollLongestStop = max(r.RollLongestStop, time.Since(stopped))
		steps = append(steps, rollStep{time.Now(), h.Name() + " stopped, starting it"})
		l.start(h)
		l.fleetOwners(vips, 2*time.Minute)
		steps = append(steps, rollStep{time.Now(), "every host agrees after " + h.Name() + "'s restart"})
	}
	r.RollDuration = time.Since(rollStart)
	for i, p := range probes {
		results := p.Stop()
		sum := lab.Summarize(results)
		r.RollFailed += sum.Failed - sum.Reset
		r.RollResets += sum.Reset
		t.Logf("rolling restart: %s: %s", sample[i].Name, sum)
		logRollFailures(t, sample[i], results, steps)
	}
	t.Logf("rolling restart of %d hosts: %v, %d requests failed and %d reset in flight on %d probed VIPs", r.Hosts, r.RollDuration.Round(time.Second), r.RollFailed, r.RollResets, r.RollSample)
	// What moved VIPs besides the restarts themselves, as the restarted
	// vipds logged it (each log starts at its host's restart).
	r.RollSilent, r.RollChecksDown = l.logCount("no heartbeat from a member"), l.logCount("health check down")
	t.Logf("rolling restart: the restarted vipds logged %d members gone quiet (a stopping host whose last heartbeats were lost, or a live one taken for dead) and %d checks down", r.RollSilent, r.RollChecksDown)

	l.fleetReload(r, vips)

	r.Keepalived = keepalivedAtFleetSize(t, l.lab.Hosts()[0], vips)
	t.Logf("keepalived, one VRRP instance per VIP: %s", r.Keepalived)
}

// fleetCrashFast starts a fleet on the fast profile and crashes
// fleetFastCrashes hosts in turn, each the host whose load is nearest an
// even share once the owners stay put, brought back before the next.
func fleetCrashFast(t *testing.T, hosts int, vips []fleetVIP) fleetFastCrash {
	var f fleetFastCrash
	started := time.Now()
	l := newFleetLab(t, hosts, "vff", "fast", "info", fleetNice, vips)
	l.fleetOwners(vips, 5*time.Minute)
	f.ColdAgreed = time.Since(started)
	crashed := map[string]bool{}
	for range fleetFastCrashes {
		// Balanced, and then no move for 35 s: a host brought back takes
		// its share back only after the cluster has been stable for 10 s
		// (agent.balanceAfter), a claim its old owner did not answer is
		// tried again only 30 s later (agent.balanceRetry), and those
		// moves must not fall into the next crash (one that did kept the
		// hosts' statuses disagreeing for 17 s).
		l.fleetBalanced(vips, 5*time.Minute)
		owners := l.fleetSettledOwners(vips, 35*time.Second, 5*time.Minute)
		victim, moved := l.fleetVictim(vips, owners, crashed)
		crashed[victim.Name()] = true
		run := fleetCrashRun{Host: victim.Name(), VIPs: len(moved)}
		var times []float64
		times, run.AgreeMS, run.Failed, run.CPU = l.fleetCrash(victim, moved, vips)
		run.AllMS, run.MedianMS = times[len(times)-1], times[len(times)/2]
		t.Logf("fast profile: crash of %s (%d VIPs): ms until each moved VIP answered: %v", run.Host, run.VIPs, times)
		t.Logf("fast profile: crash of %s: every VIP answered by a new owner %.0f ms after (median %.0f ms), every host agreed after %.0f ms; %d requests failed; every vipd used %.2f s of CPU until every VIP answered",
			run.Host, run.AllMS, run.MedianMS, run.AgreeMS, run.Failed, run.CPU)
		f.Runs = append(f.Runs, run)
	}
	l.keepLogs(os.Getenv("VIPD_FLEET_LOGS"))
	return f
}

// keepLogs writes every running vipd's log to dir (VIPD_FLEET_LOGS), one
// file per host, for reading what the hosts saw around a crash.
func (l *vipdLab) keepLogs(dir string) {
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		l.t.Errorf("VIPD_FLEET_LOGS: %v", err)
		return
	}
	for name, p := range l.vipd {
		if err := os.WriteFile(filepath.Join(dir, name+".log"), []byte(p.Log()), 0o644); err != nil {
			l.t.Errorf("VIPD_FLEET_LOGS: %v", err)
		}
	}
}

// fleetBalanced waits until every host agrees on the owners and each owns
// within 20 % of an even share, and returns the owners and the fewest and
// most VIPs a host owns.
func (l *vipdLab) fleetBalanced(vips []fleetVIP, timeout time.Duration) (owners map[string]string, least, most int) {
	l.t.Helper()
	share := len(vips) / len(l.lab.Hosts())
	lab.Eventually(l.t, timeout, func() error {
		var err error
		if owners, err = l.fleetAgreement(vips); err != nil {
			return err
		}
		per := perHost(owners)
		least, most = len(vips), 0
		for _, h := range l.lab.Hosts() {
			least, most = min(least, per[h.Name()]), max(most, per[h.Name()])
		}
		if least*5 < share*4 || most*5 > share*6 {
			return fmt.Errorf("VIPs per host from %d to %d, not within 20%% of %d", least, most, share)
		}
		return nil
	})
	return owners, least, most
}

// logCount counts the lines of every running vipd's log that contain s.
func (l *vipdLab) logCount(s string) (n int) {
	for _, p := range l.vipd {
		n += strings.Count(p.Log(), s)
	}
	return n
}

// vipLog returns the last lines the host named at the start of change
// ("h3: v0042 ...") logged about the VIP named next, one per line.
func (l *vipdLab) vipLog(change string) string {
	var host, vip string
	if _, err := fmt.Sscanf(change, "%s %s", &host, &vip); err != nil {
		return ""
	}
	p := l.vipd[strings.TrimSuffix(host, ":")]
	if p == nil {
		return ""
	}
	var lines []string
	for _, line := range strings.Split(p.Log(), "\n") {
		if strings.Contains(line, "vip="+vip+" ") {
			lines = append(lines, line)
		}
	}
	return "\n" + strings.Join(lines[max(0, len(lines)-3):], "\n")
}

// fleetVictim picks the host whose load is nearest an even share, other
// than those in not, and the VIPs it owns.
func (l *vipdLab) fleetVictim(vips []fleetVIP, owners map[string]string, not map[string]bool) (*lab.Node, []fleetVIP) {
	share := len(vips) / len(l.lab.Hosts())
	per := perHost(owners)
	var victim *lab.Node
	for _, h := range l.lab.Hosts() {
		if !not[h.Name()] && (victim == nil || abs(per[h.Name()]-share) < abs(per[victim.Name()]-share)) {
			victim = h
		}
	}
	var moved []fleetVIP
	for _, v := range vips {
		if owners[v.Name] == victim.Name() {
			moved = append(moved, v)
		}
	}
	return victim, moved
}

// rollStep is a moment of the rolling restart.
type rollStep struct {
	at   time.Time
	what string
}

// logRollFailures logs each failed request of v other than a reset in
// flight, with its error and the last step of the roll before it was sent.
func logRollFailures(t *testing.T, v fleetVIP, results []lab.Result, steps []rollStep) {
	for _, res := range results {
		if res.OK() || res.ResetInFlight() {
			continue
		}
		last := "before the roll"
		var since time.Duration
		for _, s := range steps {
			if !s.at.After(res.Sent) {
				last, since = s.what, res.Sent.Sub(s.at)
			}
		}
		t.Logf("rolling restart: %s failed %v after %q (took %v): %v",
			v.Name, since.Round(time.Millisecond), last, res.Latency.Round(time.Millisecond), res.Err)
	}
}

// fleetNice is the niceness of the fleet bench's vipds. At nice 5, 23
// vipds stepping at once after a host left still outweighed the client
// (CFS weights 23 x 335 against 1024) and starved it: every probed VIP,
// moved or not, saw requests that took 400 to 700 ms for half a second
// (367 failed requests in one rolling restart). At 19 (weight 15) the
// client and nginx run first, as on real hosts with CPUs of their own.
const fleetNice = 19

// unitStopTimeout is TimeoutStopSec of packaging/systemd/vipd.service.
const unitStopTimeout = 60 * time.Second

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

func abs(n int) int { return max(n, -n) }

func perHost(owners map[string]string) map[string]int {
	out := map[string]int{}
	for _, o := range owners {
		out[o]++
	}
	return out
}

// fleetIdle samples every vipd's CPU and RSS for dur.
func (l *vipdLab) fleetIdle(dur time.Duration) (cpu, rssMiB float64) {
	read := func() (ticks, rss uint64) {
		for _, p := range l.vipd {
			for _, pr := range groupProcs(p.Pid()) {
				ticks += pr.ticks
				rss += pr.rssKiB
			}
		}
		return ticks, rss
	}
	t0, _ := read()
	start := time.Now()
	time.Sleep(dur)
	t1, rss := read()
	secs := time.Since(start).Seconds()
	n := float64(len(l.vipd))
	return float64(t1-t0) / 100 / secs / n * 100, float64(rss) / n / 1024
}

// statusCost runs vipctl status --json on h n times and returns the median
// time and the size of the output.
func (l *vipdLab) statusCost(h *lab.Node, n int) (float64, int) {
	var times []float64
	size := 0
	for range n {
		start := time.Now()
		out, _, _ := l.vipctlStreams(h, "status", "--json")
		times = append(times, float64(time.Since(start).Microseconds())/1000)
		size = len(out)
	}
	slices.Sort(times)
	return times[len(times)/2], size
}

// crashProbeEvery is how often the client asks each VIP of a crashed host.
const crashProbeEvery = 100 * time.Millisecond

// fleetCrash kills victim's vipd and pulls its link, probes every VIP it
// owned from the client, and returns how long until each of them was
// answered by another host (ms, sorted), until every other host's status
// agreed, the requests that failed and the CPU every vipd used; then it
// brings the host back.
func (l *vipdLab) fleetCrash(victim *lab.Node, moved, vips []fleetVIP) (times []float64, agreeMS float64, failed int, cpu float64) {
	l.t.Helper()
	ctx, cancel := context.WithCancel(l.t.Context())
	defer cancel()
	// The probers start spread over their period, not at once: their
	// requests come evenly instead of in bursts, and the answer times,
	// each good to a period, are not all late by the same amount.
	var probes []*lab.Prober
	for i, v := range moved {
		if i > 0 {
			time.Sleep(crashProbeEvery / time.Duration(len(moved)))
		}
		probes = append(probes, lab.Probe(ctx, l.lab.Client(), lab.URL(v.Address, webPort), crashProbeEvery, 300*time.Millisecond))
	}
	for _, p := range probes {
		p.WaitHeard(l.t, victim.Name(), 20*time.Second)
	}
	fault := time.Now()
	l.t.Logf("crash of %s at %s", victim.Name(), fault.UTC().Format("15:04:05.000"))
	l.vipd[victim.Name()].Kill()
	delete(l.vipd, victim.Name())
	ticks0 := l.vipdTicks()
	if err := victim.LinkDown(ctx); err != nil {
		l.t.Fatal(err)
	}
	answered := func(p *lab.Prober) time.Duration {
		for _, r := range p.Results() {
			if r.Sent.After(fault) && r.OK() && r.Body != victim.Name() {
				return r.Sent.Add(r.Latency).Sub(fault)
			}
		}
		return -1
	}
	lab.Eventually(l.t, time.Minute, func() error {
		for i, p := range probes {
			if answered(p) < 0 {
				return fmt.Errorf("%s not answered by a new owner yet", moved[i].Name)
			}
		}
		return nil
	})
	cpu = float64(l.vipdTicks()-ticks0) / 100
	for _, p := range probes {
		times = append(times, float64(answered(p).Microseconds())/1000)
	}
	slices.Sort(times)
	var agreed time.Time
	var lastChange string
	// The moved VIPs' statuses say when each host came to agree on their
	// new owners; a balancing move of another VIP that was under way when
	// the host crashed is no part of the recovery.
	movedNames := map[string]bool{}
	for _, v := range moved {
		movedNames[v.Name] = true
	}
	var disagreed []string
	lab.Eventually(l.t, time.Minute, func() error {
		var err error
		_, agreed, lastChange, err = l.fleetAgreementSince(vips, movedNames)
		if err != nil {
			disagreed = append(disagreed, fmt.Sprintf("%.0f ms: %v", float64(time.Since(fault).Microseconds())/1000, err))
		}
		return err
	})
	if len(disagreed) > 0 {
		l.t.Logf("crash of %s: sweeps of every host's status that found them not agreeing, by time after the fault:\n%s", victim.Name(), strings.Join(disagreed, "\n"))
	}
	agreeMS = max(0, float64(agreed.Sub(fault).Microseconds())/1000)
	l.t.Logf("crash of %s: the last status change, %.0f ms after the fault: %s%s", victim.Name(), agreeMS, lastChange, l.vipLog(lastChange))
	for _, p := range probes {
		for _, r := range p.Stop() {
			if r.Sent.After(fault) && !r.OK() {
				failed++
			}
		}
	}
	if err := victim.LinkUp(l.t.Context()); err != nil {
		l.t.Fatal(err)
	}
	l.start(victim)
	return times, agreeMS, failed, cpu
}

// fleetReload reloads every host, one at a time, into a config with half
// as many VIPs again and a tenth of them removed, while one untouched VIP
// per host is probed and the client sweeps the new VIPs until each has
// answered once.
func (l *vipdLab) fleetReload(r *fleetBench, vips []fleetVIP) {
	l.t.Helper()
	owners := l.fleetOwners(vips, 2*time.Minute)
	r.ReloadRemoved, r.ReloadAdded = len(vips)/10, len(vips)/2
	next := fleetVIPs(len(vips)+r.ReloadAdded, r.IPv4)[r.ReloadRemoved:]
	added := next[len(next)-r.ReloadAdded:]
	untouched := fleetSample(vips[r.ReloadRemoved:], owners, r.Hosts)
	r.ReloadSample = len(untouched)
	var probes []*lab.Prober
	for _, v := range untouched {
		probes = append(probes, lab.Probe(l.t.Context(), l.lab.Client(), lab.URL(v.Address, webPort), 20*time.Millisecond, 300*time.Millisecond))
	}
	start := time.Now()
	swept := make(chan time.Duration, 1)
	go func() {
		last, median := l.sweepUntilAnswered(added, start, 5*time.Minute)
		r.ReloadNewMedian = median
		swept <- last
	}()
	l.vips = fleetVIPsYAML(next)
	for _, h := range l.lab.Hosts() {
		l.writeConfig(h, l.config(h))
		if out, err := l.vipctl(h, "reload"); err != nil {
			l.t.Fatalf("vipctl reload on %s: %v\n%s", h.Name(), err, out)
		}
	}
	l.fleetOwners(next, 3*time.Minute)
	r.ReloadDuration = time.Since(start)
	r.ReloadNewAnswered = <-swept
	for i, p := range probes {
		sum := lab.Summarize(p.Stop())
		r.ReloadFailed += sum.Failed - sum.Reset
		r.ReloadResets += sum.Reset
		l.t.Logf("rolling reload: %s: %s", untouched[i].Name, sum)
	}
	l.t.Logf("rolling reload (+%d, -%d VIPs): every host agreed after %v; every new VIP answered %v after the first reload; untouched VIPs: %d failed, %d reset in flight",
		r.ReloadAdded, r.ReloadRemoved, r.ReloadDuration.Round(time.Millisecond), r.ReloadNewAnswered.Round(time.Millisecond), r.ReloadFailed, r.ReloadResets)
}

// sweepUntilAnswered asks the client for every VIP in vips, 16 at a time,
// round after round, until each has answered once, and returns how long
// after start the last one did and the median (or fails the test after
// timeout). A VIP nobody answers yet costs its round the request's 300 ms
// timeout, so the figures are good to about a round: 500 VIPs none of
// which answer take 9.4 s. More at a time would be finer, but 64 at a time
// to addresses nobody answers yet loaded the client enough to fail
// requests to untouched VIPs (62 in one run).
func (l *vipdLab) sweepUntilAnswered(vips []fleetVIP, start time.Time, timeout time.Duration) (last, median time.Duration) {
	waiting := slices.Clone(vips)
	var answered []time.Duration
	for len(waiting) > 0 {
		if time.Since(start) > timeout {
			l.t.Errorf("%d new VIPs not answered %v after the reload began, %s among them", len(waiting), timeout, waiting[0].Name)
			return time.Since(start), 0
		}
		var (
			mu    sync.Mutex
			wg    sync.WaitGroup
			still []fleetVIP
			slots = make(chan struct{}, 16)
		)
		for _, v := range waiting {
			wg.Go(func() {
				slots <- struct{}{}
				defer func() { <-slots }()
				ctx, cancel := context.WithTimeout(l.t.Context(), 300*time.Millisecond)
				defer cancel()
				_, err := l.lab.Client().HTTPGet(ctx, lab.URL(v.Address, webPort))
				at := time.Since(start)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					still = append(still, v)
				} else {
					answered = append(answered, at)
				}
			})
		}
		wg.Wait()
		waiting = still
	}
	slices.Sort(answered)
	return answered[len(answered)-1], answered[len(answered)/2]
}

// vipdTicks is the CPU time, in clock ticks, every running vipd has used.
func (l *vipdLab) vipdTicks() (ticks uint64) {
	for _, p := range l.vipd {
		for _, pr := range groupProcs(p.Pid()) {
			ticks += pr.ticks
		}
	}
	return ticks
}

func (r fleetBench) report() string {
	share := r.VIPs / r.Hosts
	var b strings.Builder
	fmt.Fprintf(&b, "\nfleet: %d hosts x %d VIPs (%d IPv4, %d IPv6, no groups), gossip profile %s, one http check per host every 1s\n",
		r.Hosts, r.VIPs, r.IPv4, r.VIPs-r.IPv4, r.Profile)
	rows := [][2]string{
		{"cold start: every host agrees on every owner", fmt.Sprintf("%.1f s", r.ColdAgreed.Seconds())},
		{"cold start: balanced (every host within 20 % of " + strconv.Itoa(share) + ")", fmt.Sprintf("%.1f s (%d to %d VIPs per host)", r.ColdBalanced.Seconds(), r.PerHostMin, r.PerHostMax)},
		{"VIPs not answered by their owner alone (one sweep after balancing)", fmt.Sprintf("%d (%d again in a second sweep of those, with the owners then agreed on)", r.WireWrong, r.WireAgain)},
		{"steady state: CPU per host", fmt.Sprintf("%.2f %% of a core (3 hosts x 10 VIPs, same run: %.2f %%, the mean of %s before and after the fleet)", r.IdleCPU, r.BaseCPU, joinPercents(r.BaseCPUs))},
		{"steady state: RSS per host", fmt.Sprintf("%.1f MiB", r.IdleRSS)},
		{"vipctl status --json", fmt.Sprintf("%.0f ms, %d KB", r.StatusMS, r.StatusBytes/1000)},
		{fmt.Sprintf("crash of %s (%d VIPs): every moved VIP answered", r.CrashHost, r.CrashVIPs), fmt.Sprintf("%.0f ms (median %.0f ms), %d requests failed", r.CrashAllMS, r.CrashMedianMS, r.CrashFailed)},
		{"crash: CPU of every vipd until then (2 cores)", fmt.Sprintf("%.2f s", r.CrashCPU)},
		{"crash: every host's status agrees on the moved VIPs", fmt.Sprintf("%.0f ms", r.CrashAgreeMS)},
		{fmt.Sprintf("rolling restart (%d probed VIPs, one per host)", r.RollSample), fmt.Sprintf("%d failed, %d reset in flight, %.0f s, longest stop %.1f s, %d stops killed after %v", r.RollFailed, r.RollResets, r.RollDuration.Seconds(), r.RollLongestStop.Seconds(), r.RollKilled, unitStopTimeout)},
		{"rolling restart: hosts taken for dead / checks down (restarted vipds' logs)", fmt.Sprintf("%d / %d", r.RollSilent, r.RollChecksDown)},
		{fmt.Sprintf("rolling reload +%d -%d VIPs (%d untouched VIPs probed)", r.ReloadAdded, r.ReloadRemoved, r.ReloadSample), fmt.Sprintf("%d failed, %d reset in flight, %.0f s until every host agreed", r.ReloadFailed, r.ReloadResets, r.ReloadDuration.Seconds())},
		{"rolling reload: every new VIP answered, after the first reload", fmt.Sprintf("%.1f s (median %.1f s)", r.ReloadNewAnswered.Seconds(), r.ReloadNewMedian.Seconds())},
		{"fast profile, a fleet of its own: cold start, every host agrees", fmt.Sprintf("%.1f s", r.Fast.ColdAgreed.Seconds())},
		{fmt.Sprintf("fast profile: crash of %s (%s VIPs): every moved VIP answered", r.Fast.column(func(c fleetCrashRun) string { return c.Host }), r.Fast.column(func(c fleetCrashRun) string { return strconv.Itoa(c.VIPs) })),
			fmt.Sprintf("%s ms (medians %s ms)", r.Fast.column(func(c fleetCrashRun) string { return fmt.Sprintf("%.0f", c.AllMS) }), r.Fast.column(func(c fleetCrashRun) string { return fmt.Sprintf("%.0f", c.MedianMS) }))},
		{"fast profile: crash: requests failed", r.Fast.column(func(c fleetCrashRun) string { return strconv.Itoa(c.Failed) })},
		{"fast profile: crash: CPU of every vipd until then (2 cores)", r.Fast.column(func(c fleetCrashRun) string { return fmt.Sprintf("%.2f s", c.CPU) })},
		{"fast profile: crash: every host's status agrees on the moved VIPs", r.Fast.column(func(c fleetCrashRun) string { return fmt.Sprintf("%.0f ms", c.AgreeMS) })},
		{fmt.Sprintf("keepalived, one VRRP instance per VIP (%d)", r.VIPs), r.Keepalived},
	}
	width := 0
	for _, row := range rows {
		width = max(width, len(row[0]))
	}
	for _, row := range rows {
		fmt.Fprintf(&b, "%-*s %s\n", width, row[0], row[1])
	}
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	fmt.Fprintf(&b, "\ngoals from issue #17 (this 2-core machine):\n")
	fmt.Fprintf(&b, "- cold start agreed within 10 s: %s (%.1f s)\n", met(r.ColdAgreed <= 10*time.Second), r.ColdAgreed.Seconds())
	fmt.Fprintf(&b, "- every host within 20 %% of an even share after balancing: %s (%d to %d, share %d)\n", met(r.PerHostMin*5 >= share*4 && r.PerHostMax*5 <= share*6), r.PerHostMin, r.PerHostMax, share)
	fmt.Fprintf(&b, "- crash: every moved VIP answered within 1.0 s: %s (%.0f ms)\n", met(r.CrashAllMS <= 1000), r.CrashAllMS)
	fmt.Fprintf(&b, "- crash: every host agreeing within 2 s: %s (%.0f ms)\n", met(r.CrashAgreeMS <= 2000), r.CrashAgreeMS)
	worst := r.Fast.worst()
	var worstAgree float64
	for _, c := range r.Fast.Runs {
		worstAgree = max(worstAgree, c.AgreeMS)
	}
	fmt.Fprintf(&b, "- crash on the fast profile: every moved VIP answered within 0.4 s, in every crash: %s (worst %.0f ms)\n", met(len(r.Fast.Runs) > 0 && worst.AllMS <= 400), worst.AllMS)
	fmt.Fprintf(&b, "- crash on the fast profile: every host agreeing within 2 s, in every crash: %s (worst %.0f ms)\n", met(len(r.Fast.Runs) > 0 && worstAgree <= 2000), worstAgree)
	fmt.Fprintf(&b, "- rolling restart: 0 failed requests other than resets in flight: %s (%d)\n", met(r.RollFailed == 0), r.RollFailed)
	fmt.Fprintf(&b, "- rolling reload: 0 failed requests on untouched VIPs other than resets in flight: %s (%d)\n", met(r.ReloadFailed == 0), r.ReloadFailed)
	fmt.Fprintf(&b, "- idle CPU per host at %d VIPs within 2x the 10-VIP figure: %s (%.2f %% against %.2f %%)\n", r.VIPs, met(r.BaseCPU > 0 && r.IdleCPU <= 2*r.BaseCPU), r.IdleCPU, r.BaseCPU)
	fmt.Fprintf(&b, "- vipctl status within 100 ms: %s (%.0f ms)\n", met(r.StatusMS <= 100), r.StatusMS)
	return b.String()
}

func (r fleetBench) markdown(report string) string {
	var b strings.Builder
	b.WriteString("# vipd fleet benchmark\n\nGenerated by `make bench` (`TestBenchmarkFleet` in `cmd/vipd/bench_fleet_test.go`). Do not edit by hand: run the benchmark again.\n\n")
	fmt.Fprintf(&b, "Run: %s. Machine: %d cores.\n\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU())
	b.WriteString("Every host runs vipd and nginx in its own network namespace on one bridge; the client probes VIPs over HTTP on a fresh connection each time. ")
	fmt.Fprintf(&b, "vipd runs at nice %d: when the 24 daemons saturate the machine, they are the ones that wait, not the client that measures them nor the nginx that answers it, which on a real network have CPUs of their own. ", fleetNice)
	b.WriteString("The crash is `kill -9` of vipd and the host's link set down; each of its VIPs is probed every 100 ms (the probes of different VIPs spread over those 100 ms), so a VIP's time may be up to 100 ms after it moved. It runs in the fleet on the default profile, and three times more in a fleet of its own on the fast profile (started after the first is gone; each crashed host comes back, and the owners must be balanced and unmoved for 35 s before the next crash), whose rows say so. ")
	b.WriteString("The rolling reload writes a config with half as many VIPs again (new ones) and a tenth removed on every host and runs `vipctl reload` on one after another, while one untouched VIP per host is probed every 20 ms and the client asks every new VIP, 16 at a time with a 300 ms timeout, until each has answered once (so the times of new VIPs are good to about 9 s, a round of 500 unanswered VIPs). ")
	b.WriteString("The rolling restart stops each host with SIGTERM (SIGKILL after 60 s, the unit's TimeoutStopSec), starts it again and waits until every host agrees on every owner before the next, while one VIP per host is probed every 20 ms. ")
	b.WriteString("The steady state is measured over 30 s, 10 s after the owners stopped moving and the client's sweep of all VIPs; the 10-VIP idle figure is the 3-host lab of `make bench`'s idle table (default profile, an http check every 1 s), run alone once before the fleet starts and once after it ends, each 30 s after the same 10 s of quiet, and the fleet is held against their mean (one sample moves by up to a half on this VM); on this VM a process idling alone pays more per wake-up than one among 24, so the ratio flatters the fleet somewhat. ")
	b.WriteString("On 2 cores the 24 hosts share what real hosts would each have: when a host crashes or stops, every other vipd recomputes the owners of 1000 VIPs several times over (the crash rows' CPU figures), and on this machine they wait for each other to do it, so the crash figures measure that contention as much as vipd (on the fast profile, the crashes that cost the fleet the most CPU were answered last). ")
	b.WriteString("keepalived's answer to VIPs that each have their own owner is one VRRP instance per VIP; the bench writes that config for the fleet's VIPs and asks `keepalived -t` whether it would run it. A VRRP router ID is one byte, so one interface carries at most 255 instances per address family: past that, keepalived refuses the config, and the table says so rather than run it. Grouping the VIPs into fewer instances would run, but then a group moves as one, which is not the same job.\n\n```\n")
	b.WriteString(strings.TrimLeft(report, "\n"))
	b.WriteString("```\n\n")
	b.WriteString("\"every host's status agrees on the moved VIPs\" is the last moment a host's status changed one of the crashed host's VIPs (its `since`), read once every host's status names the same owner for every VIP: a sweep of `vipctl status` on every host takes a second or more on this machine, which would otherwise be counted, and a balancing move of another VIP that was under way at the crash is no part of the recovery.\n\n")
	b.WriteString("## The crash, from the client\n\nEach of the crashed host's VIPs is probed every 100 ms; the line counts those a new owner has answered, by the time since the fault.\n\n")
	b.WriteString("![moved VIPs answered by their new owner after the crash](fleet-crash.png)\n")
	return b.String()
}

// joinPercents formats figures as "0.41 % and 0.52 %".
func joinPercents(fs []float64) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%.2f %%", f))
	}
	return strings.Join(parts, " and ")
}
