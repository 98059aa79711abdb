package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/lab"
)

var macPattern = regexp.MustCompile(`[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}`)

// Lab VIPs: documentation addresses no lab host uses.
const (
	vip4     = "192.0.2.200"
	vip6     = "2001:db8::200"
	webPort  = 8080
	labProbe = 10 * time.Millisecond
)

// binariesDir is where binaries built them, removed by TestMain.
var binariesDir string

// binaries builds vipd and vipctl once per test binary.
var binaries = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "vipd-lab-bin-")
	if err != nil {
		return "", err
	}
	binariesDir = dir
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	for _, pkg := range []string{".", "../vipctl", "../vipd-bgp"} {
		// Static, as packaging/build.sh builds what users install: a
		// cgo build maps libc too (about 1.5 MiB more RSS).
		build := exec.Command(goTool, "build", "-o", dir+"/", pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return dir, nil
})

// TestMain removes the binaries the lab tests built (60 MB a run).
func TestMain(m *testing.M) {
	code := m.Run()
	if binariesDir != "" {
		os.RemoveAll(binariesDir)
	}
	os.Exit(code)
}

// vipdLab is a lab whose hosts each run vipd and nginx, with a client.
type vipdLab struct {
	t     *testing.T
	lab   *lab.Lab
	bin   string
	dir   string
	vipd  map[string]*lab.Process
	nginx map[string]*lab.Nginx
	extra string // YAML appended to every host's config
	// profile is the gossip profile of every host: fast unless a test says.
	profile string
	// vips, when set, is the vips: list of every host's config.
	vips string
	// edit, when set, changes every host's config before it is written.
	edit func(string) string
	// logLevel is vipd's --log-level; empty is debug.
	logLevel string
	// nice, when set, is the niceness vipd and vipctl run at (nice -n).
	nice int
}

func newVIPDLab(t *testing.T, hosts int, extra string) *vipdLab {
	return newVIPDLabWith(t, lab.Options{Hosts: hosts}, "fast", "", extra)
}

// newVIPDLabWith is newVIPDLab with lab options, a gossip profile and a
// vips: list ("" for web and web6, each on its own).
func newVIPDLabWith(t *testing.T, opts lab.Options, profile, vips, extra string) *vipdLab {
	return newVIPDLabEdited(t, opts, profile, vips, extra, "", nil)
}

// newVIPDLabEdited is newVIPDLabWith with vipd's log level ("" for debug)
// and edit applied to every host's config.
func newVIPDLabEdited(t *testing.T, opts lab.Options, profile, vips, extra, logLevel string, edit func(string) string) *vipdLab {
	return newVIPDLabNice(t, opts, profile, vips, extra, logLevel, 0, edit)
}

// newVIPDLabNice is newVIPDLabEdited with vipd run at niceness nice.
func newVIPDLabNice(t *testing.T, opts lab.Options, profile, vips, extra, logLevel string, nice int, edit func(string) string) *vipdLab {
	lab.RequireRoot(t)
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	l := &vipdLab{t: t, lab: lab.New(t, opts), bin: bin, dir: t.TempDir(),
		vipd: map[string]*lab.Process{}, nginx: map[string]*lab.Nginx{}, extra: extra, profile: profile, vips: vips, edit: edit, logLevel: logLevel, nice: nice}
	key := filepath.Join(l.dir, "gossip.key")
	if out, err := exec.Command(filepath.Join(bin, "vipd"), "keygen", "-o", key).CombinedOutput(); err != nil {
		t.Fatalf("vipd keygen: %v\n%s", err, out)
	}
	for _, h := range l.lab.Hosts() {
		l.nginx[h.Name()] = lab.StartNginx(t, h, lab.NginxOptions{Port: webPort})
		l.writeConfig(h, l.config(h))
		l.start(h)
	}
	return l
}

func (l *vipdLab) hostDir(h *lab.Node) string { return filepath.Join(l.dir, h.Name()) }
func (l *vipdLab) configPath(h *lab.Node) string {
	return filepath.Join(l.hostDir(h), "vipd.yaml")
}
func (l *vipdLab) socket(h *lab.Node) string { return filepath.Join(l.hostDir(h), "vipd.sock") }

