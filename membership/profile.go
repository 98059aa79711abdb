package membership

import (
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/vipd/vipd/config"
)

// Timing is the failure-detector and gossip timing of a profile.
//
// A host probes one other host every ProbeInterval. When no ack comes
// within ProbeTimeout it asks IndirectChecks others to probe too, and tries
// TCP, until the interval ends; then it suspects the host and tells the
// cluster. A suspect that does not refute within SuspicionMult x
// ProbeInterval (x log10 of the cluster size, at least 1) is declared dead
// and the news spreads by gossip every GossipInterval to GossipNodes hosts.
// So memberlist declares a crashed host dead everywhere after at most about
// 2 x ProbeInterval + SuspicionMult x ProbeInterval + a few GossipIntervals:
// seconds, at the membership-grade timings below, which cost little when
// idle. A crashed owner is replaced faster: every host sends a heartbeat to
// every other every HeartbeatInterval, and one that has gone quiet for
// HeartbeatTimeout counts as dead in the election's view (heartbeat.go).
type Timing struct {
	ProbeInterval     time.Duration
	ProbeTimeout      time.Duration
	SuspicionMult     int
	SuspicionMaxMult  int
	IndirectChecks    int
	GossipInterval    time.Duration
	GossipNodes       int
	RetransmitMult    int
	PushPullInterval  time.Duration
	GossipToTheDead   time.Duration
	TCPTimeout        time.Duration
	AwarenessMaxMult  int
	DeadNodeReclaim   time.Duration
	LeaveBroadcastMax time.Duration

	// Heartbeats (heartbeat.go): sent every HeartbeatInterval; a member
	// heard from and then quiet for HeartbeatTimeout counts as dead.
	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration

	// Re-merge (rejoin.go): a peer that is not alive is tried every
	// RejoinInterval while it has been missing for less than
	// RejoinBackoffAfter, then less often, up to every RejoinMaxInterval.
	RejoinInterval     time.Duration
	RejoinBackoffAfter time.Duration
	RejoinMaxInterval  time.Duration
}

// Profiles maps each config profile to its timing. See doc.go for the
// figures they give.
var Profiles = map[config.Profile]Timing{
	// default: a crashed host counts as dead 400 ms after its last
	// heartbeat (BenchmarkDeadDetection): a heartbeat every 150 ms, so one
	// lost heartbeat is forgiven and a sender late by up to 250 ms is not
	// taken for dead. memberlist alone, for a host that sends no
	// heartbeats, takes about 4-7 s. Metadata changes are gossiped at once
	// (UpdateNode) and spread within a GossipInterval or two; a gossip tick
	// that has nothing to send costs a wake-up, so it is 200 ms.
	config.ProfileDefault: {
		ProbeInterval:     time.Second,
		ProbeTimeout:      500 * time.Millisecond,
		SuspicionMult:     3,
		SuspicionMaxMult:  2,
		IndirectChecks:    3,
		GossipInterval:    200 * time.Millisecond,
		GossipNodes:       4,
		RetransmitMult:    4,
		PushPullInterval:  5 * time.Second,
		GossipToTheDead:   5 * time.Second,
		TCPTimeout:        2 * time.Second,
		AwarenessMaxMult:  8,
		DeadNodeReclaim:   10 * time.Second,
		LeaveBroadcastMax: time.Second,

		HeartbeatInterval: 150 * time.Millisecond,
		HeartbeatTimeout:  400 * time.Millisecond,

		RejoinInterval:     500 * time.Millisecond,
		RejoinBackoffAfter: 30 * time.Second,
		RejoinMaxInterval:  2 * time.Second,
	},
	// fast: 160 ms after the last heartbeat (a heartbeat every 60 ms, one
	// lost one forgiven), for a quiet LAN; more packets, and more false
	// deaths when hosts are overloaded. memberlist alone takes about 2-4 s.
	config.ProfileFast: {
		ProbeInterval:     500 * time.Millisecond,
		ProbeTimeout:      250 * time.Millisecond,
		SuspicionMult:     3,
		SuspicionMaxMult:  2,
		IndirectChecks:    3,
		GossipInterval:    100 * time.Millisecond,
		GossipNodes:       4,
		RetransmitMult:    4,
		PushPullInterval:  3 * time.Second,
		GossipToTheDead:   5 * time.Second,
		TCPTimeout:        2 * time.Second,
		AwarenessMaxMult:  8,
		DeadNodeReclaim:   10 * time.Second,
		LeaveBroadcastMax: time.Second,

		HeartbeatInterval: 60 * time.Millisecond,
		HeartbeatTimeout:  160 * time.Millisecond,

		RejoinInterval:     250 * time.Millisecond,
		RejoinBackoffAfter: 30 * time.Second,
		RejoinMaxInterval:  2 * time.Second,
	},
}

// timingOf returns the timing of profile p; an empty profile is the default.
func timingOf(p config.Profile) (Timing, error) {
	if p == "" {
		p = config.ProfileDefault
	}
	t, ok := Profiles[p]
	if !ok {
		return Timing{}, fmt.Errorf("membership: unknown gossip profile %q; use default or fast", p)
	}
	return t, nil
}

// apply sets t on a memberlist config.
func (t Timing) apply(c *memberlist.Config) {
	c.ProbeInterval = t.ProbeInterval
	c.ProbeTimeout = t.ProbeTimeout
	c.SuspicionMult = t.SuspicionMult
	c.SuspicionMaxTimeoutMult = t.SuspicionMaxMult
	c.IndirectChecks = t.IndirectChecks
	c.GossipInterval = t.GossipInterval
	c.GossipNodes = t.GossipNodes
	c.RetransmitMult = t.RetransmitMult
	c.PushPullInterval = t.PushPullInterval
	c.GossipToTheDeadTime = t.GossipToTheDead
	c.TCPTimeout = t.TCPTimeout
	c.AwarenessMaxMultiplier = t.AwarenessMaxMult
	c.DeadNodeReclaimTime = t.DeadNodeReclaim
}
