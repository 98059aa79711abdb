package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
)

// build creates the switch, then every node, recording each namespace as soon
// as it exists so that cleanup removes exactly what was made.
func (l *Lab) build(ctx context.Context, opts Options) error {
	id, err := newLabID()
	if err != nil {
		return err
	}
	base := opts.Prefix + id
	l.switchNetns = base + "-sw"
	if err := l.buildSwitch(ctx); err != nil {
		return err
	}
	for i := 1; i <= opts.Hosts; i++ {
		name := "h" + strconv.Itoa(i)
		n := &Node{lab: l, name: name, netns: base + "-" + name,
			ipv4: labIPv4(hostOffset + i), ipv6: labIPv6(hostOffset + i)}
		if err := l.buildNode(ctx, n); err != nil {
			return err
		}
		l.hosts = append(l.hosts, n)
	}
	client := &Node{lab: l, name: "client", netns: base + "-client",
		ipv4: labIPv4(clientLastByte), ipv6: labIPv6(clientLastByte)}
	if err := l.buildNode(ctx, client); err != nil {
		return err
	}
	l.client = client
	if !opts.SecondClient {
		return nil
	}
	client2 := &Node{lab: l, name: "client2", netns: base + "-client2",
		ipv4: labIPv4(clientLastByte + 1), ipv6: labIPv6(clientLastByte + 1)}
	if err := l.buildNode(ctx, client2); err != nil {
		return err
	}
	l.client2 = client2
	return nil
}

// buildSwitch makes a namespace with a bridge and no IPv6 of its own, so the
// only traffic on the wire is what the nodes send.
func (l *Lab) buildSwitch(ctx context.Context) error {
	sw := l.switchNetns
	if err := l.addNetns(ctx, sw); err != nil {
		return err
	}
	return runAll(ctx,
		[]string{"ip", "netns", "exec", sw, "sysctl", "-q", "-w",
			"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"},
		// No multicast snooping: the lab has no MLD querier, and NDP delivery must
		// not depend on which membership reports the bridge happened to see.
		[]string{"ip", "-n", sw, "link", "add", bridgeName, "type", "bridge",
			"stp_state", "0", "mcast_snooping", "0"},
		[]string{"ip", "-n", sw, "link", "set", bridgeName, "up"},
	)
}

// buildNode makes the node's namespace and plugs its eth0 into the bridge.
func (l *Lab) buildNode(ctx context.Context, n *Node) error {
	if err := l.addNetns(ctx, n.netns); err != nil {
		return err
	}
	sw, ns := l.switchNetns, n.netns
	return runAll(ctx,
		// Set before eth0 exists so it inherits them: no DAD delay even for
		// the link-local address, and IPv6 addresses survive LinkDown.
		[]string{"ip", "netns", "exec", ns, "sysctl", "-q", "-w",
			"net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.default.keep_addr_on_down=1"},
		[]string{"ip", "-n", ns, "link", "add", hostLink, "type", "veth", "peer", "name", n.name, "netns", sw},
		[]string{"ip", "-n", sw, "link", "set", n.name, "master", bridgeName, "up"},
		[]string{"ip", "-n", ns, "addr", "add", netip.PrefixFrom(n.ipv4, subnetBitsV4).String(), "dev", hostLink},
		[]string{"ip", "-n", ns, "addr", "add", netip.PrefixFrom(n.ipv6, subnetBitsV6).String(), "dev", hostLink, "nodad"},
		[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
		[]string{"ip", "-n", ns, "link", "set", hostLink, "up"},
	)
}

// addNetns records the namespace only once `ip netns add` succeeded: a name
// that already existed belongs to someone else and must never be deleted.
func (l *Lab) addNetns(ctx context.Context, name string) error {
	if err := runAll(ctx, []string{"ip", "netns", "add", name}); err != nil {
		return err
	}
	l.mu.Lock()
	l.createdNetns = append(l.createdNetns, name)
	l.mu.Unlock()
	return nil
}

func runAll(ctx context.Context, commands ...[]string) error {
	for _, argv := range commands {
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%q: %w: %s", argv, err, out)
		}
	}
	return nil
}
