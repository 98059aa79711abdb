package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/lab"
)

// vipdBench is vipd on every host of a lab, with the gossip profile and the
// number of VIPs the benchmark asks for.
type vipdBench struct {
	*vipdLab
	name    string
	profile string
	vips    int
	group   bool
	checks  benchChecks
	// runs says what runs on each host, for the idle table.
	runs string
	// logLevel is vipd's --log-level ("debug" for the failover rows, whose
	// logs a failed run prints; the idle rows run at the default, info).
	logLevel string
	// profileDir, when set, makes every vipd write a CPU profile there
	// (--cpuprofile) when it stops.
	profileDir string
}

// benchChecks is the http check every VIP of a vipd bench has: every
// Interval with Timeout, or none when Interval is 0.
type benchChecks struct {
	Interval, Timeout time.Duration
}

// benchFailoverChecks are the checks of the failover rows (the lab's: every
// 100 ms), benchIdleChecks those of the idle rows (every 1 s, as a user
// would write them).
var (
	benchFailoverChecks = benchChecks{Interval: 100 * time.Millisecond, Timeout: 90 * time.Millisecond}
	benchIdleChecks     = benchChecks{Interval: time.Second, Timeout: 500 * time.Millisecond}
	// benchDefaultChecks are the config's defaults (interval 1 s, timeout
	// 500 ms, fall 2, fast_interval 200 ms): the backend-default row.
	benchDefaultChecks = benchChecks{Interval: time.Second, Timeout: 500 * time.Millisecond}
)

// SetChecks gives every host's vipd other checks, by a reload.
func (b *vipdBench) SetChecks(c benchChecks) error {
	b.checks = c
	for _, h := range b.lab.Hosts() {
		b.writeConfig(h, b.config(h))
		if _, ok := b.vipd[h.Name()]; !ok {
			continue // started later with the new file
		}
		if out, err := b.vipctl(h, "reload"); err != nil {
			return fmt.Errorf("vipctl reload on %s: %w: %s", h.Name(), err, out)
		}
	}
	return nil
}

// newVIPDBench starts a lab of three hosts running nginx and vipd with the
// given profile and nVIPs VIPs; the first is the probed 192.0.2.200. With
// group set, every VIP is in one group, so one host owns them all.
func newVIPDBench(t *testing.T, profile string, nVIPs int, group bool) *vipdBench {
	t.Helper()
	return newVIPDBenchWith(t, "vipd "+profile, profile, nVIPs, group, benchFailoverChecks, "debug", "")
}

// newVIPDBenchWith is newVIPDBench with a row name, the VIPs' checks, vipd's log level
// and, when profileDir is set, a CPU profile of every vipd written there when
// it stops.
func newVIPDBenchWith(t *testing.T, name, profile string, nVIPs int, group bool, checks benchChecks, logLevel, profileDir string) *vipdBench {
	t.Helper()
	lab.RequireRoot(t)
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	l := &vipdLab{t: t, lab: lab.New(t, lab.Options{Hosts: 3, Prefix: "vb"}), bin: bin, dir: t.TempDir(),
		vipd: map[string]*lab.Process{}, nginx: map[string]*lab.Nginx{}, profile: "fast"}
	key := filepath.Join(l.dir, "gossip.key")
	if out, err := exec.Command(filepath.Join(bin, "vipd"), "keygen", "-o", key).CombinedOutput(); err != nil {
		t.Fatalf("vipd keygen: %v\n%s", err, out)
	}
	b := &vipdBench{vipdLab: l, name: name, profile: profile, vips: nVIPs, group: group,
		checks: checks, logLevel: logLevel, profileDir: profileDir}
	b.runs = fmt.Sprintf("vipd, gossip profile %s, log level %s, ", profile, logLevel)
	if checks.Interval > 0 {
		b.runs += fmt.Sprintf("one http check every %v (timeout %v) shared by the VIPs", checks.Interval, checks.Timeout)
	} else {
		b.runs += "no checks"
	}
	for _, h := range l.lab.Hosts() {
		l.nginx[h.Name()] = lab.StartNginx(t, h, lab.NginxOptions{Port: webPort})
		l.writeConfig(h, b.config(h))
		b.startHost(h)
	}
	return b
}

// startHost starts vipd on h with the bench's log level, and a CPU profile
// when asked for.
func (b *vipdBench) startHost(h *lab.Node) {
	b.t.Helper()
	args := []string{"run", "-c", b.configPath(h), "--log-level", b.logLevel}
	if b.profileDir != "" {
		args = append(args, "--cpuprofile", filepath.Join(b.profileDir, safeName(b.name)+"-"+h.Name()+".pprof"))
	}
	p, err := h.Start(append([]string{filepath.Join(b.bin, "vipd")}, args...)...)
	if err != nil {
		b.t.Fatal(err)
	}
	b.vipd[h.Name()] = p
	b.t.Cleanup(func() {
		if b.t.Failed() || os.Getenv("VIPD_LAB_LOGS") != "" {
			b.t.Logf("log of vipd on %s:\n%s", h.Name(), p.Log())
		}
	})
}

// StopAll stops every vipd with SIGTERM, which writes their CPU profiles.
func (b *vipdBench) StopAll() {
	for _, h := range b.lab.Hosts() {
		if p := b.vipd[h.Name()]; p != nil {
			if err := p.Stop(); err != nil {
				b.t.Errorf("stopping vipd on %s: %v", h.Name(), err)
			}
			delete(b.vipd, h.Name())
		}
	}
}

