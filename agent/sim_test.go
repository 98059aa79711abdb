package agent

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/health"
	"github.com/vipd/vipd/membership"
)

// simStep is how often every simulated host steps.
const simStep = 100 * time.Millisecond

// sim is a cluster of Machines on a fake clock with perfect gossip: what a
// host publishes is seen by every other host at once, unless a partition
// cuts the gossip between them. The wire is what each host answers for.
// Nothing in it runs in a goroutine or reads the wall clock.
type sim struct {
	t     testing.TB
	start time.Time
	now   time.Time
	hosts map[string]*simHost
	// knownMaps holds one Known map per set of definitions, shared by the
	// hosts that have it, as membership shares them.
	knownMaps map[string]map[string]election.Fingerprint
	// allSets holds, per Known map, one set of all its keys, which stands
	// for every host passing every unit, as membership shares it.
	allSets map[string]election.KeySet
	// log collects what happened since the last command printed it.
	log []string
}

type simHost struct {
	name string
	cfg  *config.Config
	m    *Machine
	mac  net.HardwareAddr
	up   bool
	// stopping is set by a graceful stop: the host drains, then leaves.
	stopping    bool
	stopBy      time.Time
	health      map[string]health.UnitStatus
	published   membership.Local
	answering   []string // VIP names this host answers for
	watching    []string // VIP names this host probes without answering
	events      []announcer.Event
	drainedDisk time.Time // the drain kept in state_dir; zero when none
	// linkDown cuts the host from the LAN and from gossip.
	linkDown bool
	// gossipBack is when gossip with the others works again after the link
	// came back: re-joining takes a moment.
	gossipBack time.Time
	// wrongKey: the host's gossip key differs from the others'.
	wrongKey bool
	// side is the host's half of the LAN when it is cut in two ("" or "a",
	// "b"); hosts on different sides neither gossip nor hear each other.
	side string
	// gossipSide is the same for gossip alone (a firewall on port 7946).
	gossipSide string
	// gossipDelay is how long what the host publishes takes to reach the
	// others (a loaded host); history keeps what it published when.
	// unannounced: its heartbeats do not announce a new state ahead of
	// the gossip (the others see no Pending).
	gossipDelay time.Duration
	history     []stampedLocal
	unannounced bool
	// moves counts the times the host started answering for each VIP.
	moves map[string]int
	// known is the Known map of knownOf, the config it was made from, and
	// knownKey the definitions it holds, written out.
	known    map[string]election.Fingerprint
	knownOf  *config.Config
	knownKey string
}

type stampedLocal struct {
	at    time.Time
	local membership.Local
}

func newSim(t testing.TB, yaml string, names []string) *sim {
	s := &sim{t: t, start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), hosts: map[string]*simHost{}, knownMaps: map[string]map[string]election.Fingerprint{}, allSets: map[string]election.KeySet{}}
	s.now = s.start
	for i, n := range names {
		h := &simHost{name: n, mac: net.HardwareAddr{2, 0, 0, 0, 0, byte(i + 1)}, health: map[string]health.UnitStatus{}, moves: map[string]int{}}
		h.cfg = s.parse(yaml, n)
		s.hosts[n] = h
	}
	return s
}

func (s *sim) parse(yaml, host string) *config.Config {
	s.t.Helper()
	cfg, err := config.Parse("vipd.yaml", []byte(yaml), host)
	if err != nil {
		s.t.Fatalf("config for %s: %v", host, err)
	}
	return cfg
}

func (s *sim) host(name string) *simHost {
	s.t.Helper()
	h, ok := s.hosts[name]
	if !ok {
		s.t.Fatalf("no host %q in the sim", name)
	}
	return h
}

func (s *sim) names() []string { return slices.Sorted(maps.Keys(s.hosts)) }

