package agent

import (
	"context"
	"net"
	"time"

	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/health"
	"github.com/vipd/vipd/membership"
)

// Cluster is what the agent needs from gossip (membership.Membership).
type Cluster interface {
	// View is the cluster as election reads it, this host included.
	View() election.View
	// Changes gets a token whenever View may have changed.
	Changes() <-chan struct{}
	// SetLocal publishes this host's state to the other hosts.
	SetLocal(membership.Local) error
	// SetUnits publishes this host's unit list after a reload.
	SetUnits([]election.Unit) error
	// Settled reports whether this host knows every alive host's unit list.
	Settled() bool
	// Pending names the members that announced a new state whose gossip
	// has not arrived yet.
	Pending() []string
	Members() []membership.Member
	// Leave tells the others this host is going, and waits up to timeout.
	Leave(timeout time.Duration) error
	// KeyMismatches are the peers seen lately whose gossip this host cannot
	// decrypt, or that reject its own.
	KeyMismatches() []membership.KeyMismatch
}

// Checks is what the agent needs from the health checks (health.Set).
type Checks interface {
	Changed() <-chan struct{}
	Statuses() []health.Status
	Units() []health.UnitStatus
	// Apply swaps in a reloaded config's checks, keeping the state of the
	// checks it does not change.
	Apply(*config.Config) error
}

// Announcer is what the agent needs from whatever answers ARP and NDP.
type Announcer interface {
	// Apply makes this host answer for exactly owned, sending gratuitous
	// packets for the VIPs it did not answer for before. Fresh lists VIPs
	// no host held before, which may be probed for a foreign holder first.
	Apply(ctx context.Context, owned []config.VIP, fresh []string) error
	// Watch sets the VIPs this host holds but does not answer for, to be
	// probed: a member answering for one shows in Events.
	Watch(vips []config.VIP)
	// Events reports conflicts, members heard answering, and link changes.
	Events() <-chan announcer.Event
	// Manage sets every VIP of the config after a reload: their addresses
	// and the conflict watch follow.
	Manage(vips []config.VIP) error
	// SetClusterMACs names the MACs of every member, which are never a
	// conflict.
	SetClusterMACs(macs []net.HardwareAddr)
}

// Clock is the time the agent's loop reads; the step itself gets the time
// as an input.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
