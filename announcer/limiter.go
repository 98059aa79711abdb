package announcer

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// How often the same event may go out.
const (
	// conflictEvery is the least time between two events about the same
	// conflict, so a flood of packets is not a flood of events.
	conflictEvery = time.Second
	// memberAnswersEvery is the least time between two MemberAnswers events
	// for the same VIP and MAC.
	memberAnswersEvery = 250 * time.Millisecond
	// maxEventKeys bounds the limiter's memory: spoofed packets with ever new
	// MACs must not grow it without bound.
	maxEventKeys = 1024
	eventBuffer  = 64
)

// eventKey is what makes two events "the same" for rate limiting.
type eventKey struct {
	kind EventKind
	vip  netip.Addr
	mac  string
	ifc  string
}

// limiter hands events to the Events channel: each kind of repeated event at
// most once per interval, never blocking the caller (a packet read loop);
// what does not fit is dropped and counted.
type limiter struct {
	now     func() time.Time
	out     chan Event
	dropped *atomic.Uint64

	mu   sync.Mutex
	last map[eventKey]time.Time
}

func newLimiter(now func() time.Time, dropped *atomic.Uint64) *limiter {
	return &limiter{now: now, out: make(chan Event, eventBuffer), dropped: dropped, last: map[eventKey]time.Time{}}
}

// raise sends ev unless the same event went out within every. It reports
// whether ev passed the rate limit (it may still be dropped if the channel
// is full).
func (l *limiter) raise(ev Event, every time.Duration) bool {
	key := eventKey{kind: ev.Kind, vip: ev.VIP, mac: string(ev.MAC), ifc: ev.Interface}
	now := l.now()
	l.mu.Lock()
	if last, ok := l.last[key]; ok && now.Sub(last) < every {
		l.mu.Unlock()
		return false
	}
	if len(l.last) >= maxEventKeys {
		for k, at := range l.last {
			if now.Sub(at) >= conflictEvery { // the longest interval
				delete(l.last, k)
			}
		}
		if len(l.last) >= maxEventKeys {
			// A flood of distinct events within one interval: drop this one
			// rather than remember without bound.
			l.mu.Unlock()
			l.dropped.Add(1)
			return false
		}
	}
	l.last[key] = now
	l.mu.Unlock()
	ev.At = now
	l.emit(ev)
	return true
}

// emit sends ev without rate limiting, or drops and counts it if nobody
// reads fast enough.
func (l *limiter) emit(ev Event) {
	if ev.At.IsZero() {
		ev.At = l.now()
	}
	select {
	case l.out <- ev:
	default:
		l.dropped.Add(1)
	}
}
