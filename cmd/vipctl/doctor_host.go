package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/api"
)

// hostProbe reads this host's kernel state through the announcer's
// read-only plan, so doctor judges by the very rules vipd's tuning applies.
type hostProbe struct {
	root announcer.Root
	// addrs lists every address of every interface.
	addrs func() ([]announcer.Addr, error)
}

func systemHost() hostProbe {
	return hostProbe{root: announcer.HostRoot, addrs: announcer.HostAddrs}
}

// runAsRoot is the fix when doctor cannot read the kernel's state.
const runAsRoot = "run vipctl doctor as root on the host itself (inside its network namespace)"

// checkInterfaces checks every managed interface's sysctls and, for a
// bridge, its ports' flags.
func (h hostProbe) checkInterfaces(file string, ifcs []api.ManagedInterface) []api.Finding {
	var out []api.Finding
	for _, ifc := range ifcs {
		if !h.root.LinkExists(ifc.Name) {
			out = append(out, api.Finding{
				Severity: api.SeverityError, Check: "interface", Subject: ifc.Name,
				Problem:  fmt.Sprintf("managed interface %s does not exist on this host, so it answers for no VIP", ifc.Name),
				Evidence: "no " + h.root.LinkPath(ifc.Name),
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
func tuningNote(s announcer.Setting) string {
	if s.Tuning {
		return "tuning: true on " + s.Interface + ", so it was changed after vipd started"
	}
	return "tuning: false on " + s.Interface + " in the config"
}

// tuningFix is how to get the value back: let vipd set it, or set it by hand.
func tuningFix(file string, s announcer.Setting) string {
	byHand := fmt.Sprintf("sysctl -w %s=%d", announcer.SysctlName(s.Path), s.Value)
	if s.Tuning {
		return fmt.Sprintf("restart vipd to tune %s again, or run '%s'", s.Interface, byHand)
	}
	return fmt.Sprintf("set tuning: true on %s in %s and restart vipd, or run '%s'", s.Interface, file, byHand)
}

func (h hostProbe) checkSysctls(file string, ifc api.ManagedInterface) []api.Finding {
	// Each setting carries its own read error; the joined one adds nothing.
	settings, _ := announcer.PlanTuning(h.root, []announcer.Interface{{Name: ifc.Name, Tuning: ifc.Tuning}})
	var out []api.Finding
	for _, s := range settings {
		switch {
		case s.Err != nil:
			out = append(out, api.Finding{
				Severity: api.SeverityWarning, Check: s.Name, Subject: s.Interface,
				Problem:  fmt.Sprintf("cannot read %s of %s", s.Name, s.Interface),
				Evidence: s.Err.Error(),
				Fix:      runAsRoot,
			})
		case !s.OK:
			severity := api.SeverityWarning
			if s.Severe {
				severity = api.SeverityError
			}
			out = append(out, api.Finding{
				Severity: severity, Check: s.Name, Subject: s.Interface,
				Problem: s.Why,
				Evidence: fmt.Sprintf("%s=%d, %s=%d, effective %d (the larger), want %s; %s",
					announcer.SysctlName(s.AllPath), s.All, announcer.SysctlName(s.Path), s.Current, s.Effective, s.Want, tuningNote(s)),
				Fix: tuningFix(file, s),
			})
		}
	}
	return out
}

// checkBridge reports proxy_arp and hairpin on the ports of bridge ifc
// that face the LAN (its hardware NICs and those listed under
// bridge_ports), and listed ports the bridge does not have.
func (h hostProbe) checkBridge(file string, ifc api.ManagedInterface) []api.Finding {
	b, isBridge, err := announcer.PlanBridge(h.root, ifc.Name, ifc.BridgePorts)
	if !isBridge {
		return nil
	}
	if err != nil {
		return []api.Finding{{
			Severity: api.SeverityWarning, Check: "bridge-port", Subject: ifc.Name,
			Problem: "cannot list the ports of bridge " + ifc.Name, Evidence: err.Error(), Fix: runAsRoot,
		}}
	}
	var out []api.Finding
	var ports []string
	for _, p := range b.Ports {
		ports = append(ports, p.Name)
		bad := p.Breaking()
		if len(bad) == 0 {
			continue
		}
		var on, why, evidence []string
		for _, f := range bad {
			on = append(on, f.Name)
			why = append(why, f.Why)
		}
		for _, f := range p.Flags {
			evidence = append(evidence, fmt.Sprintf("%s=%d", f.Path, boolInt(f.On)))
		}
		kind := "hardware port " + p.Name
		if !p.Hardware {
			kind = "port " + p.Name + " (listed in bridge_ports)"
		}
		out = append(out, api.Finding{
			Severity: api.SeverityError, Check: "bridge-port", Subject: p.Name,
			Problem:  fmt.Sprintf("bridge %s's %s faces the LAN with %s on: %s", b.Name, kind, strings.Join(on, " and "), strings.Join(why, "; ")),
			Evidence: strings.Join(evidence, ", "),
			Fix:      "run 'ip link set dev " + p.Name + " type bridge_slave proxy_arp off hairpin off' and remove what turns them on; vipd answers with the bridge's own MAC and needs neither, nor promiscuous mode",
		})
	}
	for _, p := range b.Unknown {
		out = append(out, api.Finding{
			Severity: api.SeverityWarning, Check: "bridge-port", Subject: p,
			Problem:  fmt.Sprintf("bridge_ports of %s lists %s, which is not a port of bridge %s", b.Name, p, b.Name),
			Evidence: fmt.Sprintf("ports of %s: %s", b.Name, orNothing(ports)),
			Fix:      fmt.Sprintf("list the port that faces the LAN under bridge_ports of %s in %s", b.Name, file),
		})
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func orNothing(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// checkAddresses finds managed VIPs on interfaces other than vipd0 and,
// when vipd runs (running), VIPs missing from vipd0.
func (h hostProbe) checkAddresses(vips []api.DoctorVIP, running bool) []api.Finding {
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
		for _, a := range announcer.ForeignVIPs(addrs, []netip.Addr{vip}) {
			out = append(out, api.Finding{
				Severity: api.SeverityError, Check: "foreign-address", Subject: v.Name,
				Problem: fmt.Sprintf("VIP %s (%s) is also configured on %s of this host, outside vipd, so this host claims it whoever owns it",
					v.Name, v.Address, a.Interface),
				Evidence: fmt.Sprintf("%s on %s; vipd keeps VIPs on %s only", a.Prefix, a.Interface, announcer.DummyName),
				Fix: fmt.Sprintf("run 'ip addr del %s dev %s' and stop the tool that put it there (keepalived, kube-vip, ifupdown, netplan)",
					a.Prefix, a.Interface),
			})
		}
		if running && len(announcer.MissingFromDummy(addrs, []netip.Addr{vip})) > 0 {
			out = append(out, api.Finding{
				Severity: api.SeverityError, Check: "vipd0", Subject: v.Name,
				Problem: fmt.Sprintf("VIP %s (%s) is not on %s although vipd runs, so HAProxy or nginx cannot bind it and this host's kernel drops its traffic when it owns it",
					v.Name, v.Address, announcer.DummyName),
				Evidence: fmt.Sprintf("'ip addr show dev %s' lacks %s; vipd puts every VIP there at start and on reload", announcer.DummyName, v.Address),
				Fix:      fmt.Sprintf("restart vipd to put it back, and stop whatever removes addresses from %s (ifupdown, NetworkManager, netplan)", announcer.DummyName),
			})
		}
	}
	return out
}
