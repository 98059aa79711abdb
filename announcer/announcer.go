package announcer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/vipd/vipd/config"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// ErrClosed is returned by Apply and Manage after Close.
var ErrClosed = errors.New("announcer: closed")

// Announcer answers ARP and NDP for the VIPs this host owns on the managed
// interfaces, keeps every VIP on vipd0, tunes the kernel and watches for
// conflicts. Its methods are safe for concurrent use.
type Announcer struct {
	opts   Options
	log    *slog.Logger
	count  counters
	events chan Event

	applyMu sync.Mutex // serialises Apply, Manage and Close
	st      *state     // guarded by applyMu
	store   stateStore
	tuner   *tuner
	dummy   netlink.Link

	mu           sync.RWMutex
	links        map[string]*link
	managed      map[netip.Addr]string // every VIP -> its interface
	owned        map[netip.Addr]*claim
	members      map[string]bool // cluster MACs, as strings of bytes
	lastConflict map[string]time.Time
	closed       bool

	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	done   chan struct{} // closed on Close, ends netlink subscriptions
	wg     sync.WaitGroup
}

// link is one managed interface with its two sockets.
type link struct {
	name  string
	index int
	mac   net.HardwareAddr
	arp   frameConn
	ndp   ndpConn // nil when IPv6 is off on the host
	// Guarded by Announcer.mu:
	groups map[netip.Addr]int // solicited-node groups joined, by VIPs using each
	up     bool
}

// frameConn is the part of *packet.Conn the ARP responder uses.
type frameConn interface {
	ReadFrom(b []byte) (int, net.Addr, error)
	WriteTo(b []byte, addr net.Addr) (int, error)
	Close() error
}

// ndpConn is the part of *ndp.Conn the NDP responder uses.
type ndpConn interface {
	ReadRaw(b []byte) (int, *ipv6.ControlMessage, netip.Addr, error)
	WriteTo(m ndp.Message, cm *ipv6.ControlMessage, dst netip.Addr) error
	JoinGroup(group netip.Addr) error
	LeaveGroup(group netip.Addr) error
	Close() error
}

// claim is a VIP this host answers for, with its announcing goroutine.
type claim struct {
	vip    netip.Addr
	link   *link
	cancel context.CancelFunc
}

// New tunes the managed interfaces (recording the original values first),
// puts the VIP addresses on vipd0, opens the responders and starts the
// conflict watch. It answers for nothing until Apply. Close undoes it all.
func New(opts Options) (*Announcer, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	a := newAnnouncer(opts)
	if err := a.start(); err != nil {
		if cerr := a.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("undo after failed start: %w", cerr))
		}
		return nil, err
	}
	return a, nil
}

// newAnnouncer builds the in-memory part, with no socket and no change to
// the host; unit tests drive the packet handlers through it.
func newAnnouncer(opts Options) *Announcer {
	ctx, cancel := context.WithCancel(context.Background())
	store := stateStore{dir: opts.StateDir}
	a := &Announcer{
		opts:         opts,
		log:          opts.Logger,
		events:       make(chan Event, eventBuffer),
		store:        store,
		tuner:        &tuner{sysctlRoot: defaultSysctlRoot, bridges: netlinkBridges{sysRoot: defaultSysRoot}, store: store},
		links:        map[string]*link{},
		managed:      map[netip.Addr]string{},
		owned:        map[netip.Addr]*claim{},
		members:      map[string]bool{},
		lastConflict: map[string]time.Time{},
		ctx:          ctx,
		cancel:       cancel,
		done:         make(chan struct{}),
	}
	for _, v := range opts.VIPs {
		a.managed[v.Address.Addr()] = v.Interface
	}
	return a
}

