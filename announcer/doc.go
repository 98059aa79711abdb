// Package announcer is the only part of vipd that touches the wire and the
// kernel. It keeps every managed VIP address on the dummy interface vipd0,
// answers ARP requests and IPv6 neighbor solicitations in userspace for the
// VIPs this host owns, sends gratuitous ARPs and unsolicited neighbor
// advertisements when it takes a VIP over, tunes arp_ignore, arp_announce and
// rp_filter on the managed interfaces (recording every original value in the
// state directory and restoring it on Close, or on the next Close after a
// crash), and watches for conflicts: another MAC claiming a VIP, or a VIP
// address put on an interface other than vipd0. It leaves bridge-port flags
// alone (proxy_arp and hairpin on a LAN-facing port break the VIP; vipctl
// doctor names them), and only restores those an older vipd recorded.
//
// It also hears splits: another cluster member's MAC answering for a VIP
// this host owns or watches raises MemberAnswers, and its ARP probe for one
// raises MemberProbes (it holds the VIP too and stands by). To hear it when no client
// asks, every owned and watched VIP is probed (RFC 5227 ARP probes from
// 0.0.0.0, neighbor solicitations from :: as in duplicate address detection)
// at a bounded rate per link; see probeSchedule.
//
// It decides nothing: the agent tells it which VIPs this host owns with Apply
// and which it watches with Watch.
//
// Layout, one job per file:
//
//   - announcer.go: Announcer composes the parts below; New, Apply, Watch,
//     Manage, Close.
//   - responder.go: one per managed link: its sockets, read loops and sends;
//     arp.go and ndp.go hold its packet handlers and the packets it builds
//     (ARP with github.com/mdlayher/arp and github.com/mdlayher/ethernet).
//   - book.go: who is who, read on every packet: managed, owned and watched
//     VIPs, who answers each, this host's and the members' MACs.
//   - claims.go: the VIPs answered, each with its burst and refresh loop.
//   - prober.go: one per link: the probe pace and its single timer.
//   - limiter.go: events rate-limited per kind, VIP and MAC, never blocking.
//   - netwatch.go: the netlink watch of addresses and links.
//   - vipaddr.go, tuning.go, state.go: vipd0, the kernel tuning and the
//     record that restores both.
//   - metrics.go: the counters as a Prometheus collector.
//   - bgp.go, bgp_status.go: Speaker, the BGP announcer: its routes, their
//     takeover and steady AS paths, and their addresses on vipd0.
//     bgp_helper.go runs GoBGP's side in the helper process vipd-bgp
//     (packages bgpwire, what the two say, and bgpd, the helper), so the
//     daemon does not link GoBGP; bgp_mux.go puts both announcers behind one.
//
// Why userspace: the VIP addresses sit on vipd0 on every host, so that HAProxy
// or nginx can bind them at all times. With arp_ignore=1 on the managed
// interface no kernel answers ARP for them (the address is not on the
// interface the request came in on), and the kernel never answers neighbor
// solicitations for an address on another interface, so the only answer on
// the wire comes from the owner's responder.
package announcer
