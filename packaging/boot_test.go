package packaging_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The Debian 12 root the boot test boots, built once with debootstrap and
// kept between runs. Change rootName when rootPackages changes, so the
// cache is rebuilt.
const (
	cacheDir     = "/var/cache/vipd-test"
	rootName     = "debian12-root"
	rootSuite    = "bookworm"
	rootPackages = "systemd,systemd-sysv,dbus,iproute2"
	defaultRepo  = "http://deb.debian.org/debian"
)

// skipUnlessBootable skips the test when it cannot boot a container.
func skipUnlessBootable(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("boot test skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("boot test needs root to boot a container with systemd-nspawn: run `make test` as root")
	}
	for _, tool := range []string{"systemd-nspawn", "debootstrap", "nsenter", "rpm", "dpkg-deb", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("boot test needs %s (packages systemd-container, debootstrap, rpm): run `make test` as root, which installs them", tool)
		}
	}
}

func init() {
	// go test runs with make's PATH, which has Go; a plain sudo may not.
	if _, err := exec.LookPath("go"); err != nil {
		os.Setenv("PATH", os.Getenv("PATH")+":/usr/local/go/bin")
	}
}

// TestPackagesInstallUpgradeAndPurgeOnSystemd builds the packages twice
// (two versions), boots a Debian 12 container with systemd and installs,
// starts, reloads, upgrades and purges vipd in it; then checks the .rpm's
// file list and scriptlets.
func TestPackagesInstallUpgradeAndPurgeOnSystemd(t *testing.T) {
	skipUnlessBootable(t)
	began := time.Now()
	work := t.TempDir()

	v1 := buildPackages(t, "v0.0.1", filepath.Join(work, "v1"))
	v2 := buildPackages(t, "v0.0.2", filepath.Join(work, "v2"))
	for _, f := range []string{v1.deb, v1.rpm} {
		if fi, err := os.Stat(f); err == nil {
			t.Logf("package %s: %d bytes (%.1f MiB)", filepath.Base(f), fi.Size(), float64(fi.Size())/(1<<20))
		}
	}
	checkDeb(t, v1.deb)
	checkRPM(t, v1.rpm)

	root := cachedRoot(t)
	c := boot(t, root, work)
	c.install(t, v1.deb, v2.deb)
	t.Logf("boot test took %s", time.Since(began).Round(100*time.Millisecond))
}

type packages struct{ deb, rpm string }

