package agent

import (
	"time"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/membership"
)

// Change is one VIP's record before and after a step. A VIP new to the
// config has a zero From.
type Change struct {
	VIP      config.VIP
	From, To vipRecord
}

// vipRecord is one VIP as status shows it.
type vipRecord struct {
	health api.Health
	role   api.Role
	owner  string
	reason string
	since  time.Time
}

type conflict struct {
	text string
	mac  string // the MAC heard, for a ForeignMAC conflict
	at   time.Time
}

// conflictHold is how long a conflict stays in status after it was last seen.
const conflictHold = time.Minute

// record updates each VIP's record and returns those that changed.
func (m *Machine) record(cfg *config.Config, ds election.Decisions, members []membership.Member, now time.Time) []Change {
	var changes []Change
	seen := map[string]bool{}
	for _, v := range cfg.VIPs {
		seen[v.Name] = true
		d, _ := ds.Lookup(v.Unit())
		f := m.facts(v, members, now)
		rec := vipRecord{owner: d.Owner}
		rec.health, rec.role, rec.reason = vipState(m.self, d, f)
		if m.isolated {
			rec.owner, rec.health, rec.reason = "", api.HealthNoOwner, f.blocked
		}
		old, had := m.records[v.Name]
		if had && old.health == rec.health && old.role == rec.role && old.owner == rec.owner {
			old.reason = rec.reason
			m.records[v.Name] = old
			continue
		}
		rec.since = now
		m.records[v.Name] = rec
		changes = append(changes, Change{VIP: v, From: old, To: rec})
	}
	for name := range m.records {
		if !seen[name] {
			delete(m.records, name)
		}
	}
	return changes
}

// facts is what this host knows about v's unit beyond election's decision.
func (m *Machine) facts(v config.VIP, members []membership.Member, now time.Time) unitFacts {
	u := m.units[v.Unit()]
	f := unitFacts{
		checks: u.Checks, announced: m.holds.Has(v.Unit()), standingBack: m.splits.standBack.Has(v.Unit()),
		blocked: m.blocked[v.Unit()], split: m.splits.describe(v.Unit(), m.self, members, now),
	}
	if !u.Eligible {
		f.checkReason = u.Reason
	}
	if len(m.conflicts) == 0 {
		return f
	}
	if c, ok := m.conflicts[v.Address.Addr().String()]; ok {
		if now.Sub(c.at) > conflictHold {
			delete(m.conflicts, v.Address.Addr().String())
		} else {
			f.conflict = c.text
		}
	}
	return f
}