// startHost starts a host's process: a new machine, checks passing, and a
// drain kept from an earlier run still in force.
func (s *sim) startHost(name string) {
	h := s.host(name)
	h.m = NewMachine(name, []net.HardwareAddr{h.mac})
	h.up, h.stopping = true, false
	h.published, h.answering, h.watching, h.history = membership.Local{}, nil, nil, nil
	if !h.drainedDisk.IsZero() {
		h.m.SetDrained(true, h.drainedDisk)
	}
	for _, u := range membership.UnitsFromConfig(h.cfg.VIPs) {
		if _, ok := h.health[u.Key]; !ok {
			h.health[u.Key] = health.UnitStatus{Unit: u.Key, Checks: checksOf(h.cfg, u.Key), Eligible: true}
		}
	}
}

// crash stops a host as SIGKILL and a pulled cable would: it answers for
// nothing and gossip shows it dead.
func (s *sim) crash(name string) {
	h := s.host(name)
	h.up, h.answering = false, nil
	s.note("%s crashed", name)
}

// gossips reports whether h and g exchange gossip now.
func (s *sim) gossips(h, g *simHost) bool {
	if h == g {
		return true
	}
	return g.up && h.up && s.hears(h, g) && h.gossipSide == g.gossipSide &&
		!h.wrongKey && !g.wrongKey && !s.now.Before(h.gossipBack) && !s.now.Before(g.gossipBack)
}

// hears reports whether h and g reach each other on the LAN.
func (s *sim) hears(h, g *simHost) bool {
	return g.up && h.up && !h.linkDown && !g.linkDown && h.side == g.side
}

// view is the cluster as gossip shows it to host h.
func (s *sim) view(h *simHost) election.View {
	var hosts []election.Host
	for _, n := range s.names() {
		g := s.hosts[n]
		if g.m == nil {
			continue
		}
		seen := s.seen(h, g)
		hosts = append(hosts, election.Host{
			Name: n, Alive: s.gossips(h, g), Drained: seen.Drained,
			Known:   s.knownOf(g),
			Passing: s.passingOf(g, seen.Passing), Holds: maps.Clone(seen.Holds),
		})
	}
	return election.View{Hosts: hosts, Units: membership.UnitsFromConfig(h.cfg.VIPs)}
}

// knownOf returns the Known map of g's config: the same map for every host
// whose definitions are the same, as membership gives them.
func (s *sim) knownOf(g *simHost) map[string]election.Fingerprint {
	if g.knownOf != g.cfg {
		known := election.Fingerprints(membership.UnitsFromConfig(g.cfg.VIPs))
		key := fmt.Sprint(known) // fmt prints a map's keys in order
		if shared, ok := s.knownMaps[key]; ok {
			known = shared
		} else {
			s.knownMaps[key] = known
		}
		g.known, g.knownOf, g.knownKey = known, g.cfg, key
	}
	return g.known
}

// passingOf returns g's passing set as membership gives it: one set shared
// by every host with g's definitions that passes every unit, else a copy.
func (s *sim) passingOf(g *simHost, passing election.KeySet) election.KeySet {
	known := s.knownOf(g)
	if len(passing) != len(known) {
		return maps.Clone(passing)
	}
	for k := range known {
		if !passing.Has(k) {
			return maps.Clone(passing)
		}
	}
	all, ok := s.allSets[g.knownKey]
	if !ok {
		all = maps.Clone(passing)
		s.allSets[g.knownKey] = all
	}
	return all
}

// seen is what h knows of g's published state: all of it but what g
// published in the last gossipDelay.
func (s *sim) seen(h, g *simHost) membership.Local {
	if h == g || g.gossipDelay == 0 {
		return g.published
	}
	for i := len(g.history) - 1; i >= 0; i-- {
		if !g.history[i].at.After(s.now.Add(-g.gossipDelay)) {
			return g.history[i].local
		}
	}
	return membership.Local{}
}

