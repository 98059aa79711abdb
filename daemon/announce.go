package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipd/vipd/agent"
	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/config"
)

// announcerCloser is the announcer as the daemon runs it: what the agent
// calls, its MACs, and Close, which withdraws everything and restores the
// kernel.
type announcerCloser interface {
	agent.Announcer
	MACs() []net.HardwareAddr
	Close() error
	// run passes the announcer's events on to the agent until ctx ends.
	run(ctx context.Context)
	// bgpStatus reports the BGP speaker for status; nil without one.
	bgpStatus() *api.BGPStatus
}

// kicker is what the event tee needs from membership.
type kicker interface{ Kick() }

// startAnnouncer starts the announcer for cfg's managed interfaces and,
// with a bgp: section, the BGP speaker beside it. With neither there is
// nothing to announce, and a placeholder stands in.
func startAnnouncer(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer, cluster kicker) (announcerCloser, error) {
	if len(cfg.Interfaces) == 0 && cfg.BGP == nil {
		log.Info("no managed interfaces: this host announces nothing until interfaces: and vips: are configured and vipd is restarted")
		return idle{events: make(chan announcer.Event)}, nil
	}
	var l2 *announcer.Announcer
	if len(cfg.Interfaces) > 0 {
		opts := announcer.OptionsFromConfig(cfg)
		opts.VIPs = cfg.L2VIPs()
		opts.Logger = log.With("part", "announcer")
		a, err := announcer.New(opts)
		if err != nil {
			return nil, err
		}
		l2 = a
	}
	var sp *announcer.Speaker
	if cfg.BGP != nil {
		var err error
		sp, err = announcer.NewSpeaker(announcer.BGPOptions{BGP: *cfg.BGP, VIPs: cfg.BGPVIPs(), StateDir: cfg.StateDir, Logger: log.With("part", "bgp")})
		if err != nil {
			return nil, errors.Join(err, announcer.NewMux(l2, nil).Close())
		}
	}
	mux := announcer.NewMux(l2, sp)
	for _, c := range mux.Collectors() {
		reg.MustRegister(c)
	}
	return &tee{wire: mux, cluster: cluster, events: make(chan announcer.Event, cap(mux.Events())+1)}, nil
}

// wire is what the tee passes on: the ARP/NDP announcer and the BGP speaker.
type wire interface {
	agent.Announcer
	MACs() []net.HardwareAddr
	Close() error
}

// tee is the announcer with its events passed on to the agent, and a link
// coming back up told to membership, which then re-joins the peers it lost
// at once instead of at its backed-off pace.
type tee struct {
	wire
	cluster kicker
	events  chan announcer.Event
}

func (t *tee) Events() <-chan announcer.Event { return t.events }

func (t *tee) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-t.wire.Events():
			if !ok {
				return
			}
			if ev.Kind == announcer.LinkUp {
				t.cluster.Kick()
			}
			select {
			case t.events <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}

// idle is the announcer of a host with no managed interface.
type idle struct{ events chan announcer.Event }

func (idle) Apply(context.Context, []config.VIP, []string) error { return nil }
func (idle) Watch([]config.VIP)                                  {}
func (i idle) Events() <-chan announcer.Event                    { return i.events }
func (idle) Manage([]config.VIP) error                           { return nil }
func (idle) SetClusterMACs([]net.HardwareAddr)                   {}
func (idle) MACs() []net.HardwareAddr                            { return nil }
func (idle) Close() error                                        { return nil }
func (idle) run(context.Context)                                 {}
func (idle) bgpStatus() *api.BGPStatus                           { return nil }

// bgpStatus turns the BGP speaker's sessions and routes into status.
func (t *tee) bgpStatus() *api.BGPStatus {
	mux, ok := t.wire.(*announcer.Mux)
	if !ok || mux.BGP == nil {
		return nil
	}
	st := &api.BGPStatus{Peers: []api.BGPPeer{}, Routes: []api.BGPRoute{}}
	for _, p := range mux.BGP.Peers() {
		st.Peers = append(st.Peers, api.BGPPeer{Address: p.Address, ASN: p.ASN, State: p.State, Reason: p.Reason,
			Since: p.Since, Announced: p.Announced, Received: p.Received, Accepted: p.Accepted})
	}
	for _, r := range mux.BGP.Routes() {
		st.Routes = append(st.Routes, api.BGPRoute{VIP: r.VIP, Prefix: r.Prefix, Mode: r.Mode, Prepend: r.Prepend, Since: r.Since})
	}
	return st
}
