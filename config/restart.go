package config

import "reflect"

// RestartNeeded names the settings that differ between old and next and
// that a running vipd set up at start, so a reload cannot apply them.
func RestartNeeded(old, next *Config) []string {
	var keys []string
	if old.NodeName != next.NodeName {
		keys = append(keys, "node_name")
	}
	if !reflect.DeepEqual(old.Interfaces, next.Interfaces) {
		keys = append(keys, "interfaces")
	}
	if old.StateDir != next.StateDir {
		keys = append(keys, "state_dir")
	}
	if old.Control != next.Control {
		keys = append(keys, "control")
	}
	if old.Metrics != next.Metrics {
		keys = append(keys, "metrics")
	}
	if !reflect.DeepEqual(old.BGP, next.BGP) {
		keys = append(keys, "bgp")
	}
	g, n := old.Gossip, next.Gossip
	if g.Insecure != n.Insecure || g.Port != n.Port || g.Bind != n.Bind || g.Advertise != n.Advertise || g.Profile != n.Profile {
		keys = append(keys, "gossip.bind, port, advertise, insecure or profile")
	}
	return keys
}