// pending names the hosts whose heartbeats to h announced a state that
// gossip has not brought to h yet.
func (s *sim) pending(h *simHost) []string {
	var out []string
	for _, n := range s.names() {
		g := s.hosts[n]
		if g != h && s.gossips(h, g) && !g.unannounced && !sameLocal(s.seen(h, g), g.published) {
			out = append(out, n)
		}
	}
	return out
}

func (s *sim) members(h *simHost) []membership.Member {
	var ms []membership.Member
	for _, n := range s.names() {
		g := s.hosts[n]
		st := membership.StateAlive
		if !s.gossips(h, g) {
			st = membership.StateDead
		}
		ms = append(ms, membership.Member{Name: n, State: st, MACs: []net.HardwareAddr{g.mac}, Resolved: true})
	}
	return ms
}

// tick advances the clock by d, stepping every running host each simStep.
func (s *sim) tick(d time.Duration) {
	for end := s.now.Add(d); s.now.Before(end); {
		s.now = s.now.Add(simStep)
		for _, n := range s.names() {
			if h := s.hosts[n]; h.up {
				s.stepHost(h)
			}
		}
	}
}

// input is what h's next step reads.
func (s *sim) input(h *simHost) Input {
	var units []health.UnitStatus
	for _, k := range slices.Sorted(maps.Keys(h.health)) {
		units = append(units, h.health[k])
	}
	return Input{
		Now: s.now, Config: h.cfg, Health: units, View: s.view(h),
		Members: s.members(h), Settled: true, Pending: s.pending(h), Events: h.events,
		KeyMismatches: s.keyMismatches(h),
	}
}

func (s *sim) stepHost(h *simHost) {
	p := h.m.Step(s.input(h))
	h.events = nil
	before := h.answering
	h.answering, h.watching = nil, nil
	for _, v := range p.Owned {
		h.answering = append(h.answering, v.Name)
	}
	for _, v := range p.Watched {
		h.watching = append(h.watching, v.Name)
	}
	s.wireChanged(h, before)
	s.hearAnswers(h)
	if !sameLocal(h.published, p.Publish) {
		h.history = append(h.history, stampedLocal{at: s.now, local: p.Publish})
	}
	h.published = p.Publish
	for _, c := range p.Changes {
		if c.From.role != c.To.role || c.From.health != c.To.health {
			s.note("%s: %s %s/%s -> %s/%s", h.name, c.VIP.Name, orNone(string(c.From.role)), orNone(string(c.From.health)), c.To.role, c.To.health)
		}
	}
	if h.stopping && (len(h.m.holds) == 0 || !s.now.Before(h.stopBy)) {
		h.up, h.answering = false, nil
		s.note("%s stopped", h.name)
	}
}

// wireChanged notes what h started and stopped answering for, and every
// VIP that nobody answers for any more.
func (s *sim) wireChanged(h *simHost, before []string) {
	for _, v := range h.answering {
		if !slices.Contains(before, v) {
			h.moves[v]++
			s.note("%s answers %s", h.name, v)
		}
	}
	for _, v := range before {
		if slices.Contains(h.answering, v) {
			continue
		}
		s.note("%s stops answering %s", h.name, v)
		if len(s.answering(v)) == 0 && configured(h.cfg, v) {
			s.note("GAP: nobody answers %s", v)
		}
	}
}

// hearAnswers delivers what h's announcer hears on the LAN, at h's next
// step: every other host answering for a VIP h probes (h's probes draw the
// answers) as MemberAnswers, and every other host probing a VIP h answers
// for or probes as MemberProbes. A host probes what it watches.
func (s *sim) hearAnswers(h *simHost) {
	for _, n := range s.names() {
		g := s.hosts[n]
		if g == h || !s.hears(h, g) {
			continue
		}
		vips := slices.Concat(g.answering, g.watching)
		slices.Sort(vips)
		for _, v := range slices.Compact(vips) {
			hProbes := slices.Contains(h.watching, v)
			if !hProbes && !slices.Contains(h.answering, v) {
				continue
			}
			addr := vipAddress(h.cfg, v)
			if !addr.IsValid() {
				continue
			}
			var kind announcer.EventKind
			switch {
			case hProbes && slices.Contains(g.answering, v):
				kind = announcer.MemberAnswers
			case slices.Contains(g.watching, v):
				kind = announcer.MemberProbes
			default:
				continue
			}
			h.events = append(h.events, announcer.Event{Kind: kind, VIP: addr, MAC: g.mac, Interface: "eth0", At: s.now})
		}
	}
}

