package agent

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/membership"
)

const (
	// heardFor is how long a member heard answering for a unit counts as a
	// claimant. The announcer probes owned VIPs about every second and
	// watched ones four times as often (less often past 50 probes a second
	// per link), so a live claimant of a few VIPs is heard well within it.
	heardFor = 2 * time.Second
	// winnerSilence is how long a host that stood back waits without
	// hearing the winner before it answers again: the winner may have died.
	winnerSilence = time.Second
	// splitMemory is how long a split stays in status after the other
	// claimant was last heard answering or probing, while gossip still does
	// not show it alive.
	splitMemory = 30 * time.Second
)

// splits tracks, per unit, the members heard answering on the LAN for a
// unit this host holds while gossip does not show them alive and holding
// it, and the arbitration between them.
type splits struct {
	// heard holds, per unit, the members heard answering for it and when
	// last, while gossip does not show them alive: the unit is split while
	// it has any.
	heard map[string]map[string]time.Time
	// standBack holds the units this host lost the arbitration for: it
	// keeps them in its gossiped holds, ready, but does not answer.
	standBack election.KeySet
	// notAlive holds, per member, since when this host's view has not
	// shown it alive.
	notAlive map[string]time.Time
}

func newSplits() splits {
	return splits{heard: map[string]map[string]time.Time{}, standBack: election.NewKeySet(), notAlive: map[string]time.Time{}}
}

// watchGossip notes which members the view shows alive, at the start of a
// step.
func (s *splits) watchGossip(view election.View, now time.Time) {
	for name := range s.notAlive {
		if !slices.ContainsFunc(view.Hosts, func(h election.Host) bool { return h.Name == name }) {
			delete(s.notAlive, name)
		}
	}
	for _, h := range view.Hosts {
		_, known := s.notAlive[h.Name]
		switch {
		case h.Alive:
			delete(s.notAlive, h.Name)
		case !known:
			s.notAlive[h.Name] = now
		}
	}
}

// someoneMissing reports whether the view shows a member that is not
// alive: only then can another host claim what this one answers for
// without gossip saying so.
func (s *splits) someoneMissing() bool { return len(s.notAlive) > 0 }

// hear records a MemberAnswers or MemberProbes event: the member with ev.MAC
// answered for ev.VIP, or probed it as a holder does (the loser of an
// arbitration keeps probing while it stands by). Only what was heard after
// gossip lost the member counts: a member heard while it was still alive,
// then stopped or crashed, made no split.
func (s *splits) hear(ev announcer.Event, cfg *config.Config, members []membership.Member, self string, at time.Time) {
	name := memberWithMAC(members, ev.MAC, self)
	unit := unitOfAddress(cfg, ev.VIP.String())
	if name == "" || unit == "" {
		return
	}
	if since, ok := s.notAlive[name]; !ok || !since.Before(at) {
		return
	}
	if s.heard[unit] == nil {
		s.heard[unit] = map[string]time.Time{}
	}
	s.heard[unit][name] = at
}

// resolve applies the split rules to the units this host will hold. It
// returns the units to answer for on the wire and those to watch.
func (s *splits) resolve(self string, view election.View, holds election.KeySet, now time.Time) (answer, watch election.KeySet) {
	answer, watch = election.NewKeySet(), election.NewKeySet()
	s.forget(view, holds, now)
	for unit := range holds {
		claimants := s.claimants(unit, now)
		def, _ := unitDef(view, unit)
		switch {
		case len(claimants) == 0 && s.standBack.Has(unit):
			// The winner went quiet: it died or let go. Answer again, and
			// forget it, or its last answers would win it back.
			delete(s.standBack, unit)
			delete(s.heard, unit)
			answer[unit] = struct{}{}
		case len(claimants) == 0:
			answer[unit] = struct{}{}
		default:
			if election.Arbitrate(def, append(claimants, self)) == self {
				delete(s.standBack, unit)
				answer[unit] = struct{}{}
			} else {
				s.standBack[unit] = struct{}{}
				watch[unit] = struct{}{}
			}
		}
	}
	return answer, watch
}

// forget drops what no longer makes a split: units this host does not hold,
// members gossip shows alive again (the election settles those), and
// members not heard for splitMemory.
func (s *splits) forget(view election.View, holds election.KeySet, now time.Time) {
	for unit, byMember := range s.heard {
		for name, at := range byMember {
			if !holds.Has(unit) || alive(view, name) || now.Sub(at) > splitMemory {
				delete(byMember, name)
			}
		}
		if len(byMember) == 0 {
			delete(s.heard, unit)
		}
	}
	for unit := range s.standBack {
		if !holds.Has(unit) {
			delete(s.standBack, unit)
		}
	}
}

// split reports whether unit is split as this host sees it.
func (s *splits) split(unit string) bool { return len(s.heard[unit]) > 0 }

// with names the members heard answering for a split unit.
func (s *splits) with(unit string) []string { return slices.Sorted(maps.Keys(s.heard[unit])) }

// claimants are the members heard answering for unit recently. A host that
// stood back needs to hear the winner more often than the others need to
// hear each other.
func (s *splits) claimants(unit string, now time.Time) []string {
	window := heardFor
	if s.standBack.Has(unit) {
		window = winnerSilence
	}
	var out []string
	for name, at := range s.heard[unit] {
		if now.Sub(at) <= window {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// describe says what status shows for a split unit: who answers besides
// this host, what gossip says of them, and who keeps the unit.
func (s *splits) describe(unit, self string, members []membership.Member, now time.Time) string {
	if !s.split(unit) {
		return ""
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(s.heard[unit])) {
		parts = append(parts, fmt.Sprintf("%s holds it on the LAN (heard %s ago) while gossip shows %s %s",
			name, now.Sub(s.heard[unit][name]).Round(time.Millisecond), name, gossipState(members, name)))
	}
	who := "this host keeps answering"
	if s.standBack.Has(unit) {
		who = "this host stands back and answers again if the other goes quiet"
	}
	return strings.Join(parts, "; ") + "; " + who
}

func gossipState(members []membership.Member, name string) string {
	for _, m := range members {
		if m.Name == name {
			return string(m.State)
		}
	}
	return "unknown (never seen)"
}

func alive(view election.View, name string) bool {
	for _, h := range view.Hosts {
		if h.Name == name {
			return h.Alive
		}
	}
	return false
}

func unitDef(view election.View, key string) (election.Unit, bool) {
	for _, u := range view.Units {
		if u.Key == key {
			return u, true
		}
	}
	return election.Unit{Key: key}, false
}

func memberWithMAC(members []membership.Member, mac net.HardwareAddr, self string) string {
	for _, m := range members {
		if m.Name == self {
			continue
		}
		for _, have := range m.MACs {
			if string(have) == string(mac) {
				return m.Name
			}
		}
	}
	return ""
}

func unitOfAddress(cfg *config.Config, addr string) string {
	for _, v := range cfg.VIPs {
		if v.Address.Addr().String() == addr {
			return v.Unit()
		}
	}
	return ""
}
