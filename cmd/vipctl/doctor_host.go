package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vipd/vipd/api"
)

// The values vipd's tuning wants (announcer/tuning.go), and the rules it
// applies: the kernel uses the larger of conf/all and conf/<interface> for
// all three sysctls.
const (
	wantARPIgnore   = 1 // at least: answer ARP only for the incoming interface's addresses
	wantARPAnnounce = 2 // at least: never a VIP as ARP sender address
	rpFilterStrict  = 1 // the one rp_filter value tuning changes (to 2, loose)
	dummyInterface  = "vipd0"
)

// hostProbe reads this host's kernel state, read-only. Inside `ip netns
// exec`, /proc/sys/net and /sys/class/net are the namespace's own.
type hostProbe struct {
	sysctlRoot string // /proc/sys
	sysRoot    string // /sys
	// addrs lists every address of every interface.
	addrs func() ([]ifaceAddr, error)
}

type ifaceAddr struct {
	iface  string
	prefix netip.Prefix
}

func systemHost() hostProbe {
	return hostProbe{sysctlRoot: "/proc/sys", sysRoot: "/sys", addrs: systemAddrs}
}

func systemAddrs() ([]ifaceAddr, error) {
	ifis, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []ifaceAddr
	for _, ifi := range ifis {
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			out = append(out, ifaceAddr{iface: ifi.Name, prefix: netip.PrefixFrom(ip.Unmap(), ones)})
		}
	}
	return out, nil
}

// confKey is the sysctl path of net.ipv4.conf.<dev>.<name>.
func confKey(dev, name string) string { return "net/ipv4/conf/" + dev + "/" + name }

// sysctlName writes a sysctl path the way sysctl(8) takes it: dots between
// the parts, and a dot inside an interface name (a VLAN like eth0.100)
// written as '/'.
func sysctlName(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, ".", "/")
	}
	return strings.Join(parts, ".")
}

func (h hostProbe) readInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s is %q, not a number", path, s)
	}
	return v, nil
}

func (h hostProbe) sysctl(key string) (int, error) {
	return h.readInt(filepath.Join(h.sysctlRoot, key))
}

func (h hostProbe) classNet(parts ...string) string {
	return filepath.Join(append([]string{h.sysRoot, "class/net"}, parts...)...)
}

func (h hostProbe) exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// checkInterfaces checks every managed interface's sysctls and, for a
// bridge, its ports' flags, by the rules vipd's tuning applies.
func (h hostProbe) checkInterfaces(file string, ifcs []api.ManagedInterface) []api.Finding {
	var out []api.Finding
	for _, ifc := range ifcs {
		if !h.exists(h.classNet(ifc.Name)) {
			out = append(out, api.Finding{
				Severity: api.SeverityError, Check: "interface", Subject: ifc.Name,
				Problem:  fmt.Sprintf("managed interface %s does not exist on this host, so it answers for no VIP", ifc.Name),
				Evidence: fmt.Sprintf("no %s", h.classNet(ifc.Name)),
				Fix:      fmt.Sprintf("create %s, or name the NIC or bridge that faces the clients under interfaces: in %s", ifc.Name, file),
			})
			continue
		}
		out = append(out, h.checkSysctls(file, ifc)...)
		out = append(out, h.checkBridge(file, ifc)...)
	}
	return out
}

// tuningNote is the part of the evidence that says whether vipd tunes ifc.
func tuningNote(ifc api.ManagedInterface) string {
	if ifc.Tuning {
		return "tuning: true on " + ifc.Name + ", so it was changed after vipd started"
	}
	return "tuning: false on " + ifc.Name + " in the config"
}

// tuningFix is how to get the value back: let vipd set it, or set it by hand.
func tuningFix(file string, ifc api.ManagedInterface, byHand string) string {
	if ifc.Tuning {
		return fmt.Sprintf("restart vipd to tune %s again, or run '%s'", ifc.Name, byHand)
	}
	return fmt.Sprintf("set tuning: true on %s in %s and restart vipd, or run '%s'", ifc.Name, file, byHand)
}

func (h hostProbe) checkSysctls(file string, ifc api.ManagedInterface) []api.Finding {
	var out []api.Finding
	type rule struct {
		name     string
		bad      func(effective int) bool
		want     string
		value    int // what to set on a bad value
		severity string
		problem  string
	}
	rules := []rule{
		{"arp_ignore", func(v int) bool { return v < wantARPIgnore }, "1 or more", wantARPIgnore, api.SeverityError,
			"every host's kernel answers ARP on %s for the VIPs on vipd0, not only the owner, so the LAN may send VIP traffic to a host that does not own it"},
		{"arp_announce", func(v int) bool { return v < wantARPAnnounce }, "2", wantARPAnnounce, api.SeverityWarning,
			"ARP requests sent from %s may carry a VIP as sender address, so neighbours may learn the VIP at this host's MAC"},
		{"rp_filter", func(v int) bool { return v == rpFilterStrict }, "0 or 2", 2, api.SeverityWarning,
			"strict rp_filter on %s drops VIP traffic from clients whose route back leaves by another interface"},
	}
	for _, r := range rules {
		all, err := h.sysctl(confKey("all", r.name))
		if err == nil {
			var own int
			own, err = h.sysctl(confKey(ifc.Name, r.name))
			if err == nil {
				eff := max(all, own)
				if !r.bad(eff) {
					continue
				}
				out = append(out, api.Finding{
					Severity: r.severity, Check: r.name, Subject: ifc.Name,
					Problem: fmt.Sprintf(r.problem, ifc.Name),
					Evidence: fmt.Sprintf("%s=%d, %s=%d, effective %d (the larger), want %s; %s",
						sysctlName(confKey("all", r.name)), all, sysctlName(confKey(ifc.Name, r.name)), own, eff, r.want, tuningNote(ifc)),
					Fix: tuningFix(file, ifc, fmt.Sprintf("sysctl -w %s=%d", sysctlName(confKey(ifc.Name, r.name)), r.value)),
				})
				continue
			}
		}
		out = append(out, api.Finding{
			Severity: api.SeverityWarning, Check: r.name, Subject: ifc.Name,
			Problem:  fmt.Sprintf("cannot read %s of %s", r.name, ifc.Name),
			Evidence: err.Error(),
			Fix:      "run vipctl doctor as root on the host itself (inside its network namespace)",
		})
	}
	return out
}

