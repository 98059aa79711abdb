package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/lab"
)

const keepalivedPath = "/usr/sbin/keepalived"

// keepalivedPriorities are the VRRP priorities of h1, h2, h3: distinct, so
// the master is always the same host once everything is back, as in the
// usual MASTER/BACKUP setup (preemption on, the default).
var keepalivedPriorities = []int{100, 90, 80}

// keepalivedDrop is what the priority-drop scenario writes into the owner's
// track file: its priority falls below every backup's, which preempt.
const keepalivedDrop = -50

// keepalivedBench is keepalived on every host of a lab: one VRRP instance on
// eth0, unicast to the other hosts, the VIPs as /32 on eth0, nginx checked
// with curl by a vrrp_script, and a track_file for the priority drop.
type keepalivedBench struct {
	t      *testing.T
	name   string
	l      *lab.Lab
	dir    string
	advert string
	vips   []string
	ka     map[string]*lab.Process
	nginx  map[string]*lab.Nginx
	// noScript leaves the curl track script out (an idle row: the VRRP
	// protocol alone).
	noScript bool
}

func newKeepalivedBench(t *testing.T, advert string, nVIPs int) *keepalivedBench {
	t.Helper()
	return newKeepalivedBenchWith(t, advert, nVIPs, false)
}

// newKeepalivedBenchWith is newKeepalivedBench, without the track script
// when noScript is set.
func newKeepalivedBenchWith(t *testing.T, advert string, nVIPs int, noScript bool) *keepalivedBench {
	t.Helper()
	lab.RequireRoot(t)
	if _, err := os.Stat(keepalivedPath); err != nil {
		t.Skipf("the benchmark needs keepalived (apt-get install keepalived): %v", err)
	}
	k := &keepalivedBench{t: t, name: "keepalived " + advert + "s", l: lab.New(t, lab.Options{Hosts: 3, Prefix: "kb"}),
		dir: t.TempDir(), advert: advert, vips: benchVIPAddrs(nVIPs),
		ka: map[string]*lab.Process{}, nginx: map[string]*lab.Nginx{}, noScript: noScript}
	for i, h := range k.l.Hosts() {
		k.nginx[h.Name()] = lab.StartNginx(t, h, lab.NginxOptions{Port: webPort})
		if err := os.MkdirAll(k.hostDir(h), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(k.trackFile(h), []byte("0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(k.confPath(h), []byte(k.config(h, keepalivedPriorities[i])), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(keepalivedPath, "-t", "-f", k.confPath(h)).CombinedOutput(); err != nil {
			t.Fatalf("keepalived -t -f %s: %v\n%s", k.confPath(h), err, out)
		}
		if err := k.Start(h); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

func (k *keepalivedBench) hostDir(h *lab.Node) string { return filepath.Join(k.dir, h.Name()) }
func (k *keepalivedBench) confPath(h *lab.Node) string {
	return filepath.Join(k.hostDir(h), "keepalived.conf")
}
func (k *keepalivedBench) trackFile(h *lab.Node) string { return filepath.Join(k.hostDir(h), "drain") }

func (k *keepalivedBench) config(h *lab.Node, priority int) string {
	var peers, vips strings.Builder
	for _, p := range k.l.Hosts() {
		if p.Name() != h.Name() {
			fmt.Fprintf(&peers, "        %s\n", p.IPv4())
		}
	}
	for i, v := range k.vips {
		// Addresses past the first 20 do not fit in an advert: keepalived
		// wants them as virtual_ipaddress_excluded, which it adds alike.
		if i == 20 {
			vips.WriteString("    }\n    virtual_ipaddress_excluded {\n")
		}
		bits := 32
		if strings.Contains(v, ":") {
			bits = 128
		}
		fmt.Fprintf(&vips, "        %s/%d dev eth0\n", v, bits)
	}
	script, track := `
vrrp_script chk_nginx {
    script "/usr/bin/curl -sf -o /dev/null -m 0.2 http://127.0.0.1:`+fmt.Sprint(webPort)+`/"
    interval 1
    timeout 1
    fall 1
    rise 2
}
`, `
    track_script {
        chk_nginx
    }`
	if k.noScript {
		script, track = "", ""
	}
	return fmt.Sprintf(`global_defs {
    router_id %[1]s
    script_user root
    enable_script_security
    vrrp_version 3
}
%[2]s
track_file drain {
    file "%[3]s"
    weight 1
}

vrrp_instance web {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %[4]d
    advert_int %[5]s
    unicast_src_ip %[6]s
    unicast_peer {
%[7]s    }
    virtual_ipaddress {
%[8]s    }%[9]s
    track_file {
        drain
    }
}
`, h.Name(), script, k.trackFile(h), priority, k.advert, h.IPv4(), peers.String(), vips.String(), track)
}

func (k *keepalivedBench) Name() string { return k.name }

// Runs says what runs on each host, for the idle table.
func (k *keepalivedBench) Runs() string {
	s := fmt.Sprintf("keepalived --vrrp, advert_int %s, unicast to 2 peers, a track_file", k.advert)
	if k.noScript {
		return s + ", no track script"
	}
	return s + ", curl track script every 1 s (forks)"
}

func (k *keepalivedBench) Lab() *lab.Lab      { return k.l }
func (k *keepalivedBench) DaemonName() string { return "keepalived" }

// Start runs keepalived in the foreground with pid files of its own: the
// defaults in /run would collide between the lab's hosts.
func (k *keepalivedBench) Start(h *lab.Node) error {
	dir := k.hostDir(h)
	// A keepalived killed with SIGKILL leaves its pid files behind, and the
	// next one refuses to start if a PID in them has been reused since.
	for _, f := range []string{"keepalived.pid", "vrrp.pid", "checkers.pid"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	p, err := h.Start(keepalivedPath, "--dont-fork", "--log-console", "--log-detail", "--vrrp",
		"-f", k.confPath(h), "-p", filepath.Join(dir, "keepalived.pid"),
		"-r", filepath.Join(dir, "vrrp.pid"), "-c", filepath.Join(dir, "checkers.pid"))
	if err != nil {
		return err
	}
	k.ka[h.Name()] = p
	k.t.Cleanup(func() {
		if k.t.Failed() || os.Getenv("VIPD_LAB_LOGS") != "" {
			k.t.Logf("log of keepalived on %s:\n%s", h.Name(), p.Log())
		}
	})
	return nil
}

// holders returns the hosts that have the probed VIP on eth0.
func (k *keepalivedBench) holders() ([]string, error) {
	var out []string
	for _, h := range k.l.Hosts() {
		b, err := exec.Command("ip", "-n", h.Netns(), "-o", "addr", "show", "dev", "eth0").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("ip addr on %s: %v: %s", h.Name(), err, b)
		}
		if strings.Contains(string(b), " "+k.vips[0]+"/") {
			out = append(out, h.Name())
		}
	}
	return out, nil
}

// Steady waits until keepalived runs on every host, only h1 (the highest
// priority) holds the VIP, and the client answers from it.
func (k *keepalivedBench) Steady(timeout time.Duration) (string, error) {
	want := k.l.Host(1).Name()
	err := pollFor(timeout, func() error {
		for _, h := range k.l.Hosts() {
			p := k.ka[h.Name()]
			if p == nil {
				return fmt.Errorf("keepalived not running on %s", h.Name())
			}
			select {
			case <-p.Exited():
				return permanent(fmt.Errorf("keepalived on %s exited: %v\n%s", h.Name(), p.Wait(), p.Log()))
			default:
			}
		}
		holders, err := k.holders()
		if err != nil {
			return err
		}
		if len(holders) != 1 || holders[0] != want {
			return fmt.Errorf("%s is on %v, want only %s", k.vips[0], holders, want)
		}
		return clientSteady(k.l, want, 10)
	})
	return want, err
}

func (k *keepalivedBench) Crash(h *lab.Node) error {
	k.ka[h.Name()].Kill()
	delete(k.ka, h.Name())
	return nil
}

// Revive removes the VIPs a killed keepalived left on eth0, as a reboot
// would, before the link comes back, then starts keepalived.
func (k *keepalivedBench) Revive(h *lab.Node) error {
	for _, v := range k.vips {
		bits := "/32"
		if strings.Contains(v, ":") {
			bits = "/128"
		}
		// An address that is not there is fine.
		_ = exec.Command("ip", "-n", h.Netns(), "addr", "del", v+bits, "dev", "eth0").Run()
	}
	if err := h.LinkUp(context.Background()); err != nil {
		return err
	}
	return k.Start(h)
}

func (k *keepalivedBench) Stop(h *lab.Node) error {
	err := k.ka[h.Name()].Stop()
	delete(k.ka, h.Name())
	return err
}

func (k *keepalivedBench) Drain(h *lab.Node) error {
	return os.WriteFile(k.trackFile(h), fmt.Appendf(nil, "%d\n", keepalivedDrop), 0o644)
}

func (k *keepalivedBench) Undrain(h *lab.Node) error {
	return os.WriteFile(k.trackFile(h), []byte("0\n"), 0o644)
}

func (k *keepalivedBench) Nginx(h *lab.Node) *lab.Nginx       { return k.nginx[h.Name()] }
func (k *keepalivedBench) SetNginx(h *lab.Node, n *lab.Nginx) { k.nginx[h.Name()] = n }

func (k *keepalivedBench) DaemonPIDs() map[string]int {
	pids := map[string]int{}
	for name, p := range k.ka {
		pids[name] = p.Pid()
	}
	return pids
}

func (k *keepalivedBench) CutGossip(h *lab.Node) error  { return blockVRRP(h) }
func (k *keepalivedBench) HealGossip(h *lab.Node) error { return unblockVRRP(h) }
