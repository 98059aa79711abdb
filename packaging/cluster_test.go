package packaging_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/lab"
)

// The cluster's VIPs and backend: documentation addresses no lab node uses.
const (
	clusterVIP4   = "192.0.2.200"
	clusterVIP6   = "2001:db8::200"
	clusterAPIVIP = "192.0.2.201" // added by a reload
	webdPort      = 8080
	probeEvery    = 10 * time.Millisecond
	probeTimeout  = time.Second
	// securityToday is what `systemd-analyze security vipd` said of the
	// unit when this test was written; the unit must not get worse.
	securityToday = 2.8
)

// clusterConfig is /etc/vipd.yaml, the same file on every host: node_name is
// the hostname (h1..h3), gossip binds the wildcard and advertises eth0's
// address. withAPI adds a third VIP, as an operator's reload would.
func clusterConfig(withAPI bool) string {
	cfg := `# /etc/vipd.yaml of the systemd cluster test: the same on every host.
drain_timeout: 5s
gossip:
  peers: [192.0.2.11, 192.0.2.12, 192.0.2.13]
  key_file: /etc/vipd/gossip.key
interfaces:
  - name: eth0
checks:
  web:
    type: http
    url: http://127.0.0.1:8080/
    interval: 200ms
    timeout: 150ms
  backend:
    type: exec
    command: [/bin/systemctl, is-active, --quiet, webd.service]
    interval: 1s
    timeout: 800ms
vips:
  - name: web
    address: 192.0.2.200
    group: frontend
    checks: [web, backend]
  - name: web6
    address: "2001:db8::200"
    group: frontend
    checks: [web, backend]
`
	if withAPI {
		cfg += `  - name: api
    address: 192.0.2.201
    checks: [web]
`
	}
	return cfg
}

// reloadMayMoveVIPs: a reload that adds a VIP, on an owner that holds its
// unit only by "owner kept" (another host wins the unit's hash), moves that
// unit: the other host claims it tens of ms after the owner gossips its new
// unit list and before the owner's next reconcile, then the rule for
// "several hosts held it" keeps it there. Seen in 3 of 4 runs of this test;
// the client lost no request (one connection reset in flight at most).
// README promises a reload leaves unchanged VIPs alone: set this false once
// membership/agent keep the owner's holds across SetUnits, and the test
// fails on such a move.
const reloadMayMoveVIPs = false

// webdUnit runs the backend the checks look at: a static Go server
// (testdata/webd) answering with the host's name, since a minimal Debian
// root has neither python3 nor busybox.
const webdUnit = `[Unit]
Description=backend of the vipd cluster test
[Service]
ExecStart=/usr/local/bin/webd -listen [::]:8080
Restart=always
[Install]
WantedBy=multi-user.target
`

// The kernel settings vipd tunes on a managed NIC and must restore.
var tunedSysctls = []string{
	"all/arp_ignore", "all/arp_announce", "all/rp_filter",
	"default/arp_ignore", "default/arp_announce", "default/rp_filter",
	"eth0/arp_ignore", "eth0/arp_announce", "eth0/rp_filter",
}

// cluster is three booted Debian 12 containers, h1..h3, each in a lab host's
// network namespace on one bridge, with the lab's client namespace.
type cluster struct {
	lab   *lab.Lab
	hosts map[string]*container
	names []string // h1..h3
	// sysctls holds each host's tuned settings before vipd first ran.
	sysctls map[string]map[string]string
}

