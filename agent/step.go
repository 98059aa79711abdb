package agent

import (
	"cmp"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/health"
	"github.com/vipd/vipd/membership"
)

// When nothing tells it to, the loop steps every second (minResync), for
// what only time changes; but steps nothing asked for take at most a
// thousandth of a core (resyncCost x a step's cost): a host among two dozen
// with a thousand VIPs, whose steps take milliseconds, resyncs every few
// seconds, at most every maxResync. Whatever must happen at a given time
// (a claim settling, a handoff's deadline, balancing) sets Plan.WakeAt.
const (
	minResync  = time.Second
	maxResync  = 10 * time.Second
	resyncCost = 1000
)

// resyncFor is how long the loop may sleep after a step that cost d.
func resyncFor(d time.Duration) time.Duration {
	return min(max(resyncCost*d, minResync), maxResync)
}

// Input is everything one step reads: the loop gathers it, the step reads
// nothing else. No clock, socket or goroutine is behind it.
type Input struct {
	Now    time.Time
	Config *config.Config
	// Health is this host's check result for every unit.
	Health []health.UnitStatus
	// View is what gossip says; the step puts this host's own row in it.
	View    election.View
	Members []membership.Member
	// Settled reports whether gossip knows every alive host's unit list.
	Settled bool
	// Pending names the members whose newer state gossip has not brought
	// yet: first claims wait for it.
	Pending []string
	// Events are what the announcer saw since the last step.
	Events []announcer.Event
	// KeyMismatches are peers whose gossip this host cannot decrypt.
	KeyMismatches []membership.KeyMismatch
}

// Plan is what the loop carries out after a step.
type Plan struct {
	// Owned are the VIPs to answer for; Fresh names those of them no host
	// was seen holding, which the announcer may probe first.
	Owned []config.VIP
	Fresh []string
	// Watched are the VIPs the announcer probes, to hear another member
	// answer for them: those this host holds but does not answer for,
	// because another member won them on the LAN, and, while some member is
	// missing from the view or cannot be decrypted, those it answers for.
	// With every member alive nobody can claim a VIP this host owns without
	// gossip showing it, so owned VIPs go unprobed and the LAN stays quiet.
	Watched []config.VIP
	// Publish is what this host gossips about itself.
	Publish membership.Local
	// ClusterMACs is set when the members' MACs changed.
	ClusterMACs []net.HardwareAddr
	// Gained and Lost are the units this host started and stopped
	// announcing.
	Gained, Lost []string
	// Changes are the VIPs whose health, role or owner changed.
	Changes []Change
	// Events are the step's input events, for logs and metrics, but for
	// ForeignMAC events that are no conflict: a member's MAC, which the
	// announcer did not know yet, or anything heard before this host first
	// saw the cluster settled (then it does not know the members' MACs).
	Events []announcer.Event
	// Ready is true on the step that first acted on a settled view.
	Ready bool
	// WakeAt is when the loop must step again at the latest.
	WakeAt time.Time
}

// Machine is one host's decision state. Step is its only way to move: the
// same inputs always give the same plan.
type Machine struct {
	self string
	macs []net.HardwareAddr

	drained      bool
	drainedSince time.Time
	holds        election.KeySet // units announced now
	everHeld     election.KeySet // units any host was seen holding
	handoff      handoff
	settle       settler
	conflicts    map[string]conflict // by VIP address
	records      map[string]vipRecord
	decisions    election.Decisions
	units        map[string]health.UnitStatus
	converged    bool
	clusterMACs  string
	splits       splits
	links        links
	balance      balancer
	// blocked says, per unit, why this host may not claim it now.
	blocked map[string]string
	// isolated is set while this host cannot decrypt its peers' gossip: it
	// knows nothing of the cluster's owners.
	isolated bool
	// problems are what keeps this host from claiming, for status.
	problems []string
}

// NewMachine returns the state of a host that announces nothing yet; macs
// are its managed interfaces' addresses, which it gossips.
func NewMachine(self string, macs []net.HardwareAddr) *Machine {
	return &Machine{
		self:      self,
		macs:      macs,
		holds:     election.NewKeySet(),
		everHeld:  election.NewKeySet(),
		conflicts: map[string]conflict{},
		records:   map[string]vipRecord{},
		splits:    newSplits(),
		links:     newLinks(),
	}
}

// SetDrained drains (true) or undrains this host from the next step on.
func (m *Machine) SetDrained(drained bool, now time.Time) {
	if drained && !m.drained {
		m.drainedSince = now
	}
	if !drained {
		m.drainedSince = time.Time{}
	}
	m.drained = drained
}

