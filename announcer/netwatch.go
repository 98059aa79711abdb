package announcer

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// watchKernel subscribes to address and link changes. The subscriptions end when
// a.done is closed; their goroutines end once the channels are drained.
func (a *Announcer) watchKernel() error {
	addrs := make(chan netlink.AddrUpdate, 64)
	err := netlink.AddrSubscribeWithOptions(addrs, a.done, netlink.AddrSubscribeOptions{
		ListExisting:  true, // the initial scan
		ErrorCallback: a.watchError,
	})
	if err != nil {
		return fmt.Errorf("watch addresses: %w", err)
	}
	a.wg.Go(func() {
		for u := range addrs {
			a.addrUpdate(u)
		}
	})
	links := make(chan netlink.LinkUpdate, 64)
	err = netlink.LinkSubscribeWithOptions(links, a.done, netlink.LinkSubscribeOptions{
		ListExisting:  true,
		ErrorCallback: a.watchError,
	})
	if err != nil {
		return fmt.Errorf("watch links: %w", err)
	}
	a.wg.Go(func() {
		for u := range links {
			a.linkUpdate(u)
		}
	})
	return nil
}

func (a *Announcer) watchError(err error) {
	if a.ctx.Err() == nil {
		a.log.Warn("netlink watch", "err", err)
	}
}

func (a *Announcer) addrUpdate(u netlink.AddrUpdate) {
	if !u.NewAddr {
		return
	}
	p, ok := ipNetPrefix(&u.LinkAddress)
	if !ok {
		return
	}
	a.foreignAddress(p.Addr(), u.LinkIndex)
}

// foreignAddress raises a conflict if vip is managed and on an interface
// other than vipd0.
func (a *Announcer) foreignAddress(vip netip.Addr, linkIndex int) {
	if a.dummy != nil && linkIndex == a.dummy.Attrs().Index {
		return
	}
	if !a.book.isManaged(vip) {
		return
	}
	name := fmt.Sprintf("ifindex %d", linkIndex)
	if l, err := netlink.LinkByIndex(linkIndex); err == nil {
		name = l.Attrs().Name
	}
	if a.events.raise(Event{Kind: ForeignAddress, VIP: vip, Interface: name}, conflictEvery) {
		a.count.conflicts.Add(1)
	}
}

// scanAddrs looks for managed VIPs on other interfaces now.
func (a *Announcer) scanAddrs() error {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	for _, ad := range addrs {
		if p, ok := ipNetPrefix(ad.IPNet); ok {
			a.foreignAddress(p.Addr(), ad.LinkIndex)
		}
	}
	return nil
}

func (a *Announcer) linkUpdate(u netlink.LinkUpdate) {
	attrs := u.Link.Attrs()
	up := attrs.OperState == netlink.OperUp ||
		(attrs.OperState == netlink.OperUnknown && attrs.Flags&net.FlagUp != 0)
	r := a.responders[attrs.Name] // not written after the watch starts
	if r == nil || r.index != attrs.Index || r.up.Swap(up) == up {
		return
	}
	if !up {
		a.events.emit(Event{Kind: LinkDown, Interface: r.name})
		return
	}
	a.events.emit(Event{Kind: LinkUp, Interface: r.name})
	// Neighbours may have forgotten this host while the link was down:
	// announce every VIP it owns there again.
	a.claims.reannounce(r)
}