// TestClusterOfThreeBootedHostsFromTheDeb is the user's story under real
// systemd (issue 19): three booted Debian 12 hosts with the .deb, the same
// /etc/vipd.yaml and key, `systemctl enable --now vipd`, and a client
// probing the VIPs every 10 ms while the operator stops, kills, reloads and
// removes vipd. The steps share one cluster and run in order; a step that
// fails ends the story.
func TestClusterOfThreeBootedHostsFromTheDeb(t *testing.T) {
	skipUnlessBootable(t)
	lab.RequireRoot(t)
	began := time.Now()
	work := t.TempDir()

	pkgs := buildPackages(t, "v0.0.1", filepath.Join(work, "pkg"))
	webd := filepath.Join(work, "webd")
	cmd := exec.Command("go", "build", "-o", webd, "./testdata/webd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/webd: %v\n%s", err, out)
	}
	root := cachedRoot(t)

	c := &cluster{lab: lab.New(t, lab.Options{Hosts: 3, Prefix: "vsd"}), hosts: map[string]*container{},
		sysctls: map[string]map[string]string{}}
	c.boot(t, root, work, webd)
	t.Logf("three containers booted after %s", time.Since(began).Round(100*time.Millisecond))
	c.install(t, pkgs.deb)
	t.Logf("vipd enabled and started on h1..h3 after %s", time.Since(began).Round(100*time.Millisecond))

	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"one owner agreed and answered", c.stepAgree},
		{"systemctl stop on the owner loses nothing, start moves nothing back", c.stepStopStart},
		{"systemctl kill -s KILL on the owner moves the VIPs and systemd restarts vipd", c.stepKill},
		{"systemctl reload adds a VIP, a broken file fails the reload and keeps vipd running", c.stepReload},
		{"the watchdog restarts a stopped vipd", c.stepWatchdog},
		{"apt remove on the owner hands over first and restores the sysctls", c.stepRemove},
		{"systemd-analyze security stays at or below today's score", c.stepSecurity},
	}
	for _, s := range steps {
		stepBegan := time.Now()
		ok := t.Run(s.name, s.run)
		t.Logf("step %q took %s", s.name, time.Since(stepBegan).Round(100*time.Millisecond))
		if !ok {
			return
		}
	}
	t.Logf("systemd cluster test took %s", time.Since(began).Round(100*time.Millisecond))
}

// boot prepares three roots and boots them at once, each in its lab host's
// network namespace.
func (c *cluster) boot(t *testing.T, root, work, webd string) {
	t.Helper()
	for _, h := range c.lab.Hosts() {
		name := h.Name()
		dir := filepath.Join(work, name)
		prepareRoot(t, root, dir, name)
		bin, err := os.ReadFile(webd)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "usr/local/bin/webd"), string(bin), 0o755)
		writeFile(t, filepath.Join(dir, "etc/systemd/system/webd.service"), webdUnit, 0o644)
		wants := filepath.Join(dir, "etc/systemd/system/multi-user.target.wants")
		if err := os.MkdirAll(wants, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/etc/systemd/system/webd.service", filepath.Join(wants, "webd.service")); err != nil {
			t.Fatal(err)
		}
		// systemd-nspawn keeps CAP_NET_ADMIN only for a private network
		// it made itself; a network namespace given by path needs it
		// named, or vipd stops at "create vipd0: operation not permitted".
		c.hosts[name] = startContainer(t, dir, filepath.Join(work, name+"-nspawn.log"), "vsd-"+name,
			"--network-namespace-path=/run/netns/"+h.Netns(), "--capability=CAP_NET_ADMIN")
		c.names = append(c.names, name)
	}
	for _, name := range c.names {
		c.hosts[name].waitBooted(t)
	}
	// Registered after the containers' own cleanups, so it runs while they
	// are still up.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, name := range c.names {
			out, _ := c.hosts[name].sh(t, 30*time.Second, "vipctl status -v; journalctl --no-pager -o short-precise -u vipd.service | tail -n 80")
			t.Logf("%s: vipctl status -v and the journal of vipd.service:\n%s", name, out)
		}
	})
}

