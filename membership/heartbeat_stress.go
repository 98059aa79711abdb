package membership

import "time"

// A host whose own heartbeat loop wakes late is a poor judge of the others'
// silence: it was not running, so its heartbeats went out late too, and a
// host starved of CPU is seldom alone (VMs on one busy hypervisor,
// containers on one host, a fleet recovering from a crash all at once). Such
// a host judges silence with a longer timeout for a while: a crash takes
// longer to call while it is loaded, and a neighbour that was starved like
// it is not called dead for it.
const (
	// stressLateness: a tick later than this many intervals counts.
	stressLateness = 0.5
	// stressFactor lengthens the heartbeat timeout while stressed...
	stressFactor = 3
	// ...for stressHold heartbeat timeouts after the last late tick.
	stressHold = 10
)

// loopStress tracks how late the heartbeat loop's own ticks come.
type loopStress struct {
	until time.Time
}

// tick records a tick that came lateness after it was due, at now, and
// reports whether it starts a stressed spell.
func (s *loopStress) tick(now time.Time, lateness, interval, timeout time.Duration) (started bool) {
	if float64(lateness) <= stressLateness*float64(interval) {
		return false
	}
	started = !now.Before(s.until)
	s.until = now.Add(stressHold * timeout)
	return started
}

// timeout is the heartbeat timeout to judge with at now.
func (s *loopStress) timeout(now time.Time, timeout time.Duration) time.Duration {
	if now.Before(s.until) {
		return stressFactor * timeout
	}
	return timeout
}
