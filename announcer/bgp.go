package announcer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vipd/vipd/announcer/bgpwire"
	"github.com/vipd/vipd/config"
)

// BGPOptions configure a Speaker.
type BGPOptions struct {
	BGP config.BGP
	// VIPs are the VIPs announced over BGP: their addresses live on vipd0.
	VIPs []config.VIP
	// StateDir holds, under bgp/, the record of the addresses the speaker
	// put on vipd0.
	StateDir string
	Logger   *slog.Logger
	// SentWait bounds how long Apply waits for a new route's UPDATE to
	// leave for every established peer (DefaultSentWait if 0).
	SentWait time.Duration
}

// DefaultSentWait bounds Apply's wait for the UPDATEs of new routes.
const DefaultSentWait = time.Second

// bgpStateDir keeps the speaker's record apart from the ARP/NDP
// announcer's: each removes only the vipd0 addresses it added.
const bgpStateDir = "bgp"

// helperGrace is how long Close waits for the helper to exit after its
// last call.
const helperGrace = 5 * time.Second

// Speaker announces the VIPs this host owns to BGP peers, through GoBGP in
// the helper process vipd-bgp (bgp_helper.go, package bgpd). It has the
// methods the agent needs from an announcer; it hears nothing on the wire:
// its events are its sessions going up and down, per address family.
//
// An owner VIP is announced with the AS path prepended Prepend-1 times when
// this host takes it, and Prepend times once the takeover has stood for
// longer than the peers' hold time: a route strictly better than any
// settled owner's, so that the router moves to it at once even while it
// still holds the route of an owner that crashed and cannot withdraw. An
// anycast (bgp: all) VIP is always announced with Prepend, so every host's
// route is equal and the router spreads over them.
type Speaker struct {
	opts   BGPOptions
	log    *slog.Logger
	helper *bgpHelper

	mu      sync.Mutex
	routes  map[netip.Addr]*bgpRoute // announced now
	managed []config.VIP
	st      *state
	store   stateStore
	dummy   netlink.Link
	closed  bool

	events chan Event
	// sessions is each address family's last state from the helper (by
	// IPv4), and changed wakes relayChanges when it moved.
	sessionsMu sync.Mutex
	sessions   map[bool]bool
	changed    chan struct{}
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// bgpRoute is one announced VIP.
type bgpRoute struct {
	vip     config.VIP
	prepend int
	since   time.Time
	settle  *time.Timer // takeover path until it fires
}

// NewSpeaker puts the BGP VIPs' addresses on vipd0, starts the helper and
// its sessions with the peers.
func NewSpeaker(opts BGPOptions) (*Speaker, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StateDir == "" {
		opts.StateDir = config.DefaultStateDir
	}
	if opts.SentWait <= 0 {
		opts.SentWait = DefaultSentWait
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Speaker{
		opts:     opts,
		log:      opts.Logger,
		routes:   map[netip.Addr]*bgpRoute{},
		managed:  opts.VIPs,
		store:    stateStore{dir: filepath.Join(opts.StateDir, bgpStateDir)},
		events:   make(chan Event, 4),
		sessions: map[bool]bool{},
		changed:  make(chan struct{}, 1),
		ctx:      ctx,
		cancel:   cancel,
	}
	if err := s.start(); err != nil {
		if cerr := s.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("undo after failed start: %w", cerr))
		}
		return nil, err
	}
	return s, nil
}

func (s *Speaker) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.store.load()
	if err != nil {
		return err
	}
	s.st = st
	if s.dummy, err = ensureDummy(s.st, s.store); err != nil {
		return err
	}
	if err := s.syncAddrs(); err != nil {
		return err
	}
	start, err := helperStart(s.opts.BGP)
	if err != nil {
		return err
	}
	path, err := helperPath()
	if err != nil {
		return err
	}
	s.wg.Go(s.relayChanges)
	if s.helper, err = startBGPHelper(path, s.log, s.helperEvent); err != nil {
		return err
	}
	s.wg.Go(s.watchHelper)
	rep, err := s.helper.call(s.ctx, bgpwire.Request{Start: &start})
	if err != nil {
		return err
	}
	if rep.Err != "" {
		return errors.New(rep.Err)
	}
	return nil
}

