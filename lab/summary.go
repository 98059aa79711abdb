package lab

import (
	"fmt"
	"time"
)

// Summary condenses probe results into the figures a failover test or a
// benchmark reports.
type Summary struct {
	OK     int
	Failed int
	// Reset counts the failed requests whose connection was reset after it
	// was established: a connection open at the instant the client's
	// neighbour entry moved to the new owner, which knows nothing of it and
	// answers its next segment with a RST. Every L2 VIP move does this to
	// the connections open at that instant; it is no request sent to a VIP
	// nobody served.
	Reset int
	// Bodies lists the bodies of answers (who answered) in order, with repeats collapsed:
	// [h1 h2] is one failover, [h1 h2 h1] a flap.
	Bodies []string
	// LongestGap is the longest time without a successful answer, counted
	// from the first request sent to the last request finished, so a
	// service that never comes back shows as a gap to the end.
	LongestGap time.Duration
}

// Summarize computes a Summary from results in the order sent (as Stop returns them).
func Summarize(results []Result) Summary {
	var s Summary
	if len(results) == 0 {
		return s
	}
	start, end := results[0].Sent, results[0].Sent
	lastAnswer := start
	for _, r := range results {
		if finished := r.Sent.Add(r.Latency); finished.After(end) {
			end = finished
		}
		if !r.OK() {
			s.Failed++
			if r.ResetInFlight() {
				s.Reset++
			}
			continue
		}
		s.OK++
		if n := len(s.Bodies); n == 0 || s.Bodies[n-1] != r.Body {
			s.Bodies = append(s.Bodies, r.Body)
		}
		// Requests overlap, so answers may arrive out of send order:
		// only an answer later than every earlier one can close a gap.
		if answered := r.Sent.Add(r.Latency); answered.After(lastAnswer) {
			s.LongestGap = max(s.LongestGap, answered.Sub(lastAnswer))
			lastAnswer = answered
		}
	}
	s.LongestGap = max(s.LongestGap, end.Sub(lastAnswer))
	return s
}

// Last is the body of the last answer, "" when nothing answered.
func (s Summary) Last() string {
	if len(s.Bodies) == 0 {
		return ""
	}
	return s.Bodies[len(s.Bodies)-1]
}

func (s Summary) String() string {
	return fmt.Sprintf("ok=%d failed=%d (reset in flight %d) bodies=%v longest_gap=%dms",
		s.OK, s.Failed, s.Reset, s.Bodies, s.LongestGap.Milliseconds())
}
