package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"syscall"
	"time"
)

// Node is a host or the client: a namespace with eth0 on the lab bridge.
type Node struct {
	lab   *Lab
	name  string
	netns string
	ipv4  netip.Addr
	ipv6  netip.Addr
}

// Name is the short name: h1..hN or client.
func (n *Node) Name() string { return n.name }

// Netns is the namespace name, for `ip netns exec` or `ip -n`.
func (n *Node) Netns() string { return n.netns }

// IPv4 is the node's address on eth0 (192.0.2.0/24).
func (n *Node) IPv4() netip.Addr { return n.ipv4 }

// IPv6 is the node's address on eth0 (2001:db8::/64).
func (n *Node) IPv6() netip.Addr { return n.ipv6 }

func (n *Node) String() string { return n.name }

// runWaitDelay bounds how long Run waits for output pipes held open by
// grandchildren after the command itself has ended.
const runWaitDelay = 2 * time.Second

// Run runs a command inside the namespace until it exits or ctx ends, and
// returns its combined stdout and stderr. When ctx ends, the command's whole
// process group is killed.
func (n *Node) Run(ctx context.Context, argv ...string) (string, error) {
	if len(argv) == 0 {
		return "", fmt.Errorf("run in %s: empty command", n.name)
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.netns}, argv...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = runWaitDelay
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("run %q in %s: %w: %s", argv, n.name, err, out)
	}
	return string(out), nil
}

// LinkDown sets the node's eth0 down, as if its cable were pulled; the peer
// port on the bridge loses carrier too. Addresses stay configured.
func (n *Node) LinkDown(ctx context.Context) error { return n.setLink(ctx, "down") }

// LinkUp sets the node's eth0 up again.
func (n *Node) LinkUp(ctx context.Context) error { return n.setLink(ctx, "up") }

func (n *Node) setLink(ctx context.Context, state string) error {
	out, err := exec.CommandContext(ctx, "ip", "-n", n.netns, "link", "set", hostLink, state).CombinedOutput()
	if err != nil {
		return fmt.Errorf("set %s %s %s: %w: %s", n.name, hostLink, state, err, out)
	}
	return nil
}