// helperStart is the helper's config: the bgp section, with each peer's
// password read from its file.
func helperStart(b config.BGP) (bgpwire.Start, error) {
	start := bgpwire.Start{ASN: uint32(b.ASN), RouterID: b.RouterID, Listen: b.Listen}
	for _, p := range b.Peers {
		peer := bgpwire.Peer{Address: p.Addr(), ASN: uint32(p.ASN), Port: uint16(p.Port),
			HoldTime: uint64(p.HoldTime.Seconds()), Keepalive: uint64(p.Keepalive.Seconds())}
		if p.PasswordFile != "" {
			b, err := os.ReadFile(p.PasswordFile)
			if err != nil {
				return start, fmt.Errorf("BGP peer %s: password: %w", p.Address, err)
			}
			peer.Password = strings.TrimSpace(string(b))
			if peer.Password == "" {
				return start, fmt.Errorf("BGP peer %s: password file %s is empty", p.Address, p.PasswordFile)
			}
		}
		if p.BFD.Enabled {
			peer.BFD = &bgpwire.BFD{MinTx: p.BFD.MinTx.Duration, MinRx: p.BFD.MinRx.Duration, Multiplier: uint32(p.BFD.Multiplier)}
		}
		start.Peers = append(start.Peers, peer)
	}
	return start, nil
}

// helperEvent runs on the helper's reader, which must never wait (a reply
// may be behind the event): it keeps the family's state and wakes
// relayChanges.
func (s *Speaker) helperEvent(ev bgpwire.Event) {
	s.sessionsMu.Lock()
	s.sessions[ev.IPv4] = ev.Up
	s.sessionsMu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// relayChanges turns the helper's session changes into link events: a host
// no router hears in a family must not claim a routed VIP of it (its route
// would go nowhere while the old owner withdraws), and one whose last
// session of a family dropped lets those VIPs go to a host the routers
// still hear (config.BGPLinkIPv4, BGPLinkIPv6). A flap shorter than a
// step may pass unseen: the family's state is what counts.
func (s *Speaker) relayChanges() {
	told := map[bool]bool{}
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.changed:
		}
		s.sessionsMu.Lock()
		now := maps.Clone(s.sessions)
		s.sessionsMu.Unlock()
		for _, is4 := range []bool{true, false} {
			up, ok := now[is4]
			if was, seen := told[is4]; !ok || (seen && was == up) {
				continue
			}
			told[is4] = up
			link := familyLinkOf(is4)
			kind := LinkDown
			if up {
				kind = LinkUp
				s.log.Info("BGP sessions changed", "link", link, "established", up, "peers", s.Peers())
			} else {
				s.log.Info("BGP sessions changed", "link", link, "established", up)
			}
			s.send(Event{Kind: kind, Interface: link, At: time.Now()})
		}
	}
}

