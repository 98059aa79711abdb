package lab

import (
	"context"
	"os/exec"
	"slices"
	"sync"
	"time"
)

const teardownTimeout = 30 * time.Second

// close runs from t.Cleanup: probers first (they talk to the processes),
// then every process, then every namespace this lab created, newest first.
func (l *Lab) close() {
	l.mu.Lock()
	probers, processes := l.probers, l.processes
	l.probers, l.processes = nil, nil
	l.mu.Unlock()

	for _, p := range probers {
		p.Stop()
	}
	l.stopAll(processes)
	if l.t.Failed() {
		for _, p := range processes {
			l.t.Logf("log of %s:\n%s", p, tail(p.Log(), 40))
		}
	}
	l.deleteNetnses()
}

// stopAll stops processes in parallel so that slow ones do not add up.
func (l *Lab) stopAll(processes []*Process) {
	var wg sync.WaitGroup
	for _, p := range processes {
		wg.Go(func() {
			if err := p.Stop(); err != nil {
				l.t.Logf("cleanup: %v", err)
			}
		})
	}
	wg.Wait()
}

func (l *Lab) deleteNetnses() {
	ctx, cancel := context.WithTimeout(context.Background(), teardownTimeout)
	defer cancel()
	for _, name := range slices.Backward(l.Netnses()) {
		if out, err := exec.CommandContext(ctx, "ip", "netns", "delete", name).CombinedOutput(); err != nil {
			l.t.Errorf("cleanup: delete netns %s: %v: %s", name, err, out)
		}
	}
}

func (l *Lab) track(p *Process) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.processes = append(l.processes, p)
}

func (l *Lab) trackProber(p *Prober) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.probers = append(l.probers, p)
}
