package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FRR's daemons as Debian installs them (`apt install frr`).
const (
	frrDir   = "/usr/lib/frr"
	vtyshBin = "/usr/bin/vtysh"
)

// Router addresses: on the hosts' LAN, and on the far subnet where the far
// client lives, so that the client reaches the VIPs only through the
// router's routes.
var (
	routerLANv4 = netip.MustParseAddr("192.0.2.254")
	routerLANv6 = netip.MustParseAddr("2001:db8::fe")
	routerFarV4 = netip.MustParseAddr("203.0.113.254")
	routerFarV6 = netip.MustParseAddr("2001:db8:2::fe")
	farV4       = netip.MustParseAddr("203.0.113.10")
	farV6       = netip.MustParseAddr("2001:db8:2::10")
)

// RouterOptions shape AddRouter.
type RouterOptions struct {
	// ASN is the router's AS number (default 64512); HostASN the hosts'
	// (default 64513).
	ASN, HostASN int
	// Keepalive and Hold are the BGP timers the router offers (default FRR's
	// datacenter profile, 3s and 9s).
	Keepalive, Hold time.Duration
	// BFD turns on BFD (FRR's bfdd) towards every host, asking for
	// packets every BFDInterval (default 100ms) and declaring a host down
	// after BFDMultiplier (default 3) missed in a row.
	BFD           bool
	BFDInterval   time.Duration
	BFDMultiplier int
	// EqualRoutes makes the router ignore the AS path's length, so every
	// host's route is equal whatever vipd prepends: the router keeps the
	// route it has (the oldest) until its session ends, as with a speaker
	// that announces equal routes. It also installs one path only (no
	// ECMP), so the route moves at one instant.
	EqualRoutes bool
}

// Router is FRR (zebra and bgpd, and bfdd with BFD) in its own namespace,
// on the lab's bridge as 192.0.2.254 and 2001:db8::fe, peering over eBGP
// with every host on both addresses, and routing for a far client on
// 203.0.113.0/24 and 2001:db8:2::/64.
type Router struct {
	*Node
	far  *Node
	dir  string
	opts RouterOptions
}

