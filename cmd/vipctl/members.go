package main

import (
	"time"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/api"
)

func newMembersCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "members [--json]",
		Short: "Show the hosts of the cluster",
		Long: `vipctl members shows the hosts of the gossip cluster as this host sees them:

  NAME     the host's node name; this host is marked "(this host)"
  ADDRESS  its gossip address
  STATE    alive, suspect, dead or left; wrong-key for a host that answers
           on the gossip port but whose gossip this host cannot decrypt
           (the gossip key files differ: see 'vipctl doctor')
  DRAINED  yes when the host takes no VIP
  CONFIG   same when its VIP list matches this host's, differs when not;
           a VIP defined differently is decided only among the hosts that
           agree on it, so a host whose config differs may not take over
  HOLDS    the VIPs (or VIP groups) it answers for
  MACS     the MAC addresses of its managed interfaces, the ones ARP and
           neighbor discovery answers for its VIPs come from

EXIT STATUS
  0  the daemon answered, whatever the members' states
  1  vipd did not answer in time or answered something vipctl cannot read
  2  the command line is wrong
  3  vipd is not running
  4  permission denied`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := c.context(cmd)
			defer cancel()
			ms, err := c.client().Members(ctx)
			if err != nil {
				return c.fail(err, c.timeout)
			}
			if ms == nil {
				ms = []api.Member{}
			}
			return c.print(ms, formatMembers(ms))
		},
	}
}

// formatMembers renders ms as vipctl members prints them.
func formatMembers(ms []api.Member) string {
	if len(ms) == 0 {
		return "no members known: vipd has not joined its cluster yet\n"
	}
	rows := make([][]string, 0, len(ms))
	for _, m := range ms {
		name := m.Name
		if m.Self {
			name += " (this host)"
		}
		config := "differs"
		if m.SameConfig {
			config = "same"
		}
		if m.Problem != "" {
			config = "unreadable: " + m.Problem
		}
		rows = append(rows, []string{name, m.Address, string(m.State), yesNo(m.Drained), config, list(m.Holds), list(m.MACs)})
	}
	return lines(table([]string{"NAME", "ADDRESS", "STATE", "DRAINED", "CONFIG", "HOLDS", "MACS"}, rows))
}

func newChecksCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "checks [--json]",
		Short: "Show this host's health checks",
		Long: `vipctl checks shows the health checks of this host, the ones that decide
whether it may own the VIPs they gate:

  CHECK   the check's name in /etc/vipd.yaml
  TYPE    http, https, tcp, exec, haproxy or file
  STATE   up or down, after rise/fall
  SINCE   how long ago it came up or went down
  VIPS    the VIPs it gates: while it is down this host owns none of them
  REASON  why it is down, in the check's own words; for a check that is up
          but whose latest probe failed, that failure

EXIT STATUS
  0  every check is up (or there are none)
  1  at least one check is down; this host may not own the VIPs it gates.
     Also when vipd did not answer in time or answered something vipctl
     cannot read.
  2  the command line is wrong
  3  vipd is not running
  4  permission denied`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := c.context(cmd)
			defer cancel()
			cs, err := c.client().Checks(ctx)
			if err != nil {
				return c.fail(err, c.timeout)
			}
			if cs == nil {
				cs = []api.Check{}
			}
			if err := c.print(cs, formatChecks(cs, c.now())); err != nil {
				return err
			}
			var down []string
			for _, ch := range cs {
				if !ch.Up {
					down = append(down, ch.Name)
				}
			}
			if len(down) > 0 {
				c.errorf("%d of %d checks down: %s", len(down), len(cs), list(down))
				return exitError{exitProblem}
			}
			return nil
		},
	}
}

// formatChecks renders cs as vipctl checks prints them.
func formatChecks(cs []api.Check, now time.Time) string {
	if len(cs) == 0 {
		return "no health checks configured\n"
	}
	rows := make([][]string, 0, len(cs))
	for _, ch := range cs {
		state, reason := "up", ""
		if ch.LastError != "" {
			reason = "latest probe failed: " + ch.LastError
		}
		if !ch.Up {
			state, reason = "down", ch.Reason
			if reason == "" {
				reason = ch.LastError
			}
		}
		rows = append(rows, []string{ch.Name, ch.Type, state, ago(ch.Since, now), list(ch.VIPs), reason})
	}
	return lines(table([]string{"CHECK", "TYPE", "STATE", "SINCE", "VIPS", "REASON"}, rows))
}
