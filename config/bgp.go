package config

import (
	"fmt"
	"net/netip"
	"time"
)

// BGP configures the BGP speaker that announces the VIPs whose bgp: key is
// set to the routers of a routed fabric. Without a bgp: section vipd speaks
// no BGP and listens on no BGP port.
type BGP struct {
	// ASN is this host's autonomous system number.
	ASN int `yaml:"asn"`
	// RouterID is this host's BGP identifier, an IPv4 address unique among
	// the speakers of the fabric.
	RouterID string `yaml:"router_id"`
	// Listen is host:port to accept BGP connections on; empty (the
	// default) listens nowhere: vipd connects to its peers.
	Listen string `yaml:"listen,omitempty"`
	// Prepend is how many times an owner repeats its ASN in the AS path
	// once it is settled. A new owner announces with one fewer, so its
	// route is strictly better than a crashed owner's route that the
	// router still holds until its hold timer ends.
	Prepend int       `yaml:"prepend"`
	Peers   []BGPPeer `yaml:"peers"`
}

// BGPPeer is one router this host opens a session with.
type BGPPeer struct {
	Address string `yaml:"address"`
	ASN     int    `yaml:"asn"`
	Port    int    `yaml:"port"`
	// HoldTime and Keepalive are the timers this host offers; the session
	// uses the lower hold time of the two sides.
	HoldTime  Duration `yaml:"hold_time"`
	Keepalive Duration `yaml:"keepalive"`
	// PasswordFile holds the TCP MD5 (RFC 2385) password, read at start.
	PasswordFile string `yaml:"password_file,omitempty"`
	BFD          BFD    `yaml:"bfd"`
}

// BFD configures bidirectional forwarding detection with a peer.
type BFD struct {
	Enabled    bool     `yaml:"enabled"`
	MinRx      Duration `yaml:"min_rx"`
	MinTx      Duration `yaml:"min_tx"`
	Multiplier int      `yaml:"multiplier"`
}

// BGPMode says how a VIP is announced over BGP: by its elected owner alone,
// or by every host whose checks pass (anycast, ECMP at the router).
type BGPMode string

// The values of vips[].bgp. The empty mode announces the VIP with ARP/NDP
// on its interface.
const (
	BGPOff   BGPMode = ""
	BGPOwner BGPMode = "owner"
	BGPAll   BGPMode = "all"
)

func (m *BGPMode) UnmarshalText(b []byte) error {
	return parseEnum(b, (*string)(m), string(BGPOwner), string(BGPAll))
}

// BGPInterface is the interface of every VIP announced over BGP: status
// and notify hooks name it.
const BGPInterface = "bgp"

// The links of routed VIPs (see VIP.Link): the speaker reports each down
// while no session with a peer of that address family is established, so
// that a host claims a routed VIP only while a router hears its route.
const (
	BGPLinkIPv4 = "bgp-ipv4"
	BGPLinkIPv6 = "bgp-ipv6"
)

// Link names what must be up for this host to answer for the VIP: its
// interface, or for a routed VIP the BGP sessions of its address family.
func (v VIP) Link() string {
	switch {
	case v.BGP == BGPOff:
		return v.Interface
	case v.Address.Addr().Is4():
		return BGPLinkIPv4
	default:
		return BGPLinkIPv6
	}
}

// Defaults of the bgp: section.
const (
	DefaultBGPPort      = 179
	DefaultBGPPrepend   = 2
	DefaultBGPHoldTime  = 90 * time.Second
	DefaultBGPKeepalive = 30 * time.Second
	DefaultBFDInterval  = 300 * time.Millisecond
	DefaultBFDMult      = 3
)

func (p *BGPPeer) setDefaults() {
	p.Port = DefaultBGPPort
	p.HoldTime = D(DefaultBGPHoldTime)
	p.Keepalive = D(DefaultBGPKeepalive)
	p.BFD = BFD{MinRx: D(DefaultBFDInterval), MinTx: D(DefaultBFDInterval), Multiplier: DefaultBFDMult}
}

// Addr is the peer's address; invalid only in a config that failed
// validation.
func (p BGPPeer) Addr() netip.Addr {
	a, _ := netip.ParseAddr(p.Address)
	return a
}

// BGPVIPs returns the VIPs announced over BGP.
func (c *Config) BGPVIPs() []VIP {
	var out []VIP
	for _, v := range c.VIPs {
		if v.BGP != BGPOff {
			out = append(out, v)
		}
	}
	return out
}

// L2VIPs returns the VIPs answered with ARP/NDP on an interface.
func (c *Config) L2VIPs() []VIP {
	var out []VIP
	for _, v := range c.VIPs {
		if v.BGP == BGPOff {
			out = append(out, v)
		}
	}
	return out
}

const maxASN = 1<<32 - 1

// bgp checks the bgp: section and every VIP announced over BGP.
func (v validator) bgp() {
	b := v.c.BGP
	if b != nil {
		v.bgpSection(b)
	}
	for i, vip := range v.c.VIPs {
		if vip.BGP == BGPOff {
			continue
		}
		path := fmt.Sprintf("vips[%d]", i)
		if v.written(path+".interface") && vip.Interface != BGPInterface {
			v.fail(path+".interface", "is %q, but this VIP is announced over BGP (bgp: %s), not answered on an interface; remove interface, or remove bgp to answer ARP/NDP", vip.Interface, vip.BGP)
		}
		v.c.VIPs[i].Interface = BGPInterface
		if b == nil {
			v.fail(path+".bgp", "is %s, but the file has no bgp: section; add one with asn, router_id and peers", vip.BGP)
			continue
		}
		if addr := vip.Address.Addr(); addr.IsValid() && len(b.Peers) > 0 && !hasPeerOfFamily(b.Peers, addr) {
			v.fail(path+".bgp", "%s is an IPv%s VIP but no bgp peer has an IPv%s address; IPv%s routes go to IPv%s peers, so add one",
				addr, ipVersion(addr), ipVersion(addr), ipVersion(addr), ipVersion(addr))
		}
		if vip.Group == "" {
			continue
		}
		for j, other := range v.c.VIPs[:i] {
			if other.Group == vip.Group && other.BGP != vip.BGP {
				v.fail(path+".bgp", "VIP group %q moves as one, but vips[%d] (%s) has bgp %s and this VIP has %s; give every VIP of the group the same bgp",
					vip.Group, j, other.Name, modeText(other.BGP), modeText(vip.BGP))
				break
			}
		}
	}
}