// AddRouter builds the router and the far client, gives every host a route
// to the far subnet through the router, and starts FRR.
func (l *Lab) AddRouter(t testing.TB, opts RouterOptions) *Router {
	t.Helper()
	if _, err := os.Stat(filepath.Join(frrDir, "bgpd")); err != nil {
		t.Skipf("FRR is not installed (%v); `make test` installs it, or apt-get install frr", err)
	}
	if opts.ASN == 0 {
		opts.ASN = 64512
	}
	if opts.HostASN == 0 {
		opts.HostASN = 64513
	}
	if opts.Keepalive == 0 {
		opts.Keepalive = 3 * time.Second
	}
	if opts.Hold == 0 {
		opts.Hold = 9 * time.Second
	}
	if opts.BFDInterval == 0 {
		opts.BFDInterval = 100 * time.Millisecond
	}
	if opts.BFDMultiplier == 0 {
		opts.BFDMultiplier = 3
	}
	base := strings.TrimSuffix(l.switchNetns, "-sw")
	r := &Router{
		Node: &Node{lab: l, name: "router", netns: base + "-rtr", ipv4: routerLANv4, ipv6: routerLANv6},
		far:  &Node{lab: l, name: "far", netns: base + "-far", ipv4: farV4, ipv6: farV6},
		dir:  filepath.Join(l.dir, "frr"),
		opts: opts,
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := l.buildRouter(ctx, r); err != nil {
		t.Fatalf("build router: %v", err)
	}
	if err := r.startFRR(ctx); err != nil {
		t.Fatalf("start FRR: %v", err)
	}
	return r
}

func (l *Lab) buildRouter(ctx context.Context, r *Router) error {
	if err := l.buildNode(ctx, r.Node); err != nil {
		return err
	}
	if err := l.addNetns(ctx, r.far.netns); err != nil {
		return err
	}
	rt, far := r.netns, r.far.netns
	cmds := [][]string{
		{"ip", "netns", "exec", rt, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"},
		{"ip", "netns", "exec", far, "sysctl", "-q", "-w", "net.ipv6.conf.default.accept_dad=0"},
		{"ip", "-n", rt, "link", "add", "eth1", "type", "veth", "peer", "name", hostLink, "netns", far},
		{"ip", "-n", rt, "addr", "add", routerFarV4.String() + "/24", "dev", "eth1"},
		{"ip", "-n", rt, "addr", "add", routerFarV6.String() + "/64", "dev", "eth1", "nodad"},
		{"ip", "-n", rt, "link", "set", "eth1", "up"},
		{"ip", "-n", far, "addr", "add", farV4.String() + "/24", "dev", hostLink},
		{"ip", "-n", far, "addr", "add", farV6.String() + "/64", "dev", hostLink, "nodad"},
		{"ip", "-n", far, "link", "set", "lo", "up"},
		{"ip", "-n", far, "link", "set", hostLink, "up"},
		{"ip", "-n", far, "route", "add", "default", "via", routerFarV4.String()},
		{"ip", "-n", far, "-6", "route", "add", "default", "via", routerFarV6.String()},
	}
	for _, h := range l.hosts {
		cmds = append(cmds,
			[]string{"ip", "-n", h.netns, "route", "add", "203.0.113.0/24", "via", routerLANv4.String()},
			[]string{"ip", "-n", h.netns, "-6", "route", "add", "2001:db8:2::/64", "via", routerLANv6.String()})
	}
	return runAll(ctx, cmds...)
}

// frrConfig is bgpd's (and bfdd's) configuration: one eBGP neighbor per
// host address, IPv4 routes from the IPv4 sessions and IPv6 routes from
// the IPv6 ones, ECMP over up to 8 hosts, and nothing sent back to them.
func (r *Router) frrConfig() string {
	var b strings.Builder
	bfd := ""
	if r.opts.BFD {
		bfd = " neighbor %[1]s bfd profile " + bfdProfile + "\n"
	}
	fmt.Fprintf(&b, "hostname router\n!\nrouter bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n bgp bestpath as-path multipath-relax\n",
		r.opts.ASN, routerLANv4)
	paths := 8
	if r.opts.EqualRoutes {
		b.WriteString(" bgp bestpath as-path ignore\n")
		paths = 1
	}
	for _, h := range r.lab.hosts {
		for _, a := range []netip.Addr{h.ipv4, h.ipv6} {
			// Explicit indexes: after %[1]s a plain verb would take the
			// second argument again (the ASN as the keepalive, which FRR
			// then cut to a third of the hold time).
			fmt.Fprintf(&b, " neighbor %[1]s remote-as %[2]d\n neighbor %[1]s timers %[3]d %[4]d\n neighbor %[1]s timers connect 1\n"+bfd,
				a, r.opts.HostASN, int(r.opts.Keepalive.Seconds()), int(r.opts.Hold.Seconds()))
		}
	}
	for _, fam := range []string{"ipv4", "ipv6"} {
		fmt.Fprintf(&b, " address-family %s unicast\n  maximum-paths %d\n", fam, paths)
		for _, h := range r.lab.hosts {
			a := h.ipv4
			if fam == "ipv6" {
				a = h.ipv6
			}
			fmt.Fprintf(&b, "  neighbor %s activate\n  neighbor %[1]s route-map NOTHING out\n", a)
		}
		b.WriteString(" exit-address-family\n")
	}
	b.WriteString("!\nroute-map NOTHING deny 10\n!\n")
	return b.String()
}

// startFRR starts zebra, then bgpd (and bfdd), each in the foreground with
// its sockets, pid file and config under the lab's directory, and waits
// until bgpd answers vtysh.
func (r *Router) startFRR(ctx context.Context) error {
	if err := r.frrDir(); err != nil {
		return err
	}
	// zebra installs routes as plain kernel routes, so `ip route` shows the
	// next hops rather than a nexthop-group id.
	zebraConf := "hostname router\n!\nno zebra nexthop kernel enable\n!\n"
	if err := os.WriteFile(filepath.Join(r.dir, "zebra.conf"), []byte(zebraConf), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.dir, "bgpd.conf"), []byte(r.frrConfig()), 0o644); err != nil {
		return err
	}
	daemons := []string{"zebra"}
	if r.opts.BFD {
		daemons = append(daemons, "bfdd")
		bfdConf := fmt.Sprintf("hostname router\n!\ndebug bfd peer\ndebug bfd zebra\n!\nbfd\n profile %s\n  receive-interval %d\n  transmit-interval %d\n  detect-multiplier %d\n !\n!\n",
			bfdProfile, r.opts.BFDInterval.Milliseconds(), r.opts.BFDInterval.Milliseconds(), r.opts.BFDMultiplier)
		if err := os.WriteFile(filepath.Join(r.dir, "bfdd.conf"), []byte(bfdConf), 0o644); err != nil {
			return err
		}
	}
	daemons = append(daemons, "bgpd")
	for _, d := range daemons {
		argv := []string{filepath.Join(frrDir, d), "-u", frrUser, "-g", frrUser, "--log", "stdout",
			"--vty_socket", r.dir, "-z", filepath.Join(r.dir, "zserv.api"),
			"-i", filepath.Join(r.dir, d+".pid"), "-f", filepath.Join(r.dir, d+".conf")}
		if _, err := r.Start(argv...); err != nil {
			return err
		}
		if err := poll(10*time.Second, func() error {
			_, err := r.Vtysh(ctx, "show version")
			if err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(r.dir, d+".vty")); err != nil {
				return err
			}
			return nil
		}); err != nil {
			return fmt.Errorf("%s does not answer: %w", d, err)
		}
	}
	return nil
}

