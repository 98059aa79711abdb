package announcer

import (
	"context"
	"errors"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipd/vipd/config"
)

// Mux puts the ARP/NDP announcer and the BGP speaker behind one announcer:
// each VIP goes to the one its bgp: key names. Either may be nil when no VIP
// uses it.
type Mux struct {
	L2  *Announcer
	BGP *Speaker

	events chan Event
	stop   context.CancelFunc
	done   chan struct{}
}

// NewMux composes the parts and passes both parts' events on until Close.
func NewMux(l2 *Announcer, sp *Speaker) *Mux {
	ctx, stop := context.WithCancel(context.Background())
	m := &Mux{L2: l2, BGP: sp, events: make(chan Event, 64), stop: stop, done: make(chan struct{})}
	var l2Events, bgpEvents <-chan Event
	if l2 != nil {
		l2Events = l2.Events()
	}
	if sp != nil {
		bgpEvents = sp.Events()
	}
	go func() {
		defer close(m.done)
		for {
			var ev Event
			var ok bool
			select {
			case <-ctx.Done():
				return
			case ev, ok = <-l2Events:
				if !ok {
					l2Events = nil
					continue
				}
			case ev, ok = <-bgpEvents:
				if !ok {
					bgpEvents = nil
					continue
				}
			}
			select {
			case m.events <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return m
}

func splitVIPs(vips []config.VIP) (l2, routed []config.VIP) {
	for _, v := range vips {
		if v.BGP == config.BGPOff {
			l2 = append(l2, v)
		} else {
			routed = append(routed, v)
		}
	}
	return l2, routed
}

// Apply hands each part the owned VIPs it announces. The BGP routes go
// first: they wait for their UPDATEs, which the gratuitous ARPs do not.
func (m *Mux) Apply(ctx context.Context, owned []config.VIP, fresh []string) error {
	l2, routed := splitVIPs(owned)
	var errs []error
	if m.BGP != nil {
		errs = append(errs, m.BGP.Apply(ctx, routed, fresh))
	}
	if m.L2 != nil {
		errs = append(errs, m.L2.Apply(ctx, l2, fresh))
	}
	return errors.Join(errs...)
}

// Watch passes the ARP/NDP VIPs on; BGP routes are not probed.
func (m *Mux) Watch(vips []config.VIP) {
	if m.L2 != nil {
		l2, _ := splitVIPs(vips)
		m.L2.Watch(l2)
	}
}

// Events are both parts': the ARP/NDP announcer's, and the speaker's
// links config.BGPLinkIPv4 and BGPLinkIPv6 going down and up with its
// sessions.
func (m *Mux) Events() <-chan Event { return m.events }

// Manage hands each part the VIPs it announces after a reload.
func (m *Mux) Manage(vips []config.VIP) error {
	l2, routed := splitVIPs(vips)
	var errs []error
	if m.BGP != nil {
		errs = append(errs, m.BGP.Manage(routed))
	}
	if m.L2 != nil {
		errs = append(errs, m.L2.Manage(l2))
	}
	return errors.Join(errs...)
}

// SetClusterMACs passes the members' MACs to the ARP/NDP announcer.
func (m *Mux) SetClusterMACs(macs []net.HardwareAddr) {
	if m.L2 != nil {
		m.L2.SetClusterMACs(macs)
	}
}

// MACs are the managed interfaces' addresses; none without ARP/NDP.
func (m *Mux) MACs() []net.HardwareAddr {
	if m.L2 != nil {
		return m.L2.MACs()
	}
	return nil
}

// Close withdraws the routes and closes the sessions first, then stops
// answering ARP/NDP and restores the kernel.
func (m *Mux) Close() error {
	m.stop()
	<-m.done
	var errs []error
	if m.BGP != nil {
		errs = append(errs, m.BGP.Close())
	}
	if m.L2 != nil {
		errs = append(errs, m.L2.Close())
	}
	return errors.Join(errs...)
}

// Collectors are the parts' metrics.
func (m *Mux) Collectors() []prometheus.Collector {
	var out []prometheus.Collector
	if m.L2 != nil {
		out = append(out, m.L2.Collector())
	}
	if m.BGP != nil {
		out = append(out, m.BGP.Collector())
	}
	return out
}
