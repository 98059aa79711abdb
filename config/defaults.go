package config

import "time"

// Defaults of the file, documented key by key in README.md and
// examples/vipd.yaml; keep the three in step.
const (
	DefaultPath       = "/etc/vipd.yaml"
	DefaultGossipPort = 7946
	DefaultSocket     = "/run/vipd/vipd.sock"
	DefaultGroup      = "vipd"
	DefaultMetrics    = "127.0.0.1:9469"
	DefaultStateDir   = "/var/lib/vipd"

	// DefaultFastInterval is checks.NAME.fast_interval unless the file
	// sets it, or the check's interval when that is shorter. With the
	// default interval 1s and fall 2, a failure is confirmed (the check goes
	// down) 200ms after its first failed probe instead of 1s, while one bad
	// probe still moves nothing: a backend that answers 503 for less than
	// 200ms, or stalls for less than about 1.2s (a 500ms timeout, 200ms, and
	// a second timeout), stays up. A refused connection needs no re-check
	// (see health's confirmsAtOnce).
	DefaultFastInterval = 200 * time.Millisecond
)

func defaultConfig() *Config {
	return &Config{
		StateDir:     DefaultStateDir,
		DrainTimeout: D(10 * time.Second),
		Rebalance:    true,
		Gossip: Gossip{
			Bind:    "0.0.0.0",
			Port:    DefaultGossipPort,
			Profile: ProfileDefault,
		},
		Announce: Announce{Refresh: D(10 * time.Second)},
		Control:  Control{Socket: DefaultSocket, Group: DefaultGroup},
		Metrics:  Metrics{Listen: DefaultMetrics},
	}
}

func (i *Interface) setDefaults() {
	i.Family = FamilyDual
	i.Tuning = true
}

func (c *Check) setDefaults() {
	c.Interval = D(time.Second)
	// Lowered to the interval, when the file does not set it, by validation
	// (checkTiming), which knows what the file wrote.
	c.FastInterval = D(DefaultFastInterval)
	c.Timeout = D(500 * time.Millisecond)
	c.Rise = 2
	c.Fall = 2
	// min_up applies to haproxy checks only, but its default is set here,
	// before decoding, like the others: a written 0 must stay 0 for
	// validation to report. setTypeDefaults clears it for the other types.
	c.MinUp = 1
}

func (h *NotifyHook) setDefaults() {
	h.Timeout = D(10 * time.Second)
}

// setTypeDefaults fills the defaults that depend on the check's type, after
// the type is known, and clears the one that setDefaults filled for haproxy
// checks alone.
func (c *Check) setTypeDefaults() {
	if (c.Type == CheckHTTP || c.Type == CheckHTTPS) && c.Status.IsZero() {
		c.Status = StatusRange{200, 399}
	}
	if c.Type == CheckHTTPS && c.TLSVerify == nil {
		verify := true
		c.TLSVerify = &verify
	}
	if c.Type != CheckHAProxy {
		c.MinUp = 0
	}
	// An idle connection is what any HTTP server expects from a client;
	// other TCP services may count one as a failed login (MySQL blocks a
	// host after too many), so tcp checks watch only when asked.
	if c.Watch == nil && (c.Type == CheckHTTP || c.Type == CheckHTTPS || c.Type == CheckTCP) {
		watch := c.Type != CheckTCP
		c.Watch = &watch
	}
}
