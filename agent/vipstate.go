package agent

import (
	"fmt"
	"strings"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/election"
)

// unitFacts is what this host knows about one unit beyond election's
// decision, to explain it.
type unitFacts struct {
	announced bool
	// checkReason is why this host's checks fail the unit, "" if they pass.
	checkReason string
	// conflict names what else claims one of the unit's VIPs, "" if nothing.
	conflict string
	// checks are the names of the checks that gate the unit; every host has
	// the same, so they name what fails on another host.
	checks []string
	// blocked is why this host may not claim the unit now (its link, its
	// gossip keys), "" if nothing keeps it.
	blocked string
	// split describes the split of the unit, "" if there is none;
	// standingBack is set when this host lost its arbitration.
	split        string
	standingBack bool
}

// vipState returns the VIP's health, this host's role in it, and the
// reason that status shows.
func vipState(self string, d election.Decision, f unitFacts) (api.Health, api.Role, string) {
	health, role, reason := api.HealthOK, roleOf(self, d, f), ""
	own := d.EligibilityOf(self)
	switch {
	case f.announced && f.standingBack:
		reason = "another member won it on the LAN; standing by"
	case f.announced && d.Owner == self:
		reason = d.Reason.String()
	case f.announced:
		reason = fmt.Sprintf("handing over to %s", orNobody(d.Owner))
	case d.Owner == self:
		reason = "elected; claiming once the cluster view has settled"
	case d.Owner == "":
		health, reason = api.HealthNoOwner, noOwnerDetail(d, self, f)
	case own == election.Drained:
		reason = fmt.Sprintf("this host is drained; %s owns it (%s)", d.Owner, d.Reason)
	case own == election.NotInNodeList:
		reason = fmt.Sprintf("this host is not in the node list; %s owns it (%s)", d.Owner, d.Reason)
	case own == election.ChecksFailing && f.checkReason != "":
		reason = fmt.Sprintf("%s; %s owns it (%s)", f.checkReason, d.Owner, d.Reason)
	case own == election.ConfigDiffers || own == election.UnknownUnit:
		reason = fmt.Sprintf("this host's config for it differs from the cluster's; %s owns it (%s)", d.Owner, d.Reason)
	default:
		// Not Sprintf: this runs for every VIP at every step.
		reason = d.Owner + " owns it (" + d.Reason.String() + ")"
	}
	if f.blocked != "" && !f.announced && !strings.Contains(reason, f.blocked) {
		reason = f.blocked + "; " + reason
	}
	if f.split != "" {
		health, reason = api.HealthSplit, f.split
	}
	if f.conflict != "" {
		health, reason = api.HealthConflict, f.conflict
	}
	return health, role, reason
}

// roleOf is this host's part in the unit of decision d.
func roleOf(self string, d election.Decision, f unitFacts) api.Role {
	switch {
	case f.announced && f.standingBack:
		return api.RoleStandby
	case f.announced:
		return api.RoleOwner
	case f.blocked != "":
		return api.RoleUnhealthy
	}
	switch d.EligibilityOf(self) {
	case election.Drained:
		return api.RoleDrained
	case election.NotInNodeList:
		return api.RoleExcluded
	case election.ChecksFailing:
		return api.RoleUnhealthy
	}
	return api.RoleStandby
}

// noOwnerDetail explains a unit nobody owns with each host's reason, the
// endpoint-liveness rule made visible: "checks failing on every host that
// could own it: h1: check web: GET ...: connection refused; h2: drained".
func noOwnerDetail(d election.Decision, self string, f unitFacts) string {
	var parts []string
	for _, h := range d.Statuses() {
		parts = append(parts, h.Host+": "+hostReason(h, self, f))
	}
	if len(parts) == 0 {
		return d.Reason.String()
	}
	return d.Reason.String() + ": " + strings.Join(parts, "; ")
}

// hostReason is why host h may or may not own the unit, with the failing
// check's own words where this host knows them.
func hostReason(h election.HostStatus, self string, f unitFacts) string {
	if h.Host == self && f.blocked != "" {
		return f.blocked
	}
	if h.Eligibility != election.ChecksFailing {
		return h.Eligibility.String()
	}
	if h.Host == self && f.checkReason != "" {
		return f.checkReason
	}
	switch len(f.checks) {
	case 0:
		return h.Eligibility.String()
	case 1:
		return "check " + f.checks[0] + " failing there"
	}
	return "one or more of checks " + strings.Join(f.checks, ", ") + " failing there"
}

func orNobody(owner string) string {
	if owner == "" {
		return "nobody"
	}
	return owner
}

// hostEligibility turns a decision's host list into status rows.
func hostEligibility(d election.Decision, self string, f unitFacts) []api.HostEligibility {
	rows := make([]api.HostEligibility, 0, len(d.Hosts))
	for _, h := range d.Statuses() {
		reason := ""
		if h.Eligibility != election.Eligible {
			reason = hostReason(h, self, f)
		}
		token, _ := h.Eligibility.MarshalText()
		rows = append(rows, api.HostEligibility{Host: h.Host, Eligible: h.Eligibility == election.Eligible, Eligibility: string(token), Reason: reason})
	}
	return rows
}
