package agent

import (
	"cmp"
	"slices"
	"time"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/membership"
)

// Status returns the status as the control API shows it.
func (a *Agent) Status() api.Status { return a.status(true) }

// status is Status, with each VIP's list of hosts and their eligibility
// only when withHosts is set: with 1000 VIPs on 24 hosts the lists are
// nine tenths of the answer.
func (a *Agent) status(withHosts bool) api.Status {
	a.mu.Lock()
	st := a.machine.status(a.cfg, api.ConfigState{File: a.opts.File, LoadedAt: a.loadedAt, ReloadError: a.reloadErr}, a.opts.Version, a.members, a.opts.Clock.Now(), withHosts)
	a.mu.Unlock()
	if a.opts.BGP != nil {
		st.BGP = a.opts.BGP()
	}
	return st
}

// status is the machine's state as the control API shows it.
func (m *Machine) status(cfg *config.Config, cs api.ConfigState, version string, members []membership.Member, now time.Time, withHosts bool) api.Status {
	st := api.Status{
		Node:         cfg.NodeName,
		Version:      version,
		Drained:      m.drained,
		DrainedSince: m.drainedSince,
		Converged:    m.converged,
		Config:       cs,
		Problems:     slices.Clone(m.problems),
		VIPs:         []api.VIPStatus{},
	}
	for _, v := range cfg.VIPs {
		rec, ok := m.records[v.Name]
		d, _ := m.decisions.Lookup(v.Unit())
		f := m.facts(v, members, now)
		vs := api.VIPStatus{
			Name:      v.Name,
			Address:   v.Address.Addr().String(),
			Unit:      v.Unit(),
			Interface: v.Interface,
			Health:    rec.health,
			Role:      rec.role,
			Owner:     rec.owner,
			Reason:    rec.reason,
			Since:     rec.since,
			Conflict:  f.conflict,
			Split:     f.split,
		}
		if withHosts {
			vs.Hosts = hostEligibility(d, cfg.NodeName, f)
		}
		if f.split != "" {
			vs.SplitWith = m.splits.with(v.Unit())
		}
		if !ok {
			vs.Health, vs.Role, vs.Reason = api.HealthNoOwner, api.RoleStandby, "not decided yet"
		}
		st.VIPs = append(st.VIPs, vs)
	}
	return st
}

// Members returns the gossip cluster's hosts for `vipctl members`.
func (a *Agent) Members() []api.Member {
	self := a.Config().NodeName
	holds := map[string][]string{}
	for _, h := range a.opts.Cluster.View().Hosts {
		holds[h.Name] = h.Holds.Sorted()
	}
	members := a.opts.Cluster.Members()
	var own membership.ConfigFingerprint
	for _, m := range members {
		if m.Name == self {
			own = m.Config
		}
	}
	out := []api.Member{}
	for _, m := range members {
		am := api.Member{
			Name:       m.Name,
			Address:    m.Addr.String(),
			State:      api.MemberState(m.State),
			Drained:    m.Drained,
			Self:       m.Name == self,
			SameConfig: m.Resolved && m.Config == own,
			Holds:      holds[m.Name],
			Problem:    m.Problem,
		}
		for _, mac := range m.MACs {
			am.MACs = append(am.MACs, mac.String())
		}
		out = append(out, am)
	}
	out = markWrongKeys(a.opts.Cluster.KeyMismatches(), out)
	slices.SortFunc(out, func(x, y api.Member) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Address, y.Address))
	})
	return out
}

// markWrongKeys shows the hosts whose gossip this host cannot decrypt in
// state wrong-key: a member that is not alive takes that state, a host
// gossip never knew is added. A member gossip shows alive is left alone.
func markWrongKeys(mismatches []membership.KeyMismatch, members []api.Member) []api.Member {
	for _, k := range mismatches {
		i := slices.IndexFunc(members, func(m api.Member) bool {
			return (k.Node != "" && m.Name == k.Node) || m.Address == k.Addr
		})
		switch {
		case i < 0:
			members = append(members, api.Member{Name: cmp.Or(k.Node, "?"), Address: k.Addr, State: api.MemberWrongKey})
		case members[i].State != api.MemberAlive:
			members[i].State = api.MemberWrongKey
		}
	}
	return members
}

// Checks returns this host's health checks for `vipctl checks`.
func (a *Agent) Checks() []api.Check {
	cfg := a.Config()
	gates := map[string][]string{}
	for _, v := range cfg.VIPs {
		for _, c := range v.Checks {
			gates[c] = append(gates[c], v.Name)
		}
	}
	out := []api.Check{}
	for _, s := range a.opts.Checks.Statuses() {
		c := api.Check{
			Name: s.Check, Up: s.Up, Reason: s.Reason, Since: s.Since,
			LastProbe: s.LastProbe, LastError: s.LastError, VIPs: gates[s.Check],
		}
		if def, ok := cfg.Checks[s.Check]; ok {
			c.Type = string(def.Type)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y api.Check) int { return cmp.Compare(x.Name, y.Name) })
	return out
}
