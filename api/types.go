package api

import "time"

// VIP states, as status shows them.
const (
	StateOwner     = "owner"     // this host announces the VIP
	StateStandby   = "standby"   // another host owns it; this one could take over
	StateUnhealthy = "unhealthy" // this host's checks for the VIP fail
	StateDrained   = "drained"   // this host is drained
	StateConflict  = "conflict"  // something outside the cluster claims the VIP
	StateNoOwner   = "no-owner"  // no host may announce it
	StateExcluded  = "excluded"  // the VIP's node list leaves this host out
)

// Status is what `vipctl status` shows.
type Status struct {
	Node    string `json:"node"`
	Version string `json:"version"`
	Drained bool   `json:"drained"`
	// Converged is false until this host has seen the cluster long enough
	// to trust its view (systemd readiness waits for it).
	Converged bool        `json:"converged"`
	Config    ConfigState `json:"config"`
	VIPs      []VIPStatus `json:"vips"`
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
	State     string `json:"state"`
	Owner     string `json:"owner,omitempty"`
	// Reason is election's reason for the owner, or why there is none.
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	// Hosts says, per host, whether it may own the VIP and why not.
	Hosts    []HostEligibility `json:"hosts"`
	Conflict string            `json:"conflict,omitempty"`
}

// HostEligibility is one host's standing for one VIP.
type HostEligibility struct {
	Host     string `json:"host"`
	Eligible bool   `json:"eligible"`
	Reason   string `json:"reason"`
}

// Member is one host of the gossip cluster.
type Member struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// State is alive, suspect, dead or left.
	State   string   `json:"state"`
	Drained bool     `json:"drained"`
	Self    bool     `json:"self"`
	MACs    []string `json:"macs,omitempty"`
	// SameConfig is false when the member's VIP list differs from this
	// host's; VIPs defined differently are decided only among hosts that
	// agree on them.
	SameConfig bool     `json:"same_config"`
	Holds      []string `json:"holds,omitempty"`
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