// install does what the README tells an operator: the .deb on every host,
// one key and one /etc/vipd.yaml for all, then enable --now.
func (c *cluster) install(t *testing.T, deb string) {
	t.Helper()
	var key string
	for _, node := range c.lab.Hosts() {
		name := node.Name()
		h := c.hosts[name]
		// Settings of an admin's own, not the kernel's defaults, so that
		// restoring them means something: strict rp_filter (which vipd
		// makes loose) and an arp_announce of 1. Set from the host side:
		// nspawn mounts /proc/sys read-only in a container whose network
		// namespace it did not make (vipd.service's ReadWritePaths=
		// /proc/sys/net makes it writable for vipd).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := node.Run(ctx, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1",
			"net.ipv4.conf.eth0.rp_filter=1", "net.ipv4.conf.eth0.arp_announce=1")
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		c.sysctls[name] = h.sysctls(t)
		h.must(t, "apt-get install -y "+h.put(t, deb))
		if key == "" {
			b, err := os.ReadFile(filepath.Join(h.dir, "etc/vipd/gossip.key"))
			if err != nil {
				t.Fatal(err)
			}
			key = string(b)
		} else {
			writeFile(t, filepath.Join(h.dir, "etc/vipd/gossip.key"), key, 0o600)
		}
		writeFile(t, filepath.Join(h.dir, "etc/vipd.yaml"), clusterConfig(false), 0o644)
		h.must(t, "vipd check -c /etc/vipd.yaml")
	}
	for _, name := range c.names {
		h := c.hosts[name]
		if code, out := h.exitCode(t, "systemctl enable --now vipd"); code != 0 {
			t.Fatalf("systemctl enable --now vipd on %s: exit %d\n%s\n%s", name, code, out, h.journal(t))
		}
	}
}

func (c *cluster) stepAgree(t *testing.T) {
	owner := c.agreedOwner(t, c.names, "")
	c.answersFrom(t, clusterVIP4, owner)
	c.answersFrom(t, clusterVIP6, owner)
	// Every host agrees on one owner of the group, both VIPs, and the
	// owner's tuning is in place.
	for _, name := range c.names {
		st := c.status(t, name)
		if st.Config.File != "/etc/vipd.yaml" || !st.Converged {
			t.Errorf("status on %s: config %q, converged %v", name, st.Config.File, st.Converged)
		}
	}
	if tuned := c.hosts[owner].sysctls(t); maps.Equal(tuned, c.sysctls[owner]) {
		t.Errorf("vipd runs on %s but changed none of %v", owner, tuned)
	} else {
		t.Logf("sysctls on %s before vipd: %v; while it runs: %v", owner, c.sysctls[owner], tuned)
	}
	p := c.probe()
	lab.Eventually(t, 20*time.Second, func() error {
		if n := len(p.v4.Results()); n < 100 {
			return fmt.Errorf("%d probes so far, want 100", n)
		}
		return nil
	})
	s4, s6 := p.stop(t, "steady state on "+owner)
	for _, s := range []lab.Summary{s4, s6} {
		if s.Failed != 0 || !slices.Equal(s.Bodies, []string{owner}) {
			t.Errorf("steady state: %s, want every answer from %s", s, owner)
		}
	}
	t.Logf("owner of web and web6 on every host: %s", owner)
}

func (c *cluster) stepStopStart(t *testing.T) {
	owner := c.agreedOwner(t, c.names, "")
	others := without(c.names, owner)

	p := c.probe()
	c.hosts[owner].must(t, "systemctl stop vipd")
	next := c.agreedOwner(t, others, owner)
	c.answersFrom(t, clusterVIP4, next)
	c.answersFrom(t, clusterVIP6, next)
	s4, s6 := p.stop(t, "systemctl stop vipd on "+owner)
	wantNoLoss(t, s4, s6, p)

	p = c.probe()
	c.hosts[owner].must(t, "systemctl start vipd")
	c.waitConverged(t, owner)
	if got := c.agreedOwner(t, c.names, ""); got != next {
		t.Errorf("systemctl start vipd on %s moved the VIPs from %s to %s", owner, next, got)
	}
	s4, s6 = p.stop(t, "systemctl start vipd on "+owner)
	for _, s := range []lab.Summary{s4, s6} {
		if s.Failed != 0 || !slices.Equal(s.Bodies, []string{next}) {
			t.Errorf("starting vipd on a standby disturbed the client: %s, want every answer from %s", s, next)
		}
	}
}