func (a *Announcer) start() error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	st, err := a.store.load()
	if err != nil {
		return err
	}
	a.st = st
	ifis := map[string]*net.Interface{}
	for _, ifc := range a.opts.Interfaces {
		ifi, err := net.InterfaceByName(ifc.Name)
		if err != nil {
			return fmt.Errorf("managed interface %s: %w", ifc.Name, err)
		}
		if len(ifi.HardwareAddr) != 6 {
			return fmt.Errorf("managed interface %s has no Ethernet address", ifc.Name)
		}
		ifis[ifc.Name] = ifi
	}
	if err := a.checkVIPInterfaces(a.managed); err != nil {
		return err
	}
	if err := a.tuner.tune(a.st, a.opts.Interfaces); err != nil {
		return err
	}
	if a.dummy, err = ensureDummy(a.st, a.store); err != nil {
		return err
	}
	if err := a.syncAddrs(); err != nil {
		return err
	}
	for _, ifc := range a.opts.Interfaces {
		l, err := a.openLink(ifis[ifc.Name])
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.links[l.name] = l
		a.members[string(l.mac)] = true
		a.mu.Unlock()
		a.wg.Go(func() { a.arpLoop(l) })
		if l.ndp != nil {
			a.wg.Go(func() { a.ndpLoop(l) })
		}
	}
	return a.watch()
}

func (a *Announcer) checkVIPInterfaces(vips map[netip.Addr]string) error {
	for vip, ifc := range vips {
		if !slices.ContainsFunc(a.opts.Interfaces, func(i Interface) bool { return i.Name == ifc }) {
			return fmt.Errorf("VIP %s is on interface %q, which is not managed", vip, ifc)
		}
	}
	return nil
}

func (a *Announcer) openLink(ifi *net.Interface) (*link, error) {
	l := &link{name: ifi.Name, index: ifi.Index, mac: ifi.HardwareAddr, groups: map[netip.Addr]int{}, up: true}
	arpConn, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ARP, nil)
	if err != nil {
		return nil, fmt.Errorf("ARP socket on %s: %w", ifi.Name, err)
	}
	l.arp = arpConn
	ndpConn, _, err := ndp.Listen(ifi, ndp.Unspecified)
	if err != nil {
		a.log.Warn("no IPv6 neighbor discovery on this interface; IPv6 VIPs will not be answered", "interface", ifi.Name, "err", err)
		return l, nil
	}
	var filter ipv6.ICMPFilter
	filter.SetAll(true)
	filter.Accept(ipv6.ICMPTypeNeighborSolicitation)
	filter.Accept(ipv6.ICMPTypeNeighborAdvertisement)
	if err := ndpConn.SetICMPFilter(&filter); err != nil {
		ndpConn.Close()
		arpConn.Close()
		return nil, fmt.Errorf("NDP filter on %s: %w", ifi.Name, err)
	}
	if err := ndpConn.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagInterface, true); err != nil {
		ndpConn.Close()
		arpConn.Close()
		return nil, fmt.Errorf("NDP control messages on %s: %w", ifi.Name, err)
	}
	l.ndp = ndpConn
	return l, nil
}

// syncAddrs puts every managed VIP on vipd0. Called with applyMu held.
func (a *Announcer) syncAddrs() error {
	a.mu.RLock()
	want := map[netip.Addr]bool{}
	for vip := range a.managed {
		want[vip] = true
	}
	a.mu.RUnlock()
	return syncDummyAddrs(a.dummy, want, a.st, a.store)
}

// Manage replaces the set of managed VIPs after a config reload: addresses
// on vipd0 follow, and the conflict watch covers the new set. Owned VIPs
// no longer in the set stay answered until the next Apply drops them.
func (a *Announcer) Manage(vips []config.VIP) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	managed := map[netip.Addr]string{}
	for _, v := range vips {
		managed[v.Address.Addr()] = v.Interface
	}
	if err := a.checkVIPInterfaces(managed); err != nil {
		return err
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	for vip, c := range a.owned {
		managed[vip] = c.link.name
	}
	a.managed = managed
	a.mu.Unlock()
	if err := a.syncAddrs(); err != nil {
		return err
	}
	return a.scanAddrs()
}