func buildPackages(t *testing.T, version, out string) packages {
	t.Helper()
	cmd := exec.Command("bash", "build.sh", version, out)
	cmd.Env = append(os.Environ(), "BINDIR="+filepath.Join(out, "bin"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh %s %s: %v\n%s", version, out, err, b)
	}
	pkg := strings.TrimPrefix(version, "v")
	p := packages{
		deb: filepath.Join(out, "vipd_"+pkg+"_amd64.deb"),
		rpm: filepath.Join(out, "vipd-"+pkg+"-1.x86_64.rpm"),
	}
	for _, f := range []string{p.deb, p.rpm} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("build.sh %s did not make %s: %v", version, f, err)
		}
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func wantLines(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

func checkDeb(t *testing.T, deb string) {
	list := run(t, "dpkg-deb", "--contents", deb)
	wantLines(t, "dpkg-deb --contents", list,
		" ./usr/sbin/vipd\n", " ./usr/bin/vipctl\n", " ./usr/lib/vipd/vipd-bgp\n", " ./lib/systemd/system/vipd.service\n", " ./etc/vipd.yaml\n",
		" ./usr/share/man/man8/vipd.8.gz\n", " ./usr/share/man/man8/vipctl.8.gz\n",
		" ./usr/share/bash-completion/completions/vipctl\n", " ./usr/share/zsh/vendor-completions/_vipctl\n",
		" ./usr/share/fish/vendor_completions.d/vipctl.fish\n",
		" ./usr/share/doc/vipd/examples/vipd.yaml\n", " ./usr/share/doc/vipd/examples/haproxy/haproxy.cfg\n",
		" ./usr/share/doc/vipd/examples/nginx/nginx.conf\n")
	if got := run(t, "dpkg-deb", "--info", deb, "conffiles"); strings.TrimSpace(got) != "/etc/vipd.yaml" {
		t.Errorf("conffiles = %q, want /etc/vipd.yaml", got)
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		run(t, "dpkg-deb", "--info", deb, script)
	}
}

func checkRPM(t *testing.T, rpm string) {
	list := run(t, "rpm", "-qp", "--list", rpm)
	wantLines(t, "rpm -qp --list", list,
		"/usr/sbin/vipd\n", "/usr/bin/vipctl\n", "/usr/lib/vipd/vipd-bgp\n", "/usr/lib/systemd/system/vipd.service\n", "/etc/vipd.yaml\n",
		"/usr/share/man/man8/vipd.8.gz\n", "/usr/share/man/man8/vipctl.8.gz\n",
		"/usr/share/bash-completion/completions/vipctl\n", "/usr/share/zsh/site-functions/_vipctl\n",
		"/usr/share/fish/vendor_completions.d/vipctl.fish\n",
		"/usr/share/doc/vipd/examples/vipd.yaml\n", "/usr/share/doc/vipd/examples/haproxy/haproxy.cfg\n")
	if regexp.MustCompile(`(?m)^/lib/`).MatchString(list) {
		t.Errorf("rpm holds the deb's /lib/systemd path:\n%s", list)
	}
	// c: config, n: noreplace.
	flags := run(t, "rpm", "-qp", "--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]", rpm)
	if !regexp.MustCompile(`(?m)^cn /etc/vipd\.yaml$`).MatchString(flags) {
		t.Errorf("/etc/vipd.yaml is not %%config(noreplace):\n%s", flags)
	}
	scripts := run(t, "rpm", "-qp", "--scripts", rpm)
	wantLines(t, "rpm -qp --scripts", scripts,
		"preinstall scriptlet", "groupadd --system vipd",
		"postinstall scriptlet", `if [ "$1" -eq 1 ]`, "vipd keygen -o /etc/vipd/gossip.key",
		"preuninstall scriptlet", "disable --now vipd.service",
		"postuninstall scriptlet", "try-restart vipd.service")
}

// cachedRoot returns the Debian 12 root, building it with debootstrap when
// it is not in the cache yet: into a temporary directory, renamed when
// complete, so an interrupted build leaves no half root behind.
func cachedRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(cacheDir, rootName)
	if _, err := os.Stat(filepath.Join(root, "usr/lib/systemd/systemd")); err == nil {
		return root
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(cacheDir, "."+rootName+".")
	if err != nil {
		t.Fatal(err)
	}
	mirror := debianMirror()
	t.Logf("building the Debian 12 root in %s with debootstrap from %s (once; later runs reuse it)", root, mirror)
	began := time.Now()
	cmd := exec.Command("debootstrap", "--variant=minbase", "--include="+rootPackages, rootSuite, tmp, mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		t.Fatalf("debootstrap: %v\n%s", err, tail(string(out), 30))
	}
	os.RemoveAll(root) // a root without systemd is not worth keeping
	if err := os.Rename(tmp, root); err != nil {
		os.RemoveAll(tmp)
		t.Fatal(err)
	}
	t.Logf("debootstrap took %s", time.Since(began).Round(time.Second))
	return root
}

// debianMirror is the Debian archive this machine's apt uses, so the boot
// test fetches from where the machine is allowed to.
func debianMirror() string {
	var uris []string
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, stanza := range strings.Split(string(b), "\n\n") {
			if !regexp.MustCompile(`(?m)^Suites:.*\b` + rootSuite + `\b`).MatchString(stanza) {
				continue
			}
			if m := regexp.MustCompile(`(?m)^URIs:\s*(\S+)`).FindStringSubmatch(stanza); m != nil && !strings.Contains(m[1], "security") {
				uris = append(uris, m[1])
			}
		}
	}
	if b, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == "deb" && f[2] == rootSuite && !strings.Contains(f[1], "security") {
				uris = append(uris, f[1])
			}
		}
	}
	if len(uris) > 0 {
		return uris[0]
	}
	return defaultRepo
}

