package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/lab"
)

// hostSnapshot is what vipd may change on a host: the ARP and reverse-path
// sysctls of eth0, all and default, every link and every address.
type hostSnapshot struct {
	sysctls string
	links   string
	addrs   string
}

var tunedSysctls = func() []string {
	var keys []string
	for _, dev := range []string{"eth0", "all", "default"} {
		for _, k := range []string{"arp_ignore", "arp_announce", "rp_filter"} {
			keys = append(keys, "/proc/sys/net/ipv4/conf/"+dev+"/"+k)
		}
	}
	return keys
}()

func snapshotHost(t *testing.T, h *lab.Node) hostSnapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sysctls, err := h.Run(ctx, append([]string{"grep", "-H", ""}, tunedSysctls...)...)
	if err != nil {
		t.Fatal(err)
	}
	// Names and kinds only: counters and flags of eth0 change with traffic.
	links, err := h.Run(ctx, "ip", "-o", "-br", "link", "show")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(links), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	addrs, err := h.Run(ctx, "ip", "-o", "-br", "addr", "show")
	if err != nil {
		t.Fatal(err)
	}
	return hostSnapshot{sysctls: sysctls, links: strings.Join(names, " "), addrs: addrs}
}

// TestLabSIGTERMDuringStartUpRestoresTheHost sends SIGTERM to vipd at
// moments of its start-up on a host none of whose peers answers (it waits
// 3 s for one): before and during the join wait. Each time vipd exits 0,
// logs "vipd stopped", and the host's sysctls, links and addresses read
// back exactly as before the start.
func TestLabSIGTERMDuringStartUpRestoresTheHost(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	l := lab.New(t, lab.Options{Hosts: 1})
	h := l.Host(1)
	dir := t.TempDir()
	key := filepath.Join(dir, "gossip.key")
	if out, err := exec.Command(filepath.Join(bin, "vipd"), "keygen", "-o", key).CombinedOutput(); err != nil {
		t.Fatalf("vipd keygen: %v\n%s", err, out)
	}
	// Strict reverse-path filtering, which vipd loosens on eth0 and must put
	// back.
	ctx := context.Background()
	if out, err := h.Run(ctx, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf.eth0.rp_filter=1"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// Peers in the lab's subnet that no namespace has: nothing answers ARP
	// for them.
	cfg := fmt.Sprintf(`node_name: h1
state_dir: %s
drain_timeout: 5s
gossip:
  bind: %s
  peers: [%s, 192.0.2.91, 192.0.2.92]
  key_file: %s
interfaces:
  - name: eth0
checks:
  web:
    type: http
    url: http://127.0.0.1:%d/
    interval: 100ms
    timeout: 90ms
vips:
  - name: web
    address: %s
    checks: [web]
  - name: web6
    address: %q
    checks: [web]
control:
  socket: %s
  group: ""
metrics:
  listen: ""
`, filepath.Join(dir, "state"), h.IPv4(), h.IPv4(), key, webPort, vip4, vip6, filepath.Join(dir, "vipd.sock"))
	file := filepath.Join(dir, "vipd.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, after := range []time.Duration{200 * time.Millisecond, time.Second, 2500 * time.Millisecond} {
		t.Run(after.String(), func(t *testing.T) {
			before := snapshotHost(t, h)
			p, err := h.Start(filepath.Join(bin, "vipd"), "run", "-c", file, "--log-level", "debug")
			if err != nil {
				t.Fatal(err)
			}
			started := time.Now()
			// For the later moments, look first that vipd has tuned the
			// host by then, so the test does test a restore.
			var during hostSnapshot
			if after >= time.Second {
				time.Sleep(after - 300*time.Millisecond)
				during = snapshotHost(t, h)
			}
			time.Sleep(time.Until(started.Add(after)))
			sent := time.Now()
			if err := syscall.Kill(p.Pid(), syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.Exited():
			case <-time.After(15 * time.Second):
				t.Fatalf("vipd still runs 15s after SIGTERM\n%s", p.Log())
			}
			took := time.Since(sent)
			if err := p.Wait(); err != nil {
				t.Errorf("vipd after SIGTERM at %v: %v, want exit status 0\n%s", after, err, p.Log())
			}
			log := p.Log()
			if !strings.Contains(log, "vipd stopped") {
				t.Errorf("no \"vipd stopped\" in vipd's log:\n%s", log)
			}
			now := snapshotHost(t, h)
			if now.sysctls != before.sysctls {
				t.Errorf("sysctls after SIGTERM at %v:\n%s\nwant as before the start:\n%s", after, now.sysctls, before.sysctls)
			}
			if now.links != before.links {
				t.Errorf("links after SIGTERM at %v: %s; want as before the start: %s", after, now.links, before.links)
			}
			if now.addrs != before.addrs {
				t.Errorf("addresses after SIGTERM at %v:\n%s\nwant as before the start:\n%s", after, now.addrs, before.addrs)
			}
			tuned := during.sysctls != "" && during.sysctls != before.sysctls && strings.Contains(during.links, "vipd0")
			if after >= time.Second && !tuned {
				t.Errorf("vipd had not tuned the host %v after its start (sysctls %q, links %q): the test tests nothing", after-300*time.Millisecond, during.sysctls, during.links)
			}
			// At 0.2 s the announcer has usually tuned the host already; on
			// a slow machine it may not have, which is a stop before the
			// kernel is touched.
			announcing := strings.Contains(log, "announcer started")
			t.Logf("SIGTERM %v after start: exit 0 %v later, \"vipd stopped\" logged, sysctls, links and addresses as before (announcer had started: %v; tuning seen by a read while running: %v)",
				after, took.Round(time.Millisecond), announcing, tuned)
			if t.Failed() || os.Getenv("VIPD_LAB_LOGS") != "" {
				t.Logf("log of vipd:\n%s", log)
			}
		})
	}
}
