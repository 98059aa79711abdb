package config

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// vips checks each VIP, then the rules that span VIPs: unique names and
// addresses, and groups whose members agree on everything that decides who
// owns them (they are elected as one).
func (v validator) vips() {
	names := map[string]int{}     // VIP name -> index
	addrs := map[netip.Addr]int{} // VIP address -> index
	groups := map[string]int{}    // group -> index of its first member
	for i := range v.c.VIPs {
		vip := &v.c.VIPs[i]
		path := fmt.Sprintf("vips[%d]", i)
		v.vipName(path, i, vip, names)
		v.vipAddress(path, i, vip, addrs)
		if vip.BGP == BGPOff && !v.written(path+".bgp") {
			v.vipInterface(path, vip)
		}
		v.vipNodes(path, vip)
		v.vipChecks(path, vip)
		if vip.Group != "" && v.name(path+".group", "group name", vip.Group) {
			if first, ok := groups[vip.Group]; ok {
				v.sameAsGroup(path, vip, first)
			} else {
				groups[vip.Group] = i
			}
		}
	}
	// A unit is elected by its group's name or, without a group, by the VIP's
	// own name, so the two must not collide.
	for i, vip := range v.c.VIPs {
		if first, ok := groups[vip.Name]; ok && vip.Group != vip.Name {
			v.fail(fmt.Sprintf("vips[%d].name", i), "%q is also the name of the group of vips[%d]; VIPs and groups share one namespace, so rename one", vip.Name, first)
		}
	}
}

func (v validator) vipName(path string, i int, vip *VIP, names map[string]int) {
	switch {
	case vip.Name == "":
		v.fail(path+".name", "is missing; give every VIP a name, like web")
	case !v.name(path+".name", "VIP name", vip.Name):
	default:
		if first, ok := names[vip.Name]; ok {
			v.fail(path+".name", "%q is already the name of vips[%d] (line %d); VIP names must be unique", vip.Name, first, v.d.where(fmt.Sprintf("vips[%d].name", first)).line)
			return
		}
		names[vip.Name] = i
	}
}

func (v validator) vipAddress(path string, i int, vip *VIP, addrs map[netip.Addr]int) {
	if vip.Address.IsZero() {
		if !v.written(path + ".address") {
			v.fail(path+".address", "is missing; give the virtual IP, like 192.0.2.10/32 or 2001:db8::10/128")
		}
		return
	}
	addr := vip.Address.Addr()
	if first, ok := addrs[addr]; ok {
		v.fail(path+".address", "%s is already the address of vips[%d] (%s, line %d); two VIP entries cannot share one address: remove one, or put both names in one group",
			addr, first, v.c.VIPs[first].Name, v.d.where(fmt.Sprintf("vips[%d].address", first)).line)
		return
	}
	addrs[addr] = i
}

func (v validator) vipInterface(path string, vip *VIP) {
	managed := make([]string, 0, len(v.c.Interfaces))
	for _, ifc := range v.c.Interfaces {
		managed = append(managed, ifc.Name)
	}
	if vip.Interface == "" {
		switch len(managed) {
		case 0:
			v.fail(path+".interface", "is missing and no interface is managed; add the NIC under interfaces:, like interfaces: [{name: eth0}]")
			return
		case 1:
			vip.Interface = managed[0] // the only managed interface is the obvious default
		default:
			v.fail(path+".interface", "is missing; this file manages %s, so say which one carries the VIP", strings.Join(managed, ", "))
			return
		}
	}
	idx := slices.Index(managed, vip.Interface)
	if idx < 0 {
		v.fail(path+".interface", "%q is not under interfaces:; add it there, or use one of: %s", vip.Interface, orNone(managed))
		return
	}
	ifc := v.c.Interfaces[idx]
	if addr := vip.Address.Addr(); addr.IsValid() && !ifc.Family.Allows(addr) {
		v.fail(path+".address", "%s is an IPv%s VIP but interface %s is family: %s; use an IPv%s address, or set family: dual on %s",
			addr, ipVersion(addr), ifc.Name, ifc.Family, strings.TrimPrefix(string(ifc.Family), "ipv"), ifc.Name)
	}
}

func ipVersion(a netip.Addr) string {
	if a.Is4() {
		return "4"
	}
	return "6"
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "(none yet)"
	}
	return strings.Join(names, ", ")
}

func (v validator) vipNodes(path string, vip *VIP) {
	seen := map[string]bool{}
	for j, node := range vip.Nodes {
		nodePath := fmt.Sprintf("%s.nodes[%d]", path, j)
		if v.name(nodePath, "node name", node) && seen[node] {
			v.fail(nodePath, "%q is listed twice", node)
		}
		seen[node] = true
	}
	for _, node := range sortedKeys(vip.Priority) {
		prioPath := path + ".priority." + node
		if !nameRE.MatchString(node) {
			v.failKey(prioPath, "%q is not a valid node name; %s", node, nameRule)
			continue
		}
		if len(vip.Nodes) > 0 && !seen[node] {
			v.failKey(prioPath, "%q is not in this VIP's nodes [%s]; add it there or remove its priority", node, strings.Join(vip.Nodes, ", "))
		}
		if p := vip.Priority[node]; p < 0 || p > 255 {
			v.fail(prioPath, "%d is out of range; use 0-255 (higher wins, nodes not listed have 0)", p)
		}
	}
}

func (v validator) vipChecks(path string, vip *VIP) {
	seen := map[string]bool{}
	for j, name := range vip.Checks {
		checkPath := fmt.Sprintf("%s.checks[%d]", path, j)
		switch {
		case seen[name]:
			v.fail(checkPath, "%q is listed twice", name)
		case v.c.Checks[name] == nil:
			v.fail(checkPath, "check %q is not defined; define it under checks:, or use one of: %s", name, orNone(sortedKeys(v.c.Checks)))
		}
		seen[name] = true
	}
}

// sameAsGroup reports where vip disagrees with the first member of its
// group on what decides ownership.
func (v validator) sameAsGroup(path string, vip *VIP, firstIdx int) {
	first := v.c.VIPs[firstIdx]
	differ := func(key, mine, theirs string) {
		v.fail(path+"."+key, "VIP group %q moves as one, but vips[%d] (%s) has %s %s and this VIP has %s; give every VIP of the group the same %s",
			vip.Group, firstIdx, first.Name, key, theirs, mine, key)
	}
	if vip.Interface != first.Interface {
		differ("interface", vip.Interface, first.Interface)
	}
	if !sameSet(vip.Nodes, first.Nodes) {
		differ("nodes", listText(vip.Nodes), listText(first.Nodes))
	}
	if !sameSet(vip.Checks, first.Checks) {
		differ("checks", listText(vip.Checks), listText(first.Checks))
	}
	if !maps.Equal(vip.Priority, first.Priority) {
		differ("priority", mapText(vip.Priority), mapText(first.Priority))
	}
	if vip.Failback != first.Failback {
		differ("failback", fmt.Sprint(vip.Failback), fmt.Sprint(first.Failback))
	}
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func listText(l []string) string { return "[" + strings.Join(l, ", ") + "]" }

func mapText(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