// bfdProfile is the bfdd profile, with the lab's intervals, that bgpd's
// neighbors use.
const bfdProfile = "vipd"

// frrUser runs FRR's daemons: as root they refuse to start, since root is
// not in the frrvty group.
const frrUser = "frr"

// frrDir makes the router's directory, owned by frr, and lets frr reach it
// through the test's temporary directories (search permission only).
func (r *Router) frrDir() error {
	u, err := user.Lookup(frrUser)
	if err != nil {
		return fmt.Errorf("FRR's user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return err
	}
	if err := os.Chown(r.dir, uid, gid); err != nil {
		return err
	}
	for _, d := range []string{r.lab.dir, filepath.Dir(r.lab.dir)} {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if err := os.Chmod(d, fi.Mode().Perm()|0o111); err != nil {
			return err
		}
	}
	return nil
}

// Far is the client on the far subnet, which reaches the VIPs only through
// the router.
func (r *Router) Far() *Node { return r.far }

// Vtysh runs one vtysh command against this router's daemons.
func (r *Router) Vtysh(ctx context.Context, command string) (string, error) {
	return r.Run(ctx, vtyshBin, "--vty_socket", r.dir, "-c", command)
}

// FIB returns the next hops of the kernel route for prefix in the router's
// namespace, sorted; none when there is no route.
func (r *Router) FIB(ctx context.Context, prefix netip.Prefix) ([]netip.Addr, error) {
	family := "-4"
	if prefix.Addr().Is6() {
		family = "-6"
	}
	out, err := r.Run(ctx, "ip", "-j", family, "route", "show", "exact", prefix.String())
	if err != nil {
		return nil, err
	}
	var routes []struct {
		Gateway  string `json:"gateway"`
		Nexthops []struct {
			Gateway string `json:"gateway"`
		} `json:"nexthops"`
	}
	if strings.TrimSpace(out) == "" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(out), &routes); err != nil {
		return nil, fmt.Errorf("ip -j route: %w: %s", err, out)
	}
	var hops []netip.Addr
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			hops = append(hops, a)
		}
	}
	for _, rt := range routes {
		add(rt.Gateway)
		for _, nh := range rt.Nexthops {
			add(nh.Gateway)
		}
	}
	slices.SortFunc(hops, netip.Addr.Compare)
	return hops, nil
}

// BGPPath is one path bgpd holds for a prefix.
type BGPPath struct {
	Peer    netip.Addr // the neighbor it came from
	ASPath  string     // like "64513 64513 64513"
	Best    bool
	Multi   bool // in the ECMP set
	Nexthop netip.Addr
}

// BGPPaths returns the paths `show bgp ipv4|ipv6 json` lists for prefix.
func (r *Router) BGPPaths(ctx context.Context, prefix netip.Prefix) ([]BGPPath, error) {
	family := "ipv4"
	if prefix.Addr().Is6() {
		family = "ipv6"
	}
	out, err := r.Vtysh(ctx, "show bgp "+family+" json")
	if err != nil {
		return nil, err
	}
	var table struct {
		Routes map[string][]struct {
			Valid     bool   `json:"valid"`
			Bestpath  bool   `json:"bestpath"`
			Multipath bool   `json:"multipath"`
			Path      string `json:"path"`
			PeerID    string `json:"peerId"`
			Nexthops  []struct {
				IP string `json:"ip"`
			} `json:"nexthops"`
		} `json:"routes"`
	}
	if err := json.Unmarshal([]byte(out), &table); err != nil {
		return nil, fmt.Errorf("show bgp %s json: %w: %s", family, err, out)
	}
	var paths []BGPPath
	for _, p := range table.Routes[prefix.String()] {
		bp := BGPPath{ASPath: p.Path, Best: p.Bestpath, Multi: p.Multipath || p.Bestpath}
		bp.Peer, _ = netip.ParseAddr(p.PeerID)
		if len(p.Nexthops) > 0 {
			bp.Nexthop, _ = netip.ParseAddr(p.Nexthops[0].IP)
		}
		paths = append(paths, bp)
	}
	return paths, nil
}

