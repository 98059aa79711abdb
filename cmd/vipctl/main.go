// Command vipctl shows and steers the vipd daemon on this host. It is a
// thin client of vipd's control socket: every command is one request, and
// prints the answer as a table or, with --json, as the same struct in JSON.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/api"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses a script can rely on; the root command's help documents
// them.
const (
	exitOK         = 0
	exitProblem    = 1 // the command ran, and what it reports needs attention
	exitUsage      = 2
	exitNotRunning = 3
	exitPermission = 4
)

// exitError carries the exit status a subcommand wants, after it has
// already told the operator what went wrong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// env is what vipctl takes from its surroundings, so tests can give their
// own.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
}

// cli holds the global flags and env for the subcommands.
type cli struct {
	env
	socket  string
	json    bool
	timeout time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, now: time.Now})
	stop()
	os.Exit(code)
}

// run runs vipctl with args and returns its exit status.
func run(ctx context.Context, args []string, e env) int {
	c := &cli{env: e}
	root := newRootCommand(c)
	root.SetArgs(args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var exit exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &exit):
		return exit.code
	}
	// Only cobra's own errors and flag checks get here: a wrong command line.
	path := "vipctl"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	fmt.Fprintf(e.stderr, "vipctl: %v\nRun '%s --help' for usage.\n", err, path)
	return exitUsage
}

func newRootCommand(c *cli) *cobra.Command {
	defaultSocket := api.DefaultSocket
	if s := c.getenv("VIPD_SOCKET"); s != "" {
		defaultSocket = s
	}
	root := &cobra.Command{
		Use:   "vipctl",
		Short: "Show and steer the vipd daemon on this host",
		Long: `vipctl talks to the vipd daemon on this host through its control socket. It
shows which host owns each virtual IP (VIP) and why, the members of the
cluster and this host's health checks, and it drains, undrains and reloads
the daemon.

Every command prints a table for people, or with --json the same struct as
indented JSON for scripts. Errors go to standard error, prefixed "vipctl: ".

Reading (status, members, checks) is open to root and to the group named by
control.group in /etc/vipd.yaml; drain, undrain and reload are for root.

EXIT STATUS
  0  the command worked and there is nothing to report
  1  the command ran but reports a problem: 'status' shows a VIP in state
     conflict or no-owner; 'checks' shows a check that is down; 'drain
     --wait' left VIPs held by this host; 'reload' was rejected. Also when
     vipd did not answer within --timeout or answered something vipctl
     cannot read.
  2  the command line is wrong
  3  vipd is not running: nothing listens on the control socket
  4  permission denied: on the socket, or a command that is for root only

ENVIRONMENT
  VIPD_SOCKET  the control socket, when --socket is not given

FILES
  /run/vipd/vipd.sock  the control socket (control.socket in /etc/vipd.yaml)
  /etc/vipd.yaml       the daemon's configuration

SEE ALSO
  vipd(8), vipd check --help`,
		Example: `  vipctl status
  vipctl status -v
  vipctl status --json | jq -r '.vips[] | select(.state=="owner") | .address'
  sudo vipctl drain --wait && systemctl stop vipd`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if c.timeout <= 0 {
				return fmt.Errorf("--timeout must be above zero, like 5s")
			}
			if c.socket == "" {
				return fmt.Errorf("--socket must not be empty; the default is %s", api.DefaultSocket)
			}
			return nil
		},
	}
	root.SetVersionTemplate("vipctl {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&c.socket, "socket", defaultSocket, "vipd's control socket (env VIPD_SOCKET)")
	pf.BoolVar(&c.json, "json", false, "print the answer as indented JSON instead of a table")
	pf.DurationVar(&c.timeout, "timeout", 5*time.Second, "how long to wait for vipd to answer")
	root.AddCommand(
		newStatusCommand(c),
		newMembersCommand(c),
		newChecksCommand(c),
		newDrainCommand(c),
		newUndrainCommand(c),
		newReloadCommand(c),
		newDoctorCommand(c),
	)
	return root
}

func (c *cli) client() *api.Client { return api.NewClient(c.socket) }

// context bounds one request by --timeout.
func (c *cli) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), c.timeout)
}

// errorf tells the operator what went wrong on stderr, prefixed "vipctl: ";
// lines after the first are indented under it.
func (c *cli) errorf(format string, args ...any) {
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	fmt.Fprintf(c.stderr, "vipctl: %s\n", strings.ReplaceAll(msg, "\n", "\n  "))
}

// fail reports an error from the daemon or the socket and returns the exit
// status it stands for.
func (c *cli) fail(err error, timeout time.Duration) error {
	switch {
	case errors.Is(err, api.ErrNotRunning):
		c.errorf("%v", err)
		return exitError{exitNotRunning}
	case errors.Is(err, api.ErrPermission):
		c.errorf("%v", err)
		return exitError{exitPermission}
	case errors.Is(err, context.DeadlineExceeded):
		c.errorf("vipd on %s did not answer within %s; see 'journalctl -u vipd', or wait longer with --timeout", c.socket, timeout)
		return exitError{exitProblem}
	}
	c.errorf("%v", err)
	return exitError{exitProblem}
}

// print writes v as JSON with --json, else the table text.
func (c *cli) print(v any, text string) error {
	var err error
	if c.json {
		err = writeJSON(c.stdout, v)
	} else {
		_, err = io.WriteString(c.stdout, text)
	}
	if err != nil {
		c.errorf("write the answer: %v", err)
		return exitError{exitProblem}
	}
	return nil
}
