package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/api"
)

func newDrainCommand(c *cli) *cobra.Command {
	var wait bool
	var waitTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "drain [--wait [--wait-timeout D]] [--json]",
		Short: "Hand this host's VIPs to other hosts and take no more",
		Long: `vipctl drain marks this host drained: it takes no VIP, and hands each VIP it
holds to another healthy host make-before-break. It keeps answering for a
VIP until another host has claimed it and sent its gratuitous ARP or
unsolicited neighbor advertisements, or until drain_timeout (in
/etc/vipd.yaml) has passed, so clients lose no request. The host stays
drained until 'vipctl undrain', also across a restart of vipd.

Without --wait it returns at once and names the VIPs being handed over;
'vipctl status' shows when they have moved. With --wait it returns when
every VIP has been handed over, or names the ones still held. --wait-timeout
bounds the wait on vipctl's side; --timeout does not apply to it.

Drain is for root.

EXIT STATUS
  0  this host is drained; with --wait, every VIP it held has moved
  1  with --wait, this host still holds VIPs: no other host could take them
     (see 'vipctl status' for why), or --wait-timeout passed first. Also
     when vipd did not answer in time or answered something vipctl cannot
     read.
  2  the command line is wrong
  3  vipd is not running
  4  permission denied: drain is for root`,
		Example: `  sudo vipctl drain --wait && sudo systemctl stop vipd
  sudo vipctl drain`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if waitTimeout <= 0 {
				return fmt.Errorf("--wait-timeout must be above zero, like 1m")
			}
			if cmd.Flags().Changed("wait-timeout") && !wait {
				return fmt.Errorf("--wait-timeout needs --wait")
			}
			timeout := c.timeout
			if wait {
				timeout = waitTimeout
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			r, err := c.client().Drain(ctx, wait)
			if wait && errors.Is(err, context.DeadlineExceeded) {
				return c.drainGaveUp(cmd, waitTimeout)
			}
			if err != nil {
				return c.fail(err, timeout)
			}
			if err := c.print(r, formatDrain(r, wait)); err != nil {
				return err
			}
			if wait && len(r.StillHeld) > 0 {
				c.errorf("drain left %s held by this host; 'vipctl status -v' shows why no other host takes %s", list(r.StillHeld), plural(len(r.StillHeld), "it", "them"))
				return exitError{exitProblem}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "return only when every VIP has been handed over, or drain_timeout has passed")
	cmd.Flags().DurationVar(&waitTimeout, "wait-timeout", time.Minute, "with --wait, how long vipctl waits at most")
	return cmd
}

// drainGaveUp reports a drain --wait that outlasted --wait-timeout, naming
// the VIPs this host still answers for if the daemon says.
func (c *cli) drainGaveUp(cmd *cobra.Command, waited time.Duration) error {
	ctx, cancel := c.context(cmd)
	defer cancel()
	st, err := c.client().Status(ctx)
	if err != nil {
		c.errorf("drain --wait gave up after %s; this host is drained, but vipctl could not ask which VIPs it still holds: %v", waited, err)
		return exitError{exitProblem}
	}
	var held []string
	for _, v := range st.VIPs {
		if v.Role == api.RoleOwner && !slices.Contains(held, v.Unit) {
			held = append(held, v.Unit)
		}
	}
	if len(held) == 0 {
		c.errorf("drain --wait gave up after %s; this host is drained and holds no VIP now", waited)
	} else {
		c.errorf("drain --wait gave up after %s; this host is drained but still holds %s; 'vipctl status -v' shows why", waited, list(held))
	}
	return exitError{exitProblem}
}

// formatDrain renders a drain's result.
func formatDrain(r api.DrainResult, wait bool) string {
	var out []string
	switch {
	case !r.Drained:
		out = append(out, "this host is not drained: vipd did not take the drain")
	case len(r.HandedOver) == 0 && len(r.StillHeld) == 0:
		out = append(out, "drained: this host holds no VIP")
	case len(r.HandedOver) > 0:
		out = append(out, "drained: handed over to other hosts: "+list(r.HandedOver))
	default:
		out = append(out, "drained")
	}
	if len(r.StillHeld) > 0 {
		if wait {
			out = append(out, "still held by this host: "+list(r.StillHeld)+"; no other host could take "+plural(len(r.StillHeld), "it", "them")+" before drain_timeout, so this host keeps answering")
		} else {
			out = append(out, "handing over: "+list(r.StillHeld)+"; 'vipctl status' shows when "+plural(len(r.StillHeld), "it has", "they have")+" moved, 'vipctl drain --wait' waits for it")
		}
	}
	return lines(out)
}

func newUndrainCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "undrain [--json]",
		Short: "Let this host take VIPs again",
		Long: `vipctl undrain ends a drain: this host may take VIPs again. It takes none
back from the hosts that own them now, unless a VIP asks for failback in
/etc/vipd.yaml; it takes a VIP when that VIP's owner fails.

Undrain is for root.

EXIT STATUS
  0  this host is no longer drained
  1  vipd still reports this host drained; also when vipd did not answer in
     time or answered something vipctl cannot read
  2  the command line is wrong
  3  vipd is not running
  4  permission denied: undrain is for root`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := c.context(cmd)
			defer cancel()
			r, err := c.client().Undrain(ctx)
			if err != nil {
				return c.fail(err, c.timeout)
			}
			text := "undrained: this host may take VIPs again; owners keep theirs\n"
			if r.Drained {
				text = "this host is still drained\n"
			}
			if err := c.print(r, text); err != nil {
				return err
			}
			if r.Drained {
				c.errorf("vipd did not take the undrain; see 'journalctl -u vipd'")
				return exitError{exitProblem}
			}
			return nil
		},
	}
}

func newReloadCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "reload [--json]",
		Short: "Make vipd read its config file again",
		Long: `vipctl reload makes vipd read its config file again, like SIGHUP does, and
says which VIPs the new file added, removed or changed. VIPs the file does
not change are not disturbed.

vipd validates the whole file first. If it has any error, vipd keeps
running the config it had, vipctl prints every error (FILE:LINE:COL: ...)
and exits 1, and 'vipctl status' shows the error until a reload works. Run
'vipd check' to test a file before you reload.

Reload is for root.

EXIT STATUS
  0  the new config runs
  1  the reload was rejected and the previous config still runs; also when
     vipd did not answer in time or answered something vipctl cannot read
  2  the command line is wrong
  3  vipd is not running
  4  permission denied: reload is for root`,
		Example:               `  sudo vipd check && sudo vipctl reload`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := c.context(cmd)
			defer cancel()
			r, err := c.client().Reload(ctx)
			switch {
			case err == nil:
				return c.print(r, formatReload(r))
			case errors.Is(err, api.ErrNotRunning), errors.Is(err, api.ErrPermission), errors.Is(err, context.DeadlineExceeded):
				return c.fail(err, c.timeout)
			}
			c.errorf("reload failed; vipd still runs the config it had:\n%v\nFix the file, test it with 'vipd check', then run 'vipctl reload' again.", err)
			return exitError{exitProblem}
		},
	}
}

// formatReload renders a reload's result.
func formatReload(r api.ReloadResult) string {
	if len(r.Added)+len(r.Removed)+len(r.Changed) == 0 {
		return fmt.Sprintf("reloaded %s: no VIP added, removed or changed\n", r.File)
	}
	out := []string{"reloaded " + r.File}
	var rows [][]string
	for _, d := range []struct {
		what  string
		names []string
	}{{"added:", r.Added}, {"removed:", r.Removed}, {"changed:", r.Changed}} {
		if len(d.names) > 0 {
			rows = append(rows, []string{d.what, list(d.names)})
		}
	}
	for _, l := range table(nil, rows) {
		out = append(out, "  "+l)
	}
	return lines(out)
}
