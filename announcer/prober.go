package announcer

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Probe pacing: how often each VIP is probed while a link has few, and the
// cap on probes per second per link.
const (
	ownedProbeEvery   = time.Second
	watchedProbeEvery = ownedProbeEvery / watchedPerRound
	watchedPerRound   = 4
	DefaultProbeRate  = 50
)

// probeSchedule decides which VIP of one link to probe next and how long
// to wait after it. It reads no clock.
//
// A round probes every owned VIP once and every watched VIP four times. It
// is cut into four sub-rounds, each probing every watched VIP and a quarter
// of the owned ones, so a watched VIP comes back about every quarter round.
// A round lasts ownedProbeEvery (1 s), unless that would take more than
// rate probes a second: then it lasts as long as rate allows and every VIP
// is probed less often by the same factor. With the default cap of 50 a
// second, one link probes 50 owned VIPs each every second, or 12 watched
// VIPs each every 250 ms; with 1000 owned VIPs each is probed every 20 s,
// and its gratuitous refreshes are heard in between.
type probeSchedule struct {
	owned, watched []netip.Addr // sorted
	rate           int          // probes per second at most
	sub, pos       int          // cursor: sub-round and place in it
}

// set replaces the VIPs and reports whether they changed. The cursor stays
// where it was, so frequent changes do not starve the end of a long list.
func (s *probeSchedule) set(owned, watched []netip.Addr) bool {
	if slices.Equal(owned, s.owned) && slices.Equal(watched, s.watched) {
		return false
	}
	s.owned, s.watched = owned, watched
	return true
}

func (s *probeSchedule) slots() int { return watchedPerRound*len(s.watched) + len(s.owned) }

// interval is the time between two probes; 0 when there is nothing to probe.
func (s *probeSchedule) interval() time.Duration {
	n := s.slots()
	if n == 0 {
		return 0
	}
	round := ownedProbeEvery
	if capped := time.Duration(n) * time.Second / time.Duration(max(s.rate, 1)); capped > round {
		round = capped
	}
	return round / time.Duration(n)
}

// next returns the VIP to probe now; false when there is none.
func (s *probeSchedule) next() (netip.Addr, bool) {
	if s.slots() == 0 {
		return netip.Addr{}, false
	}
	for {
		if s.pos < len(s.watched) {
			s.pos++
			return s.watched[s.pos-1], true
		}
		if i := (s.pos-len(s.watched))*watchedPerRound + s.sub; i < len(s.owned) {
			s.pos++
			return s.owned[i], true
		}
		s.sub, s.pos = (s.sub+1)%watchedPerRound, 0
	}
}

// prober probes the owned and watched VIPs of one link at the schedule's
// pace, so that another member answering for them is heard even when no
// client asks. It runs one timer, armed only while there is something to
// probe.
type prober struct {
	clock clock
	send  func(netip.Addr) bool
	sent  func()
	wake  chan struct{}

	mu    sync.Mutex
	sched probeSchedule
}

func newProber(c clock, rate int, send func(netip.Addr) bool, sent func()) *prober {
	return &prober{clock: c, send: send, sent: sent, wake: make(chan struct{}, 1), sched: probeSchedule{rate: rate}}
}

// set replaces what the link probes; owned and watched must be sorted and
// disjoint.
func (p *prober) set(owned, watched []netip.Addr) {
	p.mu.Lock()
	changed := p.sched.set(owned, watched)
	p.mu.Unlock()
	if changed {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

func (p *prober) interval() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sched.interval()
}

func (p *prober) next() (netip.Addr, time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	vip, ok := p.sched.next()
	return vip, p.sched.interval(), ok
}

// run probes until ctx ends.
func (p *prober) run(ctx context.Context) {
	var t timer
	var due time.Time // zero while the timer is not armed
	arm := func(d time.Duration) {
		if t == nil {
			t = p.clock.NewTimer(d)
		} else {
			t.Reset(d)
		}
		due = p.clock.Now().Add(d)
	}
	disarm := func() {
		if t != nil && !due.IsZero() {
			t.Stop()
		}
		due = time.Time{}
	}
	defer disarm()
	for {
		var fire <-chan time.Time
		if !due.IsZero() {
			fire = t.C()
		}
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
			d := p.interval()
			switch {
			case d == 0:
				disarm()
			case due.IsZero() || p.clock.Now().Add(d).Before(due):
				arm(d) // a faster pace starts now, not after the old gap
			}
		case <-fire:
			due = time.Time{}
			vip, d, ok := p.next()
			if !ok {
				continue
			}
			if p.send(vip) {
				p.sent()
			}
			arm(d)
		}
	}
}
