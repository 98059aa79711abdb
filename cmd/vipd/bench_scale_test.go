package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/election"
)

// benchConvergence is the in-process scale row: many agents, each with its
// own view of the cluster, deciding every VIP after the owner of some died.
type benchConvergence struct {
	Agents int `json:"agents"`
	VIPs   int `json:"vips"`
	// Dead is the host that died; Moved how many VIPs it owned and moved.
	Dead  string `json:"dead"`
	Moved int    `json:"moved"`
	// Agreed says every live agent chose the same owner for every VIP, none
	// of them the dead host, and VIPs of live hosts stayed where they were.
	Agreed bool `json:"agreed"`
	// AgreementMS is the time from every view showing the death to every
	// live agent holding its decision, each agent deciding on its own host:
	// the slowest agent's Decide. SimulationMS is the wall time of running
	// all of them one after another on this machine.
	AgreementMS  float64    `json:"agreement_ms"`
	SimulationMS float64    `json:"simulation_ms"`
	DecideMS     benchStats `json:"decide_ms"`
	Cores        int        `json:"cores"`
}

// simulateConvergence gives agents hosts vips VIPs (one unit each), lets
// them settle, kills the owner of the first VIP and has every live agent
// run election.Decide on its own view of that death.
func simulateConvergence(agents, vips int) benchConvergence {
	var units []election.Unit
	for i := range vips {
		key := fmt.Sprintf("vip-%04d", i)
		units = append(units, election.Unit{Key: key, VIPs: []string{key}})
	}
	known := election.Fingerprints(units)
	passing := election.NewKeySet()
	for _, u := range units {
		passing[u.Key] = struct{}{}
	}
	var hosts []election.Host
	for i := range agents {
		hosts = append(hosts, election.Host{Name: fmt.Sprintf("a%03d", i), Alive: true,
			Known: known, Passing: passing, Holds: election.NewKeySet()})
	}
	before := election.Decide(election.View{Hosts: hosts, Units: units})
	for _, d := range before {
		for i := range hosts {
			if hosts[i].Name == d.Owner {
				hosts[i].Holds[d.Key] = struct{}{}
			}
		}
	}
	dead := before[0].Owner
	res := benchConvergence{Agents: agents, VIPs: vips, Dead: dead, Cores: runtime.GOMAXPROCS(0)}

	// Every live agent has its own view (its own slice of hosts); the
	// per-host sets are shared because Decide only reads them.
	var live []int
	views := make([]election.View, agents)
	for a := range agents {
		hs := append([]election.Host(nil), hosts...)
		for i := range hs {
			if hs[i].Name == dead {
				hs[i].Alive = false
			}
		}
		views[a] = election.View{Hosts: hs, Units: append([]election.Unit(nil), units...)}
		if hosts[a].Name != dead {
			live = append(live, a)
		}
	}
	// One agent after another, so that one Decide is timed without the
	// others competing for the cores; on a cluster each runs on its own host.
	decisions := make([]election.Decisions, agents)
	var perAgent []float64
	start := time.Now()
	for _, a := range live {
		t0 := time.Now()
		decisions[a] = election.Decide(views[a])
		perAgent = append(perAgent, ms(time.Since(t0)))
	}
	res.SimulationMS = ms(time.Since(start))
	res.DecideMS = statsOf(perAgent)
	res.AgreementMS = res.DecideMS.Max

	res.Agreed = true
	first := decisions[live[0]]
	for _, a := range live {
		for i, d := range decisions[a] {
			if d.Owner != first[i].Owner || d.Owner == "" || d.Owner == dead {
				res.Agreed = false
			}
		}
	}
	for i, d := range first {
		switch {
		case before[i].Owner == dead:
			res.Moved++
		case d.Owner != before[i].Owner:
			res.Agreed = false // a VIP of a live host moved
		}
	}
	return res
}

// benchIdle is the idle cost of one system: three hosts, a few VIPs,
// nothing failing.
type benchIdle struct {
	System string `json:"system"`
	// Runs says what runs on each host (checks, log level, track script).
	Runs  string  `json:"runs"`
	VIPs  int     `json:"vips"`
	Hosts int     `json:"hosts"`
	Secs  float64 `json:"seconds"`
	// CPUPercent is the mean CPU per host (user+system, children included,
	// e.g. keepalived's check scripts), in percent of one core.
	CPUPercent float64 `json:"cpu_percent_per_host"`
	// RSSMiB is the mean resident memory per host of the daemon's process
	// group (keepalived: parent and VRRP child), sampled every 5 s.
	RSSMiB float64 `json:"rss_mib_per_host"`
	// AnonMiB is the part of RSSMiB that is the processes' own memory
	// (RssAnon: heap, stacks); the rest is the executable's and libraries'
	// pages, shared with the page cache and every other process running
	// them, which a kernel that maps a file's page cache with huge pages
	// counts nearly whole.
	AnonMiB   float64  `json:"anon_mib_per_host"`
	Processes int      `json:"processes_per_host"`
	Commands  []string `json:"commands"`
}

