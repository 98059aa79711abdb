package announcer

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/vipd/vipd/config"
)

// Defaults of Options.
var (
	// DefaultBurst is when a new owner sends gratuitous ARPs and unsolicited
	// NAs, counted from the claim: four packets within the first second.
	DefaultBurst = []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond}
	// DefaultProbeWait is how long the first claim of a VIP nobody has held
	// waits for a foreign holder to answer its probes.
	DefaultProbeWait = 200 * time.Millisecond
)

const defaultSysctlRoot = "/proc/sys"

// Interface is a managed NIC or bridge.
type Interface struct {
	Name string
	// Tuning sets arp_ignore, arp_announce and rp_filter. Bridge ports are
	// left alone (see tuner.plan).
	Tuning bool
}

// Options configure an Announcer.
type Options struct {
	Interfaces []Interface
	// VIPs are all the VIPs of the cluster: their addresses live on vipd0 and
	// the conflict watch covers them. Owned VIPs given to Apply are added.
	VIPs []config.VIP
	// StateDir holds the record of original kernel settings.
	StateDir string
	// Refresh is the pace of gratuitous packets after the burst; 0 is off.
	Refresh time.Duration
	// Burst is when gratuitous packets go out after a claim (DefaultBurst if nil).
	Burst []time.Duration
	// ProbeWait bounds the probe before a fresh claim (DefaultProbeWait if 0).
	ProbeWait time.Duration
	// ProbeRate caps the probes of owned and watched VIPs per second on each
	// link (DefaultProbeRate if 0); see probeSchedule.
	ProbeRate int
	Logger    *slog.Logger

	clock clock // the wall clock unless a test sets one
}

// OptionsFromConfig maps the vipd.yaml settings the announcer uses.
func OptionsFromConfig(cfg *config.Config) Options {
	o := Options{StateDir: cfg.StateDir, Refresh: cfg.Announce.Refresh.Duration, VIPs: cfg.VIPs}
	for _, ifc := range cfg.Interfaces {
		o.Interfaces = append(o.Interfaces, Interface{Name: ifc.Name, Tuning: ifc.Tuning})
	}
	return o
}

func (o Options) withDefaults() (Options, error) {
	if len(o.Interfaces) == 0 {
		return o, fmt.Errorf("announcer: no managed interface")
	}
	if o.StateDir == "" {
		o.StateDir = config.DefaultStateDir
	}
	if o.Burst == nil {
		o.Burst = DefaultBurst
	}
	if o.ProbeWait <= 0 {
		o.ProbeWait = DefaultProbeWait
	}
	if o.ProbeRate <= 0 {
		o.ProbeRate = DefaultProbeRate
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.clock == nil {
		o.clock = wallClock{}
	}
	return o, nil
}
