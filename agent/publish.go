package agent

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"

	"github.com/vipd/vipd/membership"
)

// publisher gossips this host's latest state off the reconcile loop, which
// must not wait for membership's locks or the sends to every member.
type publisher struct {
	cluster Cluster
	log     *slog.Logger
	wake    chan struct{}

	mu     sync.Mutex
	latest *membership.Local
	sent   *membership.Local
}

func newPublisher(c Cluster, log *slog.Logger) *publisher {
	return &publisher{cluster: c, log: log, wake: make(chan struct{}, 1)}
}

// set queues l to be gossiped; only the latest state queued counts.
func (p *publisher) set(l membership.Local) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sent != nil && sameLocal(*p.sent, l) {
		p.latest = nil
		return
	}
	p.latest = &l
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *publisher) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		p.mu.Lock()
		l := p.latest
		p.latest = nil
		p.mu.Unlock()
		if l == nil {
			continue
		}
		if err := p.cluster.SetLocal(*l); err != nil {
			p.log.Error("this host's state cannot be gossiped; the other hosts go on with its last one", "err", err)
		}
		p.mu.Lock()
		p.sent = l
		p.mu.Unlock()
	}
}

func sameLocal(a, b membership.Local) bool {
	return a.Drained == b.Drained &&
		maps.Equal(a.Passing, b.Passing) &&
		maps.Equal(a.Holds, b.Holds) &&
		slices.EqualFunc(a.MACs, b.MACs, func(x, y net.HardwareAddr) bool { return string(x) == string(y) })
}