func modeText(m BGPMode) string {
	if m == BGPOff {
		return "unset (ARP/NDP)"
	}
	return string(m)
}

func hasPeerOfFamily(peers []BGPPeer, addr netip.Addr) bool {
	for _, p := range peers {
		if a := p.Addr(); a.IsValid() && a.Is4() == addr.Is4() {
			return true
		}
	}
	return false
}

func (v validator) bgpSection(b *BGP) {
	switch {
	case !v.written("bgp.asn"):
		v.fail("bgp.asn", "is missing; give this host's AS number, like 64512 (private ASNs are 64512-65534)")
	case b.ASN < 1 || b.ASN > maxASN:
		v.fail("bgp.asn", "%d is not an AS number; use 1-%d, like 64512", b.ASN, maxASN)
	}
	if b.RouterID == "" {
		v.fail("bgp.router_id", "is missing; give an IPv4 address unique among the BGP speakers, usually this host's own, like 198.51.100.1")
	} else if a, err := netip.ParseAddr(b.RouterID); err != nil || !a.Is4() {
		v.fail("bgp.router_id", "%q is not an IPv4 address; a BGP router ID is written like 198.51.100.1, even on IPv6-only hosts", b.RouterID)
	}
	if b.Listen != "" {
		v.hostPort("bgp.listen", b.Listen, "0.0.0.0:179, or leave it out to listen nowhere (vipd connects to its peers)")
	}
	if !v.written("bgp.prepend") {
		b.Prepend = DefaultBGPPrepend
	} else if b.Prepend < 1 || b.Prepend > 8 {
		v.fail("bgp.prepend", "%d is out of range; use 1-8 (the default %d): a new owner announces with one fewer to win over a crashed owner's route", b.Prepend, DefaultBGPPrepend)
	}
	if len(b.Peers) == 0 {
		v.fail("bgp.peers", "is empty; list the routers to announce the VIPs to, like [{address: 198.51.100.254, asn: 64512}]")
	}
	seen := map[netip.Addr]int{}
	for i := range b.Peers {
		v.bgpPeer(fmt.Sprintf("bgp.peers[%d]", i), i, &b.Peers[i], seen)
	}
}

func (v validator) bgpPeer(path string, i int, p *BGPPeer, seen map[netip.Addr]int) {
	if p.Address == "" {
		v.fail(path+".address", "is missing; give the router's IP address, like 198.51.100.254")
	} else if a, err := netip.ParseAddr(p.Address); err != nil || a.Zone() != "" {
		v.fail(path+".address", "%q is not an IP address; write it like 198.51.100.254 or 2001:db8::fe", p.Address)
	} else if first, ok := seen[a]; ok {
		v.fail(path+".address", "%s is already bgp.peers[%d]; list each router once", a, first)
	} else {
		seen[a] = i
	}
	switch {
	case !v.written(path + ".asn"):
		v.fail(path+".asn", "is missing; give the router's AS number, like 64512")
	case p.ASN < 1 || p.ASN > maxASN:
		v.fail(path+".asn", "%d is not an AS number; use 1-%d, like 64512", p.ASN, maxASN)
	}
	if p.Port < 1 || p.Port > 65535 {
		v.fail(path+".port", "%d is not a port; use 1-65535 (the default is %d)", p.Port, DefaultBGPPort)
	}
	hold, ka := p.HoldTime.Duration, p.Keepalive.Duration
	switch {
	case hold%time.Second != 0:
		v.fail(path+".hold_time", "%s is not whole seconds; BGP counts hold time in seconds, like 9s or 90s", hold)
	case hold != 0 && hold < 3*time.Second:
		v.fail(path+".hold_time", "%s is below 3s; BGP allows 0s (no hold timer) or 3s and more", hold)
	case ka%time.Second != 0:
		v.fail(path+".keepalive", "%s is not whole seconds; BGP sends keepalives in seconds, like 3s or 30s", ka)
	case hold != 0 && (ka <= 0 || ka >= hold):
		v.fail(path+".keepalive", "%s must be at least 1s and below hold_time %s; a third of it is usual, like %s", ka, hold, (hold / 3).Truncate(time.Second))
	}
	v.absPath(path+".password_file", p.PasswordFile, "/etc/vipd/bgp.password")
	v.bfd(path+".bfd", p.BFD)
}

func (v validator) bfd(path string, b BFD) {
	for _, f := range []struct {
		key string
		d   Duration
	}{{"min_rx", b.MinRx}, {"min_tx", b.MinTx}} {
		key, d := f.key, f.d
		if d.Duration < 10*time.Millisecond || d.Duration%time.Millisecond != 0 {
			v.fail(path+"."+key, "%s is not whole milliseconds of 10ms or more; use something like 300ms", d)
		}
	}
	if b.Multiplier < 1 || b.Multiplier > 255 {
		v.fail(path+".multiplier", "%d is out of range; use 1-255 (the default is %d): the packets missed in a row before the session is down", b.Multiplier, DefaultBFDMult)
	}
}
