package membership

import (
	"net"
	"net/netip"
	"slices"
)

// advertiseAddr picks the address other hosts reach this one at, when the
// config binds a wildcard address and names no advertise address.
// memberlist alone would take only an RFC 1918 address and refuse to start
// on a host with public or documentation addresses only. The choice, in
// order: an address in the same subnet as a peer, an address on a managed
// interface, any global unicast address, and 127.0.0.1 for a host with no
// network at all (it gossips with nobody). It returns "" when bind names an
// address, which memberlist then advertises.
func advertiseAddr(bind string, peers, managed []string) string {
	b, err := netip.ParseAddr(bind)
	if err != nil || !b.IsUnspecified() {
		return ""
	}
	v6 := b.Is6()
	var candidates []candidate
	ifaces, _ := net.Interfaces()
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			p, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			p = p.Unmap()
			if !p.IsGlobalUnicast() || (p.Is6() && !v6) {
				continue
			}
			ones, _ := n.Mask.Size()
			candidates = append(candidates, candidate{addr: p, prefix: netip.PrefixFrom(p, ones).Masked(), managed: slices.Contains(managed, ifi.Name)})
		}
	}
	if len(candidates) == 0 {
		return "127.0.0.1"
	}
	best := candidates[0]
	for _, c := range candidates[1:] {
		if c.score(peers) > best.score(peers) {
			best = c
		}
	}
	return best.addr.String()
}

type candidate struct {
	addr    netip.Addr
	prefix  netip.Prefix
	managed bool
}

func (c candidate) score(peers []string) int {
	s := 0
	if c.managed {
		s += 2
	}
	if c.addr.Is4() {
		s++
	}
	for _, p := range peers {
		host := p
		if h, _, err := net.SplitHostPort(p); err == nil {
			host = h
		}
		if a, err := netip.ParseAddr(host); err == nil && c.prefix.Contains(a.Unmap()) {
			return s + 4
		}
	}
	return s
}
