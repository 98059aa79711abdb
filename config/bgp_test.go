package config

import (
	"strings"
	"testing"
	"time"
)

const bgpBase = `gossip:
  insecure: true
bgp:
  asn: 64513
  router_id: 198.51.100.1
  peers:
    - {address: 198.51.100.254, asn: 64512}
`

func TestBGPConfig(t *testing.T) {
	cfg, err := Parse("vipd.yaml", []byte(bgpBase+"vips:\n  - {name: web, address: 192.0.2.10, bgp: owner}\n  - {name: api, address: 192.0.2.20, bgp: all}\n"), "h1")
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.BGP
	if b.ASN != 64513 || b.RouterID != "198.51.100.1" || b.Listen != "" || b.Prepend != DefaultBGPPrepend {
		t.Errorf("bgp = %+v", b)
	}
	p := b.Peers[0]
	if p.Port != 179 || p.HoldTime.Duration != 90*time.Second || p.Keepalive.Duration != 30*time.Second || p.BFD.Enabled || p.BFD.Multiplier != 3 || p.BFD.MinRx.Duration != 300*time.Millisecond {
		t.Errorf("peer defaults = %+v", p)
	}
	if got := cfg.VIPs[0]; got.BGP != BGPOwner || got.Interface != BGPInterface {
		t.Errorf("vips[0] = %+v", got)
	}
	if len(cfg.BGPVIPs()) != 2 || len(cfg.L2VIPs()) != 0 {
		t.Errorf("BGPVIPs %v, L2VIPs %v", cfg.BGPVIPs(), cfg.L2VIPs())
	}
	if !strings.Contains(cfg.Summary(), "BGP (AS 64513, 1 peer)") {
		t.Errorf("summary %q does not name BGP", cfg.Summary())
	}
	// A file without bgp: speaks no BGP.
	cfg, err = Parse("vipd.yaml", []byte(base), "h1")
	if err != nil || cfg.BGP != nil {
		t.Errorf("no bgp section: %v, %+v", err, cfg.BGP)
	}
}

