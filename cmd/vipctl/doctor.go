package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/config"
)

func newDoctorCommand(c *cli) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "doctor [-c FILE] [--json]",
		Short: "Find what keeps the LAN from reaching a VIP, one line per problem",
		Long: `vipctl doctor looks for the usual reasons a VIP cannot be reached, or is
reached at the wrong host, and prints one line per problem:

  SEVERITY: what is wrong; evidence: what doctor saw; fix: what to do

SEVERITY is error (a VIP is unreachable or claimed twice now) or warning
(nothing is lost yet, but a failover or a change of the network would lose
it). Errors come first. When nothing is wrong it prints nothing on standard
output and "vipctl: doctor: no problems found on HOST" on standard error.

On this host, read-only, with the rules vipd's own tuning applies:
  - arp_ignore, arp_announce and rp_filter of every managed interface, the
    effective value being the larger of conf/all and conf/<interface>:
    arp_ignore below 1, arp_announce below 2 and strict rp_filter (1) are
    problems, whether tuning is off in the config or something changed the
    value after vipd started (the evidence says which)
  - when a managed interface is a bridge, proxy_arp or hairpin turned on on
    the ports that face the LAN (its hardware NICs and those listed under
    bridge_ports): with proxy_arp on, the bridge floods no broadcast out of
    the port, so the host's own ARP requests never reach the LAN; with
    hairpin on, the LAN's broadcasts go back to the LAN. vipd answers with
    the bridge's own MAC and needs neither, nor promiscuous mode
  - managed VIPs configured on any interface but vipd0, by hand or by another
    tool such as keepalived or kube-vip; while vipd runs, VIPs missing from
    vipd0 (HAProxy or nginx cannot bind them)
  - the config file: it must pass 'vipd check'
From the daemon:
  - VIPs with no eligible host, naming each host's reason
  - conflicts: another MAC answering for a VIP, or the VIP on a NIC
  - splits: a member answering for a VIP on the LAN while gossip does not
    show it holding it, naming the member and what gossip says of it
  - gossip keys that differ: this host's from its peers', or a host whose
    gossip this one cannot decrypt
  - a failed reload, while the daemon runs the config it had
  - hosts that are drained, dead, or whose VIP list differs from this one's
  - node lists naming hosts that no member is called

Tuning turned off in the config is not a problem by itself: doctor reports
the values it leaves wrong, with "tuning: false" in the evidence.

Run it on every host: the host checks see only this host. With --json it
prints {"node", "config", "findings": [...]}, an empty list when nothing is
wrong. Without -c it checks the file the daemon runs.

EXIT STATUS
  0  nothing is wrong
  1  at least one problem (error or warning); also when vipd did not answer
     in time or answered something vipctl cannot read
  2  the command line is wrong
  3  vipd is not running; the problems found on this host are still printed
  4  permission denied`,
		Example: `  vipctl doctor
  vipctl doctor -c /etc/vipd.yaml.new
  vipctl doctor --json | jq -r '.findings[] | select(.severity=="error") | .problem'`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.doctor(cmd, file, systemHost())
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "the config file to check (default: the one vipd runs, else "+config.DefaultPath+")")
	return cmd
}

// doctor gathers what the daemon and this host say, then reports.
func (c *cli) doctor(cmd *cobra.Command, file string, host hostProbe) error {
	ctx, cancel := c.context(cmd)
	defer cancel()
	view, daemonErr := fetchCluster(ctx, c.client())
	if file == "" {
		file = cmp.Or(view.status.Config.File, config.DefaultPath)
	}
	cfg, cfgErr := config.Load(file)
	var findings []api.Finding
	if cfgErr != nil {
		findings = append(findings, configFinding(file, cfgErr))
	} else if daemonErr == nil && view.status.Config.ReloadError != "" {
		findings = append(findings, api.Finding{
			Severity: api.SeverityWarning, Check: "reload", Subject: file,
			Problem:  "the last reload failed, so vipd still runs the config it had; the file passes 'vipd check' now",
			Evidence: oneLine(view.status.Config.ReloadError),
			Fix:      "run 'vipctl reload'",
		})
	}
	if daemonErr != nil {
		switch {
		case errors.Is(daemonErr, api.ErrNotRunning), errors.Is(daemonErr, api.ErrPermission), errors.Is(daemonErr, context.DeadlineExceeded):
		default:
			return c.fail(daemonErr, c.timeout)
		}
	}
	// The daemon's running config says what to check; without it, the file.
	facts := view.facts
	running := daemonErr == nil && facts.Node != ""
	if !running {
		if cfg == nil {
			return c.reportDoctor(file, "", findings, daemonErr)
		}
		facts = factsOf(file, cfg)
	}
	local := host.checkInterfaces(file, facts.Interfaces)
	addrFindings := host.checkAddresses(facts.VIPs, running)
	local = append(local, addrFindings...)
	findings = append(findings, local...)
	if daemonErr == nil {
		skip := map[string]bool{}
		for _, f := range addrFindings {
			skip[f.Subject] = true
		}
		findings = append(findings, checkCluster(file, view, skip)...)
	}
	return c.reportDoctor(file, facts.Node, findings, daemonErr)
}

