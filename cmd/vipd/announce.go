package main

import (
	"context"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipd/vipd/agent"
	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/config"
)

// wire is the announcer as the agent sees it: the same calls, with its
// events turned into the agent's.
type wire struct {
	*announcer.Announcer
	events chan agent.Event
	stop   context.CancelFunc
}

// startAnnouncer starts the announcer for cfg's managed interfaces and
// returns it with their MACs. With no managed interface there is nothing
// to announce, and a placeholder stands in.
func startAnnouncer(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (announcerCloser, []net.HardwareAddr, error) {
	if len(cfg.Interfaces) == 0 {
		log.Info("no managed interfaces: this host announces nothing until interfaces: and vips: are configured and vipd is restarted")
		return idle{events: make(chan agent.Event)}, nil, nil
	}
	opts := announcer.OptionsFromConfig(cfg)
	opts.Logger = log.With("part", "announcer")
	a, err := announcer.New(opts)
	if err != nil {
		return nil, nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	w := &wire{Announcer: a, events: make(chan agent.Event, 64), stop: stop}
	go w.forward(ctx)
	registerAnnouncerMetrics(reg, a)
	return w, a.MACs(), nil
}

type announcerCloser interface {
	agent.Announcer
	Close() error
}

func (w *wire) Events() <-chan agent.Event { return w.events }

func (w *wire) Close() error {
	w.stop()
	return w.Announcer.Close()
}

func (w *wire) forward(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Announcer.Events():
			if !ok {
				return
			}
			out := agent.Event{Kind: eventKinds[ev.Kind], MAC: ev.MAC.String(), Interface: ev.Interface, At: ev.At}
			if ev.VIP.IsValid() {
				out.VIP = ev.VIP.String()
			}
			select {
			case w.events <- out:
			case <-ctx.Done():
				return
			}
		}
	}
}

var eventKinds = map[announcer.EventKind]agent.EventKind{
	announcer.ForeignMAC:     agent.ForeignMAC,
	announcer.ForeignAddress: agent.ForeignAddress,
	announcer.LinkDown:       agent.LinkDown,
	announcer.LinkUp:         agent.LinkUp,
}

// idle is the announcer of a host with no managed interface.
type idle struct{ events chan agent.Event }

func (idle) Apply(context.Context, []config.VIP, []string) error { return nil }
func (i idle) Events() <-chan agent.Event                        { return i.events }
func (idle) Manage([]config.VIP) error                           { return nil }
func (idle) SetClusterMACs([]net.HardwareAddr)                   {}
func (idle) Close() error                                        { return nil }

func registerAnnouncerMetrics(reg prometheus.Registerer, a *announcer.Announcer) {
	counter := func(name, help string, labels prometheus.Labels, read func(announcer.Counters) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(read(a.Counters())) })
	}
	reg.MustRegister(
		counter("vipd_gratuitous_packets_sent_total", "Gratuitous ARPs and unsolicited neighbor advertisements sent.",
			prometheus.Labels{"family": "ipv4"}, func(c announcer.Counters) uint64 { return c.GARPSent }),
		counter("vipd_gratuitous_packets_sent_total", "Gratuitous ARPs and unsolicited neighbor advertisements sent.",
			prometheus.Labels{"family": "ipv6"}, func(c announcer.Counters) uint64 { return c.NASent }),
		counter("vipd_neighbor_replies_sent_total", "ARP replies and solicited neighbor advertisements sent for owned VIPs.",
			prometheus.Labels{"family": "ipv4"}, func(c announcer.Counters) uint64 { return c.ARPReplies }),
		counter("vipd_neighbor_replies_sent_total", "ARP replies and solicited neighbor advertisements sent for owned VIPs.",
			prometheus.Labels{"family": "ipv6"}, func(c announcer.Counters) uint64 { return c.NAReplies }),
		counter("vipd_dropped_packets_total", "Packets dropped because they did not parse.",
			prometheus.Labels{"reason": "malformed"}, func(c announcer.Counters) uint64 { return c.Malformed }),
		counter("vipd_send_errors_total", "Packets the kernel refused to send.",
			nil, func(c announcer.Counters) uint64 { return c.SendErrors }),
	)
}
