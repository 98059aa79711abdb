// Package announcer is the only part of vipd that touches the wire and the
// kernel. It keeps every managed VIP address on the dummy interface vipd0,
// answers ARP requests and IPv6 neighbor solicitations in userspace for the
// VIPs this host owns, sends gratuitous ARPs and unsolicited neighbor
// advertisements when it takes a VIP over, tunes arp_ignore, arp_announce,
// rp_filter and bridge-port flags on the managed interfaces (recording every
// original value in the state directory and restoring it on Close, or on the
// next Close after a crash), and watches for conflicts: another MAC claiming a
// VIP, or a VIP address put on an interface other than vipd0.
//
// It decides nothing: the agent tells it which VIPs this host owns with Apply.
//
// Why userspace: the VIP addresses sit on vipd0 on every host, so that HAProxy
// or nginx can bind them at all times. With arp_ignore=1 on the managed
// interface no kernel answers ARP for them (the address is not on the
// interface the request came in on), and the kernel never answers neighbor
// solicitations for an address on another interface, so the only answer on
// the wire comes from the owner's responder.
package announcer
