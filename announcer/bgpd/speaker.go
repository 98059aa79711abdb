package bgpd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"

	"github.com/vipd/vipd/announcer/bgpwire"
)

// speaker is the embedded GoBGP server and the routes it announces.
type speaker struct {
	asn uint32
	log *slog.Logger
	srv *server.BgpServer

	mu     sync.Mutex
	routes map[netip.Addr]bgpwire.Route

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// start starts GoBGP with its peers and reports each address family's
// sessions going up and down to emit.
func start(ctx context.Context, cfg bgpwire.Start, log *slog.Logger, emit func(bgpwire.Event)) (*speaker, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &speaker{asn: cfg.ASN, log: log, routes: map[netip.Addr]bgpwire.Route{}, cancel: cancel}
	global := &api.Global{Asn: cfg.ASN, RouterId: cfg.RouterID, ListenPort: -1}
	if cfg.Listen != "" {
		ap, err := netip.ParseAddrPort(cfg.Listen)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("bgp listen %q: %w", cfg.Listen, err)
		}
		global.ListenPort = int32(ap.Port())
		global.ListenAddresses = []string{ap.Addr().String()}
	}
	// GoBGP logs every session change at info; vipd reports them in status.
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	quiet := slog.New(levelHandler{log.Handler(), level}).With("part", "gobgp")
	s.srv = server.NewBgpServer(server.LoggerOption(quiet, level))
	s.wg.Go(s.srv.Serve)
	fail := func(err error) (*speaker, error) {
		s.srv.Stop()
		cancel()
		s.wg.Wait()
		return nil, err
	}
	if err := s.srv.StartBgp(ctx, &api.StartBgpRequest{Global: global}); err != nil {
		return fail(fmt.Errorf("start BGP: %w", err))
	}
	for _, p := range cfg.Peers {
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(p)}); err != nil {
			return fail(fmt.Errorf("BGP peer %s: %w", p.Address, err))
		}
	}
	s.wg.Go(func() { s.watchSessions(ctx, cfg.Peers, emit) })
	return s, nil
}

// sessionPoll is how often the speaker looks at its sessions.
const sessionPoll = 100 * time.Millisecond

// watchSessions reports each address family with peers down from the
// start while none of its sessions is established, and up once one is.
func (s *speaker) watchSessions(ctx context.Context, peers []bgpwire.Peer, emit func(bgpwire.Event)) {
	up := map[bool]bool{} // by IPv4
	for _, p := range peers {
		is4 := p.Address.Unmap().Is4()
		if _, ok := up[is4]; !ok {
			up[is4] = false
			emit(bgpwire.Event{IPv4: is4, Up: false})
		}
	}
	t := time.NewTicker(sessionPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		established := map[bool]bool{}
		for peer := range s.sentUpdates(ctx) {
			established[peer.Is4()] = true
		}
		for _, is4 := range []bool{true, false} {
			was, ok := up[is4]
			if !ok || established[is4] == was {
				continue
			}
			up[is4] = established[is4]
			emit(bgpwire.Event{IPv4: is4, Up: up[is4]})
		}
	}
}

// connectRetry is how soon a session that failed is tried again (s).
const connectRetry = 2

func apiPeer(p bgpwire.Peer) *api.Peer {
	family := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if p.Address.Is6() {
		family = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
	}
	peer := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.ASN, AuthPassword: p.Password},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:               p.HoldTime,
			KeepaliveInterval:      p.Keepalive,
			ConnectRetry:           connectRetry,
			IdleHoldTimeAfterReset: connectRetry,
		}},
		Transport: &api.Transport{RemotePort: uint32(p.Port)},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: family, Enabled: true}}},
	}
	if p.BFD != nil {
		peer.Bfd = &api.BfdPeerConfig{
			Enabled:                  true,
			DesiredMinimumTxInterval: uint32(p.BFD.MinTx.Microseconds()),
			RequiredMinimumReceive:   uint32(p.BFD.MinRx.Microseconds()),
			DetectionMultiplier:      p.BFD.Multiplier,
		}
	}
	return peer
}

// apply withdraws, then announces; for new paths it waits until every
// established peer of their family was sent an UPDATE, up to a.Wait.
func (s *speaker) apply(ctx context.Context, a bgpwire.Apply) (failed []netip.Addr, errText string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, r := range a.Withdraw {
		if err := s.withdraw(r); err != nil {
			errs = append(errs, err)
			failed = append(failed, r.Addr)
		}
	}
	before := s.sentUpdates(ctx)
	added := map[bool]bool{} // by IPv4: a path of that family was announced
	for _, r := range a.Announce {
		if err := s.announce(r); err != nil {
			errs = append(errs, err)
			failed = append(failed, r.Addr)
			continue
		}
		added[r.Addr.Is4()] = true
	}
	// A session carries one family: only its peers get the UPDATE.
	for peer := range before {
		if !added[peer.Is4()] {
			delete(before, peer)
		}
	}
	if len(added) > 0 {
		s.waitSent(ctx, before, a.Wait)
	}
	if err := errors.Join(errs...); err != nil {
		errText = err.Error()
	}
	return failed, errText
}

func (s *speaker) announce(r bgpwire.Route) error {
	p, err := s.path(r)
	if err != nil {
		return err
	}
	if _, err := s.srv.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		return fmt.Errorf("announce %s: %w", r.Addr, err)
	}
	s.routes[r.Addr] = r
	return nil
}

func (s *speaker) withdraw(r bgpwire.Route) error {
	p, err := s.path(r)
	if err != nil {
		return err
	}
	if err := s.srv.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		return fmt.Errorf("withdraw %s: %w", r.Addr, err)
	}
	delete(s.routes, r.Addr)
	return nil
}

// path is the /32 or /128 of r.Addr with this host's ASN prepended
// r.Prepend times (the speaker adds it once more on the way to an eBGP
// peer).
func (s *speaker) path(r bgpwire.Route) (*apiutil.Path, error) {
	addr := r.Addr
	nlri, err := bgp.NewIPAddrPrefix(netip.PrefixFrom(addr, addr.BitLen()))
	if err != nil {
		return nil, fmt.Errorf("route for %s: %w", addr, err)
	}
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	if r.Prepend > 0 {
		asns := slices.Repeat([]uint32{s.asn}, r.Prepend)
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
func (s *speaker) sentUpdates(ctx context.Context) map[netip.Addr]uint64 {
	out := map[netip.Addr]uint64{}
	_ = s.srv.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		st := p.GetState()
		a, err := netip.ParseAddr(p.GetConf().GetNeighborAddress())
		if err == nil && st.GetSessionState() == api.PeerState_SESSION_STATE_ESTABLISHED {
			out[a.Unmap()] = st.GetMessages().GetSent().GetUpdate()
		}
	})
	return out
}

// waitSent returns once every peer established at before has been sent an
// UPDATE since, or after wait.
func (s *speaker) waitSent(ctx context.Context, before map[netip.Addr]uint64, wait time.Duration) {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		now := s.sentUpdates(ctx)
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

// close withdraws every route, waits up to wait for the withdrawals to
// leave, and closes the sessions (the peers get a Cease notification).
func (s *speaker) close(wait time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := context.Background()
	var errs []error
	before := s.sentUpdates(ctx)
	withdrew := false
	for _, r := range s.routes {
		if err := s.withdraw(r); err != nil {
			errs = append(errs, err)
		}
		withdrew = true
	}
	if withdrew && wait > 0 {
		s.waitSent(ctx, before, wait)
	}
	s.srv.Stop()
	s.cancel()
	s.wg.Wait()
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
