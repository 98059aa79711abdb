package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/lab"
)

// The lab tests of issue 10: each classic L2 VIP failure set up for real,
// what the client sees, and the exact line `vipctl doctor` prints for it.

// newDoctorLab is newVIPDLab with two hooks: prepare runs in each host
// before its vipd starts (kernel settings, topology), and edit rewrites
// each host's config.
func newDoctorLab(t *testing.T, hosts int, prepare func(h *lab.Node), edit func(h *lab.Node, cfg string) string) *vipdLab {
	lab.RequireRoot(t)
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	l := &vipdLab{t: t, lab: lab.New(t, lab.Options{Hosts: hosts}), bin: bin, dir: t.TempDir(),
		vipd: map[string]*lab.Process{}, nginx: map[string]*lab.Nginx{}, profile: "fast"}
	key := filepath.Join(l.dir, "gossip.key")
	if out, err := exec.Command(filepath.Join(bin, "vipd"), "keygen", "-o", key).CombinedOutput(); err != nil {
		t.Fatalf("vipd keygen: %v\n%s", err, out)
	}
	for _, h := range l.lab.Hosts() {
		l.nginx[h.Name()] = lab.StartNginx(t, h, lab.NginxOptions{Port: webPort})
		if prepare != nil {
			prepare(h)
		}
		cfg := l.config(h)
		if edit != nil {
			cfg = edit(h, cfg)
		}
		l.writeConfig(h, cfg)
		l.start(h)
	}
	return l
}

// doctorResult is what one `vipctl doctor` run printed and its exit status.
type doctorResult struct {
	stdout, stderr string
	code           int
}

func (r doctorResult) lines() []string {
	return strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
}

func (r doctorResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%sstderr:\n%s", r.code, r.stdout, r.stderr)
}

// doctor runs `vipctl doctor` inside the host's namespace, as an operator
// on that host would: /proc/sys/net and /sys/class/net are the host's.
func (l *vipdLab) doctor(h *lab.Node, args ...string) doctorResult {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	argv := append([]string{"netns", "exec", h.Netns(), filepath.Join(l.bin, "vipctl"), "--socket", l.socket(h), "doctor"}, args...)
	var out, errOut strings.Builder
	cmd := exec.CommandContext(ctx, "ip", argv...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := doctorResult{stdout: out.String(), stderr: errOut.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		l.t.Fatalf("vipctl doctor on %s: %v", h.Name(), err)
	}
	return r
}

// doctorSays waits until doctor on h prints want as one of its lines and
// exits 1, and returns that run.
func (l *vipdLab) doctorSays(h *lab.Node, want string) doctorResult {
	l.t.Helper()
	var r doctorResult
	lab.Eventually(l.t, 20*time.Second, func() error {
		r = l.doctor(h)
		if r.code != exitProblemStatus || !slices.Contains(r.lines(), want) {
			return errorf("doctor on %s lacks the line\n%s\n%s", h.Name(), want, r)
		}
		return nil
	})
	l.t.Logf("vipctl doctor on %s:\n%s", h.Name(), r.stdout)
	return r
}

// doctorClean waits until doctor on h finds nothing: empty stdout, exit 0.
func (l *vipdLab) doctorClean(h *lab.Node) doctorResult {
	l.t.Helper()
	var r doctorResult
	lab.Eventually(l.t, 20*time.Second, func() error {
		r = l.doctor(h)
		if r.code != 0 || r.stdout != "" {
			return errorf("doctor on %s is not clean:\n%s", h.Name(), r)
		}
		return nil
	})
	if want := "vipctl: doctor: no problems found on " + h.Name() + "\n"; r.stderr != want {
		l.t.Errorf("doctor on %s: stderr %q, want %q", h.Name(), r.stderr, want)
	}
	return r
}

const exitProblemStatus = 1

// unreachable asserts that the client gets no answer from url for a while.
func (l *vipdLab) unreachable(url string) {
	l.t.Helper()
	client := l.lab.Client()
	// Forget what the client learnt: a cached ARP entry still reaches a
	// host that let the VIP go, since every host keeps it on vipd0.
	if _, err := client.Run(context.Background(), "ip", "neigh", "flush", "to", vip4); err != nil {
		l.t.Fatal(err)
	}
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		body, err := client.HTTPGet(ctx, url)
		cancel()
		if err == nil {
			l.t.Fatalf("client reached %s (answer from %s), want no answer", url, strings.TrimSpace(body))
		}
	}
}

