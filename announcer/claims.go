package announcer

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// claims is the set of VIPs this host answers for, each with the goroutine
// that announces it: a burst of gratuitous packets after the claim, then a
// refresh. It writes who answers into the book. Its methods are safe for
// concurrent use.
type claims struct {
	ctx     context.Context // ends on Close
	wg      *sync.WaitGroup
	book    *book
	burst   []time.Duration
	refresh time.Duration

	mu sync.Mutex
	m  map[netip.Addr]*claim
}

// claim is one VIP answered on one link.
type claim struct {
	vip    netip.Addr
	r      *responder
	cancel context.CancelFunc
}

func newClaims(ctx context.Context, wg *sync.WaitGroup, b *book, burst []time.Duration, refresh time.Duration) *claims {
	return &claims{ctx: ctx, wg: wg, book: b, burst: burst, refresh: refresh, m: map[netip.Addr]*claim{}}
}

// has reports whether vip is claimed on r.
func (cs *claims) has(vip netip.Addr, r *responder) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.m[vip]
	return c != nil && c.r == r
}

// add starts answering for vip on r and announcing it. An IPv6 VIP is
// answered even if joining its solicited-node group fails (the error says
// so): unsolicited NAs still go out.
func (cs *claims) add(vip netip.Addr, r *responder) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.ctx.Err() != nil {
		return ErrClosed
	}
	if old := cs.m[vip]; old != nil {
		if old.r == r {
			return nil
		}
		cs.dropLocked(old)
	}
	var err error
	if vip.Is6() {
		err = r.join(vip)
	}
	cs.startLocked(vip, r)
	return err
}

// startLocked is the one place a claim is made: it records it, tells the
// book and starts the announcing goroutine.
func (cs *claims) startLocked(vip netip.Addr, r *responder) {
	ctx, cancel := context.WithCancel(cs.ctx)
	c := &claim{vip: vip, r: r, cancel: cancel}
	cs.m[vip] = c
	cs.book.mu.Lock()
	cs.book.answering[vip] = r
	cs.book.mu.Unlock()
	cs.wg.Go(func() { cs.announceLoop(ctx, c) })
}

// keepOnly ends every claim whose VIP is not in want or is on another
// interface than want says. When it returns, nobody answers for them.
func (cs *claims) keepOnly(want map[netip.Addr]string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for vip, c := range cs.m {
		if ifc, ok := want[vip]; !ok || ifc != c.r.name {
			cs.dropLocked(c)
		}
	}
}

func (cs *claims) dropLocked(c *claim) {
	cs.book.mu.Lock()
	if cs.book.answering[c.vip] == c.r {
		delete(cs.book.answering, c.vip) // from here on, nobody answers for it
	}
	cs.book.mu.Unlock()
	delete(cs.m, c.vip)
	c.cancel()
	if c.vip.Is6() {
		c.r.leave(c.vip)
	}
}

// reannounce restarts the burst of every claim on r: neighbours may have
// forgotten this host while its link was down.
func (cs *claims) reannounce(r *responder) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.ctx.Err() != nil {
		return
	}
	for vip, c := range cs.m {
		if c.r == r {
			c.cancel()
			cs.startLocked(vip, r)
		}
	}
}

// refreshesPerProbe: every that many refreshes of a VIP (a minute at the
// default 10 s) go with a probe, so a host outside the cluster that holds
// the VIP and stays silent is found; hearing other members is the prober's
// job. Not every refresh: with 1000 VIPs every host would hear 100 probes a
// second more.
const refreshesPerProbe = 6

// announceLoop sends the takeover burst, then refreshes until the claim
// ends.
func (cs *claims) announceLoop(ctx context.Context, c *claim) {
	start := time.Now()
	for _, at := range cs.burst {
		if !sleepUntil(ctx, start.Add(at)) {
			return
		}
		c.r.announce(c.vip)
	}
	if cs.refresh <= 0 {
		return
	}
	t := time.NewTicker(cs.refresh)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.r.announce(c.vip)
			if n%refreshesPerProbe == 1 && c.r.probe(c.vip) {
				c.r.count.refreshProbes.Add(1)
			}
		}
	}
}
