package announcer

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// watch subscribes to address and link changes. The subscriptions end when
// a.done is closed; their goroutines end once the channels are drained.
func (a *Announcer) watch() error {
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
	if !a.isManaged(vip) {
		return
	}
	name := fmt.Sprintf("ifindex %d", linkIndex)
	if l, err := netlink.LinkByIndex(linkIndex); err == nil {
		name = l.Attrs().Name
	}
	a.conflict(Event{Kind: ForeignAddress, VIP: vip, Interface: name})
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
	a.mu.Lock()
	l := a.links[attrs.Name]
	if l == nil || l.index != attrs.Index || l.up == up {
		a.mu.Unlock()
		return
	}
	l.up = up
	var again []*claim
	if up {
		for _, c := range a.owned {
			if c.link == l {
				again = append(again, c)
			}
		}
	}
	a.mu.Unlock()
	if !up {
		a.emit(Event{Kind: LinkDown, Interface: l.name})
		return
	}
	a.emit(Event{Kind: LinkUp, Interface: l.name})
	// Neighbours may have forgotten this host while the link was down:
	// announce every VIP it owns there again.
	for _, c := range again {
		a.restartAnnouncing(c)
	}
}

// restartAnnouncing replaces c's announcing goroutine with a fresh burst.
func (a *Announcer) restartAnnouncing(old *claim) {
	a.mu.Lock()
	if a.owned[old.vip] != old || a.closed {
		a.mu.Unlock()
		return
	}
	old.cancel()
	ctx, cancel := contextWithCancel(a)
	c := &claim{vip: old.vip, link: old.link, cancel: cancel}
	a.owned[old.vip] = c
	a.mu.Unlock()
	a.wg.Go(func() { a.announceLoop(ctx, c) })
}