// Step decides what this host does now.
func (m *Machine) Step(in Input) Plan {
	var p Plan
	m.splits.watchGossip(in.View, in.Now)
	for _, ev := range in.Events {
		if m.noteEvent(ev, in) {
			p.Events = append(p.Events, ev)
		}
	}
	m.forgetMemberConflicts(in.Members)
	passing := make(election.KeySet, len(in.Health))
	// Refilled, not remade: with a thousand units a new map every step is
	// most of what the step allocates besides the election.
	if m.units == nil {
		m.units = make(map[string]health.UnitStatus, len(in.Health))
	}
	clear(m.units)
	for _, u := range in.Health {
		m.units[u.Unit] = u
		if u.Eligible {
			passing[u.Unit] = struct{}{}
		}
	}
	mayNotHold, mayNotClaim := m.links.blocked(in.Config, in.View, m.self, in.Now)
	for unit := range mayNotHold {
		delete(passing, unit)
	}
	keyProblem := keyProblem(in.KeyMismatches, in.View, m.self)

	view := m.withSelf(in.View, eligibleNow(passing, m.holds, in.Settled))
	for _, h := range view.Hosts {
		if h.Alive {
			maps.Copy(m.everHeld, h.Holds)
		}
	}
	ds := election.Decide(view)
	want := m.handoff.desired(m.self, view, ds, passing, m.holds, in.Now, in.Config.DrainTimeout.Duration)
	balanceWake := m.rebalance(in, view, ds, passing, mayNotClaim, keyProblem, want)
	m.blocked = map[string]string{}
	m.isolated = keyProblem != ""
	for _, d := range ds {
		reason := mayNotHold[d.Key]
		if reason == "" && !m.holds.Has(d.Key) {
			reason = cmp.Or(keyProblem, mayNotClaim[d.Key])
		}
		if reason != "" {
			m.blocked[d.Key] = reason
			delete(want, d.Key)
		}
	}
	p.WakeAt = m.settle.hold(want, m.holds, m.everHeld, len(in.Pending) > 0, in.Now)
	p.WakeAt = earliest(p.WakeAt, m.handoff.next())
	if !balanceWake.IsZero() {
		p.WakeAt = earliest(p.WakeAt, balanceWake)
	}
	answer, watch := m.splits.resolve(m.self, view, want, in.Now)
	p.Owned, p.Fresh = ownedVIPs(in.Config, answer, m.holds, m.everHeld)
	p.Owned = anycast(in.Config, p.Owned, passing, m.drained)
	p.Watched, _ = ownedVIPs(in.Config, watch, nil, nil)
	if m.splits.someoneMissing() || len(in.KeyMismatches) > 0 {
		p.Watched = append(p.Watched, p.Owned...)
	}
	p.Gained, p.Lost = diff(m.holds, want)
	if len(watch) > 0 || len(m.links.up) > 0 {
		p.WakeAt = earliest(p.WakeAt, in.Now.Add(winnerSilence/4))
	}

	m.holds = want
	m.decisions = ds
	m.problems = m.links.problems(in.Now)
	m.problems = append(m.problems, memberProblems(in.Members, m.self)...)
	if keyProblem != "" {
		m.problems = append(m.problems, keyProblem)
	}
	p.Publish = membership.Local{Drained: m.drained, Passing: passing, Holds: m.holds, MACs: m.macs}
	p.ClusterMACs = m.newClusterMACs(in.Members)
	p.Changes = m.record(in.Config, ds, in.Members, in.Now)
	if !m.converged && in.Settled {
		m.converged = true
		p.Ready = true
	}
	return p
}

// rebalance adds to want the unit this host takes back to spread the units
// (see balancer), if any, and returns when to look again.
func (m *Machine) rebalance(in Input, view election.View, ds election.Decisions, passing election.KeySet,
	mayNotClaim map[string]string, keyProblem string, want election.KeySet) time.Time {
	m.balance.look(view, in.Now)
	if !in.Config.Rebalance || !in.Settled || !m.converged || m.drained || keyProblem != "" {
		m.balance.claiming = nil
		return time.Time{}
	}
	m.balance.release(m.self, view, ds, want, in.Now)
	m.balance.keepClaims(m.self, ds, want, in.Now)
	claimable := election.NewKeySet()
	for k := range passing {
		if mayNotClaim[k] == "" {
			claimable[k] = struct{}{}
		}
	}
	unit, wake := m.balance.next(m.self, ds, claimable, in.Now)
	if unit != "" {
		want[unit] = struct{}{}
	}
	return wake
}