func (c *cluster) stepKill(t *testing.T) {
	owner := c.agreedOwner(t, c.names, "")
	h := c.hosts[owner]
	pid, restarts := h.mainPID(t), h.nRestarts(t)

	p := c.probe()
	if code, out := h.exitCode(t, "systemctl kill -s KILL vipd"); code != 0 {
		status, _ := h.sh(t, 10*time.Second, "systemctl status --no-pager -l vipd")
		t.Fatalf("systemctl kill -s KILL vipd on %s: exit %d\n%s\n%s", owner, code, out, status)
	}
	next := c.agreedOwner(t, without(c.names, owner), owner)
	c.answersFrom(t, clusterVIP4, next)
	c.answersFrom(t, clusterVIP6, next)
	// Restart=on-failure, RestartSec=2s: systemd starts vipd again, which
	// restores what the killed one left and rejoins as a standby.
	lab.Eventually(t, 30*time.Second, func() error {
		show := h.must(t, "systemctl show -p ActiveState,MainPID,NRestarts vipd")
		if !strings.Contains(show, "ActiveState=active") || strings.Contains(show, "MainPID="+pid+"\n") ||
			strings.Contains(show, "NRestarts="+strconv.Itoa(restarts)+"\n") {
			return fmt.Errorf("vipd on %s not restarted yet (MainPID was %s, NRestarts %d):\n%s", owner, pid, restarts, show)
		}
		return nil
	})
	c.waitConverged(t, owner)
	if got := c.agreedOwner(t, c.names, ""); got != next {
		t.Errorf("the restarted vipd on %s took the VIPs back: owner %s, want %s", owner, got, next)
	}
	s4, s6 := p.stop(t, "systemctl kill -s KILL vipd on "+owner+", restarted by systemd")
	for _, s := range []lab.Summary{s4, s6} {
		if !slices.Equal(s.Bodies, []string{owner, next}) {
			t.Errorf("answers came from %v, want %s then %s and nothing back", s.Bodies, owner, next)
		}
	}
	t.Logf("vipd on %s restarted by systemd: NRestarts %d -> %d", owner, restarts, h.nRestarts(t))
}

func (c *cluster) stepReload(t *testing.T) {
	owner := c.agreedOwner(t, c.names, "")

	// A VIP added on every host, then systemctl reload on each.
	p := c.probe()
	for _, name := range c.names {
		h := c.hosts[name]
		writeFile(t, filepath.Join(h.dir, "etc/vipd.yaml"), clusterConfig(true), 0o644)
		if code, out := h.exitCode(t, "systemctl reload vipd"); code != 0 {
			t.Fatalf("systemctl reload vipd on %s: exit %d\n%s\n%s", name, code, out, h.journal(t))
		}
	}
	apiOwner := c.agreedOwnerOf(t, "api", c.names, "")
	c.answersFrom(t, clusterAPIVIP, apiOwner)
	after := c.agreedOwner(t, c.names, "")
	s4, s6 := p.stop(t, "systemctl reload adding VIP api ("+clusterAPIVIP+", answered by "+apiOwner+"), web")
	wantNoLoss(t, s4, s6, p)
	if after != owner {
		msg := fmt.Sprintf("systemctl reload adding a VIP moved web and web6 from %s to %s (answers from %v)", owner, after, s4.Bodies)
		if reloadMayMoveVIPs {
			t.Logf("KNOWN BUG (reloadMayMoveVIPs): %s", msg)
		} else {
			t.Error(msg)
		}
	}
	owner = after

	// A broken file on the owner: the reload fails, systemctl status names
	// file:line:col, vipd keeps running the good config and its VIPs.
	h := c.hosts[owner]
	pid := h.mainPID(t)
	good := clusterConfig(true)
	broken := strings.Replace(good, "address: 192.0.2.201", "address: 192.0.2.2011", 1)
	line := strings.Count(good[:strings.Index(good, "address: 192.0.2.201")], "\n") + 1
	writeFile(t, filepath.Join(h.dir, "etc/vipd.yaml"), broken, 0o644)
	p = c.probe()
	code, out := h.exitCode(t, "systemctl reload vipd")
	if code == 0 {
		t.Errorf("systemctl reload vipd with a broken file succeeded:\n%s", out)
	}
	want := regexp.MustCompile(`/etc/vipd\.yaml:` + strconv.Itoa(line) + `:\d+: vips\[2\]\.address`)
	var status string
	lab.Eventually(t, 10*time.Second, func() error {
		status, _ = h.sh(t, 10*time.Second, "systemctl status --no-pager -l -n 20 vipd")
		if !want.MatchString(status) {
			return fmt.Errorf("systemctl status vipd does not show %s:\n%s", want, status)
		}
		return nil
	})
	t.Logf("systemctl reload with a broken file: exit %d; systemctl status vipd shows:\n%s", code, grep(status, "/etc/vipd.yaml:"))
	if state := strings.TrimSpace(h.must(t, "systemctl is-active vipd || true")); state != "active" {
		t.Errorf("vipd is %q after a failed reload, want active", state)
	}
	if now := h.mainPID(t); now != pid {
		t.Errorf("a failed reload restarted vipd: MainPID %s -> %s", pid, now)
	}
	if got := c.agreedOwner(t, c.names, ""); got != owner {
		t.Errorf("a failed reload on %s moved the VIPs to %s", owner, got)
	}
	if v := vipNamed(c.status(t, owner), "api"); v.Address == "" {
		t.Errorf("after a failed reload %s no longer has VIP api", owner)
	}
	s4, s6 = p.stop(t, "systemctl reload with a broken file on "+owner)
	for _, s := range []lab.Summary{s4, s6} {
		if s.Failed != 0 || !slices.Equal(s.Bodies, []string{owner}) {
			t.Errorf("a failed reload disturbed the client: %s", s)
		}
	}

	// The good file back, so every host runs the same config again.
	writeFile(t, filepath.Join(h.dir, "etc/vipd.yaml"), good, 0o644)
	h.must(t, "systemctl reload vipd")
}

