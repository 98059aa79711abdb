package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// validator checks what the types alone cannot: required keys, ranges,
// references between sections and the rules that keep a cluster sane. It
// reports through the decoder so that every problem carries its position.
type validator struct {
	c *Config
	d *decoder
}

func validate(c *Config, d *decoder) {
	v := validator{c, d}
	v.node()
	v.gossip()
	v.announce()
	v.interfaces()
	v.checks()
	v.vips()
	v.bgp()
	v.control()
	v.notify()
}

func (v validator) fail(path, format string, args ...any) {
	v.d.add(v.d.where(path), path, format, args...)
}

// failKey is fail for problems with a key itself, such as a node name used
// as a key, rather than with its value.
func (v validator) failKey(path, format string, args ...any) {
	at, ok := v.d.keyPos[path]
	if !ok {
		at = v.d.where(path)
	}
	v.d.add(at, path, format, args...)
}

// failed reports whether path already has a problem, so that validation
// does not pile a second, derived error on it.
func (v validator) failed(path string) bool {
	for _, e := range v.d.list {
		if e.Path == path {
			return true
		}
	}
	return false
}

// written reports whether the file sets path (as opposed to a default).
func (v validator) written(path string) bool {
	_, ok := v.d.pos[path]
	return ok
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

const nameRule = "use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"

func (v validator) name(path, kind, name string) bool {
	if !nameRE.MatchString(name) {
		v.fail(path, "%q is not a valid %s; %s", name, kind, nameRule)
		return false
	}
	return true
}

func (v validator) absPath(path, value, example string) {
	if value != "" && !filepath.IsAbs(value) {
		v.fail(path, "%q is not an absolute path; write it like %s", value, example)
	}
}

func (v validator) positive(path string, d Duration, example string) {
	if d.Duration <= 0 {
		v.fail(path, "must be more than 0s, like %s", example)
	}
}

func (v validator) hostPort(path, value, example string) {
	host, port, err := net.SplitHostPort(value)
	if err != nil || !validPort(port) || (host != "" && !validHost(host)) {
		v.fail(path, "%q is not host:port; write it like %s", value, example)
	}
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$`)

func validHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return hostnameRE.MatchString(host)
}

func (v validator) node() {
	c := v.c
	if c.NodeName == "" {
		v.fail("node_name", "is not set and this host has no hostname; set node_name to this host's name, like h1")
	} else {
		v.name("node_name", "node name", c.NodeName)
	}
	if c.StateDir == "" {
		v.fail("state_dir", "must not be empty; the default is %s", DefaultStateDir)
	}
	v.absPath("state_dir", c.StateDir, DefaultStateDir)
	v.positive("drain_timeout", c.DrainTimeout, "10s; it bounds how long a stopping owner waits for another host to take over")
}

func (v validator) gossip() {
	g := v.c.Gossip
	if _, err := netip.ParseAddr(g.Bind); err != nil {
		v.fail("gossip.bind", "%q is not an IP address; use 0.0.0.0 for every address of this host, or one of them, like 198.51.100.1", g.Bind)
	}
	if g.Advertise != "" {
		if _, err := netip.ParseAddr(g.Advertise); err != nil {
			v.fail("gossip.advertise", "%q is not an IP address; use the address other hosts reach this one at, like 198.51.100.1", g.Advertise)
		}
	}
	if g.Port < 1 || g.Port > 65535 {
		v.fail("gossip.port", "%d is not a port; use 1-65535 (the default is %d)", g.Port, DefaultGossipPort)
	}
	for i, peer := range g.Peers {
		if !validPeer(peer) {
			v.fail(fmt.Sprintf("gossip.peers[%d]", i), "%q is not a host or host:port; write it like 198.51.100.2 or 198.51.100.2:%d", peer, DefaultGossipPort)
		}
	}
	switch {
	case g.KeyFile == "" && !g.Insecure && !v.failed("gossip.insecure"):
		v.fail("gossip.key_file", "is missing; gossip is encrypted, so set key_file: /etc/vipd/gossip.key (mode 0600), or insecure: true on a lab network")
	case g.KeyFile != "" && g.Insecure:
		v.fail("gossip.insecure", "is true but key_file is set too; keep key_file to encrypt gossip, or remove it to gossip in clear text")
	}
	v.absPath("gossip.key_file", g.KeyFile, "/etc/vipd/gossip.key")
}

func validPeer(peer string) bool {
	if _, err := netip.ParseAddr(peer); err == nil {
		return true
	}
	if host, port, err := net.SplitHostPort(peer); err == nil {
		return validPort(port) && validHost(host)
	}
	return validHost(peer)
}

func (v validator) announce() {
	if r := v.c.Announce.Refresh.Duration; r > 0 && r < time.Second {
		v.fail("announce.refresh", "%s is too often; use 1s or more, or 0s to send no refresh", r)
	}
}

func (v validator) ifname(path, name string) bool {
	if name == "" || len(name) > 15 || strings.ContainsAny(name, "/: \t") || name == "." || name == ".." {
		v.fail(path, "%q is not an interface name; interface names have 1-15 characters and no '/', ':' or spaces, like eth0", name)
		return false
	}
	return true
}

func (v validator) interfaces() {
	first := map[string]int{}
	for i, ifc := range v.c.Interfaces {
		path := fmt.Sprintf("interfaces[%d]", i)
		switch {
		case ifc.Name == "":
			v.fail(path+".name", "is missing; name the NIC or bridge that faces the clients, like eth0")
		case !v.ifname(path+".name", ifc.Name):
		case ifc.Name == "vipd0":
			v.fail(path+".name", "vipd0 is the dummy interface vipd keeps VIP addresses on; name the NIC or bridge that faces the clients, like eth0")
		case first[ifc.Name] != 0:
			v.fail(path+".name", "interface %q is listed twice; the first is at line %d", ifc.Name, first[ifc.Name])
		default:
			first[ifc.Name] = v.d.where(path + ".name").line
		}
		ports := map[string]bool{}
		for j, port := range ifc.BridgePorts {
			portPath := fmt.Sprintf("%s.bridge_ports[%d]", path, j)
			switch {
			case !v.ifname(portPath, port):
			case port == ifc.Name:
				v.fail(portPath, "%q is the bridge itself; list the bridge's hardware ports, like eth1", port)
			case ports[port]:
				v.fail(portPath, "%q is listed twice", port)
			}
			ports[port] = true
		}
	}
}

// keysByType lists the keys each check type reads, besides the common ones.
var keysByType = map[CheckType][]string{
	CheckHTTP:    {"url", "status", "body", "host_header", "watch"},
	CheckHTTPS:   {"url", "status", "body", "host_header", "tls_verify", "watch"},
	CheckTCP:     {"address", "watch"},
	CheckExec:    {"command", "env"},
	CheckHAProxy: {"socket", "address", "backend", "min_up"},
	CheckFile:    {"path"},
}

var commonCheckKeys = []string{"type", "interval", "fast_interval", "timeout", "rise", "fall"}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (v validator) checks() {
	for _, name := range sortedKeys(v.c.Checks) {
		c := v.c.Checks[name]
		path := "checks." + name
		if !nameRE.MatchString(name) {
			v.failKey(path, "%q is not a valid check name; %s", name, nameRule)
		}
		if c.Type == "" {
			if v.failed(path + ".type") {
				continue
			}
			v.fail(path+".type", "is missing; use one of: %s", strings.Join(checkTypes, ", "))
			continue
		}
		v.checkTiming(path, c)
		v.checkKeys(path, c.Type)
		switch c.Type {
		case CheckHTTP, CheckHTTPS:
			v.checkURL(path, c)
			v.hostHeader(path+".host_header", c.HostHeader)
		case CheckTCP:
			if c.Address == "" {
				v.fail(path+".address", "is missing; give the backend's host:port, like 127.0.0.1:80")
			} else {
				v.hostPort(path+".address", c.Address, "127.0.0.1:80")
			}
		case CheckExec:
			v.command(path+".command", c.Command, "[/usr/local/bin/check-backend, --quiet]")
			for _, k := range sortedKeys(c.Env) {
				if !envNameRE.MatchString(k) {
					v.failKey(path+".env."+k, "%q is not an environment variable name; use letters, digits and '_', like BACKEND_URL", k)
				}
			}
		case CheckHAProxy:
			v.checkHAProxy(path, c)
		case CheckFile:
			if c.Path == "" {
				v.fail(path+".path", "is missing; give the maintenance file whose presence fails the check, like /etc/vipd/maintenance")
			}
			v.absPath(path+".path", c.Path, "/etc/vipd/maintenance")
		}
	}
}

func (v validator) checkTiming(path string, c *Check) {
	v.positive(path+".interval", c.Interval, "1s")
	v.positive(path+".timeout", c.Timeout, "500ms")
	if c.Timeout.Duration > 0 && c.Interval.Duration > 0 && c.Timeout.Duration >= c.Interval.Duration {
		v.fail(path+".timeout", "%s is not below interval %s; a check must end before the next one starts, so use a timeout under %s", c.Timeout, c.Interval, c.Interval)
	}
	v.fastInterval(path, c)
	if c.Rise < 1 {
		v.fail(path+".rise", "is %d; it must be 1 or more (passes in a row before the check counts as up)", c.Rise)
	}
	if c.Fall < 1 {
		v.fail(path+".fall", "is %d; it must be 1 or more (failures in a row before the check counts as down)", c.Fall)
	}
}

// fastInterval checks fast_interval against interval, or, when the file
// does not set it, lowers the default to the interval if that is shorter,
// so a file that sets only a short interval stays valid and probes as
// before. It need not exceed the timeout: a re-check waits fast_interval
// after the failed probe ended, so probes never overlap (see
// health.Runner).
func (v validator) fastInterval(path string, c *Check) {
	if !v.written(path + ".fast_interval") {
		c.FastInterval.Duration = min(c.FastInterval.Duration, c.Interval.Duration)
		return
	}
	v.positive(path+".fast_interval", c.FastInterval, DefaultFastInterval.String())
	if c.FastInterval.Duration > 0 && c.Interval.Duration > 0 && c.FastInterval.Duration > c.Interval.Duration {
		v.fail(path+".fast_interval", "%s is above interval %s; it is how soon a failed check is probed again, so use %s or less (equal to interval turns faster re-checks off)", c.FastInterval, c.Interval, c.Interval)
	}
}

// checkKeys reports keys that the check's type does not read, naming the
// types that do, so a copy-paste mistake is easy to see.
func (v validator) checkKeys(path string, t CheckType) {
	for _, key := range sortedKeys(fieldsByKey(reflect.TypeFor[Check]())) {
		if !v.written(path+"."+key) || slices.Contains(commonCheckKeys, key) || slices.Contains(keysByType[t], key) {
			continue
		}
		var users []string
		for _, other := range checkTypes {
			if slices.Contains(keysByType[CheckType(other)], key) {
				users = append(users, other)
			}
		}
		v.fail(path+"."+key, "is not used by %s checks, only by %s checks; remove it or change type", t, strings.Join(users, " and "))
	}
}

func (v validator) checkURL(path string, c *Check) {
	if c.URL == "" {
		v.fail(path+".url", "is missing; give the URL to GET, like %s://127.0.0.1:8404/healthz", c.Type)
		return
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		v.fail(path+".url", "%q is not a URL; write it like %s://127.0.0.1:8404/healthz", c.URL, c.Type)
		return
	}
	switch {
	case u.Scheme == string(c.Type):
	case u.Scheme == string(CheckHTTP) || u.Scheme == string(CheckHTTPS):
		v.fail(path+".url", "%q does not match type %s; use a %s:// URL, or type: %s", c.URL, c.Type, c.Type, u.Scheme)
	default:
		v.fail(path+".url", "%q must start with %s:// for type %s; write it like %s://127.0.0.1:8404/healthz", c.URL, c.Type, c.Type, c.Type)
	}
}

func (v validator) hostHeader(path, value string) {
	if value != "" && !validHostHeader(value) {
		v.fail(path, "%q is not a Host header; write a host name, optionally with :port, like www.example.com or www.example.com:8443", value)
	}
}

// validHostHeader reports whether s is what an HTTP Host header carries: a
// host name or IP address, IPv6 in brackets, with an optional :port, and no
// spaces, control characters, '/', '@' or other parts of a URL.
func validHostHeader(s string) bool {
	host := s // with its brackets, if any
	if _, port, err := net.SplitHostPort(s); err == nil {
		if !validPort(port) {
			return false
		}
		host = s[:len(s)-len(port)-1]
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		addr, err := netip.ParseAddr(host[1 : len(host)-1])
		return err == nil && addr.Is6() && addr.Zone() == ""
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.Is4() // IPv6 needs its brackets
	}
	return hostHeaderRE.MatchString(host)
}

// hostHeaderRE is a DNS name; unlike hostnameRE it takes '_', which virtual
// host names may have.
var hostHeaderRE = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9._-]{0,252})$`)

func (v validator) checkHAProxy(path string, c *Check) {
	switch {
	case c.Socket == "" && c.Address == "":
		v.fail(path+".socket", "is missing; give HAProxy's stats socket, like /run/haproxy/admin.sock, or its TCP address under address:")
	case c.Socket != "" && c.Address != "":
		v.fail(path+".address", "is set together with socket; use one way to reach HAProxy's runtime API")
	case c.Socket != "":
		v.absPath(path+".socket", c.Socket, "/run/haproxy/admin.sock")
	default:
		v.hostPort(path+".address", c.Address, "127.0.0.1:9999")
	}
	if c.Backend == "" {
		v.fail(path+".backend", "is missing; name the HAProxy backend whose servers must be UP, like web")
	}
	if c.MinUp < 1 {
		v.fail(path+".min_up", "is %d; it must be 1 or more (servers UP for the check to pass)", c.MinUp)
	}
}

func (v validator) command(path string, argv []string, example string) {
	switch {
	case v.failed(path):
		// decoding already said what is wrong, like a string for a list
	case len(argv) == 0:
		v.fail(path, "is missing; give the program and its arguments as a list, like %s", example)
	case !filepath.IsAbs(argv[0]):
		v.fail(path+"[0]", "%q is not an absolute path; vipd runs the command without a shell or PATH, so write it like %s", argv[0], example)
	}
}

func (v validator) control() {
	ctl := v.c.Control
	if ctl.Socket == "" {
		v.fail("control.socket", "must not be empty; the default is %s", DefaultSocket)
	}
	v.absPath("control.socket", ctl.Socket, DefaultSocket)
	if ctl.Group != "" && !groupRE.MatchString(ctl.Group) {
		v.fail("control.group", "%q is not a group name; use a unix group like %s, or \"\" to let only root read status", ctl.Group, DefaultGroup)
	}
	if l := v.c.Metrics.Listen; l != "" {
		v.hostPort("metrics.listen", l, DefaultMetrics+", or \"\" to turn metrics off")
	}
}

var groupRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

func (v validator) notify() {
	for i, hook := range v.c.Notify {
		path := fmt.Sprintf("notify[%d]", i)
		v.command(path+".command", hook.Command, "[/usr/local/bin/vip-changed]")
		v.positive(path+".timeout", hook.Timeout, "10s")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
