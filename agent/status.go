package agent

import (
	"cmp"
	"slices"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/membership"
)

func (a *Agent) statusLocked() api.Status {
	cfg := a.cfg
	st := api.Status{
		Node:      cfg.NodeName,
		Version:   a.opts.Version,
		Drained:   a.drained,
		Converged: a.converged,
		Config:    api.ConfigState{File: a.opts.File, LoadedAt: a.loadedAt, ReloadError: a.reloadErr},
		VIPs:      []api.VIPStatus{},
	}
	for _, v := range cfg.VIPs {
		rec := a.vips[v.Name]
		d, _ := a.decisions.Lookup(v.Unit())
		f := a.factsLocked(v.Unit())
		vs := api.VIPStatus{
			Name:      v.Name,
			Address:   v.Address.Addr().String(),
			Unit:      v.Unit(),
			Interface: v.Interface,
			State:     rec.state,
			Owner:     rec.owner,
			Reason:    rec.reason,
			Since:     rec.since,
			Hosts:     hostEligibility(d, cfg.NodeName, f),
		}
		if rec.state == "" {
			vs.State, vs.Reason = api.StateNoOwner, "not decided yet"
		}
		if c, ok := a.conflicts[vs.Address]; ok {
			vs.Conflict = c.text
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
			State:      string(m.State),
			Drained:    m.Drained,
			Self:       m.Name == self,
			SameConfig: m.Resolved && m.Config == own,
			Holds:      holds[m.Name],
		}
		for _, mac := range m.MACs {
			am.MACs = append(am.MACs, mac.String())
		}
		out = append(out, am)
	}
	slices.SortFunc(out, func(x, y api.Member) int { return cmp.Compare(x.Name, y.Name) })
	return out
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