// keyMismatches are the hosts whose gossip h cannot decrypt: with a wrong
// key on either side, every running peer it can reach.
func (s *sim) keyMismatches(h *simHost) []membership.KeyMismatch {
	var out []membership.KeyMismatch
	for _, n := range s.names() {
		g := s.hosts[n]
		if g != h && s.hears(h, g) && (h.wrongKey || g.wrongKey) {
			out = append(out, membership.KeyMismatch{Addr: "198.51.100." + n[1:] + ":7946", Node: n, LastSeen: s.now})
		}
	}
	return out
}

// answering returns the hosts that answer for vip.
func (s *sim) answering(vip string) []string {
	var out []string
	for _, n := range s.names() {
		if h := s.hosts[n]; h.up && slices.Contains(h.answering, vip) {
			out = append(out, n)
		}
	}
	return out
}

func (s *sim) note(format string, args ...any) {
	at := s.now.Sub(s.start)
	s.log = append(s.log, fmt.Sprintf("%6.1fs  ", at.Seconds())+fmt.Sprintf(format, args...))
}

// flush returns the log since the last flush.
func (s *sim) flush() string {
	out := strings.Join(s.log, "\n")
	s.log = nil
	if out == "" {
		return "(nothing happened)"
	}
	return out
}

// status prints every VIP as each running host sees it.
func (s *sim) status(withReasons bool) string {
	var b strings.Builder
	var any *simHost
	for _, n := range s.names() {
		if s.hosts[n].up {
			any = s.hosts[n]
			break
		}
	}
	if any == nil {
		return "no host runs"
	}
	for _, v := range any.cfg.VIPs {
		fmt.Fprintf(&b, "%s: wire=%s\n", v.Name, orNobody(strings.Join(s.answering(v.Name), ",")))
		for _, n := range s.names() {
			h := s.hosts[n]
			if !h.up {
				continue
			}
			st := h.m.status(h.cfg, configState(), "", s.members(h), s.now, true)
			if withReasons && v.Name == any.cfg.VIPs[0].Name {
				for _, p := range st.Problems {
					fmt.Fprintf(&b, "  %s: PROBLEM %s\n", n, p)
				}
			}
			for _, vs := range st.VIPs {
				if vs.Name != v.Name {
					continue
				}
				fmt.Fprintf(&b, "  %s: %s %s owner=%s", n, vs.Health, vs.Role, orNobody(vs.Owner))
				if withReasons {
					fmt.Fprintf(&b, " (%s)", vs.Reason)
				}
				b.WriteString("\n")
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func vipAddress(cfg *config.Config, vip string) netip.Addr {
	for _, v := range cfg.VIPs {
		if v.Name == vip {
			return v.Address.Addr()
		}
	}
	return netip.Addr{}
}

func configured(cfg *config.Config, vip string) bool {
	return slices.ContainsFunc(cfg.VIPs, func(v config.VIP) bool { return v.Name == vip })
}

// moves prints, per VIP, how many times each host started answering it.
func (s *sim) moves() string {
	var b strings.Builder
	for _, n := range s.names() {
		h := s.hosts[n]
		for _, v := range slices.Sorted(maps.Keys(h.moves)) {
			fmt.Fprintf(&b, "%s %s: %d\n", n, v, h.moves[v])
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