// Apply makes this host answer for exactly owned: VIPs it stops owning are
// no longer answered when Apply returns; VIPs it starts owning get a burst
// of gratuitous ARPs / unsolicited NAs, then a refresh. fresh names owned
// VIPs that no host has held: before claiming those, Apply probes for a
// foreign holder for up to ProbeWait (a holder raises a ForeignMAC event;
// the VIP is claimed anyway, so that status shows the conflict rather than
// a silent VIP). Other claims, such as failover takeovers, are not delayed.
// Apply is idempotent.
func (a *Announcer) Apply(ctx context.Context, owned []config.VIP, fresh []string) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	want := map[netip.Addr]string{}
	isFresh := map[netip.Addr]bool{}
	for _, v := range owned {
		want[v.Address.Addr()] = v.Interface
		if slices.Contains(fresh, v.Name) {
			isFresh[v.Address.Addr()] = true
		}
	}
	if err := a.checkVIPInterfaces(want); err != nil {
		return err
	}

	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	newManaged := false
	for vip, ifc := range want {
		if _, ok := a.managed[vip]; !ok {
			newManaged = true
		}
		a.managed[vip] = ifc
	}
	var gone []*claim
	for vip, c := range a.owned {
		if ifc, ok := want[vip]; !ok || ifc != c.link.name {
			delete(a.owned, vip) // from here on, nobody answers for it
			gone = append(gone, c)
		}
	}
	a.mu.Unlock()
	for _, c := range gone {
		a.release(c)
	}
	var errs []error
	if newManaged {
		errs = append(errs, a.syncAddrs())
	}

	var probing []netip.Addr
	for vip, ifc := range want {
		if a.isOwned(vip) {
			continue
		}
		if isFresh[vip] {
			probing = append(probing, vip)
			continue
		}
		errs = append(errs, a.claim(vip, ifc))
	}
	if len(probing) > 0 {
		a.probe(ctx, probing, want)
		for _, vip := range probing {
			errs = append(errs, a.claim(vip, want[vip]))
		}
	}
	return errors.Join(errs...)
}

func (a *Announcer) isOwned(vip netip.Addr) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.owned[vip] != nil
}

// claim starts answering for vip on interface ifc and announcing it.
func (a *Announcer) claim(vip netip.Addr, ifc string) error {
	a.mu.Lock()
	l := a.links[ifc]
	if l == nil {
		a.mu.Unlock()
		return fmt.Errorf("VIP %s: interface %s is not open", vip, ifc)
	}
	ctx, cancel := context.WithCancel(a.ctx)
	c := &claim{vip: vip, link: l, cancel: cancel}
	a.owned[vip] = c
	var err error
	if vip.Is6() {
		err = a.joinLocked(l, vip)
	}
	a.mu.Unlock()
	a.wg.Go(func() { a.announceLoop(ctx, c) })
	return err
}

// release stops announcing a VIP that is no longer owned.
func (a *Announcer) release(c *claim) {
	c.cancel()
	if c.vip.Is6() {
		a.mu.Lock()
		a.leaveLocked(c.link, c.vip)
		a.mu.Unlock()
	}
}

// joinLocked joins the solicited-node group of vip on l, so that neighbor
// solicitations for it reach this host. Several VIPs may share a group.
func (a *Announcer) joinLocked(l *link, vip netip.Addr) error {
	if l.ndp == nil {
		return fmt.Errorf("VIP %s: no IPv6 neighbor discovery on %s", vip, l.name)
	}
	g, err := ndp.SolicitedNodeMulticast(vip)
	if err != nil {
		return err
	}
	l.groups[g]++
	if l.groups[g] > 1 {
		return nil
	}
	if err := l.ndp.JoinGroup(g); err != nil {
		delete(l.groups, g)
		return fmt.Errorf("VIP %s: join %s on %s: %w", vip, g, l.name, err)
	}
	return nil
}

