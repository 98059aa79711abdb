package membership

import (
	"testing"
	"time"
)

func TestQuietTickerTicksAtItsPeriod(t *testing.T) {
	const period = 20 * time.Millisecond
	tick, err := newQuietTicker(period)
	if err != nil {
		t.Fatal(err)
	}
	defer tick.Stop()
	var due []time.Time
	for len(due) < 5 {
		select {
		case d := <-tick.C:
			if late := time.Since(d); late < 0 {
				t.Fatalf("tick due at %v arrived %v before it", d, -late)
			}
			due = append(due, d)
		case <-time.After(time.Second):
			t.Fatalf("%d ticks in 1 s of a %v ticker", len(due), period)
		}
	}
	for i := 1; i < len(due); i++ {
		if gap := due[i].Sub(due[i-1]); gap%period != 0 || gap <= 0 {
			t.Errorf("ticks %d and %d are due %v apart, want a multiple of %v", i-1, i, gap, period)
		}
	}
}

func TestQuietTickerDropsTicksASlowReaderMisses(t *testing.T) {
	const period = 5 * time.Millisecond
	tick, err := newQuietTicker(period)
	if err != nil {
		t.Fatal(err)
	}
	defer tick.Stop()
	first := <-tick.C
	time.Sleep(10 * period) // the reader is busy; the ticks pile up in the timer
	deadline := time.After(time.Second)
	for reads := 1; ; reads++ {
		select {
		case d := <-tick.C:
			if d.Sub(first) < 10*period {
				continue
			}
			// One buffered tick, then the latest: not a backlog of ten.
			if reads > 3 {
				t.Errorf("%d reads to reach the tick due after the pause, want at most 3", reads)
			}
			return
		case <-deadline:
			t.Fatal("no tick due after the reader's pause came within 1 s")
		}
	}
}

func TestQuietTickerStopEndsItsReader(t *testing.T) {
	tick, err := newQuietTicker(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { tick.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return within 5 s: the reader still waits on the timer")
	}
}
