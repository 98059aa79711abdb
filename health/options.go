package health

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Options are what runners share; the zero value runs on the system clock
// with random jitter and no log.
type Options struct {
	// Clock is the time runners read; nil is SystemClock.
	Clock Clock
	// Jitter returns how long a runner waits before its first probe, given
	// the check's interval, so that hosts started together do not probe in
	// lockstep. Nil picks a random offset within the interval.
	Jitter func(interval time.Duration) time.Duration
	// Logger gets one line for every check that comes up or goes down, with
	// its reason; nil logs nothing.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = SystemClock()
	}
	if o.Jitter == nil {
		o.Jitter = randomJitter
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

func randomJitter(interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	return rand.N(interval)
}