func TestBGPChangeNeedsRestart(t *testing.T) {
	a, err := Parse("vipd.yaml", []byte(bgpBase), "h1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("vipd.yaml", []byte(strings.Replace(bgpBase, "64512", "64514", 1)), "h1")
	if err != nil {
		t.Fatal(err)
	}
	if got := RestartNeeded(a, b); len(got) != 1 || got[0] != "bgp" {
		t.Errorf("RestartNeeded = %v, want [bgp]", got)
	}
}

func TestBrokenBGPConfigs(t *testing.T) {
	peer := "gossip:\n  insecure: true\nbgp:\n  asn: 64513\n  router_id: 198.51.100.1\n  peers:\n    - address: 198.51.100.254\n      asn: 64512\n"
	cases := []struct {
		name string
		file string
		want []string
	}{
		{"section without asn, router_id or peers", "gossip:\n  insecure: true\nbgp:\n  prepend: 2\n",
			[]string{
				`vipd.yaml:3:1: bgp.asn: is missing; give this host's AS number, like 64512 (private ASNs are 64512-65534)`,
				`vipd.yaml:3:1: bgp.router_id: is missing; give an IPv4 address unique among the BGP speakers, usually this host's own, like 198.51.100.1`,
				`vipd.yaml:3:1: bgp.peers: is empty; list the routers to announce the VIPs to, like [{address: 198.51.100.254, asn: 64512}]`,
			}},
		{"asn out of range", strings.Replace(peer, "asn: 64513", "asn: 4294967296", 1),
			[]string{`vipd.yaml:4:8: bgp.asn: 4294967296 is not an AS number; use 1-4294967295, like 64512`}},
		{"router_id IPv6", strings.Replace(peer, "198.51.100.1", "2001:db8::1", 1),
			[]string{`vipd.yaml:5:14: bgp.router_id: "2001:db8::1" is not an IPv4 address; a BGP router ID is written like 198.51.100.1, even on IPv6-only hosts`}},
		{"listen without port", peer + "  listen: 0.0.0.0\n",
			[]string{`vipd.yaml:9:11: bgp.listen: "0.0.0.0" is not host:port; write it like 0.0.0.0:179, or leave it out to listen nowhere (vipd connects to its peers)`}},
		{"prepend 0", peer + "  prepend: 0\n",
			[]string{`vipd.yaml:9:12: bgp.prepend: 0 is out of range; use 1-8 (the default 2): a new owner announces with one fewer to win over a crashed owner's route`}},
		{"unknown key", peer + "  asn_local: 1\n",
			[]string{`vipd.yaml:9:3: bgp.asn_local: unknown key; the keys allowed here are: asn, listen, peers, prepend, router_id`}},
		{"peer without address or asn", "gossip:\n  insecure: true\nbgp:\n  asn: 64513\n  router_id: 198.51.100.1\n  peers:\n    - port: 1179\n",
			[]string{
				`vipd.yaml:7:7: bgp.peers[0].address: is missing; give the router's IP address, like 198.51.100.254`,
				`vipd.yaml:7:7: bgp.peers[0].asn: is missing; give the router's AS number, like 64512`,
			}},
		{"peer address a name", strings.Replace(peer, "198.51.100.254", "tor1", 1),
			[]string{`vipd.yaml:7:16: bgp.peers[0].address: "tor1" is not an IP address; write it like 198.51.100.254 or 2001:db8::fe`}},
		{"peer twice", peer + "    - {address: 198.51.100.254, asn: 64512}\n",
			[]string{`vipd.yaml:9:17: bgp.peers[1].address: 198.51.100.254 is already bgp.peers[0]; list each router once`}},
		{"peer port 0", peer + "      port: 0\n",
			[]string{`vipd.yaml:9:13: bgp.peers[0].port: 0 is not a port; use 1-65535 (the default is 179)`}},
		{"hold time 2s", peer + "      hold_time: 2s\n",
			[]string{`vipd.yaml:9:18: bgp.peers[0].hold_time: 2s is below 3s; BGP allows 0s (no hold timer) or 3s and more`}},
		{"hold time fractional", peer + "      hold_time: 9500ms\n",
			[]string{`vipd.yaml:9:18: bgp.peers[0].hold_time: 9.5s is not whole seconds; BGP counts hold time in seconds, like 9s or 90s`}},
		{"keepalive not below hold time", peer + "      hold_time: 9s\n      keepalive: 9s\n",
			[]string{`vipd.yaml:10:18: bgp.peers[0].keepalive: 9s must be at least 1s and below hold_time 9s; a third of it is usual, like 3s`}},
		{"keepalive fractional", peer + "      keepalive: 1500ms\n",
			[]string{`vipd.yaml:9:18: bgp.peers[0].keepalive: 1.5s is not whole seconds; BGP sends keepalives in seconds, like 3s or 30s`}},
		{"password file relative", peer + "      password_file: bgp.password\n",
			[]string{`vipd.yaml:9:22: bgp.peers[0].password_file: "bgp.password" is not an absolute path; write it like /etc/vipd/bgp.password`}},
		{"bfd too fast and no multiplier", peer + "      bfd: {enabled: true, min_rx: 5ms, multiplier: 0}\n",
			[]string{
				`vipd.yaml:9:36: bgp.peers[0].bfd.min_rx: 5ms is not whole milliseconds of 10ms or more; use something like 300ms`,
				`vipd.yaml:9:53: bgp.peers[0].bfd.multiplier: 0 is out of range; use 1-255 (the default is 3): the packets missed in a row before the session is down`,
			}},
		{"vip mode unknown", peer + "vips:\n  - {name: web, address: 192.0.2.10, bgp: anycast}\n",
			[]string{`vipd.yaml:10:43: vips[0].bgp: "anycast" is not one of: owner, all`}},
		{"vip bgp without section", base + "vips:\n  - {name: web, address: 192.0.2.10, bgp: owner}\n",
			[]string{`vipd.yaml:6:43: vips[0].bgp: is owner, but the file has no bgp: section; add one with asn, router_id and peers`}},
		{"vip bgp with interface", base + strings.TrimPrefix(peer, "gossip:\n  insecure: true\n") + "vips:\n  - {name: web, address: 192.0.2.10, interface: eth0, bgp: owner}\n",
			[]string{`vipd.yaml:12:49: vips[0].interface: is "eth0", but this VIP is announced over BGP (bgp: owner), not answered on an interface; remove interface, or remove bgp to answer ARP/NDP`}},
		{"IPv6 vip and only IPv4 peers", peer + "vips:\n  - {name: web6, address: 2001:db8:ff::10, bgp: owner}\n",
			[]string{`vipd.yaml:10:49: vips[0].bgp: 2001:db8:ff::10 is an IPv6 VIP but no bgp peer has an IPv6 address; IPv6 routes go to IPv6 peers, so add one`}},
		{"group with two modes", peer + "vips:\n  - {name: a, address: 192.0.2.10, group: g, bgp: owner}\n  - {name: b, address: 192.0.2.11, group: g, bgp: all}\n",
			[]string{`vipd.yaml:11:51: vips[1].bgp: VIP group "g" moves as one, but vips[0] (a) has bgp owner and this VIP has all; give every VIP of the group the same bgp`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("vipd.yaml", []byte(tc.file), "h1")
			if err == nil {
				t.Fatalf("Parse accepted the file:\n%s\ngot config %+v", tc.file, cfg)
			}
			var got []string
			for _, e := range Errors(err) {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors for:\n%s\ngot:\n  %s\nwant:\n  %s", tc.file, strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}