func (c *cluster) stepWatchdog(t *testing.T) {
	owner := c.agreedOwner(t, c.names, "")
	h := c.hosts[owner]
	pid, restarts := h.mainPID(t), h.nRestarts(t)

	p := c.probe()
	began := time.Now()
	// SIGSTOP freezes every goroutine, the watchdog pings included: after
	// WatchdogSec (10s) systemd sends SIGABRT (and SIGCONT) and restarts it.
	h.must(t, "kill -STOP "+pid)
	lab.Eventually(t, 60*time.Second, func() error {
		show := h.must(t, "systemctl show -p ActiveState,MainPID,NRestarts vipd")
		if !strings.Contains(show, "ActiveState=active") || strings.Contains(show, "MainPID="+pid+"\n") ||
			strings.Contains(show, "NRestarts="+strconv.Itoa(restarts)+"\n") {
			return fmt.Errorf("stopped vipd on %s not restarted yet (MainPID was %s, NRestarts %d):\n%s", owner, pid, restarts, show)
		}
		return nil
	})
	restartedAfter := time.Since(began)
	if !h.waitJournal(t, "Watchdog timeout", 10*time.Second) {
		t.Errorf("the journal of vipd.service on %s does not name the watchdog:\n%s", owner, tail(h.journal(t), 30))
	}
	c.waitConverged(t, owner)
	next := c.agreedOwner(t, c.names, "")
	c.answersFrom(t, clusterVIP4, next)
	c.answersFrom(t, clusterVIP6, next)
	s4, s6 := p.stop(t, "SIGSTOP of vipd on "+owner+", watchdog restart after "+restartedAfter.Round(100*time.Millisecond).String())
	for _, s := range []lab.Summary{s4, s6} {
		if s.Last() != next {
			t.Errorf("the client's last answers came from %v, want %s", s.Bodies, next)
		}
	}
	t.Logf("%s: restarted by the watchdog after %s (NRestarts %d -> %d); owner now %s",
		owner, restartedAfter.Round(100*time.Millisecond), restarts, h.nRestarts(t), next)
	t.Logf("journal:\n%s", grep(h.journal(t), "atchdog"))
}

