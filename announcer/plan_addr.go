package announcer

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// Addr is one address of one interface.
type Addr struct {
	Interface string
	Prefix    netip.Prefix
}

// HostAddrs lists every address of every interface of this host (of its
// network namespace). It changes nothing.
func HostAddrs() ([]Addr, error) {
	ifis, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []Addr
	for _, ifi := range ifis {
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if p, ok := ipNetPrefix(ipn); ok {
				out = append(out, Addr{Interface: ifi.Name, Prefix: p})
			}
		}
	}
	return out, nil
}

// ForeignVIPs returns the addresses in addrs that are one of vips on an
// interface other than vipd0. Put there by hand or by another tool, such an
// address makes this host's kernel claim the VIP whoever owns it: the
// announcer reports it as a ForeignAddress conflict.
func ForeignVIPs(addrs []Addr, vips []netip.Addr) []Addr {
	var out []Addr
	for _, a := range addrs {
		if a.Interface != DummyName && slices.Contains(vips, a.Prefix.Addr()) {
			out = append(out, a)
		}
	}
	return out
}

// MissingFromDummy returns the VIPs of vips that vipd0 does not carry in
// addrs. While vipd runs, vipd0 carries every managed VIP, so that HAProxy
// or nginx can bind it and the kernel accepts its traffic.
func MissingFromDummy(addrs []Addr, vips []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, v := range vips {
		if !slices.ContainsFunc(addrs, func(a Addr) bool { return a.Interface == DummyName && a.Prefix.Addr() == v }) {
			out = append(out, v)
		}
	}
	return out
}
