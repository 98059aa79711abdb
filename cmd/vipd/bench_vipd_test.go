package main

import (
	"context"
	"fmt"
	"net/netip"
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
}

// newVIPDBench starts a lab of three hosts running nginx and vipd with the
// given profile and nVIPs VIPs; the first is the probed 192.0.2.200. With
// group set, every VIP is in one group, so one host owns them all.
func newVIPDBench(t *testing.T, profile string, nVIPs int, group bool) *vipdBench {
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
	b := &vipdBench{vipdLab: l, name: "vipd " + profile, profile: profile, vips: nVIPs, group: group}
	for _, h := range l.lab.Hosts() {
		l.nginx[h.Name()] = lab.StartNginx(t, h, lab.NginxOptions{Port: webPort})
		l.writeConfig(h, b.config(h))
		l.start(h)
	}
	return b
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
		fmt.Fprintf(&vips, "  - name: %s\n    address: %q\n    checks: [web]\n", name, addr)
		if b.group {
			vips.WriteString("    group: bulk\n")
		}
	}
	return b.configWith(h, b.profile, vips.String())
}

func (b *vipdBench) Name() string       { return b.name }
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
	b.start(h)
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
