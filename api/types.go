package api

import "time"

// Health is a VIP's standing in the cluster as this host sees it.
type Health string

// Values of Health.
const (
	HealthOK       Health = "ok"       // one host answers for the VIP
	HealthNoOwner  Health = "no-owner" // no host may announce it
	HealthConflict Health = "conflict" // something outside the cluster claims it
	// HealthSplit: another member answers for the VIP on the LAN while
	// gossip does not show that member alive and holding it.
	HealthSplit Health = "split"
)

// Role is this host's part in a VIP.
type Role string

// Values of Role.
const (
	RoleOwner     Role = "owner"     // this host answers for the VIP
	RoleStandby   Role = "standby"   // another host owns it; this one could take over
	RoleUnhealthy Role = "unhealthy" // this host cannot serve it: a check fails, its link is down, or it cannot join
	RoleDrained   Role = "drained"   // this host is drained
	RoleExcluded  Role = "excluded"  // the VIP's node list leaves this host out
)

// MemberState is a gossip member's state.
type MemberState string

// Values of MemberState.
const (
	MemberAlive   MemberState = "alive"
	MemberSuspect MemberState = "suspect"
	MemberDead    MemberState = "dead"
	MemberLeft    MemberState = "left"
	// MemberWrongKey: a host that answers on the gossip port but whose
	// gossip this host cannot decrypt, or that rejects this host's.
	MemberWrongKey MemberState = "wrong-key"
)

// Status is what `vipctl status` shows.
type Status struct {
	Node    string `json:"node"`
	Version string `json:"version"`
	Drained bool   `json:"drained"`
	// DrainedSince is when the drain began; a drain is kept in state_dir
	// and survives restarts until 'vipctl undrain'.
	DrainedSince time.Time `json:"drained_since,omitzero"`
	// Problems are what keeps this host from claiming VIPs, such as a link
	// that is down or gossip keys that differ from its peers'.
	Problems []string `json:"problems,omitempty"`
	// Converged is false until this host has seen the cluster long enough
	// to trust its view (systemd readiness waits for it).
	Converged bool        `json:"converged"`
	Config    ConfigState `json:"config"`
	VIPs      []VIPStatus `json:"vips"`
	// BGP is set when the config has a bgp: section.
	BGP *BGPStatus `json:"bgp,omitempty"`
}

// BGPStatus is this host's BGP speaker: its sessions and the VIP routes it
// announces.
type BGPStatus struct {
	Peers  []BGPPeer  `json:"peers"`
	Routes []BGPRoute `json:"routes"`
}

// BGPPeer is one configured BGP session.
type BGPPeer struct {
	Address string `json:"address"`
	ASN     uint32 `json:"asn"`
	// State is idle, connect, active, opensent, openconfirm or established.
	State string `json:"state"`
	// Reason says why a session that is not established is down.
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	// Announced counts the routes sent to the peer; Received and Accepted
	// the routes it sent here.
	Announced uint64 `json:"announced"`
	Received  uint64 `json:"received"`
	Accepted  uint64 `json:"accepted"`
}

// BGPRoute is one VIP this host announces over BGP.
type BGPRoute struct {
	VIP    string `json:"vip"`
	Prefix string `json:"prefix"`
	// Mode is owner (only the elected owner announces) or all (every
	// healthy host does).
	Mode string `json:"mode"`
	// Prepend is how many times the route carries this host's ASN: one
	// fewer than configured right after a takeover, so the router prefers
	// it to a dead owner's route.
	Prepend int       `json:"prepend"`
	Since   time.Time `json:"since"`
}

// ConfigState says which file runs and whether the last reload failed.
type ConfigState struct {
	File     string    `json:"file"`
	LoadedAt time.Time `json:"loaded_at"`
	// ReloadError is the last failed reload's error; the daemon kept the
	// config it was running. Empty when the last reload worked.
	ReloadError string `json:"reload_error,omitempty"`
}

// VIPStatus is one VIP as this host sees it.
type VIPStatus struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	Unit      string `json:"unit"` // the group, or the VIP's own name
	Interface string `json:"interface"`
	Health    Health `json:"health"`
	Role      Role   `json:"role"`
	Owner     string `json:"owner,omitempty"`
	// Reason is election's reason for the owner, or why there is none.
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	// Hosts says, per host, whether it may own the VIP and why not; left
	// out unless asked for (Client.StatusWithHosts, vipctl status -v).
	Hosts    []HostEligibility `json:"hosts,omitempty"`
	Conflict string            `json:"conflict,omitempty"`
	// Split names the member heard answering for the VIP on the LAN while
	// gossip does not show it holding the VIP, and what gossip says of it.
	Split string `json:"split,omitempty"`
	// SplitWith names the members heard answering for the VIP.
	SplitWith []string `json:"split_with,omitempty"`
}

// HostEligibility is one host's standing for one VIP.
type HostEligibility struct {
	Host     string `json:"host"`
	Eligible bool   `json:"eligible"`
	// Eligibility is election's token: eligible, not-alive, unknown-unit,
	// config-differs, not-in-node-list, drained, checks-failing.
	Eligibility string `json:"eligibility"`
	Reason      string `json:"reason"`
}

// Member is one host of the gossip cluster.
type Member struct {
	Name    string      `json:"name"`
	Address string      `json:"address"`
	State   MemberState `json:"state"`
	Drained bool        `json:"drained"`
	Self    bool        `json:"self"`
	MACs    []string    `json:"macs,omitempty"`
	// SameConfig is false when the member's VIP list differs from this
	// host's; VIPs defined differently are decided only among hosts that
	// agree on them.
	SameConfig bool     `json:"same_config"`
	Holds      []string `json:"holds,omitempty"`
	// Problem says why the member's gossip metadata cannot be read (a
	// newer vipd, or bad metadata): while such a member is alive it owns
	// nothing here and no host claims anything new.
	Problem string `json:"problem,omitempty"`
}

// Check is one health check on this host.
type Check struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Up        bool      `json:"up"`
	Reason    string    `json:"reason"`
	Since     time.Time `json:"since"`
	LastProbe time.Time `json:"last_probe,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// VIPs are the VIPs this check gates.
	VIPs []string `json:"vips"`
}

// DrainResult answers drain and undrain.
type DrainResult struct {
	Drained bool `json:"drained"`
	// HandedOver lists the VIPs this host held and another host has taken.
	HandedOver []string `json:"handed_over,omitempty"`
	// StillHeld lists the VIPs no other host could take before the drain
	// timeout; this host keeps answering for them.
	StillHeld []string `json:"still_held,omitempty"`
}

// ReloadResult answers reload.
type ReloadResult struct {
	File    string   `json:"file"`
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Changed []string `json:"changed,omitempty"`
}

// Error is the body of every failed request.
type Error struct {
	Error string `json:"error"`
}
