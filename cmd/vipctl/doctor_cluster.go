package main

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/election"
)

// clusterView is what the daemon said, for the cluster checks.
type clusterView struct {
	status  api.Status
	members []api.Member
	facts   api.DoctorFacts
}

// checkCluster turns the daemon's view into findings: gossip keys that
// differ, VIPs nobody owns with each host's reason, splits, conflicts,
// members that are drained, gone or configured differently, and node lists
// that name no member. skipConflict holds VIP names whose conflict a host
// check already reported.
func checkCluster(file string, v clusterView, skipConflict map[string]bool) []api.Finding {
	var out []api.Finding
	keys := keyFinding(v)
	if keys != nil {
		out = append(out, *keys)
	}
	holders := map[string][]string{} // unit -> alive members holding it
	for _, m := range v.members {
		if m.State == api.MemberAlive {
			for _, u := range m.Holds {
				holders[u] = append(holders[u], m.Name)
			}
		}
	}
	explained := map[string]bool{} // members a split finding names
	for _, vip := range v.status.VIPs {
		switch vip.Health {
		case api.HealthNoOwner:
			out = append(out, noOwnerFinding(file, vip, holders[vip.Unit]))
		case api.HealthSplit:
			f, m := splitFinding(vip, v.members)
			out = append(out, f)
			if m != "" {
				explained[m] = true
			}
		case api.HealthConflict:
			if skipConflict[vip.Name] {
				continue
			}
			if keys != nil {
				out = append(out, keyConflictFinding(vip, v))
				continue
			}
			out = append(out, api.Finding{
				Severity: api.SeverityError, Check: "conflict", Subject: vip.Name,
				Problem:  fmt.Sprintf("something outside the cluster claims VIP %s (%s), so part of the LAN reaches it and not the owner", vip.Name, vip.Address),
				Evidence: vip.Conflict,
				Fix:      "find the machine or interface named ('ip neigh', the switch's MAC table) and remove the address from it",
			})
		}
	}
	out = append(out, memberFindings(v, explained)...)
	out = append(out, bgpFindings(v.status.BGP)...)
	if keys == nil || len(alivePeers(v.members)) > 0 {
		// A host cut off by its key knows no other member's name.
		out = append(out, nodeListFindings(file, v)...)
	}
	return out
}

// noOwnerFinding names why nobody may announce vip, host by host, and
// picks the fix by the furthest any host got towards being eligible, as
// election does for the no-owner reason. holders are the hosts still
// answering for it while they hand it over.
func noOwnerFinding(file string, vip api.VIPStatus, holders []string) api.Finding {
	var hosts []string
	var furthest election.Eligibility
	for _, h := range vip.Hosts {
		if h.Eligible {
			continue
		}
		hosts = append(hosts, h.Host+": "+h.Reason)
		var e election.Eligibility
		if e.UnmarshalText([]byte(h.Eligibility)) == nil && e > furthest {
			furthest = e
		}
	}
	evidence := strings.Join(hosts, "; ")
	if evidence == "" {
		evidence = vip.Reason
	}
	fix := "make one host eligible: 'vipctl status -v' on each host shows why it is not"
	switch furthest {
	case election.ChecksFailing:
		fix = "fix the backend on at least one host; 'vipctl checks' there shows the failing check in its own words"
	case election.Drained:
		fix = "run 'vipctl undrain' on one of the drained hosts"
	case election.NotInNodeList:
		fix = fmt.Sprintf("add an alive host to nodes: of VIP %s in %s on every host and run 'vipctl reload'", vip.Name, file)
	case election.ConfigDiffers, election.UnknownUnit:
		fix = fmt.Sprintf("give every host the same %s and run 'vipctl reload' on each", file)
	case election.NotAlive:
		fix = "start vipd on a host that may own it ('systemctl start vipd'), and check that TCP and UDP on the gossip port are open between the hosts"
	case election.DuplicateHost:
		fix = fmt.Sprintf("give every host its own node_name in %s and restart vipd there", file)
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

// splitMember finds the first member the split names.
func splitMember(vip api.VIPStatus, members []api.Member) (api.Member, bool) {
	for _, name := range vip.SplitWith {
		for _, m := range members {
			if m.Name == name && !m.Self {
				return m, true
			}
		}
	}
	return api.Member{}, false
}

// gossipPort is the port of a member's gossip address, for the firewall
// fix; memberlist's default when the address has none.
func gossipPort(addr string) (host, port string) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, "7946"
	}
	return h, p
}

