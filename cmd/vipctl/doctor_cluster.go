package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vipd/vipd/api"
)

// clusterView is what the daemon said, for the cluster checks.
type clusterView struct {
	status  api.Status
	members []api.Member
	facts   api.DoctorFacts
}

// checkCluster turns the daemon's view into findings: VIPs nobody owns with
// each host's reason, conflicts, members that are drained, gone or
// configured differently, and node lists that name no member. skipConflict
// holds VIP names whose conflict a host check already reported.
func checkCluster(file string, v clusterView, skipConflict map[string]bool) []api.Finding {
	var out []api.Finding
	holders := map[string][]string{} // unit -> alive members holding it
	for _, m := range v.members {
		if m.State == "alive" {
			for _, u := range m.Holds {
				holders[u] = append(holders[u], m.Name)
			}
		}
	}
	for _, vip := range v.status.VIPs {
		switch {
		case vip.State == api.StateNoOwner:
			out = append(out, noOwnerFinding(file, vip, holders[vip.Unit]))
		case vip.Conflict != "" && !skipConflict[vip.Name]:
			out = append(out, api.Finding{
				Severity: api.SeverityError, Check: "conflict", Subject: vip.Name,
				Problem:  fmt.Sprintf("something outside the cluster claims VIP %s (%s), so part of the LAN reaches it and not the owner", vip.Name, vip.Address),
				Evidence: vip.Conflict,
				Fix:      "find the machine or interface named ('ip neigh', the switch's MAC table) and remove the address from it",
			})
		}
	}
	out = append(out, memberFindings(v)...)
	out = append(out, nodeListFindings(file, v)...)
	return out
}

// noOwnerFinding names why nobody may announce vip, host by host. holders
// are the hosts still answering for it while they hand it over.
func noOwnerFinding(file string, vip api.VIPStatus, holders []string) api.Finding {
	var hosts []string
	var reasons []string
	for _, h := range vip.Hosts {
		if h.Eligible {
			continue
		}
		hosts = append(hosts, h.Host+": "+h.Reason)
		reasons = append(reasons, h.Reason)
	}
	evidence := strings.Join(hosts, "; ")
	if evidence == "" {
		evidence = vip.Reason
	}
	fix := "make one host eligible: 'vipctl status -v' on each host shows why it is not"
	switch {
	case anyContains(reasons, "check"):
		fix = "fix the backend on at least one host; 'vipctl checks' there shows the failing check in its own words"
	case anyContains(reasons, "drained"):
		fix = "run 'vipctl undrain' on one of the drained hosts"
	case anyContains(reasons, "node list"):
		fix = fmt.Sprintf("add an alive host to nodes: of VIP %s in %s on every host and run 'vipctl reload'", vip.Name, file)
	case anyContains(reasons, "config"):
		fix = fmt.Sprintf("give every host the same %s and run 'vipctl reload' on each", file)
	}
	problem := fmt.Sprintf("VIP %s (%s) has no eligible host, so no host answers ARP for it and the LAN cannot reach it", vip.Name, vip.Address)
	if len(holders) > 0 {
		problem = fmt.Sprintf("VIP %s (%s) has no eligible host; %s still %s for it until the handover times out, then the LAN cannot reach it",
			vip.Name, vip.Address, strings.Join(holders, ", "), plural(len(holders), "answers", "answer"))
	}
	return api.Finding{
		Severity: api.SeverityError, Check: "no-owner", Subject: vip.Name,
		Problem:  problem,
		Evidence: evidence,
		Fix:      fix,
	}
}

func anyContains(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.Contains(x, s) })
}

func memberFindings(v clusterView) []api.Finding {
	var out []api.Finding
	for _, m := range v.members {
		switch m.State {
		case "alive":
		case "left":
			continue // stopped on purpose; it said goodbye
		default:
			out = append(out, api.Finding{
				Severity: api.SeverityWarning, Check: "member", Subject: m.Name,
				Problem:  fmt.Sprintf("member %s is %s: this host gets no gossip from it, so it can take over no VIP", m.Name, m.State),
				Evidence: fmt.Sprintf("gossip address %s, state %s in 'vipctl members'", m.Address, m.State),
				Fix:      fmt.Sprintf("check vipd on %s ('systemctl status vipd') and that TCP and UDP to %s are open between the hosts", m.Name, m.Address),
			})
			continue
		}
		if m.Drained {
			out = append(out, api.Finding{
				Severity: api.SeverityWarning, Check: "drained", Subject: m.Name,
				Problem:  fmt.Sprintf("host %s is drained: it takes no VIP, so it cannot take over", m.Name),
				Evidence: "drained: yes in 'vipctl members'",
				Fix:      fmt.Sprintf("run 'vipctl undrain' on %s once its maintenance is over", m.Name),
			})
		}
		if !m.SameConfig && !m.Self {
			out = append(out, api.Finding{
				Severity: api.SeverityWarning, Check: "config-differs", Subject: m.Name,
				Problem:  fmt.Sprintf("member %s has a different VIP list than this host; a VIP defined differently is decided only among the hosts that agree on it", m.Name),
				Evidence: "config: differs in 'vipctl members'",
				Fix:      fmt.Sprintf("give %s and this host the same vips: and run 'vipctl reload' on both", m.Name),
			})
		}
	}
	return out
}

// nodeListFindings reports node lists that name hosts no member is called:
// a typo there silently leaves a VIP with fewer hosts than meant.
func nodeListFindings(file string, v clusterView) []api.Finding {
	known := map[string]bool{}
	for _, m := range v.members {
		known[m.Name] = true
	}
	if len(known) == 0 {
		return nil
	}
	var out []api.Finding
	for _, vip := range v.facts.VIPs {
		var unknown []string
		for _, n := range vip.Nodes {
			if !known[n] {
				unknown = append(unknown, n)
			}
		}
		if len(unknown) == 0 {
			continue
		}
		out = append(out, api.Finding{
			Severity: api.SeverityWarning, Check: "node-list", Subject: vip.Name,
			Problem:  fmt.Sprintf("the node list of VIP %s names %s, which no member of the cluster is called", vip.Name, strings.Join(unknown, ", ")),
			Evidence: fmt.Sprintf("nodes: [%s]; members: %s", strings.Join(vip.Nodes, ", "), strings.Join(slices.Sorted(maps.Keys(known)), ", ")),
			Fix:      fmt.Sprintf("fix the name under nodes: of %s in %s, or start vipd on that host", vip.Name, file),
		})
	}
	return out
}
