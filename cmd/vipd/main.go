// Command vipd is the vipd host agent: it keeps each virtual IP answered by
// exactly one healthy host of the cluster.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries the exit status a subcommand wants, after it has
// already told the operator what went wrong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	root := newRootCommand()
	err := root.Execute()
	var exit exitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		os.Exit(exit.code)
	default:
		// Only cobra's own errors get here: a wrong command line.
		fmt.Fprintf(os.Stderr, "vipd: %v\nRun 'vipd --help' for usage.\n", err)
		os.Exit(2)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "vipd",
		Short: "Keep virtual IPs answered by exactly one healthy host",
		Long: `vipd announces virtual IPs (VIPs) on a bare-metal L2 network. Every host of a
cluster runs vipd with the same /etc/vipd.yaml. The hosts find each other by
encrypted gossip, and for every VIP they elect one owner among the hosts
whose local backend (HAProxy, nginx, ...) passes its health checks. The owner
answers ARP and IPv6 neighbor solicitations for the VIP and sends gratuitous
ARP / unsolicited neighbor advertisements when it takes over.

FILES
  /etc/vipd.yaml        the configuration; see 'vipd check --help' and the
                        annotated example in /usr/share/doc/vipd/examples
  /etc/vipd/gossip.key  the gossip encryption key (mode 0600)
  /var/lib/vipd         kernel settings vipd changed, restored on stop
  /run/vipd/vipd.sock   the control socket that vipctl talks to

Without a command, vipd runs the daemon: 'vipd -c FILE' is 'vipd run -c FILE'.

SEE ALSO
  vipctl(8), keepalived(8)`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// With no command, vipd is the daemon, as systemd and keepalived users
	// expect.
	var f runFlags
	root.RunE = func(cmd *cobra.Command, _ []string) error { return runDaemon(cmd, f) }
	addRunFlags(root, &f)
	root.SetVersionTemplate("vipd {{.Version}}\n")
	root.AddCommand(newRunCommand())
	root.AddCommand(newCheckCommand())
	root.AddCommand(newKeygenCommand())
	return root
}
