package health

import (
	"context"
	"net"
	"time"
)

// connWatch keeps one idle TCP connection open to a check's backend between
// probes, and tells the runner when the backend closes it.
//
// A backend that stops (nginx, HAProxy, any server that exits) closes its
// connections, idle ones included, within milliseconds of being told to;
// a live one closes an idle connection only after its own timeout (nginx's
// client_header_timeout is 60 s by default). So a closed connection is a
// reason to probe now, not a failure: the probe decides, and a refused
// connection is down at once (see confirmsAtOnce). A stopped backend is
// then noticed in milliseconds, whatever the interval, at the cost of one
// idle connection.
//
// It dials after a probe passed, never sooner than one interval after its
// last dial, so a backend that closes idle connections at once costs at
// most one connection and one extra probe an interval.
type connWatch struct {
	address  string
	interval time.Duration
	timeout  time.Duration // for the dial
	clock    Clock
	// closed gets a token when the watched connection ended.
	closed chan struct{}
	// passed gets a token after each probe that passed.
	passed chan struct{}
}

// watchable is a Checker whose backend is a TCP address a connWatch can
// hold a connection to.
type watchable interface {
	watchAddress() string
}

func newConnWatch(address string, interval, timeout time.Duration, clock Clock) *connWatch {
	return &connWatch{
		address: address, interval: interval, timeout: timeout, clock: clock,
		closed: make(chan struct{}, 1), passed: make(chan struct{}, 1),
	}
}

// probePassed tells the watch that the backend answers; it never blocks.
func (w *connWatch) probePassed() {
	select {
	case w.passed <- struct{}{}:
	default:
	}
}

// run holds a connection while the backend passes its probes, until ctx
// ends.
func (w *connWatch) run(ctx context.Context) {
	var lastDial time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.passed:
		}
		if !lastDial.IsZero() {
			if wait := lastDial.Add(w.interval).Sub(w.clock.Now()); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-w.clock.After(wait):
				}
			}
		}
		lastDial = w.clock.Now()
		d := net.Dialer{Timeout: w.timeout}
		conn, err := d.DialContext(ctx, "tcp", w.address)
		if err != nil {
			continue // the probes say what is wrong; the next pass dials again
		}
		stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
		// No server sends on an idle connection unasked: Read returns when
		// the backend closes it (or resets it, or ctx ends).
		var b [1]byte
		_, _ = conn.Read(b[:])
		stop()
		_ = conn.Close()
		if ctx.Err() != nil {
			return
		}
		// A pass from before the close says nothing about now.
		select {
		case <-w.passed:
		default:
		}
		select {
		case w.closed <- struct{}{}:
		default:
		}
	}
}
