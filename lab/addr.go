package lab

import (
	"fmt"
	"net/netip"
)

// Documentation ranges (RFC 5737, RFC 3849): the only addresses a lab uses or
// sends to, so a mistake can never reach a real network.
var documentationPrefixes = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// checkLabAddr refuses any destination outside the documentation ranges.
func checkLabAddr(a netip.Addr) error {
	a = a.Unmap()
	for _, p := range documentationPrefixes {
		if p.Contains(a) {
			return nil
		}
	}
	return fmt.Errorf("address %s is outside the documentation ranges a lab may use", a)
}

// Address plan on the lab's one /24 and /64: host i is .(10+i) and ::(10+i),
// the client is .100 and ::100 (a second client .101), so the IPv6 address
// reads like the IPv4 one.
const (
	subnetBitsV4   = 24
	subnetBitsV6   = 64
	hostOffset     = 10
	clientLastByte = 100
	maxHosts       = clientLastByte - hostOffset - 1
)

func labIPv4(last int) netip.Addr {
	return netip.AddrFrom4([4]byte{192, 0, 2, byte(last)})
}

func labIPv6(last int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("2001:db8::%d", last))
}