// config is the host's /etc/vipd.yaml: the same on every host but for the
// node name, the gossip address and the paths that must differ on one
// machine.
func (l *vipdLab) config(h *lab.Node) string {
	vips := fmt.Sprintf("  - name: web\n    address: %s\n    checks: [web]\n  - name: web6\n    address: %q\n    checks: [web]\n", vip4, vip6)
	if l.vips != "" {
		vips = l.vips
	}
	yaml := l.configWith(h, l.profile, vips) + l.extra
	if l.edit != nil {
		yaml = l.edit(yaml)
	}
	return yaml
}

// configWith is config with a gossip profile and the vips: list items.
func (l *vipdLab) configWith(h *lab.Node, profile, vips string) string {
	var peers []string
	for _, p := range l.lab.Hosts() {
		peers = append(peers, p.IPv4().String())
	}
	return fmt.Sprintf(`node_name: %s
state_dir: %s
drain_timeout: 5s
gossip:
  bind: %s
  peers: [%s]
  key_file: %s
  profile: %s
announce:
  refresh: 2s
interfaces:
  - name: eth0
checks:
  web:
    type: http
    url: http://127.0.0.1:%d/
    interval: 100ms
    timeout: 90ms
    rise: 2
    fall: 2
vips:
%scontrol:
  socket: %s
  group: ""
metrics:
  listen: %s:9469
`, h.Name(), filepath.Join(l.hostDir(h), "state"), h.IPv4(), strings.Join(peers, ", "),
		filepath.Join(l.dir, "gossip.key"), profile, webPort, vips, l.socket(h), h.IPv4())
}

