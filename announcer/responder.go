package announcer

import (
	"context"
	"fmt"
	"golang.org/x/net/bpf"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// readErrorPause keeps a socket that keeps failing (its link is down, say)
// from spinning.
const readErrorPause = 100 * time.Millisecond

// frameConn is the part of *packet.Conn the responder uses.
type frameConn interface {
	ReadFrom(b []byte) (int, net.Addr, error)
	WriteTo(b []byte, addr net.Addr) (int, error)
	Close() error
}

// ndpConn is the part of *ndp.Conn the responder uses.
type ndpConn interface {
	ReadRaw(b []byte) (int, *ipv6.ControlMessage, netip.Addr, error)
	WriteTo(m ndp.Message, cm *ipv6.ControlMessage, dst netip.Addr) error
	JoinGroup(group netip.Addr) error
	LeaveGroup(group netip.Addr) error
	Close() error
}

// responder is the announcer on one managed link: it owns the link's
// sockets and their read loops, answers ARP requests and neighbor
// solicitations for the VIPs the book says it answers for, reports what it
// hears (conflicts, members answering), and sends what the claims and the
// prober ask it to.
type responder struct {
	name  string
	index int
	mac   net.HardwareAddr
	arp   frameConn // ARP in and out
	// arpFilter is the kernel filter on arp (arpfilter.go); nil: none yet.
	arpFilter []bpf.RawInstruction
	ndp       ndpConn   // nil when IPv6 is off on the host
	dad       frameConn // send-only: neighbor solicitations from :: (nil with ndp)

	book   *book
	events *limiter
	count  *counters
	log    *slog.Logger
	ctx    context.Context // ends on Close

	up atomic.Bool

	groupsMu sync.Mutex
	groups   map[netip.Addr]int // solicited-node groups joined, by VIPs using each

	sendFailing atomic.Bool    // a send failed and was logged; cleared by a success
	readFailing [2]atomic.Bool // likewise for the ARP and NDP reads
}

// newResponder builds a responder around conns that are already open;
// tests pass fakes.
func newResponder(ctx context.Context, ifi *net.Interface, arpc frameConn, ndpc ndpConn, dad frameConn, b *book, ev *limiter, count *counters, log *slog.Logger) *responder {
	r := &responder{
		name: ifi.Name, index: ifi.Index, mac: ifi.HardwareAddr,
		arp: arpc, ndp: ndpc, dad: dad,
		book: b, events: ev, count: count, log: log, ctx: ctx,
		groups: map[netip.Addr]int{},
	}
	r.up.Store(true)
	b.addOwn(r.mac)
	return r
}

// openResponder opens the sockets of one managed interface.
func openResponder(ctx context.Context, ifi *net.Interface, b *book, ev *limiter, count *counters, log *slog.Logger) (*responder, error) {
	arpc, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ARP, nil)
	if err != nil {
		return nil, fmt.Errorf("ARP socket on %s: %w", ifi.Name, err)
	}
	ndpc, dad, err := openNDP(ifi, log)
	if err != nil {
		arpc.Close()
		return nil, err
	}
	if ndpc == nil {
		return newResponder(ctx, ifi, arpc, nil, nil, b, ev, count, log), nil
	}
	return newResponder(ctx, ifi, arpc, ndpc, dad, b, ev, count, log), nil
}

// openNDP opens the ICMPv6 socket that reads solicitations and
// advertisements, and a send-only packet socket for probes from the
// unspecified address, which an ICMPv6 socket cannot send. With IPv6 off on
// the host it returns nil conns and logs why.
func openNDP(ifi *net.Interface, log *slog.Logger) (*ndp.Conn, *packet.Conn, error) {
	c, _, err := ndp.Listen(ifi, ndp.Unspecified)
	if err != nil {
		log.Warn("no IPv6 neighbor discovery on this interface; IPv6 VIPs will not be answered", "interface", ifi.Name, "err", err)
		return nil, nil, nil
	}
	var filter ipv6.ICMPFilter
	filter.SetAll(true)
	filter.Accept(ipv6.ICMPTypeNeighborSolicitation)
	filter.Accept(ipv6.ICMPTypeNeighborAdvertisement)
	if err := c.SetICMPFilter(&filter); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("NDP filter on %s: %w", ifi.Name, err)
	}
	if err := c.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagInterface, true); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("NDP control messages on %s: %w", ifi.Name, err)
	}
	// Protocol 0: the socket receives nothing, and the kernel reads each
	// frame's own EtherType when sending.
	dad, err := packet.Listen(ifi, packet.Raw, 0, nil)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("IPv6 probe socket on %s: %w", ifi.Name, err)
	}
	return c, dad, nil
}

