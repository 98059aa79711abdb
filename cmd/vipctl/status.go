package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/api"
)

func newStatusCommand(c *cli) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "status [-v] [--json]",
		Short: "Show every VIP, its owner and why",
		Long: `vipctl status shows this host (its name, whether it is drained, the config
file it runs and whether the last reload failed) and then one line per VIP:

  VIP        the VIP's name in /etc/vipd.yaml
  ADDRESS    its address
  HEALTH     the VIP as a whole: ok (one cluster host answers for it),
             no-owner (no host may answer for it, so nobody does),
             conflict (something outside the cluster claims it) or split
             (another member answers for it on the LAN while gossip does
             not show it alive: gossip between them is cut)
  OWNER      the host that answers for it, - when none
  THIS HOST  this host's role: owner, standby (could take over), unhealthy
             (its checks for the VIP fail, its link is down, or it cannot
             join the cluster), drained, or excluded (the VIP's node list
             leaves it out)
  SINCE      how long ago the VIP came to this state
  REASON     why the owner is the owner, or why there is none, naming the
             failing check on each host

With -v it lists under each VIP every host of the cluster and whether it may
own the VIP, and why not.

With --json it prints the daemon's answer as it is, with times in RFC 3339;
each VIP's list of hosts ("hosts") only with -v as well, since with many
VIPs and hosts it is most of the answer.

EXIT STATUS
  0  every VIP has an owner from the cluster (or no VIP is configured)
  1  at least one VIP's health is no-owner, conflict or split; they are named
     on standard error. A failed reload is shown, but does not change the
     exit status: 'vipctl reload' reports it.
  2  the command line is wrong
  3  vipd is not running
  4  permission denied`,
		Example: `  vipctl status
  vipctl status -v
  vipctl status >/dev/null || echo "a VIP needs attention"`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := c.context(cmd)
			defer cancel()
			status := c.client().Status
			if verbose {
				status = c.client().StatusWithHosts
			}
			st, err := status(ctx)
			if err != nil {
				return c.fail(err, c.timeout)
			}
			if err := c.print(st, formatStatus(st, c.now(), verbose)); err != nil {
				return err
			}
			if bad := statusProblems(st); len(bad) > 0 {
				c.errorf("%d of %d VIPs %s not ok (run 'vipctl doctor'): %s", len(bad), len(st.VIPs), plural(len(bad), "is", "are"), strings.Join(bad, ", "))
				return exitError{exitProblem}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every host's eligibility under each VIP")
	return cmd
}

// statusProblems names the VIPs that make status exit 1, with their state.
func statusProblems(st api.Status) []string {
	var bad []string
	for _, v := range st.VIPs {
		if v.Health != api.HealthOK {
			bad = append(bad, fmt.Sprintf("%s (%s)", v.Name, v.Health))
		}
	}
	return bad
}

// formatStatus renders st as vipctl status prints it.
func formatStatus(st api.Status, now time.Time, verbose bool) string {
	var out []string
	out = append(out, statusHeader(st, now)...)
	out = append(out, "")
	if len(st.VIPs) == 0 {
		file := st.Config.File
		if file == "" {
			file = "/etc/vipd.yaml"
		}
		out = append(out, fmt.Sprintf("no VIPs configured: add them under vips: in %s and run 'vipctl reload'", file))
		return lines(out)
	}
	rows := make([][]string, 0, len(st.VIPs))
	for _, v := range st.VIPs {
		reason := v.Reason
		if v.Conflict != "" && !strings.Contains(reason, v.Conflict) {
			reason += "; conflict: " + v.Conflict
		}
		if v.Split != "" && !strings.Contains(reason, v.Split) {
			reason += "; split: " + v.Split
		}
		rows = append(rows, []string{v.Name, v.Address, string(v.Health), orDash(v.Owner), string(v.Role), ago(v.Since, now), reason})
	}
	tab := table([]string{"VIP", "ADDRESS", "HEALTH", "OWNER", "THIS HOST", "SINCE", "REASON"}, rows)
	out = append(out, tab[0])
	for i, v := range st.VIPs {
		out = append(out, tab[i+1])
		if verbose {
			out = append(out, hostRows(st.Node, v)...)
		}
	}
	if st.BGP != nil {
		out = append(out, "")
		out = append(out, bgpRows(*st.BGP, now)...)
	}
	return lines(out)
}

// bgpRows are the BGP sessions and the routes this host announces.
func bgpRows(b api.BGPStatus, now time.Time) []string {
	if len(b.Peers) == 0 {
		return []string{"BGP: no peers configured"}
	}
	rows := make([][]string, 0, len(b.Peers))
	for _, p := range b.Peers {
		rows = append(rows, []string{p.Address, fmt.Sprint(p.ASN), p.State, ago(p.Since, now),
			fmt.Sprint(p.Announced), fmt.Sprint(p.Received), p.Reason})
	}
	out := table([]string{"BGP PEER", "ASN", "STATE", "SINCE", "SENT", "RECEIVED", "REASON"}, rows)
	if len(b.Routes) == 0 {
		return append(out, "", "no VIP routes announced by this host")
	}
	routes := make([][]string, 0, len(b.Routes))
	for _, r := range b.Routes {
		routes = append(routes, []string{r.Prefix, r.VIP, r.Mode, fmt.Sprint(r.Prepend), ago(r.Since, now)})
	}
	return append(append(out, ""), table([]string{"ROUTE", "VIP", "MODE", "AS-PATH PREPEND", "SINCE"}, routes)...)
}

// statusHeader is the lines about this host above the VIP table.
func statusHeader(st api.Status, now time.Time) []string {
	node := "node " + st.Node
	if st.Version != "" {
		node += " (vipd " + st.Version + ")"
	}
	drained := "not drained"
	if st.Drained {
		drained = "DRAINED since " + ago(st.DrainedSince, now) + " (kept across restarts): takes no VIP until 'vipctl undrain'"
	}
	config := "config " + st.Config.File
	if !st.Config.LoadedAt.IsZero() {
		config += " loaded " + ago(st.Config.LoadedAt, now)
	}
	out := []string{node + ", " + drained + ", " + config}
	for _, p := range st.Problems {
		out = append(out, "PROBLEM: "+p)
	}
	if !st.Converged {
		out = append(out, "note: this host is still learning the cluster; owners may change")
	}
	if st.Config.ReloadError != "" {
		out = append(out, "WARNING: the last reload failed; vipd still runs the config it had:")
		for _, l := range strings.Split(strings.TrimSpace(st.Config.ReloadError), "\n") {
			out = append(out, "  "+l)
		}
		out = append(out, "  Fix the file, test it with 'vipd check', then run 'vipctl reload'.")
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// hostRows lists, indented under a VIP, whether each host may own it.
func hostRows(self string, v api.VIPStatus) []string {
	if len(v.Hosts) == 0 {
		return []string{"    no host known for it yet"}
	}
	rows := make([][]string, 0, len(v.Hosts))
	for _, h := range v.Hosts {
		name := h.Host
		if name == self {
			name += " (this host)"
		}
		standing := "eligible"
		if !h.Eligible {
			standing = "not eligible: " + h.Reason
		}
		rows = append(rows, []string{name, standing})
	}
	tab := table(nil, rows)
	for i := range tab {
		tab[i] = "    " + tab[i]
	}
	return tab
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
