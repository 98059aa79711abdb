package api

import (
	"context"
	"net/http"
)

// PathDoctor answers with the facts of the running config that `vipctl
// doctor` checks this host against.
const PathDoctor = "/v1/doctor"

// Doctor severities. Both make `vipctl doctor` exit 1.
const (
	// SeverityError: a VIP cannot be reached, or can be reached at the wrong
	// host, now.
	SeverityError = "error"
	// SeverityWarning: nothing is lost yet, but a failover or a change of
	// the network would lose it.
	SeverityWarning = "warning"
)

// DoctorFacts is what the daemon runs with, beyond status and members: the
// managed interfaces as the running config has them (it may differ from the
// file on disk after a failed reload), each VIP's node list, and the
// gossip peers whose key differs from this host's.
type DoctorFacts struct {
	Node       string             `json:"node"`
	File       string             `json:"file"`
	Interfaces []ManagedInterface `json:"interfaces"`
	VIPs       []DoctorVIP        `json:"vips"`
	// GossipKeyFile is gossip.key_file of the running config; empty with
	// insecure: true.
	GossipKeyFile string `json:"gossip_key_file,omitempty"`
	// KeyMismatches are the hosts whose gossip did not decrypt here, or
	// that could not decrypt this host's, within the last 30 seconds: their
	// gossip key differs from this host's.
	KeyMismatches []GossipPeer `json:"key_mismatches,omitempty"`
}

// GossipPeer is a host on the gossip port.
type GossipPeer struct {
	// Node is its node name, when this host can tell.
	Node string `json:"node,omitempty"`
	// Address is its gossip address (host:port), or its IP alone when only
	// a connection from it was seen.
	Address string `json:"address"`
}

// ManagedInterface is one entry of interfaces: in the running config.
type ManagedInterface struct {
	Name   string `json:"name"`
	Family string `json:"family"`
	// Tuning is false when the config turned vipd's kernel tuning off for
	// the interface: vipd then leaves rp_filter, arp_ignore, arp_announce
	// and the bridge-port flags as it found them.
	Tuning      bool     `json:"tuning"`
	BridgePorts []string `json:"bridge_ports,omitempty"`
}

// DoctorVIP is one VIP of the running config.
type DoctorVIP struct {
	Name      string   `json:"name"`
	Address   string   `json:"address"`
	Interface string   `json:"interface"`
	Nodes     []string `json:"nodes,omitempty"`
}

// Finding is one problem `vipctl doctor` found: one line of its report.
type Finding struct {
	Severity string `json:"severity"`
	// Check is a stable token for scripts, such as "rp_filter",
	// "bridge-port", "foreign-address", "no-owner" or "member".
	Check string `json:"check"`
	// Subject is what the finding is about: an interface, a VIP or a host.
	Subject  string `json:"subject"`
	Problem  string `json:"problem"`
	Evidence string `json:"evidence"`
	Fix      string `json:"fix"`
}

// DoctorReport is what `vipctl doctor --json` prints. An empty Findings
// list means nothing is wrong.
type DoctorReport struct {
	Node     string    `json:"node"`
	Config   string    `json:"config"`
	Findings []Finding `json:"findings"`
}

// DoctorFacts returns the running config's facts for `vipctl doctor`.
func (c *Client) DoctorFacts(ctx context.Context) (DoctorFacts, error) {
	var f DoctorFacts
	return f, c.do(ctx, http.MethodGet, PathDoctor, nil, &f)
}