// start runs the read loops on wg until Close.
func (r *responder) start(wg *sync.WaitGroup) {
	wg.Go(r.arpLoop)
	if r.ndp != nil {
		wg.Go(r.ndpLoop)
	}
}

// close ends the read loops.
func (r *responder) close() {
	r.arp.Close()
	if r.ndp != nil {
		r.ndp.Close()
		r.dad.Close()
	}
}

// arpLoop reads ARP frames until Close.
func (r *responder) arpLoop() {
	buf := make([]byte, 1514)
	for {
		n, _, err := r.arp.ReadFrom(buf)
		if err != nil {
			if !r.readFailed(0, "ARP", err) {
				return
			}
			continue
		}
		r.readOK(0)
		if reply := r.handleARP(buf[:n]); reply != nil {
			if r.sendFrame(r.arp, reply, net.HardwareAddr(reply[0:6])) {
				r.count.arpReplies.Add(1)
			}
		}
	}
}

// ndpLoop reads neighbor solicitations and advertisements until Close.
func (r *responder) ndpLoop() {
	buf := make([]byte, 1500)
	for {
		n, cm, src, err := r.ndp.ReadRaw(buf)
		if err != nil {
			if !r.readFailed(1, "NDP", err) {
				return
			}
			continue
		}
		r.readOK(1)
		hopLimit := -1
		if cm != nil {
			// The socket is bound to no interface: keep only what arrived here.
			if cm.IfIndex != 0 && cm.IfIndex != r.index {
				continue
			}
			hopLimit = cm.HopLimit
		}
		reply, ok := r.handleNDP(buf[:n], hopLimit, src)
		if !ok {
			continue
		}
		if err := r.ndp.WriteTo(reply.msg, r.naControl(reply.msg.TargetAddress), reply.dst); err != nil {
			r.sendFailed(err)
			continue
		}
		r.sendOK()
		r.count.naReplies.Add(1)
	}
}

// readFailed logs the first of a run of read errors and reports whether
// the loop should go on.
func (r *responder) readFailed(which int, what string, err error) bool {
	if r.ctx.Err() != nil {
		return false
	}
	if !r.readFailing[which].Swap(true) {
		r.log.Warn("reading on a managed interface fails; retrying", "socket", what, "interface", r.name, "err", err)
	}
	return sleepUntil(r.ctx, time.Now().Add(readErrorPause))
}

func (r *responder) readOK(which int) {
	if r.readFailing[which].Load() && r.readFailing[which].Swap(false) {
		r.log.Info("reading on a managed interface works again", "interface", r.name)
	}
}

// announce sends one gratuitous ARP or unsolicited NA for vip.
func (r *responder) announce(vip netip.Addr) {
	if vip.Is4() {
		if r.sendFrame(r.arp, gratuitousARP(r.mac, vip), ethBroadcast) {
			r.count.garpSent.Add(1)
		}
		return
	}
	if r.ndp == nil {
		return
	}
	if err := r.ndp.WriteTo(unsolicitedNA(r.mac, vip), r.naControl(vip), allNodes); err != nil {
		r.sendFailed(err)
		return
	}
	r.sendOK()
	r.count.naSent.Add(1)
}

// probe asks once who holds vip, claiming nothing (RFC 5227 and RFC 4862
// duplicate address detection): an ARP request from 0.0.0.0, or a neighbor
// solicitation from :: to vip's solicited-node group. Neighbours update no
// cache for either. A holder answers the ARP probe to this host's MAC and
// the solicitation to all nodes; the read loops hear both. It reports
// whether the probe went out.
func (r *responder) probe(vip netip.Addr) bool {
	if vip.Is4() {
		return r.sendFrame(r.arp, arpProbe(r.mac, vip), ethBroadcast)
	}
	if r.dad == nil {
		return false
	}
	frame, dst, err := dadSolicitation(r.mac, vip)
	if err != nil {
		return false
	}
	return r.sendFrame(r.dad, frame, dst)
}

