package lab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Default probing pace: fine enough to measure a failover gap in tens of ms.
const (
	defaultProbeEvery   = 10 * time.Millisecond
	defaultProbeTimeout = time.Second
)

// Result is one probe request.
type Result struct {
	Sent    time.Time
	Latency time.Duration // until the answer, or until the error
	Body    string        // trimmed body: the name of the host that answered
	Err     error
}

// OK reports whether the request got a 200 answer.
func (r Result) OK() bool { return r.Err == nil }

// ResetInFlight reports whether the request's connection was established
// and then reset by the peer (see Summary.Reset).
func (r Result) ResetInFlight() bool { return errors.Is(r.Err, syscall.ECONNRESET) }

// Prober sends GET requests from a node at a steady pace, each on a fresh
// connection and each with its own timeout, so a stuck request never delays
// the next one.
type Prober struct {
	node    *Node
	url     string
	every   time.Duration
	timeout time.Duration
	stop    context.CancelFunc
	done    chan struct{}

	mu      sync.Mutex
	results []Result
}

// Probe starts probing url from node every `every` (default 10 ms) with a
// per-request timeout (default 1 s) until Stop, ctx's end or the lab's
// cleanup, whichever comes first.
func Probe(ctx context.Context, node *Node, url string, every, timeout time.Duration) *Prober {
	if every <= 0 {
		every = defaultProbeEvery
	}
	if timeout <= 0 {
		timeout = defaultProbeTimeout
	}
	loopCtx, stop := context.WithCancel(ctx)
	p := &Prober{node: node, url: url, every: every, timeout: timeout, stop: stop, done: make(chan struct{})}
	node.lab.trackProber(p)
	go p.run(loopCtx)
	return p
}

func (p *Prober) run(ctx context.Context) {
	defer close(p.done)
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	ticker := time.NewTicker(p.every)
	defer ticker.Stop()
	for {
		inFlight.Go(func() { p.record(p.probeOnce(ctx)) })
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// probeOnce is not cancelled by Stop: a request in flight when probing stops
// finishes (within its timeout) instead of being counted as a failure.
func (p *Prober) probeOnce(ctx context.Context) Result {
	reqCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.timeout)
	defer cancel()
	sent := time.Now()
	body, err := p.node.HTTPGet(reqCtx, p.url)
	return Result{Sent: sent, Latency: time.Since(sent), Body: strings.TrimSpace(body), Err: err}
}

func (p *Prober) record(r Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.results = append(p.results, r)
}

// Results returns what has been recorded so far, in the order sent.
func (p *Prober) Results() []Result {
	p.mu.Lock()
	results := slices.Clone(p.results)
	p.mu.Unlock()
	slices.SortFunc(results, func(a, b Result) int { return a.Sent.Compare(b.Sent) })
	return results
}

// Stop stops sending, waits for requests in flight and returns every result
// in the order sent. Calling it again returns the same results.
func (p *Prober) Stop() []Result {
	p.stop()
	<-p.done
	return p.Results()
}

// WaitHeard waits until the prober has had an answer from the host whose
// page says host, so a summary taken right after ends with it.
func (p *Prober) WaitHeard(t testing.TB, host string, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, func() error {
		rs := p.Results()
		for i := len(rs) - 1; i >= 0; i-- {
			if rs[i].OK() && rs[i].Body == host {
				return nil
			}
		}
		return fmt.Errorf("the prober has no answer from %s yet (%d requests)", host, len(rs))
	})
}
