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
)

func defaultConfig() *Config {
	return &Config{
		StateDir:     DefaultStateDir,
		DrainTimeout: D(10 * time.Second),
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
	c.Timeout = D(500 * time.Millisecond)
	c.Rise = 2
	c.Fall = 2
}

func (h *NotifyHook) setDefaults() {
	h.Timeout = D(10 * time.Second)
}

// setTypeDefaults fills the defaults that depend on the check's type, after
// the type is known.
func (c *Check) setTypeDefaults() {
	switch c.Type {
	case CheckHTTP, CheckHTTPS:
		if c.Status.IsZero() {
			c.Status = StatusRange{200, 399}
		}
	case CheckHAProxy:
		if c.MinUp == 0 {
			c.MinUp = 1
		}
	}
	if c.Type == CheckHTTPS && c.TLSVerify == nil {
		verify := true
		c.TLSVerify = &verify
	}
}