// checkBridge checks the ports of bridge ifc that face the LAN: its
// hardware NICs and those listed under bridge_ports. vipd answers for VIPs
// with the bridge's own MAC, so the bridge delivers that traffic without
// promiscuous mode; what breaks it are proxy_arp and hairpin on such a port.
// With proxy_arp on, the bridge floods no broadcast out of the port, so the
// host's own ARP requests never reach the LAN; with hairpin on, the LAN's
// broadcasts go back to the LAN and the switch learns MACs on this port.
func (h hostProbe) checkBridge(file string, ifc api.ManagedInterface) []api.Finding {
	if !h.exists(h.classNet(ifc.Name, "bridge")) {
		return nil
	}
	entries, err := os.ReadDir(h.classNet(ifc.Name, "brif"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return []api.Finding{{
			Severity: api.SeverityWarning, Check: "bridge-port", Subject: ifc.Name,
			Problem: "cannot list the ports of bridge " + ifc.Name, Evidence: err.Error(),
			Fix: "run vipctl doctor as root on the host itself (inside its network namespace)",
		}}
	}
	var out []api.Finding
	var ports []string
	for _, e := range entries {
		port := e.Name()
		ports = append(ports, port)
		hardware := h.exists(h.classNet(port, "device"))
		if !hardware && !slices.Contains(ifc.BridgePorts, port) {
			continue
		}
		var on, evidence []string
		for _, flag := range []struct{ name, file string }{{"proxy_arp", "proxyarp"}, {"hairpin", "hairpin_mode"}} {
			path := h.classNet(port, "brport", flag.file)
			v, err := h.readInt(path)
			if err != nil {
				continue
			}
			evidence = append(evidence, fmt.Sprintf("%s=%d", path, v))
			if v != 0 {
				on = append(on, flag.name)
			}
		}
		if len(on) == 0 {
			continue
		}
		kind := "hardware port " + port
		if !hardware {
			kind = "port " + port + " (listed in bridge_ports)"
		}
		var why []string
		if slices.Contains(on, "proxy_arp") {
			why = append(why, "with proxy_arp on the bridge floods no broadcast out of it, so this host's own ARP requests never reach the LAN and VIP traffic gets no reply")
		}
		if slices.Contains(on, "hairpin") {
			why = append(why, "with hairpin on the LAN's broadcasts go back to the LAN and the switch learns their MACs on this port")
		}
		out = append(out, api.Finding{
			Severity: api.SeverityError, Check: "bridge-port", Subject: port,
			Problem:  fmt.Sprintf("bridge %s's %s faces the LAN with %s on: %s", ifc.Name, kind, strings.Join(on, " and "), strings.Join(why, "; ")),
			Evidence: strings.Join(evidence, ", "),
			Fix:      "run 'ip link set dev " + port + " type bridge_slave proxy_arp off hairpin off' and remove what turns them on; vipd answers with the bridge's own MAC and needs neither, nor promiscuous mode",
		})
	}
	for _, p := range ifc.BridgePorts {
		if !slices.Contains(ports, p) {
			out = append(out, api.Finding{
				Severity: api.SeverityWarning, Check: "bridge-port", Subject: p,
				Problem:  fmt.Sprintf("bridge_ports of %s lists %s, which is not a port of bridge %s", ifc.Name, p, ifc.Name),
				Evidence: fmt.Sprintf("ports of %s: %s", ifc.Name, orNothing(ports)),
				Fix:      fmt.Sprintf("list the port that faces the LAN under bridge_ports of %s in %s", ifc.Name, file),
			})
		}
	}
	return out
}

func orNothing(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// checkAddresses finds managed VIPs on interfaces other than vipd0: put
// there by hand or by another tool, they make this host's kernel claim the
// VIP whoever owns it.
func (h hostProbe) checkAddresses(vips []api.DoctorVIP) []api.Finding {
	addrs, err := h.addrs()
	if err != nil {
		return []api.Finding{{
			Severity: api.SeverityWarning, Check: "foreign-address", Subject: "addresses",
			Problem: "cannot list this host's addresses", Evidence: err.Error(),
			Fix: "run vipctl doctor on the host itself (inside its network namespace)",
		}}
	}
	var out []api.Finding
	for _, v := range vips {
		vip, err := netip.ParseAddr(v.Address)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if a.iface == dummyInterface || a.prefix.Addr() != vip {
				continue
			}
			out = append(out, api.Finding{
				Severity: api.SeverityError, Check: "foreign-address", Subject: v.Name,
				Problem: fmt.Sprintf("VIP %s (%s) is also configured on %s of this host, outside vipd, so this host claims it whoever owns it",
					v.Name, v.Address, a.iface),
				Evidence: fmt.Sprintf("%s on %s; vipd keeps VIPs on %s only", a.prefix, a.iface, dummyInterface),
				Fix: fmt.Sprintf("run 'ip addr del %s dev %s' and stop the tool that put it there (keepalived, kube-vip, ifupdown, netplan)",
					a.prefix, a.iface),
			})
		}
	}
	return out
}