// benchVIPAddrs returns n VIP addresses from the documentation ranges,
// starting with the probed 192.0.2.200 and never a lab host's address.
func benchVIPAddrs(n int) []string {
	var out []string
	add := func(a string) bool {
		if len(out) < n {
			out = append(out, a)
		}
		return len(out) < n
	}
	for i := 200; i <= 254; i++ {
		if !add(fmt.Sprintf("192.0.2.%d", i)) {
			return out
		}
	}
	for _, p := range []string{"198.51.100", "203.0.113"} {
		for i := 1; i <= 254; i++ {
			if !add(fmt.Sprintf("%s.%d", p, i)) {
				return out
			}
		}
	}
	base := netip.MustParseAddr("2001:db8::1:0")
	for a := base; ; a = a.Next() {
		if !add(a.String()) {
			return out
		}
	}
}

func (b *vipdBench) config(h *lab.Node) string {
	var vips strings.Builder
	for i, addr := range benchVIPAddrs(b.vips) {
		name := "web"
		if i > 0 {
			name = fmt.Sprintf("web%04d", i)
		}
		fmt.Fprintf(&vips, "  - name: %s\n    address: %q\n", name, addr)
		if b.checks.Interval > 0 {
			vips.WriteString("    checks: [web]\n")
		}
		if b.group {
			vips.WriteString("    group: bulk\n")
		}
	}
	yaml := b.configWith(h, b.profile, vips.String())
	// configWith writes the lab's check (every 100 ms); the bench's rows say
	// how often they check, or that they run none.
	const labChecks = "    interval: 100ms\n    timeout: 90ms\n"
	switch {
	case b.checks == benchFailoverChecks:
	case b.checks.Interval == 0:
		start, end := strings.Index(yaml, "checks:\n  web:\n"), strings.Index(yaml, "vips:\n")
		if start < 0 || end < start {
			b.t.Fatalf("the lab's config has no checks: section before vips: to remove:\n%s", yaml)
		}
		yaml = yaml[:start] + yaml[end:]
	default:
		if !strings.Contains(yaml, labChecks) {
			b.t.Fatalf("the lab's config has no %q to change:\n%s", labChecks, yaml)
		}
		yaml = strings.Replace(yaml, labChecks, fmt.Sprintf("    interval: %v\n    timeout: %v\n", b.checks.Interval, b.checks.Timeout), 1)
	}
	return yaml
}

func (b *vipdBench) Name() string       { return b.name }
func (b *vipdBench) Runs() string       { return b.runs }
func (b *vipdBench) Lab() *lab.Lab      { return b.lab }
func (b *vipdBench) DaemonName() string { return "vipd" }

// Steady waits until all three hosts run vipd, agree on the owner of web,
// find every host eligible for it, and the client answers from the owner.
func (b *vipdBench) Steady(timeout time.Duration) (string, error) {
	var owner string
	err := pollFor(timeout, func() error {
		owner = ""
		if len(b.vipd) != len(b.lab.Hosts()) {
			return fmt.Errorf("vipd runs on %d of %d hosts", len(b.vipd), len(b.lab.Hosts()))
		}
		for name, p := range b.vipd {
			select {
			case <-p.Exited():
				return permanent(fmt.Errorf("vipd on %s exited: %v\n%s", name, p.Wait(), p.Log()))
			default:
			}
			st, err := b.status(b.host(name))
			if err != nil {
				return err
			}
			if st.Drained {
				return fmt.Errorf("%s is drained", name)
			}
			v := vipOf(st, "web")
			if v.Owner == "" || (owner != "" && v.Owner != owner) {
				return fmt.Errorf("%s says web is owned by %q (%s), others %q", name, v.Owner, v.Reason, owner)
			}
			owner = v.Owner
			if name == owner && v.Role != api.RoleOwner {
				return fmt.Errorf("%s is named owner but says %s", name, v.Role)
			}
			for _, h := range b.lab.Hosts() {
				if row := hostRow(v, h.Name()); !row.Eligible {
					return fmt.Errorf("%s says %s is not eligible: %s", name, h.Name(), row.Reason)
				}
			}
		}
		return clientSteady(b.lab, owner, 10)
	})
	return owner, err
}

func (b *vipdBench) Crash(h *lab.Node) error {
	b.vipd[h.Name()].Kill()
	delete(b.vipd, h.Name())
	return nil
}

func (b *vipdBench) Revive(h *lab.Node) error {
	if err := h.LinkUp(context.Background()); err != nil {
		return err
	}
	return b.Start(h)
}

func (b *vipdBench) Stop(h *lab.Node) error {
	err := b.vipd[h.Name()].Stop()
	delete(b.vipd, h.Name())
	return err
}

func (b *vipdBench) Start(h *lab.Node) error {
	b.startHost(h)
	return nil
}

func (b *vipdBench) Drain(h *lab.Node) error {
	if out, err := b.vipctl(h, "drain", "--wait"); err != nil {
		return fmt.Errorf("vipctl drain --wait: %w: %s", err, out)
	}
	return nil
}

func (b *vipdBench) Undrain(h *lab.Node) error {
	if out, err := b.vipctl(h, "undrain"); err != nil {
		return fmt.Errorf("vipctl undrain: %w: %s", err, out)
	}
	return nil
}

func (b *vipdBench) Nginx(h *lab.Node) *lab.Nginx       { return b.nginx[h.Name()] }
func (b *vipdBench) SetNginx(h *lab.Node, n *lab.Nginx) { b.nginx[h.Name()] = n }

func (b *vipdBench) DaemonPIDs() map[string]int {
	pids := map[string]int{}
	for name, p := range b.vipd {
		pids[name] = p.Pid()
	}
	return pids
}

// CutGossip blocks the gossip port (the lab's config leaves the default).
func (b *vipdBench) CutGossip(h *lab.Node) error {
	return h.BlockPort(context.Background(), config.DefaultGossipPort)
}

func (b *vipdBench) HealGossip(h *lab.Node) error { return h.Unblock(context.Background()) }