func (c *cluster) stepRemove(t *testing.T) {
	owner := c.agreedOwner(t, c.names, "")
	h := c.hosts[owner]
	others := without(c.names, owner)

	running := h.sysctls(t)
	p := c.probe()
	if code, out := h.exitCode(t, "apt-get remove -y vipd"); code != 0 {
		t.Fatalf("apt-get remove -y vipd on %s: exit %d\n%s", owner, code, out)
	}
	next := c.agreedOwner(t, others, owner)
	c.answersFrom(t, clusterVIP4, next)
	c.answersFrom(t, clusterVIP6, next)
	s4, s6 := p.stop(t, "apt-get remove vipd on "+owner)
	wantNoLoss(t, s4, s6, p)

	after := h.sysctls(t)
	if !maps.Equal(after, c.sysctls[owner]) {
		t.Errorf("after apt remove on %s the sysctls are\n%v\nwant as before vipd ran\n%v", owner, after, c.sysctls[owner])
	} else {
		t.Logf("sysctls on %s while vipd ran: %v; after apt remove, as before vipd: %v", owner, running, after)
	}
	addrs := h.must(t, "ip -o addr show")
	for _, vip := range []string{clusterVIP4 + "/", clusterVIP6 + "/", clusterAPIVIP + "/"} {
		if strings.Contains(addrs, vip) {
			t.Errorf("after apt remove %s still has %s:\n%s", owner, vip, addrs)
		}
	}
	if code, _ := h.exitCode(t, "dpkg -s vipd | grep -q '^Status: deinstall ok config-files'"); code != 0 {
		t.Errorf("dpkg -s vipd on %s after apt remove: %s", owner, h.must(t, "dpkg -s vipd || true"))
	}
	c.names = others
}