func (a *Announcer) leaveLocked(l *link, vip netip.Addr) {
	g, err := ndp.SolicitedNodeMulticast(vip)
	if err != nil || l.groups[g] == 0 {
		return
	}
	l.groups[g]--
	if l.groups[g] > 0 {
		return
	}
	delete(l.groups, g)
	if err := l.ndp.LeaveGroup(g); err != nil {
		a.log.Warn("leaving a solicited-node group failed", "group", g, "interface", l.name, "err", err)
	}
}

// announceLoop sends the takeover burst, then refreshes until the claim ends.
func (a *Announcer) announceLoop(ctx context.Context, c *claim) {
	start := time.Now()
	for _, at := range a.opts.Burst {
		if !sleepUntil(ctx, start.Add(at)) {
			return
		}
		a.announce(c)
	}
	if a.opts.Refresh <= 0 {
		return
	}
	t := time.NewTicker(a.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.announce(c)
			// Keep looking for a foreign holder while holding the VIP: a
			// host that does not announce is found only by asking.
			a.probeOne(c.link, c.vip)
		}
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

// announce sends one gratuitous ARP or unsolicited NA for c.
func (a *Announcer) announce(c *claim) {
	l := c.link
	if c.vip.Is4() {
		if a.sendFrame(l, gratuitousARP(l.mac, c.vip).marshal(), broadcastMAC) {
			a.count.garpSent.Add(1)
		}
		return
	}
	if l.ndp == nil {
		return
	}
	if err := l.ndp.WriteTo(unsolicitedNA(l.mac, c.vip), naControl(l, c.vip), allNodes); err != nil {
		a.sendFailed(l, err)
		return
	}
	a.count.naSent.Add(1)
}

// naControl sends an advertisement from the VIP itself, on l, as the
// kernel does for its own addresses: some tools accept an answer only from
// the address they asked for.
func naControl(l *link, vip netip.Addr) *ipv6.ControlMessage {
	return &ipv6.ControlMessage{HopLimit: ndp.HopLimit, Src: vip.AsSlice(), IfIndex: l.index}
}

func (a *Announcer) sendFrame(l *link, frame []byte, dst net.HardwareAddr) bool {
	if _, err := l.arp.WriteTo(frame, &packet.Addr{HardwareAddr: dst}); err != nil {
		a.sendFailed(l, err)
		return false
	}
	return true
}

func (a *Announcer) sendFailed(l *link, err error) {
	if a.ctx.Err() != nil {
		return
	}
	if a.count.sendErrors.Add(1)%100 == 1 {
		a.log.Warn("sending on a managed interface failed", "interface", l.name, "err", err)
	}
}

// probe asks who holds each VIP and waits up to ProbeWait (or ctx) for
// answers, which the readers turn into conflict events.
func (a *Announcer) probe(ctx context.Context, vips []netip.Addr, ifcs map[netip.Addr]string) {
	send := func() {
		for _, vip := range vips {
			a.mu.RLock()
			l := a.links[ifcs[vip]]
			a.mu.RUnlock()
			if l != nil {
				a.probeOne(l, vip)
			}
		}
	}
	start := time.Now()
	send()
	if sleepUntil(ctx, start.Add(a.opts.ProbeWait/2)) {
		send()
		sleepUntil(ctx, start.Add(a.opts.ProbeWait))
	}
}

// probeOne asks once who holds vip on l: an ARP probe (sender 0.0.0.0) or
// a neighbor solicitation. A foreign holder's answer is a conflict; cluster
// members do not answer, as only the owner's responder answers and the owner
// ignores its own packets.
func (a *Announcer) probeOne(l *link, vip netip.Addr) {
	if vip.Is4() {
		if a.sendFrame(l, arpProbe(l.mac, vip).marshal(), broadcastMAC) {
			a.count.probesSent.Add(1)
		}
		return
	}
	if l.ndp == nil {
		return
	}
	g, err := ndp.SolicitedNodeMulticast(vip)
	if err != nil {
		return
	}
	if err := l.ndp.WriteTo(solicitation(l.mac, vip), nil, g); err != nil {
		a.sendFailed(l, err)
		return
	}
	a.count.probesSent.Add(1)
}

// answers reports whether this host answers for vip on l right now.
func (a *Announcer) answers(l *link, vip netip.Addr) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	c := a.owned[vip]
	return c != nil && c.link == l
}

