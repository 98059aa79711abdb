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
	"slices"
	"strings"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
	"github.com/vishvananda/netlink"

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

// Speaker announces the VIPs this host owns to BGP peers with an embedded
// GoBGP. It has the methods the agent needs from an announcer; it hears
// nothing on the wire, so Events never fires and Watch does nothing.
//
// An owner VIP is announced with the AS path prepended Prepend-1 times when
// this host takes it, and Prepend times once the takeover has stood for
// longer than the peers' hold time: a route strictly better than any
// settled owner's, so that the router moves to it at once even while it
// still holds the route of an owner that crashed and cannot withdraw. An
// anycast (bgp: all) VIP is always announced with Prepend, so every host's
// route is equal and the router spreads over them.
type Speaker struct {
	opts BGPOptions
	log  *slog.Logger
	srv  *server.BgpServer

	mu      sync.Mutex
	routes  map[netip.Addr]*bgpRoute // announced now
	managed []config.VIP
	st      *state
	store   stateStore
	dummy   netlink.Link
	closed  bool

	events chan Event
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// bgpRoute is one announced VIP.
type bgpRoute struct {
	vip     config.VIP
	prepend int
	since   time.Time
	settle  *time.Timer // returns the route to Prepend; nil once settled
}

// NewSpeaker starts GoBGP, opens sessions to the peers and puts the VIPs on
// vipd0. It announces nothing until Apply. Close undoes it all.
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
		opts:    opts,
		log:     opts.Logger,
		routes:  map[netip.Addr]*bgpRoute{},
		managed: opts.VIPs,
		store:   stateStore{dir: filepath.Join(opts.StateDir, bgpStateDir)},
		events:  make(chan Event, 4),
		ctx:     ctx,
		cancel:  cancel,
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
	b := s.opts.BGP
	global := &api.Global{Asn: uint32(b.ASN), RouterId: b.RouterID, ListenPort: -1}
	if b.Listen != "" {
		ap, err := netip.ParseAddrPort(b.Listen)
		if err != nil {
			return fmt.Errorf("bgp listen %q: %w", b.Listen, err)
		}
		global.ListenPort = int32(ap.Port())
		global.ListenAddresses = []string{ap.Addr().String()}
	}
	// GoBGP logs every session change at info; vipd reports them in status.
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	quiet := slog.New(levelHandler{s.log.Handler(), level}).With("part", "gobgp")
	s.srv = server.NewBgpServer(server.LoggerOption(quiet, level))
	s.wg.Go(s.srv.Serve)
	if err := s.srv.StartBgp(s.ctx, &api.StartBgpRequest{Global: global}); err != nil {
		return fmt.Errorf("start BGP: %w", err)
	}
	for _, p := range b.Peers {
		peer, err := apiPeer(p)
		if err != nil {
			return err
		}
		if err := s.srv.AddPeer(s.ctx, &api.AddPeerRequest{Peer: peer}); err != nil {
			return fmt.Errorf("BGP peer %s: %w", p.Address, err)
		}
	}
	s.wg.Go(s.watchSessions)
	return nil
}

// sessionPoll is how often the speaker looks at its sessions.
const sessionPoll = 100 * time.Millisecond

// watchSessions reports the link of each address family that has peers
// (config.BGPLinkIPv4, BGPLinkIPv6) down from the start while no session
// of that family is established, and up once one is: a host no router
// hears in a family must not claim a routed VIP of it (its route would go
// nowhere while the old owner withdraws), and one whose last session of a
// family dropped lets those VIPs go to a host the routers still hear.
func (s *Speaker) watchSessions() {
	up := map[string]bool{}
	for _, p := range s.opts.BGP.Peers {
		link := familyLink(p.Addr())
		if _, ok := up[link]; !ok {
			up[link] = false
			s.send(Event{Kind: LinkDown, Interface: link, At: time.Now()})
		}
	}
	t := time.NewTicker(sessionPoll)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		established := map[string]bool{}
		for peer := range s.sentUpdates() {
			established[familyLink(peer)] = true
		}
		for _, link := range slices.Sorted(maps.Keys(up)) {
			if established[link] == up[link] {
				continue
			}
			up[link] = established[link]
			kind := LinkDown
			if up[link] {
				kind = LinkUp
			}
			s.log.Info("BGP sessions changed", "link", link, "established", up[link], "peers", s.Peers())
			s.send(Event{Kind: kind, Interface: link, At: time.Now()})
		}
	}
}