// splitFinding names the cause of a split: a member answers for vip on the
// LAN while gossip does not show it holding vip. It returns the member's
// name when it could tell which member.
func splitFinding(vip api.VIPStatus, members []api.Member) (api.Finding, string) {
	f := api.Finding{Severity: api.SeverityError, Check: "split", Subject: vip.Name, Evidence: vip.Split}
	m, ok := splitMember(vip, members)
	if !ok {
		f.Problem = fmt.Sprintf("another member answers for VIP %s (%s) on %s while gossip does not show it holding the VIP: gossip is cut between the hosts, so each may claim it",
			vip.Name, vip.Address, vip.Interface)
		f.Fix = "check firewalls for TCP and UDP on the gossip port (7946 unless gossip.bind says otherwise) between the hosts; vipd merges the cluster within seconds once gossip passes"
		return f, ""
	}
	host, port := gossipPort(m.Address)
	if m.State != api.MemberAlive {
		f.Problem = fmt.Sprintf("gossip to %s (%s) is down — %s is %s in 'vipctl members' — but %s answers for %s on %s: gossip is blocked between these hosts",
			m.Name, m.Address, m.Name, m.State, m.Name, vip.Address, vip.Interface)
		f.Fix = fmt.Sprintf("check firewalls for TCP and UDP %s between this host and %s (%s); vipd merges the cluster within seconds once gossip passes", port, m.Name, host)
		return f, m.Name
	}
	f.Problem = fmt.Sprintf("%s answers for %s (VIP %s) on %s while gossip shows it alive and not holding it: the two hosts disagree on who owns it",
		m.Name, vip.Address, vip.Name, vip.Interface)
	f.Fix = fmt.Sprintf("compare 'vipctl status' here and on %s; if they still disagree after a few seconds, give both the same config and restart vipd on %s", m.Name, m.Name)
	return f, m.Name
}

// peerNames lists key-mismatched peers as "h3 (198.51.100.13:7946)", or
// the address alone when the name is unknown.
func peerNames(peers []api.GossipPeer) string {
	var out []string
	for _, p := range peers {
		if p.Node == "" {
			out = append(out, p.Address)
			continue
		}
		out = append(out, fmt.Sprintf("%s (%s)", p.Node, p.Address))
	}
	return strings.Join(out, ", ")
}

// alivePeers are the alive members other than this host.
func alivePeers(members []api.Member) []string {
	var out []string
	for _, m := range members {
		if m.State == api.MemberAlive && !m.Self {
			out = append(out, m.Name)
		}
	}
	return out
}

// keyFile names the key file for a fix.
func keyFile(f api.DoctorFacts) string {
	if f.GossipKeyFile == "" {
		return "the gossip key file"
	}
	return f.GossipKeyFile
}

// keyFinding reports peers whose gossip key differs from this host's. With
// no alive peer, this host is the odd one out: it cannot join and claims
// nothing. With alive peers, the cluster is fine and the named host cannot
// join it.
func keyFinding(v clusterView) *api.Finding {
	peers := v.facts.KeyMismatches
	if len(peers) == 0 {
		return nil
	}
	alive := alivePeers(v.members)
	if len(alive) == 0 {
		return &api.Finding{
			Severity: api.SeverityError, Check: "gossip-key", Subject: v.status.Node,
			Problem:  fmt.Sprintf("this host's gossip key differs from its peers' (%s): it cannot join the cluster, so it claims no VIP", peerNames(peers)),
			Evidence: fmt.Sprintf("gossip with %s did not decrypt within the last 30 s; no member is alive here but this host", peerNames(peers)),
			Fix:      fmt.Sprintf("put the same key file on every host: copy %s from a host of the cluster to this one (mode 0600) and restart vipd here", keyFile(v.facts)),
		}
	}
	return &api.Finding{
		Severity: api.SeverityWarning, Check: "gossip-key", Subject: peerNames(peers),
		Problem:  fmt.Sprintf("%s cannot join the cluster: its gossip does not decrypt here, so its gossip key differs from this cluster's and it can take over no VIP", peerNames(peers)),
		Evidence: fmt.Sprintf("gossip with %s did not decrypt within the last 30 s; alive here: %s", peerNames(peers), strings.Join(alive, ", ")),
		Fix:      fmt.Sprintf("put the same key file on every host: copy %s of this host to it (mode 0600) and restart vipd there", keyFile(v.facts)),
	}
}

