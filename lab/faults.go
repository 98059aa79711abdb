package lab

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// The faults a LAN has besides a pulled cable: a firewall that cuts one
// port, and a switch cut in two.

// faultTable is the nftables table BlockPort adds in a node's namespace.
const faultTable = "vipdlab"

// BlockPort drops every TCP and UDP packet to or from port on the node, in
// and out, as a firewall rule would; the rest of its traffic flows.
func (n *Node) BlockPort(ctx context.Context, port uint16) error {
	rules := fmt.Sprintf(`table inet %[1]s {
	chain in { type filter hook input priority 0; tcp dport %[2]d drop; udp dport %[2]d drop; tcp sport %[2]d drop; udp sport %[2]d drop; }
	chain out { type filter hook output priority 0; tcp dport %[2]d drop; udp dport %[2]d drop; tcp sport %[2]d drop; udp sport %[2]d drop; }
}`, faultTable, port)
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", n.netns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("block port %d on %s (needs nftables: apt install nftables): %w: %s", port, n.name, err, out)
	}
	return nil
}

// Unblock removes what BlockPort added.
func (n *Node) Unblock(ctx context.Context) error {
	return runAll(ctx, []string{"ip", "netns", "exec", n.netns, "nft", "delete", "table", "inet", faultTable})
}

// splitBridge is the second bridge SplitLAN moves one side to.
const splitBridge = "br1"

// SplitLAN cuts the switch in two: the given nodes' ports move to a bridge
// of their own, the rest stay. Nothing crosses, broadcasts included.
func (l *Lab) SplitLAN(ctx context.Context, side []*Node) error {
	sw := l.switchNetns
	cmds := [][]string{
		{"ip", "-n", sw, "link", "add", splitBridge, "type", "bridge", "stp_state", "0", "mcast_snooping", "0"},
		{"ip", "-n", sw, "link", "set", splitBridge, "up"},
	}
	for _, n := range side {
		cmds = append(cmds, []string{"ip", "-n", sw, "link", "set", n.name, "master", splitBridge})
	}
	return runAll(ctx, cmds...)
}

// HealLAN puts the nodes SplitLAN moved back with the others.
func (l *Lab) HealLAN(ctx context.Context, side []*Node) error {
	sw := l.switchNetns
	var cmds [][]string
	for _, n := range side {
		cmds = append(cmds, []string{"ip", "-n", sw, "link", "set", n.name, "master", bridgeName})
	}
	cmds = append(cmds, []string{"ip", "-n", sw, "link", "del", splitBridge})
	return runAll(ctx, cmds...)
}