// container is a booted systemd-nspawn container.
type container struct {
	dir  string // its root directory, a copy of the cached root
	pid1 int    // its init, as the host sees it
	log  string // nspawn's console output
}

// boot copies root and boots it with systemd in a container that has its own
// network (only lo): vipd in it cannot touch the host's interfaces.
func boot(t *testing.T, root, work string) *container {
	t.Helper()
	dir := filepath.Join(work, "root")
	prepareRoot(t, root, dir, "vipd-boot-test")
	c := startContainer(t, dir, filepath.Join(work, "nspawn.log"), "vipd-boot-test", "--private-network")
	c.waitBooted(t)
	return c
}

// prepareRoot copies root to dir (removed at cleanup) and names the host.
func prepareRoot(t *testing.T, root, dir, hostname string) {
	t.Helper()
	run(t, "cp", "-a", "--reflink=auto", root, dir)
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "etc/hostname"), []byte(hostname+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// D-Bus does not come up in a container on every host (on a Firecracker
	// VM dbus-daemon gets EPERM from inotify and its activation of systemd
	// times out, holding up the boot for minutes). Nothing here needs it:
	// systemctl and systemd-analyze reach systemd on its private socket as
	// root. Masked in this copy only.
	for _, unit := range []string{"dbus.service", "dbus.socket", "systemd-logind.service"} {
		if err := os.Symlink("/dev/null", filepath.Join(dir, "etc/systemd/system", unit)); err != nil && !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
	}
}

// startContainer boots the root in dir with systemd-nspawn, network given by
// netArgs, and returns once the container's init exists; waitBooted waits
// for its boot to finish. Cleanup shuts the container down (SIGTERM to
// nspawn, SIGKILL to its process group if it hangs).
func startContainer(t *testing.T, dir, logPath, machine string, netArgs ...string) *container {
	t.Helper()
	c := &container{dir: dir, log: logPath}
	logf, err := os.Create(c.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	args := append([]string{"--boot", "--quiet", "--keep-unit", "--register=no"}, netArgs...)
	args = append(args, "--console=pipe", "--directory="+dir, "--machine="+machine)
	// Started by a shell that first moves itself into the container's own
	// cgroups, then execs nspawn (same pid).
	cgroups := containerCgroups(t, machine)
	nspawn := exec.Command("sh", append([]string{"-c", `for cg in $VIPD_TEST_CGROUPS; do echo $$ > "$cg/cgroup.procs" || exit 1; done; exec systemd-nspawn "$@"`, "sh"}, args...)...)
	nspawn.Env = append(os.Environ(), "VIPD_TEST_CGROUPS="+strings.Join(cgroups, " "))
	nspawn.Stdout, nspawn.Stderr = logf, logf
	nspawn.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := nspawn.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- nspawn.Wait() }()
	t.Cleanup(func() {
		// nspawn shuts the container down on SIGTERM; kill it if it hangs.
		nspawn.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			// SIGKILL to the container's init ends every process of its
			// pid namespace; nspawn (its parent, so the pid is not
			// reused yet) then exits, or is killed.
			t.Logf("systemd-nspawn (pid %d) did not stop in 30s; killing the container's init (pid %d) and nspawn", nspawn.Process.Pid, c.pid1)
			if c.pid1 != 0 {
				syscall.Kill(c.pid1, syscall.SIGKILL)
			}
			nspawn.Process.Kill()
			<-exited
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for c.pid1 == 0 {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("systemd-nspawn exited: %v\n%s", err, c.console())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no init of the container under systemd-nspawn (pid %d) after 30s\n%s", nspawn.Process.Pid, c.console())
		}
		c.pid1 = containerInit(nspawn.Process.Pid)
		if c.pid1 == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c
}

// containerCgroups makes a cgroup of the container's own below the test's,
// in each hierarchy systemd uses (name=systemd on a hybrid host, and the
// unified one), and removes them at cleanup. With --keep-unit nspawn puts
// the container in the cgroup it was started in: containers started from
// one process would share one tree, every container's systemd would make
// the same system.slice/vipd.service, and `systemctl kill` in one
// container would see (and fail on, with EIO) the vipd of another.
func containerCgroups(t *testing.T, machine string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for line := range strings.Lines(string(b)) {
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(f) != 3 {
			continue
		}
		var mount string
		switch {
		case f[0] == "0" && f[1] == "":
			mount = "/sys/fs/cgroup/unified" // hybrid
			if _, err := os.Stat(filepath.Join(mount, "cgroup.procs")); err != nil {
				mount = "/sys/fs/cgroup" // unified only
			}
		case f[1] == "name=systemd":
			mount = "/sys/fs/cgroup/systemd"
		default:
			continue
		}
		dir := filepath.Join(mount, f[2], fmt.Sprintf("vipd-test-%s-%d", machine, os.Getpid()))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatalf("cgroup for container %s: %v", machine, err)
		}
		dirs = append(dirs, dir)
	}
	if len(dirs) == 0 {
		t.Fatalf("no cgroup hierarchy of systemd in /proc/self/cgroup:\n%s", b)
	}
	// Registered before nspawn starts, so it runs after nspawn has stopped.
	t.Cleanup(func() {
		for _, dir := range dirs {
			removeCgroup(t, dir)
		}
	})
	return dirs
}

// removeCgroup removes dir and the cgroups the container's systemd made in
// it, deepest first. A cgroup still holding a process cannot be removed,
// and is reported.
func removeCgroup(t *testing.T, dir string) {
	var tree []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			tree = append(tree, path)
		}
		return nil
	})
	for _, path := range slices.Backward(tree) {
		var err error
		// An exiting container's last processes may take a moment to leave.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if err = os.Remove(path); err == nil || errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
				break
			}
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cleanup: remove cgroup %s: %v", path, err)
		}
	}
}

