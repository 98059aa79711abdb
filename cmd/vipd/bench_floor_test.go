package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/lab"
)

// idleSystem is what the idle table needs of a system: its daemons, once
// they have settled.
type idleSystem interface {
	Name() string
	Steady(timeout time.Duration) (string, error)
	DaemonPIDs() map[string]int
	DaemonName() string
}

// floorBinary builds testdata/hbfloor once per test binary.
var floorBinary = sync.OnceValues(func() (string, error) {
	dir, err := binaries()
	if err != nil {
		return "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	out := filepath.Join(dir, "hbfloor")
	if b, err := exec.Command(goTool, "build", "-o", out, "./testdata/hbfloor").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build testdata/hbfloor: %v\n%s", err, b)
	}
	return out, nil
})

// floorIdle is the idle table's floor row: on three lab hosts, a Go program
// that sends vipd's heartbeat traffic (a 40-byte UDP packet to each other
// host every interval) and nothing else.
type floorIdle struct {
	name  string
	every time.Duration
	procs map[string]*lab.Process
}

func newFloorIdle(t *testing.T, every time.Duration) idleSystem {
	t.Helper()
	lab.RequireRoot(t)
	bin, err := floorBinary()
	if err != nil {
		t.Fatal(err)
	}
	l := lab.New(t, lab.Options{Hosts: 3, Prefix: "vf"})
	f := &floorIdle{name: fmt.Sprintf("floor: Go, UDP heartbeats only, every %v", every), every: every, procs: map[string]*lab.Process{}}
	for _, h := range l.Hosts() {
		var peers []string
		for _, o := range l.Hosts() {
			if o != h {
				peers = append(peers, o.IPv4().String()+":7946")
			}
		}
		p, err := h.Start(bin, "-every", every.String(), "-peers", strings.Join(peers, ","))
		if err != nil {
			t.Fatal(err)
		}
		f.procs[h.Name()] = p
	}
	return f
}

func (f *floorIdle) Name() string       { return f.name }
func (f *floorIdle) DaemonName() string { return "hbfloor" }
func (f *floorIdle) Runs() string {
	return fmt.Sprintf("a Go program (GOMAXPROCS as vipd's, 1) sending a 40-byte UDP packet to each of 2 peers every %v and reading theirs; nothing else", f.every)
}

// Steady: the program has nothing to settle.
func (f *floorIdle) Steady(time.Duration) (string, error) { return "", nil }

func (f *floorIdle) DaemonPIDs() map[string]int {
	out := map[string]int{}
	for h, p := range f.procs {
		out[h] = p.Pid()
	}
	return out
}
