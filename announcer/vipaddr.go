package announcer

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DummyName is the interface every host keeps the VIP addresses on. It is a
// dummy interface, or an ifb interface on kernels built without the dummy
// driver (some VM kernels); both have no ARP and send nothing.
const DummyName = "vipd0"

// hostPrefix is the /32 or /128 of a VIP.
func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// ensureDummy returns vipd0, creating it (and recording that in s) if it
// does not exist, and sets it up.
func ensureDummy(s *state, store stateStore) (netlink.Link, error) {
	l, err := netlink.LinkByName(DummyName)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
		s.CreatedLink = true
		if err := store.save(s); err != nil {
			return nil, err
		}
		if err := addDummy(); err != nil {
			return nil, err
		}
		if l, err = netlink.LinkByName(DummyName); err != nil {
			return nil, fmt.Errorf("find %s after creating it: %w", DummyName, err)
		}
	case err != nil:
		return nil, fmt.Errorf("find %s: %w", DummyName, err)
	case l.Type() != "dummy" && l.Type() != "ifb":
		return nil, fmt.Errorf("%s exists and is a %s interface, not dummy; vipd keeps VIP addresses on a dummy interface of that name: remove it with 'ip link del %s'", DummyName, l.Type(), DummyName)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return nil, fmt.Errorf("set %s up: %w", DummyName, err)
	}
	return l, nil
}

// addDummy creates vipd0 as a dummy interface or, on a kernel built
// without the dummy driver, as an ifb interface: both have no ARP, carry
// addresses when up and send nothing on any wire.
func addDummy() error {
	err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: DummyName}})
	if errors.Is(err, unix.EOPNOTSUPP) {
		err = netlink.LinkAdd(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: DummyName}})
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", DummyName, err)
	}
	return nil
}

// dummyAddrs returns the addresses on vipd0.
func dummyAddrs(l netlink.Link) (map[netip.Prefix]bool, error) {
	addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", DummyName, err)
	}
	out := map[netip.Prefix]bool{}
	for _, a := range addrs {
		if p, ok := ipNetPrefix(a.IPNet); ok {
			out[p] = true
		}
	}
	return out, nil
}

func ipNetPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// syncDummyAddrs makes vipd0 carry every address in want. Addresses vipd
// added (recorded in s) that are not wanted any more are removed; addresses
// someone else put on vipd0 are left alone. s is saved once with every
// address about to be added, before the first is, so a crash never leaves
// an address vipd added unrecorded (one save per address, each synced to
// disk, made a start with a thousand VIPs take seconds).
func syncDummyAddrs(l netlink.Link, want map[netip.Addr]bool, s *state, store stateStore) error {
	have, err := dummyAddrs(l)
	if err != nil {
		return err
	}
	var add []netip.Prefix
	for a := range want {
		if p := hostPrefix(a); !have[p] {
			add = append(add, p)
			s.addAddress(p.String())
		}
	}
	if len(add) > 0 {
		if err := store.save(s); err != nil {
			return err
		}
	}
	var errs []error
	for _, p := range add {
		a := p.Addr()
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())}}
		if a.Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(l, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("add %s to %s: %w", p, DummyName, err))
		}
	}
	for _, rec := range append([]string(nil), s.Addresses...) {
		p, err := netip.ParsePrefix(rec)
		if err != nil {
			s.dropAddress(rec)
			continue
		}
		if want[p.Addr()] {
			continue
		}
		if err := delDummyAddr(l, p, have[p]); err != nil {
			errs = append(errs, err)
			continue
		}
		s.dropAddress(rec)
	}
	if err := store.save(s); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func delDummyAddr(l netlink.Link, p netip.Prefix, present bool) error {
	if !present {
		return nil
	}
	a := p.Addr()
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())}}
	if err := netlink.AddrDel(l, addr); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("remove %s from %s: %w", p, DummyName, err)
	}
	return nil
}

// removeDummy removes the addresses vipd added, and vipd0 itself if vipd
// created it and nothing else is left on it.
func removeDummy(s *state, store stateStore) error {
	l, err := netlink.LinkByName(DummyName)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		s.Addresses, s.CreatedLink = nil, false
		return store.save(s)
	}
	if err != nil {
		return fmt.Errorf("find %s: %w", DummyName, err)
	}
	if err := syncDummyAddrs(l, nil, s, store); err != nil {
		return err
	}
	if s.CreatedLink {
		have, err := dummyAddrs(l)
		if err != nil {
			return err
		}
		if countGlobal(have) == 0 {
			if err := netlink.LinkDel(l); err != nil {
				return fmt.Errorf("remove %s: %w", DummyName, err)
			}
		}
		s.CreatedLink = false
	}
	return store.save(s)
}

// countGlobal ignores the IPv6 link-local address the kernel adds itself.
func countGlobal(have map[netip.Prefix]bool) int {
	n := 0
	for p := range have {
		if !p.Addr().IsLinkLocalUnicast() {
			n++
		}
	}
	return n
}