// familyLink is the link of the routed VIPs a peer at addr carries.
func familyLink(addr netip.Addr) string {
	if addr.Unmap().Is4() {
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

// connectRetry is how soon a session that failed is tried again.
const connectRetry = 2

func apiPeer(p config.BGPPeer) (*api.Peer, error) {
	password := ""
	if p.PasswordFile != "" {
		b, err := os.ReadFile(p.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("BGP peer %s: password: %w", p.Address, err)
		}
		password = strings.TrimSpace(string(b))
		if password == "" {
			return nil, fmt.Errorf("BGP peer %s: password file %s is empty", p.Address, p.PasswordFile)
		}
	}
	family := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if p.Addr().Is6() {
		family = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
	}
	peer := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: p.Address, PeerAsn: uint32(p.ASN), AuthPassword: password},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:               uint64(p.HoldTime.Seconds()),
			KeepaliveInterval:      uint64(p.Keepalive.Seconds()),
			ConnectRetry:           connectRetry,
			IdleHoldTimeAfterReset: connectRetry,
		}},
		Transport: &api.Transport{RemotePort: uint32(p.Port)},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: family, Enabled: true}}},
	}
	if p.BFD.Enabled {
		peer.Bfd = &api.BfdPeerConfig{
			Enabled:                  true,
			DesiredMinimumTxInterval: uint32(p.BFD.MinTx.Microseconds()),
			RequiredMinimumReceive:   uint32(p.BFD.MinRx.Microseconds()),
			DetectionMultiplier:      uint32(p.BFD.Multiplier),
		}
	}
	return peer, nil
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
	var errs []error
	for a, r := range s.routes {
		if v, ok := want[a]; ok && v.BGP == r.vip.BGP {
			continue
		}
		if err := s.withdraw(r); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(s.routes, a)
	}
	before := s.sentUpdates()
	added := map[bool]bool{} // by Is4: a route of that family was added
	for a, v := range want {
		if _, ok := s.routes[a]; ok {
			continue
		}
		r := &bgpRoute{vip: v, prepend: s.opts.BGP.Prepend, since: time.Now()}
		if v.BGP == config.BGPOwner {
			r.prepend--
			r.settle = time.AfterFunc(s.settleAfter(), func() { s.settleRoute(a, r) })
		}
		if err := s.announce(r); err != nil {
			errs = append(errs, err)
			if r.settle != nil {
				r.settle.Stop()
			}
			continue
		}
		s.routes[a] = r
		added[a.Is4()] = true
	}
	// A session carries one family: only its peers get the UPDATE.
	for peer := range before {
		if !added[peer.Is4()] {
			delete(before, peer)
		}
	}
	if len(added) > 0 {
		s.waitSent(ctx, before)
	}
	return errors.Join(errs...)
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
	r.prepend = s.opts.BGP.Prepend
	r.settle = nil
	if err := s.announce(r); err != nil {
		s.log.Warn("could not return a VIP's route to its steady AS path", "vip", r.vip.Name, "err", err)
	}
}

func (s *Speaker) announce(r *bgpRoute) error {
	p, err := s.path(r.vip.Address.Addr(), r.prepend)
	if err != nil {
		return err
	}
	if _, err := s.srv.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		return fmt.Errorf("announce %s: %w", r.vip.Address.Addr(), err)
	}
	return nil
}

func (s *Speaker) withdraw(r *bgpRoute) error {
	if r.settle != nil {
		r.settle.Stop()
	}
	p, err := s.path(r.vip.Address.Addr(), r.prepend)
	if err != nil {
		return err
	}
	if err := s.srv.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		return fmt.Errorf("withdraw %s: %w", r.vip.Address.Addr(), err)
	}
	return nil
}

// path is the /32 or /128 of addr with this host's ASN prepended n times
// (the speaker adds it once more on the way to an eBGP peer).
func (s *Speaker) path(addr netip.Addr, n int) (*apiutil.Path, error) {
	nlri, err := bgp.NewIPAddrPrefix(hostPrefix(addr))
	if err != nil {
		return nil, fmt.Errorf("route for %s: %w", addr, err)
	}
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	if n > 0 {
		asns := slices.Repeat([]uint32{uint32(s.opts.BGP.ASN)}, n)
		attrs = append(attrs, bgp.NewPathAttributeAsPath([]bgp.AsPathParamInterface{bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_SEQ, asns)}))
	}
	family := bgp.RF_IPv4_UC
	if addr.Is4() {
		nh, err := bgp.NewPathAttributeNextHop(netip.IPv4Unspecified())
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, nh)
	} else {
		family = bgp.RF_IPv6_UC
		mp, err := bgp.NewPathAttributeMpReachNLRI(family, []bgp.PathNLRI{{NLRI: nlri}}, netip.IPv6Unspecified())
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, mp)
	}
	return &apiutil.Path{Family: family, Nlri: nlri, Attrs: attrs}, nil
}

// sentUpdates counts the UPDATEs sent to each established peer.
func (s *Speaker) sentUpdates() map[netip.Addr]uint64 {
	out := map[netip.Addr]uint64{}
	_ = s.srv.ListPeer(s.ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		st := p.GetState()
		a, err := netip.ParseAddr(p.GetConf().GetNeighborAddress())
		if err == nil && st.GetSessionState() == api.PeerState_SESSION_STATE_ESTABLISHED {
			out[a.Unmap()] = st.GetMessages().GetSent().GetUpdate()
		}
	})
	return out
}

// waitSent returns once every peer established at before has been sent an
// UPDATE since, or after SentWait.
func (s *Speaker) waitSent(ctx context.Context, before map[netip.Addr]uint64) {
	deadline := time.Now().Add(s.opts.SentWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		now := s.sentUpdates()
		done := true
		for peer, n := range before {
			if m, ok := now[peer]; ok && m <= n {
				done = false
			}
		}
		if done {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Watch does nothing: no BGP route is probed.
func (s *Speaker) Watch([]config.VIP) {}

// Events never fires.
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
// notification) and removes the addresses the speaker put on vipd0.
func (s *Speaker) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.srv != nil {
		before := s.sentUpdates()
		withdrew := false
		for a, r := range s.routes {
			if err := s.withdraw(r); err != nil {
				errs = append(errs, err)
			}
			delete(s.routes, a)
			withdrew = true
		}
		if withdrew {
			s.waitSent(s.ctx, before)
		}
		s.srv.Stop()
	}
	s.cancel()
	s.wg.Wait()
	if s.st != nil {
		s.managed = nil
		if err := removeDummy(s.st, s.store); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// levelHandler passes on the records at or above its level.
type levelHandler struct {
	slog.Handler
	level slog.Leveler
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() && h.Handler.Enabled(ctx, l)
}

func (h levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return levelHandler{h.Handler.WithAttrs(a), h.level}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{h.Handler.WithGroup(name), h.level}
}
