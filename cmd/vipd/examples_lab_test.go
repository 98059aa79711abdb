package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/lab"
)

// The HAProxy and nginx examples run in the lab as written, but for what
// must differ between hosts that share one machine: node name, state and
// socket paths, pid and log files, and the host name the page shows.

func newExampleLab(t *testing.T) *vipdLab {
	lab.RequireRoot(t)
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	l := &vipdLab{t: t, lab: lab.New(t, lab.Options{Hosts: 3}), bin: bin, dir: t.TempDir(),
		vipd: map[string]*lab.Process{}, nginx: map[string]*lab.Nginx{}, profile: "fast"}
	if out, err := exec.Command(filepath.Join(bin, "vipd"), "keygen", "-o", filepath.Join(l.dir, "gossip.key")).CombinedOutput(); err != nil {
		t.Fatalf("vipd keygen: %v\n%s", err, out)
	}
	return l
}

// exampleConfig is an example vipd.yaml with this host's local paths.
func (l *vipdLab) exampleConfig(h *lab.Node, example string) string {
	l.t.Helper()
	b, err := os.ReadFile(example)
	if err != nil {
		l.t.Fatal(err)
	}
	dir := l.hostDir(h)
	local := strings.NewReplacer(
		"/etc/vipd/gossip.key", filepath.Join(l.dir, "gossip.key"),
		"/etc/vipd/maintenance", filepath.Join(dir, "maintenance"),
		"/run/haproxy/admin.sock", filepath.Join(dir, "admin.sock"),
	).Replace(string(b))
	return "node_name: " + h.Name() + "\nstate_dir: " + filepath.Join(dir, "state") +
		"\ncontrol: {socket: " + l.socket(h) + ", group: \"\"}\n" + local
}

// startFromExample starts a daemon with an example config file rewritten
// for this host, and stops it at cleanup.
func (l *vipdLab) startFromExample(h *lab.Node, conf string, argv func(conf string) []string, local *strings.Replacer) *lab.Process {
	l.t.Helper()
	b, err := os.ReadFile(conf)
	if err != nil {
		l.t.Fatal(err)
	}
	path := filepath.Join(l.hostDir(h), filepath.Base(conf))
	if err := os.WriteFile(path, []byte(local.Replace(string(b))), 0o644); err != nil {
		l.t.Fatal(err)
	}
	p, err := h.Start(argv(path)...)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { p.Stop() })
	return p
}

func TestLabNginxExampleRunsAsWritten(t *testing.T) {
	l := newExampleLab(t)
	backends := map[string]*lab.Process{}
	for _, h := range l.lab.Hosts() {
		dir := l.hostDir(h)
		l.writeConfig(h, l.exampleConfig(h, "../../examples/nginx/vipd.yaml"))
		l.start(h)
		backends[h.Name()] = l.startFromExample(h, "../../examples/nginx/nginx.conf",
			func(conf string) []string {
				return []string{"/usr/sbin/nginx", "-p", dir, "-c", conf, "-g", "daemon off;"}
			},
			strings.NewReplacer("/run/nginx.pid", filepath.Join(dir, "nginx.pid"),
				"/var/log/nginx/error.log", filepath.Join(dir, "error.log"), "$hostname", h.Name()))
	}
	url := lab.URL(mustAddr("192.0.2.20"), 80)
	owner := l.agreedOwner("www")
	l.answersFrom(url, "served by "+owner)
	probe := lab.Probe(context.Background(), l.lab.Client(), url, labProbe, 200*time.Millisecond)
	backends[owner].Stop()
	next := l.agreedOwner("www", owner)
	l.answersFrom(url, "served by "+next)
	t.Logf("nginx example, nginx stopped on %s: %s", owner, lab.Summarize(probe.Stop()))
}

func TestLabHAProxyExampleRunsAsWritten(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/haproxy"); err != nil {
		t.Skip("needs haproxy: run `sudo make test`, which installs it")
	}
	l := newExampleLab(t)
	backends := map[string]*lab.Process{}
	for _, h := range l.lab.Hosts() {
		l.writeConfig(h, l.exampleConfig(h, "../../examples/haproxy/vipd.yaml"))
		l.start(h)
	}
	// HAProxy binds the VIPs, which vipd keeps on vipd0 on every host,
	// owner or not.
	for _, h := range l.lab.Hosts() {
		lab.Eventually(t, 10*time.Second, func() error {
			out, err := h.Run(context.Background(), "ip", "-o", "addr", "show", "dev", "vipd0")
			if err != nil || !strings.Contains(out, "192.0.2.10/32") || !strings.Contains(out, "2001:db8::10/128") {
				return errorf("%s: VIPs not on vipd0 yet: %v %s", h.Name(), err, out)
			}
			return nil
		})
	}
	for _, h := range l.lab.Hosts() {
		dir := l.hostDir(h)
		backends[h.Name()] = l.startFromExample(h, "../../examples/haproxy/haproxy.cfg",
			func(conf string) []string { return []string{"/usr/sbin/haproxy", "-db", "-f", conf} },
			strings.NewReplacer("/run/haproxy/admin.sock", filepath.Join(dir, "admin.sock"),
				"log /dev/log local0", "", `"%H\n"`, `"`+h.Name()+`\n"`))
	}
	url := lab.URL(mustAddr("192.0.2.10"), 80)
	owner := l.agreedOwner("web")
	l.answersFrom(url, owner)
	l.answersFrom(lab.URL(mustAddr("2001:db8::10"), 80), owner)
	probe := lab.Probe(context.Background(), l.lab.Client(), url, labProbe, 200*time.Millisecond)
	backends[owner].Stop()
	next := l.agreedOwner("web", owner)
	l.answersFrom(url, next)
	t.Logf("haproxy example, haproxy stopped on %s: %s", owner, lab.Summarize(probe.Stop()))
}