// watchHelper reports a helper that exited while vipd runs: every routed
// VIP's link goes down, so that other hosts take them.
func (s *Speaker) watchHelper() {
	select {
	case <-s.ctx.Done():
		return
	case <-s.helper.gone:
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	s.log.Error("vipd's BGP helper exited, so this host's BGP sessions and routes are gone and it claims no routed VIP; restart vipd (systemctl restart vipd)", "err", s.helper.exitErr)
	families := map[bool]bool{}
	for _, p := range s.opts.BGP.Peers {
		families[p.Addr().Unmap().Is4()] = true
	}
	for is4 := range families {
		s.send(Event{Kind: LinkDown, Interface: familyLinkOf(is4), At: time.Now()})
	}
}

// familyLinkOf is the link of the routed VIPs of a family.
func familyLinkOf(ipv4 bool) string {
	if ipv4 {
		return config.BGPLinkIPv4
	}
	return config.BGPLinkIPv6
}

func (s *Speaker) send(ev Event) {
	select {
	case s.events <- ev:
	case <-s.ctx.Done():
	}
}

// syncAddrs puts every managed VIP on vipd0. Called with mu held.
func (s *Speaker) syncAddrs() error {
	want := map[netip.Addr]bool{}
	for _, v := range s.managed {
		want[v.Address.Addr()] = true
	}
	for a := range s.routes {
		want[a] = true
	}
	return syncDummyAddrs(s.dummy, want, s.st, s.store)
}

// Apply announces exactly owned to the peers. Routes of VIPs no longer
// owned are withdrawn before it returns; for new routes it waits, up to
// SentWait, until their UPDATE has gone to every established peer, so that
// the host that gossips it holds a VIP has told the router first.
func (s *Speaker) Apply(ctx context.Context, owned []config.VIP, _ []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	want := map[netip.Addr]config.VIP{}
	for _, v := range owned {
		want[v.Address.Addr()] = v
	}
	var req bgpwire.Apply
	withdrawing := map[netip.Addr]bool{}
	for a, r := range s.routes {
		if v, ok := want[a]; ok && v.BGP == r.vip.BGP {
			continue
		}
		req.Withdraw = append(req.Withdraw, bgpwire.Route{Addr: a, Prepend: r.prepend})
		withdrawing[a] = true
	}
	var added []*bgpRoute
	for a, v := range want {
		if _, ok := s.routes[a]; ok && !withdrawing[a] {
			continue
		}
		r := &bgpRoute{vip: v, prepend: s.opts.BGP.Prepend, since: time.Now()}
		if v.BGP == config.BGPOwner {
			r.prepend--
		}
		req.Announce = append(req.Announce, bgpwire.Route{Addr: a, Prepend: r.prepend})
		added = append(added, r)
	}
	if len(req.Withdraw) == 0 && len(req.Announce) == 0 {
		return nil
	}
	if len(req.Announce) > 0 {
		req.Wait = s.opts.SentWait
	}
	rep, err := s.helper.call(ctx, bgpwire.Request{Apply: &req})
	if err != nil {
		return err
	}
	failed := map[netip.Addr]bool{}
	for _, a := range rep.Failed {
		failed[a] = true
	}
	for a := range withdrawing {
		if r := s.routes[a]; !failed[a] {
			if r.settle != nil {
				r.settle.Stop()
			}
			delete(s.routes, a)
		}
	}
	for _, r := range added {
		a := r.vip.Address.Addr()
		if failed[a] {
			continue
		}
		if r.vip.BGP == config.BGPOwner {
			r.settle = time.AfterFunc(s.settleAfter(), func() { s.settleRoute(a, r) })
		}
		s.routes[a] = r
	}
	if rep.Err != "" {
		return errors.New(rep.Err)
	}
	return nil
}

// settleAfter is how long a new owner keeps its shorter path: until any
// route the router kept from a crashed owner has expired with its session.
func (s *Speaker) settleAfter() time.Duration {
	hold := time.Duration(0)
	for _, p := range s.opts.BGP.Peers {
		hold = max(hold, p.HoldTime.Duration)
	}
	if hold == 0 {
		hold = config.DefaultBGPHoldTime
	}
	return hold + time.Second
}

// settleRoute returns a takeover route to the steady prepend.
func (s *Speaker) settleRoute(a netip.Addr, r *bgpRoute) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.routes[a] != r {
		return
	}
	r.settle = nil
	route := bgpwire.Route{Addr: a, Prepend: s.opts.BGP.Prepend}
	rep, err := s.helper.call(s.ctx, bgpwire.Request{Apply: &bgpwire.Apply{Announce: []bgpwire.Route{route}}})
	if err == nil && rep.Err != "" {
		err = errors.New(rep.Err)
	}
	if err != nil {
		s.log.Warn("could not return a VIP's route to its steady AS path", "vip", r.vip.Name, "err", err)
		return
	}
	r.prepend = route.Prepend
}

// Watch does nothing: no BGP route is probed.
func (s *Speaker) Watch([]config.VIP) {}

// Events reports the address families' sessions going up and down, as
// the links config.BGPLinkIPv4 and BGPLinkIPv6.
func (s *Speaker) Events() <-chan Event { return s.events }

// SetClusterMACs does nothing: BGP knows no MACs.
func (s *Speaker) SetClusterMACs([]net.HardwareAddr) {}

// Manage sets the BGP VIPs after a reload: their addresses on vipd0 follow.
func (s *Speaker) Manage(vips []config.VIP) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.managed = vips
	return s.syncAddrs()
}

// Close withdraws every route, closes the sessions (the peers get a Cease
// notification), ends the helper and removes the addresses the speaker put
// on vipd0.
func (s *Speaker) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, r := range s.routes {
		if r.settle != nil {
			r.settle.Stop()
		}
	}
	s.routes = map[netip.Addr]*bgpRoute{}
	// Nobody reads the events any more: the relay ends first, so that
	// nothing between the helper and its last reply waits on them.
	s.cancel()
	if s.helper != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.SentWait+helperGrace)
		rep, err := s.helper.call(ctx, bgpwire.Request{Stop: &bgpwire.Stop{Wait: s.opts.SentWait}})
		cancel()
		if err == nil && rep.Err != "" {
			err = errors.New(rep.Err)
		}
		if err != nil && !errors.Is(err, errHelperGone) {
			errs = append(errs, fmt.Errorf("stopping the BGP helper: %w", err))
		}
		s.helper.stop(helperGrace)
	}
	s.wg.Wait()
	if s.st != nil {
		s.managed = nil
		if err := removeDummy(s.st, s.store); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
