package config

import (
	"fmt"
)

// Summary is the one line `vipd check` prints for a good file.
func (c *Config) Summary() string {
	units := map[string]bool{}
	for _, v := range c.VIPs {
		units[v.Unit()] = true
	}
	ifaces := make([]string, 0, len(c.Interfaces))
	for _, i := range c.Interfaces {
		ifaces = append(ifaces, i.Name)
	}
	security := "encrypted"
	if c.Gossip.Insecure {
		security = "NOT encrypted (insecure: true)"
	}
	vips := count(len(c.VIPs), "VIP")
	if len(units) != len(c.VIPs) {
		vips += fmt.Sprintf(" in %s", count(len(units), "election unit"))
	}
	if len(c.VIPs) == 0 {
		vips = "no VIPs yet"
	}
	on := orNone(ifaces)
	if c.BGP != nil {
		on = fmt.Sprintf("%s and BGP (AS %d, %s)", on, c.BGP.ASN, count(len(c.BGP.Peers), "peer"))
	}
	return fmt.Sprintf("node %s, %s on %s, %s, gossip on %s:%d %s with %s, profile %s",
		c.NodeName, vips, on, count(len(c.Checks), "check"),
		c.Gossip.Bind, c.Gossip.Port, security, count(len(c.Gossip.Peers), "peer"), c.Gossip.Profile)
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
