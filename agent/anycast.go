package agent

import (
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
)

// anycast applies bgp: all. Every host whose checks pass for such a VIP
// announces it (the routers spread the clients over them, ECMP), whoever
// the election names owner; a host whose checks fail, whose BGP sessions
// of the VIP's family are down (its VIP.Link), or that is drained
// withdraws it at once: the others announce it already, so nothing waits
// for a hand-over. Owner-mode and ARP/NDP VIPs in owned pass unchanged.
func anycast(cfg *config.Config, owned []config.VIP, passing election.KeySet, drained bool) []config.VIP {
	out := make([]config.VIP, 0, len(owned))
	for _, v := range owned {
		if v.BGP != config.BGPAll {
			out = append(out, v)
		}
	}
	if drained {
		return out
	}
	for _, v := range cfg.VIPs {
		if v.BGP == config.BGPAll && passing.Has(v.Unit()) {
			out = append(out, v)
		}
	}
	return out
}