func nsRun(t *testing.T, n *lab.Node, argv ...string) string {
	t.Helper()
	out, err := n.Run(context.Background(), argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withTuning sets tuning: on the managed interface eth0.
func withTuning(on bool) func(*lab.Node, string) string {
	return func(_ *lab.Node, cfg string) string {
		return strings.Replace(cfg, "interfaces:\n  - name: eth0\n", fmt.Sprintf("interfaces:\n  - name: eth0\n    tuning: %v\n", on), 1)
	}
}

// Failure 1a: the host that should answer is drained, and the VIP's node
// list leaves the other one out.
func TestLabDoctorDrainedAndExcluded(t *testing.T) {
	l := newDoctorLab(t, 2, nil, func(_ *lab.Node, cfg string) string {
		return strings.Replace(cfg, "checks: [web]\n", "checks: [web]\n    nodes: [h1]\n", 1)
	})
	if owner := l.agreedOwner("web"); owner != "h1" {
		t.Fatalf("web owned by %s, want h1, the only host in its node list", owner)
	}
	l.answersFrom(url4, "h1")
	l.doctorClean(l.host("h2"))

	if out, err := l.vipctl(l.host("h1"), "drain"); err != nil {
		t.Fatalf("vipctl drain: %v\n%s", err, out)
	}
	want := "error: VIP web (192.0.2.200) has no eligible host, so no host answers ARP for it and the LAN cannot reach it; evidence: h1: drained; h2: not in the node list; fix: run 'vipctl undrain' on one of the drained hosts"
	// h1 keeps answering until its drain timeout (5s) finds no taker.
	lab.Eventually(t, 20*time.Second, func() error {
		st, err := l.status(l.host("h1"))
		if err != nil {
			return err
		}
		if v := vipOf(st, "web"); v.Health != api.HealthNoOwner {
			return errorf("web on h1: %s (%s), want no-owner", v.Health, v.Reason)
		}
		return nil
	})
	r := l.doctorSays(l.host("h2"), want)
	drained := "warning: host h1 is drained: it takes no VIP, so it cannot take over; evidence: drained: yes in 'vipctl members'; fix: run 'vipctl undrain' on h1 once its maintenance is over"
	if !slices.Contains(r.lines(), drained) {
		t.Errorf("doctor lacks the line\n%s\n%s", drained, r)
	}
	l.unreachable(url4)
	if macs := l.arpMACs(vip4); len(macs) != 0 {
		t.Errorf("ARP for %s answered by %v with its only allowed host drained; want nobody", vip4, macs)
	}
}

// sideLink gives the client a second way to owner, 198.51.100.0/24 on a
// veth pair of their own, and makes the client send to the VIP over the
// LAN from its side address: the owner's route back to the client leaves by
// side0, not by eth0 where the request came in. Strict rp_filter drops
// such requests; loose lets them in, and the replies go back over side0.
func sideLink(t *testing.T, l *vipdLab, owner *lab.Node) {
	t.Helper()
	client := l.lab.Client()
	nsRun(t, owner, "ip", "link", "add", "side0", "type", "veth", "peer", "name", "side0", "netns", client.Netns())
	nsRun(t, owner, "ip", "addr", "add", "198.51.100.1/24", "dev", "side0")
	nsRun(t, owner, "ip", "link", "set", "side0", "up")
	nsRun(t, client, "ip", "addr", "add", "198.51.100.10/24", "dev", "side0")
	nsRun(t, client, "ip", "link", "set", "side0", "up")
	nsRun(t, client, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.side0.rp_filter=0")
	nsRun(t, client, "ip", "route", "add", vip4+"/32", "dev", "eth0", "src", "198.51.100.10")
}

func strictRPFilter(t *testing.T) func(*lab.Node) {
	return func(h *lab.Node) {
		nsRun(t, h, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf.eth0.rp_filter=1")
	}
}

// Failure 1b: strict rp_filter on the owner, with vipd's tuning off and on.
func TestLabDoctorStrictRPFilter(t *testing.T) {
	t.Run("tuning off", func(t *testing.T) {
		l := newDoctorLab(t, 2, strictRPFilter(t), withTuning(false))
		owner := l.host(l.agreedOwner("web"))
		sideLink(t, l, owner)
		l.unreachable(url4)
		want := "warning: strict rp_filter on eth0 drops VIP traffic from clients whose route back leaves by another interface; evidence: net.ipv4.conf.all.rp_filter=1, net.ipv4.conf.eth0.rp_filter=1, effective 1 (the larger), want 0 or 2; tuning: false on eth0 in the config; fix: set tuning: true on eth0 in " + l.configPath(owner) + " and restart vipd, or run 'sysctl -w net.ipv4.conf.eth0.rp_filter=2'"
		l.doctorSays(owner, want)
	})
	t.Run("tuning on", func(t *testing.T) {
		l := newDoctorLab(t, 2, strictRPFilter(t), withTuning(true))
		owner := l.host(l.agreedOwner("web"))
		sideLink(t, l, owner)
		l.answersFrom(url4, owner.Name())
		if got := strings.TrimSpace(nsRun(t, owner, "sysctl", "-n", "net.ipv4.conf.eth0.rp_filter")); got != "2" {
			t.Errorf("net.ipv4.conf.eth0.rp_filter on %s is %s with tuning on, want 2 (loose)", owner, got)
		}
		l.doctorClean(owner)
	})
}

// Failure 2: VIPs of one group with conflicting node lists, and two VIP
// entries for one address. Validation refuses the file: vipd check names
// both, reload keeps the running config, doctor reports the file.
func TestLabDoctorConflictingGroupAndDuplicateAddress(t *testing.T) {
	l := newDoctorLab(t, 2, nil, nil)
	owner := l.agreedOwner("web")
	l.answersFrom(url4, owner)
	h := l.host("h1")
	bad := strings.Replace(l.config(h), "control:", `  - name: api
    address: 192.0.2.201
    group: front
    nodes: [h1]
    checks: [web]
  - name: api2
    address: 192.0.2.202
    group: front
    nodes: [h2]
    checks: [web]
  - name: dup
    address: 192.0.2.200
    checks: [web]
control:`, 1)
	l.writeConfig(h, bad)
	file := l.configPath(h)
	errs := []string{
		file + `:36:12: vips[3].nodes: VIP group "front" moves as one, but vips[2] (api) has nodes [h1] and this VIP has [h2]; give every VIP of the group the same nodes`,
		file + ":39:14: vips[4].address: 192.0.2.200 is already the address of vips[0] (web, line 23); two VIP entries cannot share one address: remove one, or put both names in one group",
	}

	check := exec.Command(filepath.Join(l.bin, "vipd"), "check", "-c", file)
	out, err := check.CombinedOutput()
	t.Logf("vipd check -c %s:\n%s", file, out)
	wantCheck := strings.Join(errs, "\n") + "\n" + file + ": 2 errors; nothing was changed\n"
	if err == nil || string(out) != wantCheck {
		t.Errorf("vipd check: %v, output\n%s\nwant\n%s", err, out, wantCheck)
	}

	reload, err := l.vipctl(h, "reload")
	t.Logf("vipctl reload:\n%s", reload)
	if err == nil || !strings.Contains(reload, errs[0]) || !strings.Contains(reload, errs[1]) {
		t.Errorf("vipctl reload of the bad file: %v, output %q; want both errors", err, reload)
	}
	want := "error: " + file + " does not pass validation: vipd refuses it at start and on reload, and keeps running the config it had; evidence: " +
		strings.Join(errs, "; ") + "; fix: fix it, test it with 'vipd check -c " + file + "', then run 'vipctl reload'"
	l.doctorSays(h, want)
	// Nothing was lost: web keeps its owner and the client its answers.
	l.answersFrom(url4, owner)
}

// Failure 3: the checks fail on every host, so nobody announces the VIP.
func TestLabDoctorChecksFailingEverywhere(t *testing.T) {
	l := newDoctorLab(t, 3, nil, nil)
	l.answersFrom(url4, l.agreedOwner("web"))
	for _, n := range l.nginx {
		if err := n.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	h := l.host("h1")
	want := "error: VIP web (192.0.2.200) has no eligible host, so no host answers ARP for it and the LAN cannot reach it; evidence: h1: check web: GET http://127.0.0.1:8080/: dial tcp 127.0.0.1:8080: connect: connection refused; h2: check web failing there; h3: check web failing there; fix: fix the backend on at least one host; 'vipctl checks' there shows the failing check in its own words"
	l.doctorSays(h, want)
	l.unreachable(url4)
	if macs := l.arpMACs(vip4); len(macs) != 0 {
		t.Errorf("with every backend down, ARP for %s answered by %v; want nobody", vip4, macs)
	}
}

// bridgeLAN makes eth0 a port of a new bridge br-lan in the host and moves
// the host's addresses to the bridge: the managed interface is then a
// bridge whose "hardware" port is a veth.
func bridgeLAN(t *testing.T) func(*lab.Node) {
	return func(h *lab.Node) {
		nsRun(t, h, "ip", "link", "add", "br-lan", "type", "bridge", "stp_state", "0", "mcast_snooping", "0")
		nsRun(t, h, "ip", "addr", "del", h.IPv4().String()+"/24", "dev", "eth0")
		nsRun(t, h, "ip", "addr", "del", h.IPv6().String()+"/64", "dev", "eth0")
		nsRun(t, h, "ip", "link", "set", "eth0", "master", "br-lan")
		nsRun(t, h, "ip", "addr", "add", h.IPv4().String()+"/24", "dev", "br-lan")
		nsRun(t, h, "ip", "addr", "add", h.IPv6().String()+"/64", "dev", "br-lan", "nodad")
		nsRun(t, h, "ip", "link", "set", "br-lan", "up")
	}
}

func onBridge(tuning bool) func(*lab.Node, string) string {
	return func(_ *lab.Node, cfg string) string {
		return strings.Replace(cfg, "interfaces:\n  - name: eth0\n",
			fmt.Sprintf("interfaces:\n  - name: br-lan\n    bridge_ports: [eth0]\n    tuning: %v\n", tuning), 1)
	}
}

// Failure 4: the managed interface of h1 is a bridge whose port toward the
// LAN is a veth. vipd answers for the VIP with the bridge's own MAC, which
// the bridge delivers locally without promiscuous mode, so the VIP works
// with the bridge as it is. The advice given for this failure elsewhere,
// proxy_arp and hairpin on the LAN-facing port, breaks it: the bridge
// floods no broadcast out of a proxy_arp port, so h1's own ARP requests
// never reach the client. Doctor names those flags.
func TestLabDoctorBridgePort(t *testing.T) {
	prepare := func(h *lab.Node) {
		if h.Name() == "h1" {
			bridgeLAN(t)(h)
		}
	}
	edit := func(h *lab.Node, cfg string) string {
		cfg = strings.Replace(cfg, "checks: [web]\n", "checks: [web]\n    nodes: [h1]\n", 1)
		if h.Name() == "h1" {
			cfg = onBridge(true)(h, cfg)
		}
		return cfg
	}
	l := newDoctorLab(t, 2, prepare, edit)
	h1 := l.host("h1")
	if owner := l.agreedOwner("web"); owner != "h1" {
		t.Fatalf("web owned by %s, want h1", owner)
	}
	l.answersFrom(url4, "h1")
	for _, flag := range []string{"proxyarp", "hairpin_mode"} {
		if got := strings.TrimSpace(nsRun(t, h1, "cat", "/sys/class/net/eth0/brport/"+flag)); got != "0" {
			t.Errorf("h1: bridge port eth0 %s=%s, want vipd to leave it 0", flag, got)
		}
	}
	l.doctorClean(h1)

	// The flags turned on by hand; h1 forgets the client's MAC, as it does
	// within a minute anyway, and cannot learn it again.
	nsRun(t, h1, "ip", "link", "set", "dev", "eth0", "type", "bridge_slave", "proxy_arp", "on", "hairpin", "on")
	nsRun(t, h1, "ip", "neigh", "flush", "dev", "br-lan")
	lab.Eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if body, err := l.lab.Client().HTTPGet(ctx, url4); err == nil {
			return errorf("the client still gets %q from the VIP with proxy_arp and hairpin on", body)
		}
		return nil
	})
	want := "error: bridge br-lan's port eth0 (listed in bridge_ports) faces the LAN with proxy_arp and hairpin on: with proxy_arp on the bridge floods no broadcast out of it, so this host's own ARP requests never reach the LAN and VIP traffic gets no reply; with hairpin on the LAN's broadcasts go back to the LAN and the switch learns their MACs on this port; evidence: /sys/class/net/eth0/brport/proxyarp=1, /sys/class/net/eth0/brport/hairpin_mode=1; fix: run 'ip link set dev eth0 type bridge_slave proxy_arp off hairpin off' and remove what turns them on; vipd answers with the bridge's own MAC and needs neither, nor promiscuous mode"
	l.doctorSays(h1, want)

	// Doctor's fix brings the client back.
	nsRun(t, h1, "ip", "link", "set", "dev", "eth0", "type", "bridge_slave", "proxy_arp", "off", "hairpin", "off")
	l.answersFrom(url4, "h1")
	l.doctorClean(h1)
}

// Failure 5: the VIP added by hand to a host's NIC, as kube-vip or
// keepalived would; that host's kernel then answers ARP for it too.
func TestLabDoctorVIPOnAHostNIC(t *testing.T) {
	l := newDoctorLab(t, 3, nil, nil)
	owner := l.agreedOwner("web")
	l.answersFrom(url4, owner)
	for _, h := range l.lab.Hosts() {
		l.doctorClean(h) // a healthy cluster gives an empty report
	}
	var other *lab.Node
	for _, h := range l.lab.Hosts() {
		if h.Name() != owner {
			other = h
			break
		}
	}
	nsRun(t, other, "ip", "addr", "add", vip4+"/32", "dev", "eth0")
	want := "error: VIP web (192.0.2.200) is also configured on eth0 of this host, outside vipd, so this host claims it whoever owns it; evidence: 192.0.2.200/32 on eth0; vipd keeps VIPs on vipd0 only; fix: run 'ip addr del 192.0.2.200/32 dev eth0' and stop the tool that put it there (keepalived, kube-vip, ifupdown, netplan)"
	r := l.doctorSays(other, want)
	if len(r.lines()) != 1 {
		t.Errorf("doctor on %s printed %d lines, want only the conflict:\n%s", other, len(r.lines()), r)
	}
	lab.Eventually(t, 10*time.Second, func() error {
		st, err := l.status(other)
		if err != nil {
			return err
		}
		if v := vipOf(st, "web"); v.Health != api.HealthConflict || !strings.Contains(v.Conflict, "eth0") {
			return errorf("web on %s: %s (%q), want conflict naming eth0", other, v.Health, v.Conflict)
		}
		return nil
	})
	macs := l.arpMACs(vip4)
	slices.Sort(macs)
	wantMACs := []string{l.macOf(l.host(owner)), l.macOf(other)}
	slices.Sort(wantMACs)
	t.Logf("ARP for %s from the client answered by %v (owner %s, %s has it on eth0)", vip4, macs, owner, other)
	if !slices.Equal(macs, wantMACs) {
		t.Errorf("ARP for %s answered by %v, want both the owner's and %s's MAC %v", vip4, macs, other, wantMACs)
	}
}