func (a *Announcer) isManaged(vip netip.Addr) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	_, ok := a.managed[vip]
	return ok
}

func (a *Announcer) isMemberMAC(mac net.HardwareAddr) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.members[string(mac)]
}

// SetClusterMACs sets the MACs of every cluster member's managed interfaces:
// packets from these never count as conflicts. This host's own MACs are
// always included.
func (a *Announcer) SetClusterMACs(macs []net.HardwareAddr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.members = map[string]bool{}
	for _, m := range macs {
		a.members[string(m)] = true
	}
	for _, l := range a.links {
		a.members[string(l.mac)] = true
	}
}

// MACs returns the hardware addresses of the managed interfaces, for the
// agent to gossip.
func (a *Announcer) MACs() []net.HardwareAddr {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []net.HardwareAddr
	for _, ifc := range a.opts.Interfaces {
		if l := a.links[ifc.Name]; l != nil {
			out = append(out, slices.Clone(l.mac))
		}
	}
	return out
}

// Events reports conflicts and link changes. It is never closed; events
// are dropped (and counted) when nobody reads them.
func (a *Announcer) Events() <-chan Event { return a.events }

// Counters returns the running totals.
func (a *Announcer) Counters() Counters { return a.count.snapshot() }

// conflict emits a conflict event unless the same one went out within
// conflictEvery.
func (a *Announcer) conflict(ev Event) {
	key := fmt.Sprint(ev.Kind, ev.VIP, ev.MAC, ev.Interface)
	now := time.Now()
	a.mu.Lock()
	if last, ok := a.lastConflict[key]; ok && now.Sub(last) < conflictEvery {
		a.mu.Unlock()
		return
	}
	if len(a.lastConflict) >= maxConflictKeys {
		// Spoofed packets with ever new MACs must not grow this without bound.
		for k, at := range a.lastConflict {
			if now.Sub(at) >= conflictEvery {
				delete(a.lastConflict, k)
			}
		}
	}
	a.lastConflict[key] = now
	a.mu.Unlock()
	a.count.conflicts.Add(1)
	ev.At = now
	a.emit(ev)
}

func (a *Announcer) emit(ev Event) {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	select {
	case a.events <- ev:
	default:
		a.count.eventsDropped.Add(1)
	}
}

// Close stops answering at once, ends every goroutine, removes the
// addresses vipd added to vipd0 and restores every kernel setting recorded
// in the state directory, this run's and those of a run that crashed.
func (a *Announcer) Close() error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.owned = map[netip.Addr]*claim{}
	links := a.links
	a.mu.Unlock()

	a.cancel()
	close(a.done)
	for _, l := range links {
		l.arp.Close()
		if l.ndp != nil {
			l.ndp.Close()
		}
	}
	a.wg.Wait()

	if a.st == nil {
		return nil // failed before reading the state: nothing was changed
	}
	var errs []error
	if err := removeDummy(a.st, a.store); err != nil {
		errs = append(errs, err)
	}
	if err := a.tuner.restore(a.st); err != nil {
		errs = append(errs, err)
	}
	if err := a.store.save(a.st); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func contextWithCancel(a *Announcer) (context.Context, context.CancelFunc) {
	return context.WithCancel(a.ctx)
}
