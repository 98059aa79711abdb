package config

import "time"

// Config is the effective content of /etc/vipd.yaml: what the file says,
// with defaults filled in. Every host of a cluster reads the same file; only
// NodeName (defaulting to the hostname) differs between them.
type Config struct {
	NodeName     string   `yaml:"node_name"`
	StateDir     string   `yaml:"state_dir"`
	DrainTimeout Duration `yaml:"drain_timeout"`
	// Rebalance moves units, one at a time and make-before-break, to the
	// hosts the election's hash prefers once the cluster has been stable
	// for a while (after a cold start, or when a host comes back). False
	// keeps every owner until it fails, stops or is drained.
	Rebalance  bool              `yaml:"rebalance"`
	Gossip     Gossip            `yaml:"gossip"`
	Announce   Announce          `yaml:"announce"`
	Interfaces []Interface       `yaml:"interfaces"`
	Checks     map[string]*Check `yaml:"checks"`
	VIPs       []VIP             `yaml:"vips"`
	Control    Control           `yaml:"control"`
	Metrics    Metrics           `yaml:"metrics"`
	Notify     []NotifyHook      `yaml:"notify"`
	BGP        *BGP              `yaml:"bgp,omitempty"`
}

// Gossip configures the memberlist cluster the hosts form.
type Gossip struct {
	Bind      string   `yaml:"bind"`
	Port      int      `yaml:"port"`
	Advertise string   `yaml:"advertise"`
	Peers     []string `yaml:"peers"`
	KeyFile   string   `yaml:"key_file"`
	Insecure  bool     `yaml:"insecure"`
	Profile   Profile  `yaml:"profile"`
}

// Announce configures the gratuitous ARP / unsolicited NA refresh that an
// owner sends after its takeover burst.
type Announce struct {
	Refresh Duration `yaml:"refresh"`
}

// Interface is a NIC (or bridge) on which vipd answers ARP/NDP for the VIPs
// it owns.
type Interface struct {
	Name        string   `yaml:"name"`
	Family      Family   `yaml:"family"`
	Tuning      bool     `yaml:"tuning"`
	BridgePorts []string `yaml:"bridge_ports"`
}

// VIP is one virtual address. VIPs that share a Group move together.
type VIP struct {
	Name      string         `yaml:"name"`
	Address   Address        `yaml:"address"`
	Interface string         `yaml:"interface"`
	Group     string         `yaml:"group,omitempty"`
	Nodes     []string       `yaml:"nodes"`
	Priority  map[string]int `yaml:"priority"`
	Failback  bool           `yaml:"failback"`
	Checks    []string       `yaml:"checks"`
	// BGP announces the VIP over BGP (see BGPMode) instead of ARP/NDP.
	BGP BGPMode `yaml:"bgp,omitempty"`
}

// Unit is the name under which a VIP is elected: its group, or its own name
// when it has none.
func (v VIP) Unit() string {
	if v.Group != "" {
		return v.Group
	}
	return v.Name
}

// Check is a named local health check. Which fields apply depends on Type.
type Check struct {
	Type     CheckType `yaml:"type"`
	Interval Duration  `yaml:"interval"`
	// FastInterval is how soon a check that is up is probed again after a
	// failed probe, until it has failed Fall times in a row or passes.
	FastInterval Duration `yaml:"fast_interval"`
	Timeout      Duration `yaml:"timeout"`
	Rise         int      `yaml:"rise"`
	Fall         int      `yaml:"fall"`
	// Watch keeps an idle TCP connection open to an http, https or tcp
	// check's backend between probes, and probes at once when the backend
	// closes it: a stopped nginx or HAProxy closes its connections, so
	// it is noticed within milliseconds rather than at the next probe.
	// On for http and https checks and off for tcp checks unless the file
	// says otherwise; nil for the other types.
	Watch *bool `yaml:"watch,omitempty"`

	// http, https
	URL        string      `yaml:"url,omitempty"`
	Status     StatusRange `yaml:"status,omitempty"`
	Body       string      `yaml:"body,omitempty"`
	HostHeader string      `yaml:"host_header,omitempty"`
	TLSVerify  *bool       `yaml:"tls_verify,omitempty"`

	// tcp, and haproxy over TCP
	Address string `yaml:"address,omitempty"`

	// exec
	Command []string          `yaml:"command,omitempty"`
	Env     map[string]string `yaml:"env,omitempty"`

	// haproxy
	Socket  string `yaml:"socket,omitempty"`
	Backend string `yaml:"backend,omitempty"`
	MinUp   int    `yaml:"min_up,omitempty"`

	// file
	Path string `yaml:"path,omitempty"`
}

// Control configures the unix socket that vipctl talks to.
type Control struct {
	Socket string `yaml:"socket"`
	Group  string `yaml:"group"`
}

// Metrics configures the Prometheus endpoint; an empty Listen turns it off.
type Metrics struct {
	Listen string `yaml:"listen"`
}

// NotifyHook is a command run on every VIP state change.
type NotifyHook struct {
	Command []string `yaml:"command"`
	Timeout Duration `yaml:"timeout"`
}

// D is a shorthand for building Durations in code and tests.
func D(d time.Duration) Duration { return Duration{d} }