// naControl sends an advertisement from the VIP itself, on this link, as
// the kernel does for its own addresses: some tools accept an answer only
// from the address they asked for.
func (r *responder) naControl(vip netip.Addr) *ipv6.ControlMessage {
	return &ipv6.ControlMessage{HopLimit: ndp.HopLimit, Src: vip.AsSlice(), IfIndex: r.index}
}

func (r *responder) sendFrame(c frameConn, frame []byte, dst net.HardwareAddr) bool {
	if _, err := c.WriteTo(frame, &packet.Addr{HardwareAddr: dst}); err != nil {
		r.sendFailed(err)
		return false
	}
	r.sendOK()
	return true
}

// sendFailed counts every failed send and logs the first of a run.
func (r *responder) sendFailed(err error) {
	if r.ctx.Err() != nil {
		return
	}
	r.count.sendErrors.Add(1)
	if !r.sendFailing.Swap(true) {
		r.log.Warn("sending on a managed interface fails; counting further failures in vipd_send_errors_total", "interface", r.name, "err", err)
	}
}

func (r *responder) sendOK() {
	if r.sendFailing.Load() && r.sendFailing.Swap(false) {
		r.log.Info("sending on a managed interface works again", "interface", r.name)
	}
}

// join joins the solicited-node group of vip, so that neighbor
// solicitations for it reach this host. Several VIPs may share a group.
func (r *responder) join(vip netip.Addr) error {
	if r.ndp == nil {
		return fmt.Errorf("VIP %s: no IPv6 neighbor discovery on %s", vip, r.name)
	}
	g, err := ndp.SolicitedNodeMulticast(vip)
	if err != nil {
		return err
	}
	r.groupsMu.Lock()
	defer r.groupsMu.Unlock()
	r.groups[g]++
	if r.groups[g] > 1 {
		return nil
	}
	if err := r.ndp.JoinGroup(g); err != nil {
		delete(r.groups, g)
		return fmt.Errorf("VIP %s: join %s on %s: %w", vip, g, r.name, err)
	}
	return nil
}

// leave undoes one join.
func (r *responder) leave(vip netip.Addr) {
	g, err := ndp.SolicitedNodeMulticast(vip)
	if err != nil || r.ndp == nil {
		return
	}
	r.groupsMu.Lock()
	defer r.groupsMu.Unlock()
	if r.groups[g] == 0 {
		return
	}
	r.groups[g]--
	if r.groups[g] > 0 {
		return
	}
	delete(r.groups, g)
	if err := r.ndp.LeaveGroup(g); err != nil {
		r.log.Warn("leaving a solicited-node group failed", "group", g, "interface", r.name, "err", err)
	}
}

// heard handles mac claiming vip on this link: a conflict if mac is foreign
// and vip managed, news if mac is another member's and vip owned or watched.
// member reports whether a member's claim counts here: replies and
// gratuitous packets do, a member's request with vip as sender does not.
func (r *responder) heard(vip netip.Addr, mac net.HardwareAddr, member bool) {
	v := r.book.judge(vip, mac)
	switch v.from {
	case senderForeign:
		if v.managed && r.events.raise(Event{Kind: ForeignMAC, VIP: vip, MAC: cloneMAC(mac), Interface: r.name}, conflictEvery) {
			r.count.conflicts.Add(1)
		}
	case senderMember:
		if member && v.interested && r.events.raise(Event{Kind: MemberAnswers, VIP: vip, MAC: cloneMAC(mac), Interface: r.name}, memberAnswersEvery) {
			r.count.memberAnswers.Add(1)
		}
	}
}

// probedBy handles an RFC 5227 probe for vip from mac: another member that
// probes a VIP this host owns holds it too and stands by, or is about to
// claim it.
func (r *responder) probedBy(vip netip.Addr, mac net.HardwareAddr) {
	v := r.book.judge(vip, mac)
	if v.from == senderMember && v.interested && r.events.raise(Event{Kind: MemberProbes, VIP: vip, MAC: cloneMAC(mac), Interface: r.name}, memberAnswersEvery) {
		r.count.memberProbes.Add(1)
	}
}

func sleepUntil(ctx context.Context, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func cloneMAC(b []byte) net.HardwareAddr { return net.HardwareAddr(append([]byte(nil), b...)) }

func macEqual(x, y net.HardwareAddr) bool { return string(x) == string(y) }
