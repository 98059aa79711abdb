package agent

import (
	"testing"
	"time"
)

// A cheap step resyncs every second; a costly one no more often than keeps
// unasked steps at a thousandth of a core, and at least every maxResync.
func TestResyncKeepsUnaskedStepsCheap(t *testing.T) {
	for _, tc := range []struct {
		cost, want time.Duration
	}{
		{0, time.Second},
		{300 * time.Microsecond, time.Second},
		{2500 * time.Microsecond, 2500 * time.Millisecond},
		{time.Second, maxResync},
	} {
		if got := resyncFor(tc.cost); got != tc.want {
			t.Errorf("resyncFor(%v) = %v, want %v", tc.cost, got, tc.want)
		}
	}
}

// A handoff under way wakes the loop at its deadline, whatever the resync:
// the old owner lets go then even when nothing else happens.
func TestHandoffDeadlineIsAWakeUp(t *testing.T) {
	var h handoff
	if !h.next().IsZero() {
		t.Fatal("no handoff, yet a wake-up")
	}
	now := time.Unix(1000, 0)
	h.deadline = map[string]time.Time{"a": now.Add(3 * time.Second), "b": now.Add(time.Second)}
	if got := h.next(); !got.Equal(now.Add(time.Second)) {
		t.Fatalf("next = %v, want the earliest deadline %v", got, now.Add(time.Second))
	}
}
