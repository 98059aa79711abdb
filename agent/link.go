package agent

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/membership"
)

const (
	// rejoinSettle is how long a host whose link came back waits, once it
	// sees a peer alive again, before it claims: the merged view must stand
	// first, as for a first claim.
	rejoinSettle = firstClaimSettle
	// rejoinGiveUp is how long it waits for any peer before it decides the
	// others are really gone and claims anyway: the start-up join wait.
	rejoinGiveUp = 3 * time.Second
)

// links tracks the links (config.VIP.Link: managed interfaces, and the BGP
// sessions of each address family) that are down, and those that came back
// and wait to rejoin the cluster before this host claims on them.
type links struct {
	down map[string]time.Time // link -> when it went down
	up   map[string]time.Time // link -> when it came back, until rejoined
	// rejoined is when a peer was first seen alive after the link came back.
	rejoined map[string]time.Time
}

func newLinks() links {
	return links{down: map[string]time.Time{}, up: map[string]time.Time{}, rejoined: map[string]time.Time{}}
}

func (l *links) note(ev announcer.Event, at time.Time) {
	switch ev.Kind {
	case announcer.LinkDown:
		if _, ok := l.down[ev.Interface]; !ok {
			l.down[ev.Interface] = at
		}
		delete(l.up, ev.Interface)
		delete(l.rejoined, ev.Interface)
	case announcer.LinkUp:
		if _, ok := l.down[ev.Interface]; ok {
			delete(l.down, ev.Interface)
			l.up[ev.Interface] = at
		}
	}
}

// blocked returns, per unit this host must not claim now because of its
// links, the reason; a unit on a link that is down also may not be held.
// It ends a rejoin wait once a peer has been alive for rejoinSettle, or
// after rejoinGiveUp.
func (l *links) blocked(cfg *config.Config, view election.View, self string, now time.Time) (mayNotHold, mayNotClaim map[string]string) {
	mayNotHold, mayNotClaim = map[string]string{}, map[string]string{}
	for ifc, since := range l.up {
		peer := anyPeerAlive(view, self)
		if peer {
			if _, ok := l.rejoined[ifc]; !ok {
				l.rejoined[ifc] = now
			}
		} else {
			delete(l.rejoined, ifc)
		}
		seen, ok := l.rejoined[ifc]
		if (ok && now.Sub(seen) >= rejoinSettle) || now.Sub(since) >= rejoinGiveUp {
			delete(l.up, ifc)
			delete(l.rejoined, ifc)
		}
	}
	for _, v := range cfg.VIPs {
		link := v.Link()
		if since, ok := l.down[link]; ok {
			mayNotHold[v.Unit()] = fmt.Sprintf("link %s is down (since %s): this host cannot answer there", link, since.Format(time.TimeOnly))
		}
		if _, ok := l.up[link]; ok {
			mayNotClaim[v.Unit()] = fmt.Sprintf("link %s came back; claiming once this host has rejoined the cluster", link)
		}
	}
	return mayNotHold, mayNotClaim
}

// problems names the links that keep this host from claiming.
func (l *links) problems(now time.Time) []string {
	var out []string
	for _, ifc := range slices.Sorted(maps.Keys(l.down)) {
		out = append(out, fmt.Sprintf("link %s is down since %s: this host answers for no VIP on it", ifc, l.down[ifc].Format(time.TimeOnly)))
	}
	for _, ifc := range slices.Sorted(maps.Keys(l.up)) {
		out = append(out, fmt.Sprintf("link %s came back %s ago: waiting to rejoin the cluster before claiming a VIP on it", ifc, now.Sub(l.up[ifc]).Round(100*time.Millisecond)))
	}
	return out
}

func anyPeerAlive(view election.View, self string) bool {
	for _, h := range view.Hosts {
		if h.Name != self && h.Alive {
			return true
		}
	}
	return false
}

// keyProblem says why this host claims nothing when its peers answer on
// the gossip port with messages it cannot decrypt and no peer is alive:
// the gossip keys differ, and claiming would make two owners. "" when
// that is not the case.
func keyProblem(mismatches []membership.KeyMismatch, view election.View, self string) string {
	if len(mismatches) == 0 || anyPeerAlive(view, self) {
		return ""
	}
	var peers []string
	for _, k := range mismatches {
		p := k.Addr
		if k.Node != "" {
			p = k.Node + " (" + k.Addr + ")"
		}
		peers = append(peers, p)
	}
	slices.Sort(peers)
	return "gossip keys differ from those of " + strings.Join(peers, ", ") +
		": this host cannot join the cluster and claims no VIP; put the same key file on every host (see 'vipd keygen') and restart vipd"
}