// NeighborState is bgpd's state of the session with addr, like
// "Established" or "Active".
func (r *Router) NeighborState(ctx context.Context, addr netip.Addr) (string, error) {
	out, err := r.Vtysh(ctx, "show bgp neighbors "+addr.String()+" json")
	if err != nil {
		return "", err
	}
	var n map[string]struct {
		State string `json:"bgpState"`
	}
	if err := json.Unmarshal([]byte(out), &n); err != nil {
		return "", fmt.Errorf("show bgp neighbors %s json: %w: %s", addr, err, out)
	}
	return n[addr.String()].State, nil
}

// BFDPeers returns bfdd's state of each BFD session by peer address, like
// "up" or "down".
func (r *Router) BFDPeers(ctx context.Context) (map[netip.Addr]string, error) {
	out, err := r.Vtysh(ctx, "show bfd peers json")
	if err != nil {
		return nil, err
	}
	var peers []struct {
		Peer   string `json:"peer"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &peers); err != nil {
		return nil, fmt.Errorf("show bfd peers json: %w: %s", err, out)
	}
	m := map[netip.Addr]string{}
	for _, p := range peers {
		if a, err := netip.ParseAddr(p.Peer); err == nil {
			m[a] = p.Status
		}
	}
	return m, nil
}

// DenyAll makes the router drop every route the hosts send it (an inbound
// route-map that denies everything, as a router that requires a policy
// nobody wrote): the sessions stay established.
func (r *Router) DenyAll(ctx context.Context) error {
	var cmds []string
	cmds = append(cmds, "configure terminal", fmt.Sprintf("router bgp %d", r.opts.ASN))
	for _, fam := range []string{"ipv4", "ipv6"} {
		cmds = append(cmds, "address-family "+fam+" unicast")
		for _, h := range r.lab.hosts {
			a := h.ipv4
			if fam == "ipv6" {
				a = h.ipv6
			}
			cmds = append(cmds, fmt.Sprintf("neighbor %s route-map NOTHING in", a))
		}
		cmds = append(cmds, "exit-address-family")
	}
	argv := []string{vtyshBin, "--vty_socket", r.dir}
	for _, c := range cmds {
		argv = append(argv, "-c", c)
	}
	if out, err := r.Run(ctx, argv...); err != nil {
		return fmt.Errorf("deny all: %w: %s", err, out)
	}
	for _, fam := range []string{"ipv4", "ipv6"} {
		if out, err := r.Vtysh(ctx, "clear bgp "+fam+" unicast * soft in"); err != nil {
			return fmt.Errorf("clear bgp %s soft in: %w: %s", fam, err, out)
		}
	}
	return nil
}

// LastReset is why bgpd's session with addr last ended: its "last..."
// fields, like "lastResetDueTo: BGP Notification send; lastNotificationReason:
// Cease/BFD Down"; empty if it never did.
func (r *Router) LastReset(ctx context.Context, addr netip.Addr) (string, error) {
	out, err := r.Vtysh(ctx, "show bgp neighbors "+addr.String()+" json")
	if err != nil {
		return "", err
	}
	var n map[string]map[string]any
	if err := json.Unmarshal([]byte(out), &n); err != nil {
		return "", fmt.Errorf("show bgp neighbors %s json: %w: %s", addr, err, out)
	}
	var parts []string
	for k, v := range n[addr.String()] {
		if s, ok := v.(string); ok && strings.HasPrefix(k, "last") {
			parts = append(parts, k+": "+s)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, "; "), nil
}

// BFDCounters is `show bfd peers counters` as bfdd prints it.
func (r *Router) BFDCounters(ctx context.Context) (string, error) {
	return r.Vtysh(ctx, "show bfd peers counters")
}