// waitBooted waits for the container's boot to finish; degraded is fine (a
// minimal root may fail units that have nothing to do with vipd), and
// logged.
func (c *container) waitBooted(t *testing.T) {
	t.Helper()
	// Until the container's systemd has its bus up, systemctl cannot ask
	// it; until it has made /run/systemd/system, systemctl says "offline".
	var state string
	for deadline := time.Now().Add(90 * time.Second); ; {
		out, _ := c.sh(t, 90*time.Second, "systemctl is-system-running --wait")
		state = strings.TrimSpace(out)
		booting := state == "" || state == "offline" || strings.Contains(state, "Failed to connect to bus")
		if !booting || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if state != "running" && state != "degraded" {
		t.Fatalf("container boot: is-system-running = %q\n%s", state, c.console())
	}
	if state == "degraded" {
		failed, _ := c.sh(t, 10*time.Second, "systemctl --failed --no-legend")
		t.Logf("container booted degraded; failed units:\n%s", failed)
	}
}

// containerInit finds the container's init: the child of nspawn that is
// pid 1 in its own pid namespace.
func containerInit(nspawn int) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		var ppid int
		var nspid []string
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "PPid:"); ok {
				ppid, _ = strconv.Atoi(strings.TrimSpace(v))
			}
			if v, ok := strings.CutPrefix(sc.Text(), "NSpid:"); ok {
				nspid = strings.Fields(v)
			}
		}
		if ppid == nspawn && len(nspid) > 1 && nspid[len(nspid)-1] == "1" {
			return pid
		}
	}
	return 0
}

func (c *container) console() string {
	b, _ := os.ReadFile(c.log)
	return tail(string(b), 40)
}

// sh runs script in the container (every namespace of its init) and returns
// its combined output.
func (c *container) sh(t *testing.T, timeout time.Duration, script string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(c.pid1), "-a", "/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
		"DEBIAN_FRONTEND=noninteractive", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", "HOME=/root"}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w after %s", ctx.Err(), timeout)
	}
	return string(out), err
}

// must runs script in the container and fails the test when it fails.
func (c *container) must(t *testing.T, script string) string {
	t.Helper()
	out, err := c.sh(t, 2*time.Minute, script)
	if err != nil {
		t.Fatalf("in the container: %s: %v\n%s", script, err, out)
	}
	return out
}