// fetchCluster asks the daemon for status, members and its running
// config's facts. A daemon without /v1/doctor leaves facts empty.
func fetchCluster(ctx context.Context, cl *api.Client) (clusterView, error) {
	var v clusterView
	var err error
	if v.status, err = cl.StatusWithHosts(ctx); err != nil {
		return v, err
	}
	if v.members, err = cl.Members(ctx); err != nil {
		return v, err
	}
	if f, err := cl.DoctorFacts(ctx); err == nil {
		v.facts = f
	} else if errors.Is(err, api.ErrNotRunning) || errors.Is(err, api.ErrPermission) || errors.Is(err, context.DeadlineExceeded) {
		return v, err
	}
	return v, nil
}

// factsOf is what the daemon would say of cfg.
func factsOf(file string, cfg *config.Config) api.DoctorFacts {
	f := api.DoctorFacts{Node: cfg.NodeName, File: file}
	for _, ifc := range cfg.Interfaces {
		f.Interfaces = append(f.Interfaces, api.ManagedInterface{Name: ifc.Name, Family: string(ifc.Family), Tuning: ifc.Tuning, BridgePorts: ifc.BridgePorts})
	}
	for _, v := range cfg.VIPs {
		f.VIPs = append(f.VIPs, api.DoctorVIP{Name: v.Name, Address: v.Address.Addr().String(), Interface: v.Interface, Nodes: v.Nodes})
	}
	return f
}

// configFinding reports a config file that does not pass validation, every
// problem of it on the one line.
func configFinding(file string, err error) api.Finding {
	var parts []string
	for _, p := range config.Errors(err) {
		parts = append(parts, p.Error())
	}
	if len(parts) == 0 {
		parts = []string{err.Error()}
	}
	return api.Finding{
		Severity: api.SeverityError, Check: "config", Subject: file,
		Problem:  fmt.Sprintf("%s does not pass validation: vipd refuses it at start and on reload, and keeps running the config it had", file),
		Evidence: strings.Join(parts, "; "),
		Fix:      fmt.Sprintf("fix it, test it with 'vipd check -c %s', then run 'vipctl reload'", file),
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")), " ")
}

// reportDoctor prints the findings and returns the exit status they and
// daemonErr stand for.
func (c *cli) reportDoctor(file, node string, findings []api.Finding, daemonErr error) error {
	findings = sortFindings(findings)
	report := api.DoctorReport{Node: node, Config: file, Findings: findings}
	if err := c.print(report, formatDoctor(findings)); err != nil {
		return err
	}
	if daemonErr != nil {
		c.errorf("doctor checked this host only: %v", daemonErr)
		if errors.Is(daemonErr, api.ErrPermission) {
			return exitError{exitPermission}
		}
		if errors.Is(daemonErr, api.ErrNotRunning) {
			return exitError{exitNotRunning}
		}
		return exitError{exitProblem}
	}
	if len(findings) == 0 {
		c.errorf("doctor: no problems found on %s", cmp.Or(node, "this host"))
		return nil
	}
	errs := 0
	for _, f := range findings {
		if f.Severity == api.SeverityError {
			errs++
		}
	}
	c.errorf("doctor found %d %s on %s: %d %s, %d %s", len(findings), plural(len(findings), "problem", "problems"),
		cmp.Or(node, "this host"), errs, plural(errs, "error", "errors"), len(findings)-errs, plural(len(findings)-errs, "warning", "warnings"))
	return exitError{exitProblem}
}

// sortFindings puts errors before warnings, keeping the order within each,
// and never returns nil (JSON shows an empty list).
func sortFindings(fs []api.Finding) []api.Finding {
	out := make([]api.Finding, 0, len(fs))
	out = append(out, fs...)
	slices.SortStableFunc(out, func(a, b api.Finding) int {
		return cmp.Compare(severityRank(a.Severity), severityRank(b.Severity))
	})
	return out
}

func severityRank(s string) int {
	if s == api.SeverityError {
		return 0
	}
	return 1
}

// formatDoctor renders findings one line each.
func formatDoctor(fs []api.Finding) string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, findingLine(f))
	}
	return lines(out)
}

// findingLine is a finding as doctor prints it:
// "SEVERITY: what is wrong; evidence: ...; fix: ...".
func findingLine(f api.Finding) string {
	return cleanCell(fmt.Sprintf("%s: %s; evidence: %s; fix: %s", f.Severity, f.Problem, f.Evidence, f.Fix))
}