// keyConflictFinding reports a conflict that a key mismatch explains: the
// MAC answering for vip is most likely a host of the same cluster that
// gossip cannot reach, not a rogue machine.
func keyConflictFinding(vip api.VIPStatus, v clusterView) api.Finding {
	f := api.Finding{
		Severity: api.SeverityError, Check: "conflict", Subject: vip.Name,
		Evidence: fmt.Sprintf("%s; gossip keys differ with %s", vip.Conflict, peerNames(v.facts.KeyMismatches)),
		Fix: fmt.Sprintf("put the same key file (%s) on every host and restart vipd where it differs; if the MAC still answers after that, find its machine ('ip neigh', the switch's MAC table)",
			keyFile(v.facts)),
	}
	if len(alivePeers(v.members)) == 0 {
		f.Problem = fmt.Sprintf("another host answers for VIP %s (%s): most likely the cluster's owner, which this host cannot see because its gossip key differs from its peers'", vip.Name, vip.Address)
	} else {
		f.Problem = fmt.Sprintf("a MAC outside the cluster answers for VIP %s (%s): most likely %s, which cannot join because its gossip key differs, so part of the LAN reaches it and not the owner",
			vip.Name, vip.Address, peerNames(v.facts.KeyMismatches))
	}
	return f
}

// memberFindings reports members that are gone, drained or configured
// differently. Members in explained are already named by a split finding.
func memberFindings(v clusterView, explained map[string]bool) []api.Finding {
	var out []api.Finding
	for _, m := range v.members {
		switch m.State {
		case api.MemberAlive:
		case api.MemberLeft:
			continue // stopped on purpose; it said goodbye
		default:
			if explained[m.Name] {
				continue
			}
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

// bgpFindings names every BGP session that is not established: while none
// is, this host claims no BGP VIP.
func bgpFindings(b *api.BGPStatus) []api.Finding {
	if b == nil {
		return nil
	}
	var out []api.Finding
	up := 0
	for _, p := range b.Peers {
		if p.State == "established" {
			up++
		}
	}
	for _, p := range b.Peers {
		if p.State == "established" {
			continue
		}
		severity, effect := api.SeverityWarning, "the other sessions carry this host's routes"
		if up == 0 {
			severity, effect = api.SeverityError, "no session is up, so this host claims no BGP VIP"
		}
		out = append(out, api.Finding{
			Severity: severity, Check: "bgp", Subject: p.Address,
			Problem:  fmt.Sprintf("the BGP session to %s (AS %d) is %s: %s", p.Address, p.ASN, p.State, effect),
			Evidence: p.Reason,
			Fix: fmt.Sprintf("on the router, check the neighbor statement for this host (its address and AS number must match bgp.asn and bgp.peers here), "+
				"that TCP 179 is open between them ('nc -zv %s 179'), and a password on both sides or neither", p.Address),
		})
	}
	if up > 0 {
		out = append(out, bgpUnsentRoutes(b)...)
	}
	return out
}

// bgpUnsentRoutes names the routes this host announces that no established
// session carries: an IPv6 VIP goes only to IPv6 peers and an IPv4 VIP
// only to IPv4 peers, so with peers of one family the VIPs of the other
// reach no router.
func bgpUnsentRoutes(b *api.BGPStatus) []api.Finding {
	carried := map[bool]bool{} // by Is4
	for _, p := range b.Peers {
		if a, err := netip.ParseAddr(p.Address); err == nil && p.State == "established" {
			carried[a.Unmap().Is4()] = true
		}
	}
	var out []api.Finding
	for _, r := range b.Routes {
		pfx, err := netip.ParsePrefix(r.Prefix)
		if err != nil || carried[pfx.Addr().Is4()] {
			continue
		}
		family, want := "IPv6", "an IPv6 address of the router (like 2001:db8::fe)"
		if pfx.Addr().Is4() {
			family, want = "IPv4", "an IPv4 address of the router"
		}
		out = append(out, api.Finding{
			Severity: api.SeverityError, Check: "bgp", Subject: r.VIP,
			Problem:  fmt.Sprintf("%s (%s) is announced to no router: no %s BGP session is established, and routes go only to peers of their own family", r.VIP, r.Prefix, family),
			Evidence: fmt.Sprintf("established sessions: %s", establishedPeers(b)),
			Fix:      fmt.Sprintf("add a peer with %s under bgp.peers (and a neighbor for this host's %s address on the router)", want, family),
		})
	}
	return out
}

func establishedPeers(b *api.BGPStatus) string {
	var up []string
	for _, p := range b.Peers {
		if p.State == "established" {
			up = append(up, p.Address)
		}
	}
	return strings.Join(up, ", ")
}
