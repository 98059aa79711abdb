package config

import (
	"strings"
	"testing"
)

// base is a minimal valid file; the cases below add to it from line 5 on.
const base = `gossip:
  insecure: true
interfaces:
  - name: eth0
`

func TestBrokenConfigs(t *testing.T) {
	cases := []struct {
		name string
		file string
		want []string
	}{
		{"unknown top-level key with a suggestion", base + "gosip:\n  port: 1\n",
			[]string{`vipd.yaml:5:1: gosip: unknown key; did you mean "gossip"?`}},
		{"unknown nested key lists the allowed keys", base + "metrics:\n  enabled: true\n",
			[]string{`vipd.yaml:6:3: metrics.enabled: unknown key; the keys allowed here are: listen`}},
		{"a word where a number goes", "gossip:\n  insecure: true\n  port: seventy\n",
			[]string{`vipd.yaml:3:9: gossip.port: must be a whole number, like 2, not "seventy"`}},
		{"yes is not a boolean", "gossip:\n  insecure: yes\n",
			[]string{`vipd.yaml:2:13: gossip.insecure: must be true or false, not "yes"`}},
		{"a string where a list goes", "gossip:\n  insecure: true\n  peers: 198.51.100.1\n",
			[]string{`vipd.yaml:3:10: gossip.peers: must be a list like [a, b], not the value "198.51.100.1"`}},
		{"prefix length out of range", base + "vips:\n  - name: web\n    address: 192.0.2.10/33\n",
			[]string{`vipd.yaml:7:14: vips[0].address: "192.0.2.10/33" is not an IP address; write it like 192.0.2.10/32 or 2001:db8::10/128`}},
		{"a network instead of one address", base + "vips:\n  - name: web\n    address: 192.0.2.0/24\n",
			[]string{`vipd.yaml:7:14: vips[0].address: "192.0.2.0/24" is a /24 network, but a VIP is one address; write 192.0.2.0/32`}},
		{"a loopback VIP", base + "vips:\n  - name: web\n    address: 127.0.0.2\n",
			[]string{`vipd.yaml:7:14: vips[0].address: "127.0.0.2" is a loopback, link-local, multicast or unspecified address and cannot be a VIP`}},
		{"duplicate VIP name", base + "vips:\n  - {name: web, address: 192.0.2.10}\n  - {name: web, address: 192.0.2.11}\n",
			[]string{`vipd.yaml:7:12: vips[1].name: "web" is already the name of vips[0] (line 6); VIP names must be unique`}},
		{"duplicate VIP address", base + "vips:\n  - {name: web, address: 192.0.2.10}\n  - {name: api, address: 192.0.2.10/32}\n",
			[]string{`vipd.yaml:7:26: vips[1].address: 192.0.2.10 is already the address of vips[0] (web, line 6); two VIP entries cannot share one address: remove one, or put both names in one group`}},
		{"duplicate key", base + "checks:\n  web: {type: tcp, address: \"127.0.0.1:80\"}\n  web: {type: tcp, address: \"127.0.0.1:81\"}\n",
			[]string{`vipd.yaml:7:3: checks.web: appears twice; the first is at line 6`}},
		{"undefined check", base + "checks:\n  web: {type: tcp, address: \"127.0.0.1:80\"}\nvips:\n  - {name: web, address: 192.0.2.10, checks: [nginx]}\n",
			[]string{`vipd.yaml:8:47: vips[0].checks[0]: check "nginx" is not defined; define it under checks:, or use one of: web`}},
		{"timeout not below interval", base + "checks:\n  web:\n    type: tcp\n    address: 127.0.0.1:80\n    interval: 1s\n    timeout: 1s\n",
			[]string{`vipd.yaml:10:14: checks.web.timeout: 1s is not below interval 1s; a check must end before the next one starts, so use a timeout under 1s`}},
		{"duration without a unit", base + "checks:\n  web:\n    type: tcp\n    address: 127.0.0.1:80\n    interval: 5\n",
			[]string{`vipd.yaml:9:15: checks.web.interval: "5" has no unit; write it like 5s or 5ms`}},
		{"check without a type", base + "checks:\n  web:\n    address: 127.0.0.1:80\n",
			[]string{`vipd.yaml:6:3: checks.web.type: is missing; use one of: http, https, tcp, exec, haproxy, file`}},
		{"unknown check type", base + "checks:\n  web:\n    type: ping\n",
			[]string{`vipd.yaml:7:11: checks.web.type: "ping" is not one of: http, https, tcp, exec, haproxy, file`}},
		{"a key the check type does not read", base + "checks:\n  web:\n    type: http\n    url: http://127.0.0.1/\n    backend: web\n",
			[]string{`vipd.yaml:9:14: checks.web.backend: is not used by http checks, only by haproxy checks; remove it or change type`}},
		{"URL scheme does not match the type", base + "checks:\n  web:\n    type: http\n    url: https://127.0.0.1/\n",
			[]string{`vipd.yaml:8:10: checks.web.url: "https://127.0.0.1/" does not match type http; use a http:// URL, or type: https`}},
		{"exec command without an absolute path", base + "checks:\n  script:\n    type: exec\n    command: [check.sh]\n",
			[]string{`vipd.yaml:8:15: checks.script.command[0]: "check.sh" is not an absolute path; vipd runs the command without a shell or PATH, so write it like [/usr/local/bin/check-backend, --quiet]`}},
		{"haproxy check with no way to reach HAProxy", base + "checks:\n  lb:\n    type: haproxy\n    backend: web\n",
			[]string{`vipd.yaml:6:3: checks.lb.socket: is missing; give HAProxy's stats socket, like /run/haproxy/admin.sock, or its TCP address under address:`}},
		{"VIP group disagrees on interface", "gossip: {insecure: true}\ninterfaces: [{name: eth0}, {name: eth1}]\nvips:\n  - {name: a, address: 192.0.2.10, interface: eth0, group: front}\n  - {name: b, address: 192.0.2.11, interface: eth1, group: front}\n",
			[]string{`vipd.yaml:5:47: vips[1].interface: VIP group "front" moves as one, but vips[0] (a) has interface eth0 and this VIP has eth1; give every VIP of the group the same interface`}},
		{"VIP group disagrees on nodes", base + "vips:\n  - {name: a, address: 192.0.2.10, group: front, nodes: [h1, h2]}\n  - {name: b, address: 192.0.2.11, group: front}\n",
			[]string{`vipd.yaml:7:5: vips[1].nodes: VIP group "front" moves as one, but vips[0] (a) has nodes [h1, h2] and this VIP has []; give every VIP of the group the same nodes`}},
		{"IPv6 VIP on an IPv4-only interface", "gossip: {insecure: true}\ninterfaces:\n  - {name: eth0, family: ipv4}\nvips:\n  - {name: web6, address: 2001:db8::10}\n",
			[]string{`vipd.yaml:5:27: vips[0].address: 2001:db8::10 is an IPv6 VIP but interface eth0 is family: ipv4; use an IPv4 address, or set family: dual on eth0`}},
		{"VIP on an interface that is not managed", base + "vips:\n  - {name: web, address: 192.0.2.10, interface: eth1}\n",
			[]string{`vipd.yaml:6:49: vips[0].interface: "eth1" is not under interfaces:; add it there, or use one of: eth0`}},
		{"VIP without interface when two are managed", "gossip: {insecure: true}\ninterfaces: [{name: eth0}, {name: eth1}]\nvips:\n  - {name: web, address: 192.0.2.10}\n",
			[]string{`vipd.yaml:4:5: vips[0].interface: is missing; this file manages eth0, eth1, so say which one carries the VIP`}},
		{"priority for a node not in the node list", base + "vips:\n  - name: web\n    address: 192.0.2.10\n    nodes: [h1, h2]\n    priority: {h3: 10}\n",
			[]string{`vipd.yaml:9:16: vips[0].priority.h3: "h3" is not in this VIP's nodes [h1, h2]; add it there or remove its priority`}},
		{"no gossip key and not insecure", "interfaces:\n  - name: eth0\n",
			[]string{`vipd.yaml:1:1: gossip.key_file: is missing; gossip is encrypted, so set key_file: /etc/vipd/gossip.key (mode 0600), or insecure: true on a lab network`}},
		{"a key file and insecure at once", "gossip:\n  key_file: /etc/vipd/gossip.key\n  insecure: true\n",
			[]string{`vipd.yaml:3:13: gossip.insecure: is true but key_file is set too; keep key_file to encrypt gossip, or remove it to gossip in clear text`}},
		{"YAML syntax error", base + "vips:\n  - name: web\n   address: 192.0.2.10\n",
			[]string{`vipd.yaml:5:1: YAML syntax error: did not find expected '-' indicator`}},
		{"two documents", base + "---\ngossip: {}\n",
			[]string{`vipd.yaml:5:1: only one YAML document is allowed; remove the '---' and what follows it, or merge it into the first`}},
		{"a bad node name", "node_name: h 1\ngossip: {insecure: true}\n",
			[]string{`vipd.yaml:1:12: node_name: "h 1" is not a valid node name; use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit`}},
		{"every error is reported at once, in file order", "gossip:\n  port: 0\n  insecure: true\ninterfaces:\n  - name: eth0\n    tuning: off\nvips:\n  - name: web\n    address: 192.0.2.300\n    failback: 1\n",
			[]string{
				`vipd.yaml:2:9: gossip.port: 0 is not a port; use 1-65535 (the default is 7946)`,
				`vipd.yaml:6:13: interfaces[0].tuning: must be true or false, not "off"`,
				`vipd.yaml:9:14: vips[0].address: "192.0.2.300" is not an IP address; write it like 192.0.2.10/32 or 2001:db8::10/128`,
				`vipd.yaml:10:15: vips[0].failback: must be true or false, not "1"`,
			}},
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
			if err.Error() != strings.Join(got, "\n") {
				t.Errorf("err.Error() = %q, want the joined errors", err.Error())
			}
		})
	}
}