// exitCode runs script in the container and returns its exit status.
func (c *container) exitCode(t *testing.T, script string) (int, string) {
	t.Helper()
	out, err := c.sh(t, time.Minute, script)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out
	case errors.As(err, &exit):
		return exit.ExitCode(), out
	}
	t.Fatalf("in the container: %s: %v\n%s", script, err, out)
	return -1, out
}

// put copies a host file into the container's /root.
func (c *container) put(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dst := "/root/" + filepath.Base(file)
	if err := os.WriteFile(filepath.Join(c.dir, dst), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func (c *container) journal(t *testing.T) string {
	out, _ := c.sh(t, 30*time.Second, "journalctl --no-pager -o short-precise -u vipd.service")
	return out
}

// waitJournal waits for the unit's journal to contain want.
// loadedAt is when the running vipd loaded its config, as vipctl reports.
func (c *container) loadedAt(t *testing.T) string {
	t.Helper()
	out, err := c.sh(t, 10*time.Second, "vipctl status --json")
	if err != nil {
		t.Fatalf("vipctl status --json: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`"loaded_at": "([^"]+)"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no loaded_at in vipctl status --json:\n%s", out)
	}
	return m[1]
}

func (c *container) waitJournal(t *testing.T, want string, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(c.journal(t), want) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *container) mainPID(t *testing.T) string {
	return strings.TrimSpace(c.must(t, "systemctl show -P MainPID vipd.service"))
}

func (c *container) install(t *testing.T, deb1, deb2 string) {
	first, second := c.put(t, deb1), c.put(t, deb2)

	// Fresh install: a group, a key, a valid config; vipd not started yet.
	c.must(t, "dpkg -i "+first)
	c.must(t, "getent group vipd")
	if mode := strings.TrimSpace(c.must(t, "stat -c '%a %U' /etc/vipd/gossip.key")); mode != "600 root" {
		t.Errorf("/etc/vipd/gossip.key: mode and owner %q, want 600 root", mode)
	}
	c.must(t, "vipd check -c /etc/vipd.yaml")
	if code, _ := c.exitCode(t, "systemctl is-active --quiet vipd"); code == 0 {
		t.Errorf("vipd runs right after the first install; it should wait for 'systemctl enable --now vipd'")
	}
	if code, out := c.exitCode(t, "vipctl status"); code != 3 {
		t.Errorf("vipctl status before vipd runs: exit %d, want 3 (not running)\n%s", code, out)
	}

	// The unit as installed: verify, and the security score.
	if code, out := c.exitCode(t, "systemd-analyze verify --man=no /lib/systemd/system/vipd.service"); code != 0 || strings.Contains(out, "vipd") {
		t.Errorf("systemd-analyze verify vipd.service: exit %d\n%s", code, out)
	}
	_, security := c.exitCode(t, "systemd-analyze security --no-pager vipd.service")
	if m := regexp.MustCompile(`Overall exposure level for vipd.service: .*`).FindString(security); m != "" {
		t.Logf("systemd-analyze security: %s", m)
	} else {
		t.Errorf("systemd-analyze security vipd.service printed no score:\n%s", security)
	}

	// Start: Type=notify, so start returns once vipd sent READY=1. The
	// manager's debug log records the notification itself.
	c.must(t, "systemd-analyze log-level debug")
	began := time.Now()
	if code, out := c.exitCode(t, "systemctl start vipd"); code != 0 {
		t.Fatalf("systemctl start vipd: exit %d\n%s\n%s\n%s", code, out, c.must(t, "systemctl status --no-pager vipd || true"), c.journal(t))
	}
	t.Logf("systemctl start vipd returned after %s", time.Since(began).Round(time.Millisecond))
	if state := strings.TrimSpace(c.must(t, "systemctl is-active vipd || true")); state != "active" {
		t.Fatalf("vipd is %q after start, want active\n%s", state, c.journal(t))
	}
	if !c.waitJournal(t, "READY=1", 5*time.Second) {
		t.Errorf("the journal of vipd.service has no READY=1 notification:\n%s", c.journal(t))
	}
	if j := c.journal(t); !regexp.MustCompile(`Started vipd|Started .*vipd\.service`).MatchString(j) {
		t.Errorf("the journal of vipd.service has no Started line:\n%s", j)
	}
	c.must(t, "systemd-analyze log-level info")
	show := c.must(t, "systemctl show -p Type,NotifyAccess,WatchdogUSec,StatusText,ActiveState,SubState vipd")
	t.Logf("vipd.service:\n%s", show)
	wantLines(t, "systemctl show vipd", show, "Type=notify", "ActiveState=active", "SubState=running")

	if code, out := c.exitCode(t, "vipctl status"); code != 0 || !strings.Contains(out, "no VIPs configured") {
		t.Errorf("vipctl status on a fresh install: exit %d, want 0 and \"no VIPs configured\"\n%s", code, out)
	} else {
		t.Logf("vipctl status:\n%s", out)
	}

	// Reload: the daemon reports the time it loaded its config; a reload
	// must move it. (Its log line is not asserted: the container's journal
	// has been seen to miss the main process's lines.)
	pid := c.mainPID(t)
	loaded := c.loadedAt(t)
	if code, out := c.exitCode(t, "systemctl reload vipd"); code != 0 {
		t.Fatalf("systemctl reload vipd: exit %d\n%s\n%s", code, out, c.journal(t))
	}
	for deadline := time.Now().Add(10 * time.Second); c.loadedAt(t) == loaded; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("vipd still runs the config loaded at %s after systemctl reload vipd:\n%s", loaded, c.journal(t))
		}
	}
	if now := c.mainPID(t); now != pid {
		t.Errorf("systemctl reload restarted vipd: MainPID %s -> %s", pid, now)
	}

	// Upgrade with an edited config while vipd runs: the edit stays, vipd is
	// restarted and runs the new version.
	const edit = "# edited by the boot test"
	c.must(t, "echo '"+edit+"' >> /etc/vipd.yaml")
	c.must(t, "dpkg -i "+second)
	if v := strings.TrimSpace(c.must(t, "dpkg-query -W -f '${Version}' vipd")); v != "0.0.2" {
		t.Errorf("after the upgrade dpkg says vipd %s, want 0.0.2", v)
	}
	if !strings.Contains(c.must(t, "cat /etc/vipd.yaml"), edit) {
		t.Errorf("the upgrade lost the edit of /etc/vipd.yaml")
	}
	if state := strings.TrimSpace(c.must(t, "systemctl is-active vipd || true")); state != "active" {
		t.Errorf("vipd is %q after the upgrade, want active\n%s", state, c.journal(t))
	}
	if now := c.mainPID(t); now == pid || now == "0" {
		t.Errorf("the upgrade did not restart the running vipd: MainPID %s -> %s", pid, now)
	}
	if v := c.must(t, "vipd --version"); !strings.Contains(v, "0.0.2") {
		t.Errorf("vipd --version after the upgrade: %q", v)
	}
	if code, out := c.exitCode(t, "vipctl status"); code != 0 {
		t.Errorf("vipctl status after the upgrade: exit %d\n%s", code, out)
	}

	// Reinstalling while vipd is stopped does not start it.
	c.must(t, "systemctl stop vipd")
	c.must(t, "dpkg -i "+second)
	if state := strings.TrimSpace(c.must(t, "systemctl is-active vipd || true")); state == "active" {
		t.Errorf("dpkg -i started a stopped vipd; an upgrade restarts only a running one")
	}

	// Purge a running, enabled vipd: nothing of it is left.
	c.must(t, "systemctl enable --now vipd")
	c.must(t, "dpkg --purge vipd && rm -f "+first+" "+second)
	if state := strings.TrimSpace(c.must(t, "systemctl is-active vipd || true")); state == "active" {
		t.Errorf("vipd still runs after dpkg --purge")
	}
	left := c.must(t, "find / -xdev \\( -path /proc -o -path /sys \\) -prune -o -name '*vipd*' -print; ls -d /run/vipd 2>/dev/null || true")
	if strings.TrimSpace(left) != "" {
		t.Errorf("dpkg --purge left behind:\n%s", left)
	}
	if code, _ := c.exitCode(t, "dpkg -s vipd"); code == 0 {
		t.Errorf("dpkg -s vipd still knows the package after purge")
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