func (l *vipdLab) writeConfig(h *lab.Node, yaml string) {
	l.t.Helper()
	if err := os.MkdirAll(l.hostDir(h), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(l.configPath(h), []byte(yaml), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

func (l *vipdLab) start(h *lab.Node) {
	l.t.Helper()
	argv := []string{filepath.Join(l.bin, "vipd"), "run", "-c", l.configPath(h), "--log-level", cmp.Or(l.logLevel, "debug")}
	if l.nice != 0 {
		// nice execs vipd: the process lab started is vipd itself.
		argv = append([]string{"nice", "-n", strconv.Itoa(l.nice)}, argv...)
	}
	p, err := h.Start(argv...)
	if err != nil {
		l.t.Fatal(err)
	}
	l.vipd[h.Name()] = p
	l.t.Cleanup(func() {
		if l.t.Failed() || os.Getenv("VIPD_LAB_LOGS") != "" {
			l.t.Logf("log of vipd on %s:\n%s", h.Name(), p.Log())
		}
	})
}

func (l *vipdLab) host(name string) *lab.Node {
	for _, h := range l.lab.Hosts() {
		if h.Name() == name {
			return h
		}
	}
	l.t.Fatalf("no host %s", name)
	return nil
}

// vipctl runs vipctl against the host's daemon and returns what it
// printed on stdout and stderr together.
func (l *vipdLab) vipctl(h *lab.Node, args ...string) (string, error) {
	stdout, stderr, err := l.vipctlStreams(h, args...)
	return stdout + stderr, err
}

func (l *vipdLab) vipctlStreams(h *lab.Node, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	argv := append([]string{filepath.Join(l.bin, "vipctl"), "--socket", l.socket(h)}, args...)
	if l.nice != 0 {
		// The harness's status sweeps yield to the client as vipd does.
		argv = append([]string{"nice", "-n", strconv.Itoa(l.nice)}, argv...)
	}
	var out, errOut strings.Builder
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// status reads `vipctl status --json -v` on a host: with every VIP's host
// list.
func (l *vipdLab) status(h *lab.Node) (api.Status, error) {
	return l.statusWith(h, "-v")
}

// statusBrief reads `vipctl status --json`, without the host lists.
func (l *vipdLab) statusBrief(h *lab.Node) (api.Status, error) {
	return l.statusWith(h)
}

func (l *vipdLab) statusWith(h *lab.Node, flags ...string) (api.Status, error) {
	// Exit 1 only says a VIP has no owner; the JSON is still complete.
	out, errOut, err := l.vipctlStreams(h, append([]string{"status", "--json"}, flags...)...)
	var st api.Status
	if jerr := json.Unmarshal([]byte(out), &st); jerr != nil {
		return st, fmt.Errorf("vipctl status --json on %s: %v %v: %s%s", h.Name(), err, jerr, out, errOut)
	}
	return st, nil
}

func vipOf(st api.Status, name string) api.VIPStatus {
	for _, v := range st.VIPs {
		if v.Name == name {
			return v
		}
	}
	return api.VIPStatus{}
}

// agreedOwner waits until every running host's status names the same owner
// of vip, that owner says it is the owner, and returns it.
func (l *vipdLab) agreedOwner(vip string, not ...string) string {
	l.t.Helper()
	var owner string
	lab.Eventually(l.t, 20*time.Second, func() error {
		owner = ""
		return l.eachVIPStatus(vip, func(name string, v api.VIPStatus) error {
			if v.Owner == "" {
				return fmt.Errorf("%s: %s has no owner (%s: %s)", name, vip, v.Health, v.Reason)
			}
			if owner != "" && v.Owner != owner {
				return fmt.Errorf("hosts disagree on the owner of %s: %s and %s", vip, owner, v.Owner)
			}
			owner = v.Owner
			if name == owner && v.Role != api.RoleOwner {
				return fmt.Errorf("%s is named owner of %s but says %s (%s)", name, vip, v.Role, v.Reason)
			}
			if slices.Contains(not, owner) {
				return fmt.Errorf("%s is still owned by %s", vip, owner)
			}
			return nil
		})
	})
	return owner
}

// eachVIPStatus calls check with vip's status on every running host, and
// returns the first error.
func (l *vipdLab) eachVIPStatus(vip string, check func(host string, v api.VIPStatus) error) error {
	for name := range l.vipd {
		st, err := l.status(l.host(name))
		if err != nil {
			return err
		}
		if err := check(name, vipOf(st, vip)); err != nil {
			return err
		}
	}
	return nil
}

// answersFrom waits until the client gets the VIP's page from host.
func (l *vipdLab) answersFrom(url, host string) {
	l.t.Helper()
	l.answersVia(l.lab.Client(), url, host)
}

// answersVia waits until client gets the page at url from host.
func (l *vipdLab) answersVia(client *lab.Node, url, host string) {
	l.t.Helper()
	lab.Eventually(l.t, 20*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		body, err := client.HTTPGet(ctx, url)
		if err != nil {
			return err
		}
		if got := strings.TrimSpace(body); got != host {
			return fmt.Errorf("%s got an answer from %s, want %s", client.Name(), got, host)
		}
		return nil
	})
}

// restart stops vipd on host with SIGTERM and starts it again.
func (l *vipdLab) restart(host string) {
	l.t.Helper()
	if err := l.vipd[host].Stop(); err != nil {
		l.t.Fatal(err)
	}
	l.start(l.host(host))
}

// arpMACs asks for the VIP's MAC from the client and returns the distinct
// MACs that answered.
func (l *vipdLab) arpMACs(vip string) []string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Debian's arping (Habets) prints "60 bytes from 02:..:.. (192.0.2.200): ...".
	out, _ := l.lab.Client().Run(ctx, "arping", "-c", "3", "-i", "eth0", vip)
	seen := map[string]bool{}
	var macs []string
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "from") {
			continue
		}
		for _, mac := range macPattern.FindAllString(line, -1) {
			mac = strings.ToLower(mac)
			if !seen[mac] {
				seen[mac] = true
				macs = append(macs, mac)
			}
		}
	}
	return macs
}

func (l *vipdLab) macOf(h *lab.Node) string {
	l.t.Helper()
	out, err := h.Run(context.Background(), "cat", "/sys/class/net/eth0/address")
	if err != nil {
		l.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// diagOnFailure logs every host's members and status when the test fails.
func diagOnFailure(t *testing.T, l *vipdLab) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, h := range l.lab.Hosts() {
			members, _ := l.vipctl(h, "members")
			status, _ := l.vipctl(h, "status", "-v")
			t.Logf("%s members:\n%s\nstatus:\n%s", h.Name(), members, status)
		}
	})
}