func (c *cluster) stepSecurity(t *testing.T) {
	h := c.hosts[c.names[0]]
	_, out := h.exitCode(t, "systemd-analyze security --no-pager vipd.service")
	m := regexp.MustCompile(`Overall exposure level for vipd\.service: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security vipd.service printed no score:\n%s", out)
	}
	score, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("systemd-analyze security vipd.service: %s (today's: %.1f)", m[0], securityToday)
	if score > securityToday {
		t.Errorf("systemd-analyze security vipd.service: %.1f, want at most %.1f", score, securityToday)
	}
}

// probers is the client probing both VIPs every 10 ms.
type probers struct{ v4, v6 *lab.Prober }

func (c *cluster) probe() *probers {
	client := c.lab.Client()
	return &probers{
		v4: lab.Probe(context.Background(), client, lab.URL(mustAddr(clusterVIP4), webdPort), probeEvery, probeTimeout),
		v6: lab.Probe(context.Background(), client, lab.URL(mustAddr(clusterVIP6), webdPort), probeEvery, probeTimeout),
	}
}

// stop ends probing and prints the client's figures.
func (p *probers) stop(t *testing.T, what string) (v4, v6 lab.Summary) {
	t.Helper()
	v4, v6 = lab.Summarize(p.v4.Stop()), lab.Summarize(p.v6.Stop())
	for _, s := range []struct {
		family string
		sum    lab.Summary
	}{{"IPv4", v4}, {"IPv6", v6}} {
		t.Logf("%s, client %s: %d requests, %d failed, %d reset in flight, longest gap %d ms, answers from %v",
			what, s.family, s.sum.OK+s.sum.Failed, s.sum.Failed, s.sum.Reset, s.sum.LongestGap.Milliseconds(), s.sum.Bodies)
	}
	return v4, v6
}

// wantNoLoss allows only the one connection open at the instant the VIP
// moved, which the new owner resets: the request was not sent to a VIP
// nobody served.
func wantNoLoss(t *testing.T, v4, v6 lab.Summary, p *probers) {
	t.Helper()
	for _, s := range []struct {
		sum     lab.Summary
		results []lab.Result
	}{{v4, p.v4.Results()}, {v6, p.v6.Results()}} {
		if lost := s.sum.Failed - s.sum.Reset; lost != 0 || s.sum.Reset > 1 {
			t.Errorf("the client lost %d requests and %d open connections were reset, want 0 and at most the one open as the VIP moved", lost, s.sum.Reset)
			for _, r := range s.results {
				if !r.OK() {
					t.Logf("failed request sent at %s after %s: %v", r.Sent.Format("15:04:05.000"), r.Latency, r.Err)
				}
			}
		}
	}
}

// status is `vipctl status --json` on a host.
func (c *cluster) status(t *testing.T, name string) api.Status {
	t.Helper()
	st, err := c.tryStatus(t, name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (c *cluster) tryStatus(t *testing.T, name string) (api.Status, error) {
	// Exit 1 only says a VIP has a problem; the JSON is complete.
	out, err := c.hosts[name].sh(t, 10*time.Second, "vipctl status --json 2>/dev/null")
	var st api.Status
	if jerr := json.Unmarshal([]byte(out), &st); jerr != nil {
		return st, fmt.Errorf("vipctl status --json on %s: %v %v: %s", name, err, jerr, out)
	}
	return st, nil
}

// agreedOwner waits until every host in among names the same owner of the
// group frontend (web and web6), other than not, and that host says it is
// the owner of both.
func (c *cluster) agreedOwner(t *testing.T, among []string, not string) string {
	t.Helper()
	owner := c.agreedOwnerOf(t, "web", among, not)
	if six := c.agreedOwnerOf(t, "web6", among, not); six != owner {
		t.Fatalf("web is owned by %s, web6 by %s; a group moves together", owner, six)
	}
	return owner
}

func (c *cluster) agreedOwnerOf(t *testing.T, vip string, among []string, not string) string {
	t.Helper()
	var owner string
	lab.Eventually(t, 30*time.Second, func() error {
		owner = ""
		for _, name := range among {
			st, err := c.tryStatus(t, name)
			if err != nil {
				return err
			}
			v := vipNamed(st, vip)
			switch {
			case v.Owner == "":
				return fmt.Errorf("%s: %s has no owner (%s: %s)", name, vip, v.Health, v.Reason)
			case owner != "" && v.Owner != owner:
				return fmt.Errorf("hosts disagree on the owner of %s: %s and %s", vip, owner, v.Owner)
			case v.Owner == not:
				return fmt.Errorf("%s: %s is still owned by %s", name, vip, not)
			case name == v.Owner && v.Role != api.RoleOwner:
				return fmt.Errorf("%s is named owner of %s but says %s (%s)", name, vip, v.Role, v.Reason)
			}
			owner = v.Owner
		}
		if !slices.Contains(among, owner) {
			return fmt.Errorf("%s is owned by %s, not one of %v", vip, owner, among)
		}
		return nil
	})
	return owner
}

// waitConverged waits until the host's vipd says it has converged.
func (c *cluster) waitConverged(t *testing.T, name string) {
	t.Helper()
	lab.Eventually(t, 30*time.Second, func() error {
		st, err := c.tryStatus(t, name)
		if err != nil {
			return err
		}
		if !st.Converged {
			return fmt.Errorf("vipd on %s has not converged", name)
		}
		return nil
	})
}

// answersFrom waits until the client gets the page at vip from host.
func (c *cluster) answersFrom(t *testing.T, vip, host string) {
	t.Helper()
	url := lab.URL(mustAddr(vip), webdPort)
	lab.Eventually(t, 20*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		body, err := c.lab.Client().HTTPGet(ctx, url)
		if err != nil {
			return err
		}
		if got := strings.TrimSpace(body); got != host {
			return fmt.Errorf("GET %s answered by %s, want %s", url, got, host)
		}
		return nil
	})
}

// sysctls reads the settings vipd tunes, as name=value. Read inside the
// container: /proc/sys/net shows the network namespace of the reader.
func (h *container) sysctls(t *testing.T) map[string]string {
	t.Helper()
	script := "cd /proc/sys/net/ipv4/conf && for f in " + strings.Join(tunedSysctls, " ") + "; do echo \"$f=$(cat $f)\"; done"
	m := map[string]string{}
	for line := range strings.Lines(h.must(t, script)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			m[k] = v
		}
	}
	if len(m) != len(tunedSysctls) {
		t.Fatalf("read %d of the %d sysctls: %v", len(m), len(tunedSysctls), m)
	}
	return m
}

func (h *container) nRestarts(t *testing.T) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(h.must(t, "systemctl show -P NRestarts vipd")))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func vipNamed(st api.Status, name string) api.VIPStatus {
	for _, v := range st.VIPs {
		if v.Name == name {
			return v
		}
	}
	return api.VIPStatus{}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func without(names []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == drop })
}

func grep(s, substr string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, substr) {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