// memberProblems names the alive members whose metadata cannot be read:
// while one is alive, gossip is not settled and this host claims nothing
// new (see eligibleNow).
func memberProblems(members []membership.Member, self string) []string {
	var out []string
	for _, mb := range members {
		if mb.Name != self && mb.State == membership.StateAlive && mb.Problem != "" {
			out = append(out, "member "+mb.Name+"'s gossip metadata cannot be read ("+mb.Problem+
				"): it runs another vipd version, or sends bad metadata; until every host runs the same version, it owns nothing here and no host claims anything new")
		}
	}
	return out
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// eligibleNow is the units this host may be elected for now: those whose
// checks pass, but while gossip is unsettled (some host's unit list is not
// known here) only those it holds. Membership freezes every other host the
// same way; without this, a host would elect itself while it cannot see
// that another host, whose new unit list it has not received, holds the
// unit.
func eligibleNow(passing, holds election.KeySet, settled bool) election.KeySet {
	if settled {
		return passing
	}
	out := election.NewKeySet()
	for k := range passing {
		if holds.Has(k) {
			out[k] = struct{}{}
		}
	}
	return out
}

// withSelf puts this host's own state in the view as it is now, not as
// gossip last carried it.
func (m *Machine) withSelf(view election.View, passing election.KeySet) election.View {
	view.Hosts = slices.Clone(view.Hosts)
	for i := range view.Hosts {
		h := &view.Hosts[i]
		if h.Name == m.self {
			h.Alive, h.Drained = true, m.drained
			h.Passing, h.Holds = passing, m.holds
		}
	}
	return view
}

// noteEvent records what ev says and reports whether it goes on to logs
// and metrics (see Plan.Events).
func (m *Machine) noteEvent(ev announcer.Event, in Input) bool {
	at := ev.At
	if at.IsZero() {
		at = in.Now
	}
	switch ev.Kind {
	case announcer.MemberAnswers, announcer.MemberProbes:
		m.splits.hear(ev, in.Config, in.Members, m.self, at)
	case announcer.LinkDown, announcer.LinkUp:
		m.links.note(ev, at)
	case announcer.ForeignMAC:
		if memberWithMAC(in.Members, ev.MAC, m.self) != "" {
			return false
		}
		m.conflicts[ev.VIP.String()] = conflict{text: "MAC " + ev.MAC.String() + " also answers for " + ev.VIP.String() + " on " + ev.Interface,
			mac: ev.MAC.String(), at: at}
		return m.converged
	case announcer.ForeignAddress:
		m.conflicts[ev.VIP.String()] = conflict{text: ev.VIP.String() + " is also configured on " + ev.Interface + " of this host", at: at}
	}
	return true
}

// forgetMemberConflicts drops the conflicts of MACs that turned out to be
// members': a host that has just started hears the others before gossip
// has told it their MACs.
func (m *Machine) forgetMemberConflicts(members []membership.Member) {
	for vip, c := range m.conflicts {
		if c.mac == "" {
			continue
		}
		mac, err := net.ParseMAC(c.mac)
		if err == nil && memberWithMAC(members, mac, m.self) != "" {
			delete(m.conflicts, vip)
		}
	}
}

// newClusterMACs returns every member's MACs and this host's when they
// changed since the last step, so a member's packets are never taken for a
// conflict; nil when they did not change.
func (m *Machine) newClusterMACs(members []membership.Member) []net.HardwareAddr {
	var macs []net.HardwareAddr
	var key strings.Builder
	for _, mb := range members {
		for _, mac := range mb.MACs {
			macs = append(macs, mac)
			key.WriteString(mac.String())
		}
	}
	macs = append(macs, m.macs...)
	if key.String() == m.clusterMACs && m.clusterMACs != "" {
		return nil
	}
	m.clusterMACs = key.String()
	return macs
}

// ownedVIPs returns the VIPs of the wanted units, and the names of those in
// units no host has been seen holding, which the announcer may probe first.
func ownedVIPs(cfg *config.Config, want, holds, everHeld election.KeySet) (owned []config.VIP, fresh []string) {
	for _, v := range cfg.VIPs {
		if !want.Has(v.Unit()) {
			continue
		}
		owned = append(owned, v)
		if !holds.Has(v.Unit()) && !everHeld.Has(v.Unit()) {
			fresh = append(fresh, v.Name)
		}
	}
	return owned, fresh
}

func diff(before, after election.KeySet) (gained, lost []string) {
	for k := range after {
		if !before.Has(k) {
			gained = append(gained, k)
		}
	}
	for k := range before {
		if !after.Has(k) {
			lost = append(lost, k)
		}
	}
	slices.Sort(gained)
	slices.Sort(lost)
	return gained, lost
}