// measureIdle measures each system alone, one after another: its own lab,
// started, settled, then /proc read for its daemons' process groups for
// dur, then torn down. Alone, because on a machine of few cores the rows
// measured side by side slow each other (in one run the fast profile's 0.9
// % of a core read 1.7 % beside the other nine rows). With profileDir set,
// vipd writes CPU profiles there.
func measureIdle(t *testing.T, systems []string, nVIPs int, dur time.Duration, profileDir string) []benchIdle {
	var rows []benchIdle
	for _, name := range systems {
		t.Run(name, func(t *testing.T) {
			if row, ok := measureIdleAlone(t, name, nVIPs, dur, profileDir); ok {
				rows = append(rows, row)
			}
		})
	}
	return rows
}

// idleQuietAfterStart is how long a system runs after it settled before
// its idle sample starts.
const idleQuietAfterStart = 10 * time.Second

// measureIdleAlone measures one system; its lab goes with t.
func measureIdleAlone(t *testing.T, name string, nVIPs int, dur time.Duration, profileDir string) (benchIdle, bool) {
	s := benchIdleMakers[name](t, nVIPs, profileDir)
	if _, err := s.Steady(benchSteadyTimeout); err != nil {
		t.Errorf("idle: %s did not settle: %v", s.Name(), err)
		return benchIdle{}, false
	}
	// What follows a start is not idle: keepalived sends a second burst
	// of gratuitous ARPs 5 s after it became master, vipd balances.
	time.Sleep(idleQuietAfterStart)
	type sample struct {
		ticks uint64
		rss   uint64 // KiB
		anon  uint64 // KiB
		procs int
		comms []string
	}
	read := func() map[string]sample {
		out := map[string]sample{}
		for host, pgid := range s.DaemonPIDs() {
			// `ip netns exec` execs the command: the PID lab.Process knows
			// is the daemon's own, and the leader of its process group.
			if comm := readComm(pgid); comm != s.DaemonName() {
				t.Errorf("idle: %s on %s: pid %d is %q, want %q", s.Name(), host, pgid, comm, s.DaemonName())
			}
			var sm sample
			for _, p := range groupProcs(pgid) {
				sm.ticks += p.ticks
				sm.rss += p.rssKiB
				sm.anon += p.anonKiB
				sm.procs++
				sm.comms = append(sm.comms, p.comm)
			}
			out[host] = sm
		}
		return out
	}
	first := read()
	var rssSum, anonSum uint64
	var rssN int
	start := time.Now()
	for time.Since(start) < dur {
		time.Sleep(min(5*time.Second, dur-time.Since(start)))
		for _, sm := range read() {
			rssSum += sm.rss
			anonSum += sm.anon
			rssN++
		}
	}
	secs := time.Since(start).Seconds()
	hz := 100.0 // USER_HZ on Linux
	last := read()
	row := benchIdle{System: s.Name(), VIPs: nVIPs, Hosts: len(last), Secs: secs}
	if r, ok := s.(interface{ Runs() string }); ok {
		row.Runs = r.Runs()
	}
	var ticks uint64
	for host, sm := range last {
		ticks += sm.ticks - first[host].ticks
		row.Processes = sm.procs
		row.Commands = sm.comms
	}
	if n := len(last); n > 0 {
		row.CPUPercent = float64(ticks) / hz / secs / float64(n) * 100
	}
	if rssN > 0 {
		row.RSSMiB = float64(rssSum) / float64(rssN) / 1024
		row.AnonMiB = float64(anonSum) / float64(rssN) / 1024
	}
	t.Logf("idle %s: %+v", s.Name(), row)
	if v, ok := s.(*vipdBench); ok && profileDir != "" {
		v.StopAll()
		t.Logf("idle: CPU profiles of vipd in %s", profileDir)
	}
	return row, true
}

type procInfo struct {
	pid     int
	comm    string
	ticks   uint64
	rssKiB  uint64
	anonKiB uint64
}

func readComm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// groupProcs lists the processes of process group pgid with their CPU
// ticks (utime+stime+cutime+cstime) and resident memory.
func groupProcs(pgid int) []procInfo {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []procInfo
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		end := strings.LastIndexByte(s, ')')
		if end < 0 {
			continue
		}
		f := strings.Fields(s[end+1:])
		// f[0] is field 3 (state): pgrp is field 5, utime..cstime 14..17.
		if len(f) < 15 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		p := procInfo{pid: pid, comm: readComm(pid)}
		for _, i := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseUint(f[i], 10, 64)
			p.ticks += v
		}
		p.rssKiB, p.anonKiB = readRSS(pid)
		out = append(out, p)
	}
	return out
}

// readRSS returns VmRSS and RssAnon of pid in KiB.
func readRSS(pid int) (rss, anon uint64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		key, rest, ok := strings.Cut(line, ":")
		f := strings.Fields(rest)
		if !ok || len(f) == 0 {
			continue
		}
		v, _ := strconv.ParseUint(f[0], 10, 64)
		switch key {
		case "VmRSS":
			rss = v
		case "RssAnon":
			anon = v
		}
	}
	return rss, anon
}
