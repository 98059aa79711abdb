package announcer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vishvananda/netlink"
)

// ErrClosed is returned by Apply and Manage after Close.
var ErrClosed = errors.New("announcer: closed")

// Announcer answers ARP and NDP for the VIPs this host owns on the managed
// interfaces, keeps every VIP on vipd0, tunes the kernel and watches for
// conflicts and for other members answering. It composes one responder and
// one prober per link, the claims, the book they share and the event
// limiter. Its methods are safe for concurrent use.
type Announcer struct {
	opts  Options
	log   *slog.Logger
	count counters

	book   *book
	claims *claims
	events *limiter

	applyMu    sync.Mutex // serialises Apply, Manage, Watch and Close
	st         *state     // guarded by applyMu
	store      stateStore
	tuner      *tuner
	dummy      netlink.Link
	responders map[string]*responder // written before the loops start
	probers    map[string]*prober
	closed     bool // guarded by applyMu

	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	done   chan struct{} // closed on Close, ends netlink subscriptions
	wg     sync.WaitGroup
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
// the host; unit tests add responders with fake connections.
func newAnnouncer(opts Options) *Announcer {
	ctx, cancel := context.WithCancel(context.Background())
	store := stateStore{dir: opts.StateDir}
	a := &Announcer{
		opts:       opts,
		log:        opts.Logger,
		book:       newBook(),
		store:      store,
		tuner:      &tuner{sysctlRoot: defaultSysctlRoot, bridges: netlinkBridges{}, store: store},
		responders: map[string]*responder{},
		probers:    map[string]*prober{},
		ctx:        ctx,
		cancel:     cancel,
		done:       make(chan struct{}),
	}
	a.events = newLimiter(opts.clock.Now, &a.count.eventsDrop)
	a.claims = newClaims(ctx, &a.wg, a.book, opts.Burst, opts.Refresh)
	for _, v := range opts.VIPs {
		a.book.managed[v.Address.Addr()] = v.Interface
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
	if err := a.checkVIPInterfaces(a.managedCopy()); err != nil {
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
		r, err := openResponder(a.ctx, ifis[ifc.Name], a.book, a.events, &a.count, a.log)
		if err != nil {
			return err
		}
		a.addResponder(r)
	}
	return a.watchKernel()
}

// addResponder starts a link's read loops and its prober.
func (a *Announcer) addResponder(r *responder) {
	a.responders[r.name] = r
	p := newProber(a.opts.clock, a.opts.ProbeRate, r.probe, func() { a.count.splitProbes.Add(1) })
	a.probers[r.name] = p
	r.start(&a.wg)
	a.wg.Go(func() { p.run(a.ctx) })
}

func (a *Announcer) checkVIPInterfaces(vips map[netip.Addr]string) error {
	for vip, ifc := range vips {
		if !slices.ContainsFunc(a.opts.Interfaces, func(i Interface) bool { return i.Name == ifc }) {
			return fmt.Errorf("VIP %s is on interface %q, which is not managed", vip, ifc)
		}
	}
	return nil
}

func (a *Announcer) managedCopy() map[netip.Addr]string {
	a.book.mu.RLock()
	defer a.book.mu.RUnlock()
	return maps.Clone(a.book.managed)
}

// syncAddrs puts every managed VIP on vipd0. Called with applyMu held.
func (a *Announcer) syncAddrs() error {
	want := map[netip.Addr]bool{}
	for vip := range a.managedCopy() {
		want[vip] = true
	}
	return syncDummyAddrs(a.dummy, want, a.st, a.store)
}

// Manage replaces the set of managed VIPs after a config reload: addresses
// on vipd0 follow, and the conflict watch covers the new set. Owned VIPs
// no longer in the set stay answered until the next Apply drops them.
func (a *Announcer) Manage(vips []config.VIP) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	if a.closed {
		return ErrClosed
	}
	managed := vipInterfaces(vips)
	if err := a.checkVIPInterfaces(managed); err != nil {
		return err
	}
	a.book.mu.Lock()
	for vip, r := range a.book.answering {
		managed[vip] = r.name
	}
	a.book.managed = managed
	a.book.mu.Unlock()
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
// Owned VIPs that are also watched (see Watch) are probed at a bounded rate
// (see probeSchedule), and another member answering for one raises
// MemberAnswers. Apply is idempotent.
func (a *Announcer) Apply(ctx context.Context, owned []config.VIP, fresh []string) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	if a.closed {
		return ErrClosed
	}
	want := vipInterfaces(owned)
	isFresh := map[netip.Addr]bool{}
	for _, v := range owned {
		if slices.Contains(fresh, v.Name) {
			isFresh[v.Address.Addr()] = true
		}
	}
	if err := a.checkVIPInterfaces(want); err != nil {
		return err
	}
	a.book.mu.Lock()
	newManaged := false
	for vip, ifc := range want {
		if _, ok := a.book.managed[vip]; !ok {
			newManaged = true
		}
		a.book.managed[vip] = ifc
	}
	a.book.owned = want
	a.book.mu.Unlock()
	a.claims.keepOnly(want)
	a.updateProbers()

	var errs []error
	if newManaged {
		errs = append(errs, a.syncAddrs())
	}
	var probing []netip.Addr
	for vip, ifc := range want {
		r := a.responders[ifc]
		if r == nil {
			errs = append(errs, fmt.Errorf("VIP %s: interface %s is not open", vip, ifc))
			continue
		}
		if a.claims.has(vip, r) {
			continue
		}
		if isFresh[vip] {
			probing = append(probing, vip)
			continue
		}
		errs = append(errs, a.claims.add(vip, r))
	}
	if len(probing) > 0 {
		a.probeBeforeClaim(ctx, probing, want)
		for _, vip := range probing {
			errs = append(errs, a.claims.add(vip, a.responders[want[vip]]))
		}
	}
	return errors.Join(errs...)
}

// Watch replaces the set of VIPs this host probes, to hear another member
// answer for them: a member answering for one raises MemberAnswers. A VIP
// this host does not answer for is probed every watchedProbeEvery (250 ms)
// while there are few, to hear whether the member that holds it still
// answers; one it owns every ownedProbeEvery (1 s), to hear a member that
// claims it too. Owned VIPs that are not watched are not probed: they are
// announced by the takeover burst and the refresh only. VIPs on interfaces
// that are not managed are ignored.
func (a *Announcer) Watch(vips []config.VIP) {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	if a.closed {
		return
	}
	watched := vipInterfaces(vips)
	for vip, ifc := range watched {
		if a.responders[ifc] == nil {
			a.log.Debug("not watching a VIP on an interface that is not managed", "vip", vip, "interface", ifc)
			delete(watched, vip)
		}
	}
	a.book.mu.Lock()
	a.book.watched = watched
	a.book.mu.Unlock()
	a.updateProbers()
}

// updateProbers gives every link's prober the watched VIPs, split into
// those this host owns and the others, and every link's ARP filter the VIPs
// it owns or watches. Called with applyMu held.
func (a *Announcer) updateProbers() {
	owned, watched := map[string][]netip.Addr{}, map[string][]netip.Addr{}
	interest := map[string][]netip.Addr{}
	a.book.mu.RLock()
	for vip, ifc := range a.book.watched {
		if _, ok := a.book.owned[vip]; ok {
			owned[ifc] = append(owned[ifc], vip)
		} else {
			watched[ifc] = append(watched[ifc], vip)
		}
		interest[ifc] = append(interest[ifc], vip)
	}
	for vip, ifc := range a.book.owned {
		interest[ifc] = append(interest[ifc], vip)
	}
	members := a.book.memberMACs()
	a.book.mu.RUnlock()
	for name, r := range a.responders {
		r.setARPFilter(interest[name], members)
	}
	for name, p := range a.probers {
		o, w := owned[name], watched[name]
		slices.SortFunc(o, netip.Addr.Compare)
		slices.SortFunc(w, netip.Addr.Compare)
		p.set(o, w)
	}
}

func vipInterfaces(vips []config.VIP) map[netip.Addr]string {
	out := make(map[netip.Addr]string, len(vips))
	for _, v := range vips {
		out[v.Address.Addr()] = v.Interface
	}
	return out
}

// probeBeforeClaim asks who holds each VIP and waits up to ProbeWait (or
// ctx) for answers, which the read loops turn into events.
func (a *Announcer) probeBeforeClaim(ctx context.Context, vips []netip.Addr, ifcs map[netip.Addr]string) {
	send := func() {
		for _, vip := range vips {
			if a.responders[ifcs[vip]].probe(vip) {
				a.count.claimProbes.Add(1)
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

// SetClusterMACs sets the MACs of every cluster member's managed
// interfaces: packets from these never count as conflicts, and raise
// MemberAnswers when they answer for a VIP this host owns or watches. This
// host's own MACs may be included; they are never taken for a member's.
func (a *Announcer) SetClusterMACs(macs []net.HardwareAddr) {
	a.book.setMembers(macs)
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	if !a.closed {
		a.updateProbers()
	}
}

// MACs returns the hardware addresses of the managed interfaces, for the
// agent to gossip.
func (a *Announcer) MACs() []net.HardwareAddr {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	var out []net.HardwareAddr
	for _, ifc := range a.opts.Interfaces {
		if r := a.responders[ifc.Name]; r != nil {
			out = append(out, slices.Clone(r.mac))
		}
	}
	return out
}

// Events reports conflicts, members answering and link changes. It is
// never closed; events are dropped (and counted) when nobody reads them.
func (a *Announcer) Events() <-chan Event { return a.events.out }

// Counters returns the running totals.
func (a *Announcer) Counters() Counters { return a.count.snapshot() }

// Close stops answering at once, ends every goroutine, removes the
// addresses vipd added to vipd0 and restores every kernel setting recorded
// in the state directory, this run's and those of a run that crashed.
func (a *Announcer) Close() error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	a.claims.keepOnly(nil)
	a.cancel()
	close(a.done)
	for _, r := range a.responders {
		r.close()
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
