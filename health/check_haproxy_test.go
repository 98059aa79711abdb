package health

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

func haproxyCheck(socket, backend string, minUp int) *config.Check {
	return &config.Check{Type: config.CheckHAProxy, Socket: socket, Backend: backend, MinUp: minUp,
		Interval: config.D(time.Second), Timeout: config.D(2 * time.Second), Rise: 1, Fall: 1}
}

// backendServer is a TCP listener standing in for a backend server: it
// accepts connections and closes them, which passes HAProxy's TCP check.
type backendServer struct {
	l    net.Listener
	done chan struct{}
	once sync.Once
}

func startBackendServer(t *testing.T) *backendServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &backendServer{l: l, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *backendServer) addr() string { return s.l.Addr().String() }

func (s *backendServer) stop() {
	s.once.Do(func() { s.l.Close() })
	<-s.done
}

// startHAProxy runs a real haproxy with cfg until the test ends; it skips
// the test when haproxy is not installed.
func startHAProxy(t *testing.T, cfg string) {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/haproxy"); err != nil {
			t.Skip("haproxy is not installed; install the Debian package haproxy (make deps, as root) to run this test")
		}
		bin = "/usr/sbin/haproxy"
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "-db", "-f", cfgPath)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(log.Name())
			t.Logf("haproxy's output:\n%s", out)
		}
	})
}

// eventuallyReason probes until the check's result is want, "" for a pass.
func eventuallyReason(t *testing.T, checker Checker, want string) {
	t.Helper()
	var last error
	deadline := time.Now().Add(20 * time.Second)
	for {
		last = checker.Check(context.Background())
		if (want == "" && last == nil) || (last != nil && last.Error() == want) {
			if last != nil {
				t.Logf("reason: %s", last)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the check kept returning %v; want %q", last, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHAProxyCheckAgainstARealHAProxy(t *testing.T) {
	s1, s2 := startBackendServer(t), startBackendServer(t)
	dir := t.TempDir()
	socket := filepath.Join(dir, "admin.sock")
	statsAddr := closedPort(t)
	startHAProxy(t, fmt.Sprintf(`global
    stats socket %s mode 600 level admin
    stats socket ipv4@%s level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend web
    default-server check inter 50ms fall 1 rise 1
    server s1 %s
    server s2 %s
backend api
    server a1 127.0.0.1:9
`, socket, statsAddr, s1.addr(), s2.addr()))

	web2 := mustChecker(t, haproxyCheck(socket, "web", 2))
	web1 := mustChecker(t, haproxyCheck(socket, "web", 1))
	eventuallyReason(t, web2, "")
	expect(t, web1, "")

	s2.stop()
	eventuallyReason(t, web2, "haproxy backend web: 1/2 servers UP (min 2): s2 DOWN")
	expect(t, web1, "")

	s1.stop()
	eventuallyReason(t, web1, "haproxy backend web: 0/2 servers UP (min 1): s1 DOWN, s2 DOWN")

	// A server without health checks takes traffic: it counts as UP, until
	// an operator puts it in maintenance.
	api := haproxyCheck(socket, "api", 1)
	expect(t, mustChecker(t, api), "")
	api.Socket, api.Address = "", statsAddr
	apiTCP := mustChecker(t, api)
	expect(t, apiTCP, "")
	if err := runtimeCommand(socket, "set server api/a1 state maint"); err != nil {
		t.Fatal(err)
	}
	eventuallyReason(t, apiTCP, "haproxy backend api: 0/1 servers UP (min 1): a1 MAINT")

	expect(t, mustChecker(t, haproxyCheck(socket, "nope", 1)), "haproxy backend nope: not found; HAProxy has backends web, api")
}

func TestHAProxyCheckWithoutHAProxy(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "admin.sock")
	expect(t, mustChecker(t, haproxyCheck(socket, "web", 1)),
		"haproxy backend web: dial unix "+socket+": connect: no such file or directory")

	// A socket that accepts but never answers.
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, conn)
		}
	}()
	c := haproxyCheck(socket, "web", 1)
	c.Timeout = config.D(200 * time.Millisecond)
	expect(t, mustChecker(t, c), "haproxy backend web: stats socket "+socket+": timed out after 200ms")
	l.Close()
	<-accepted
	for _, conn := range conns {
		conn.Close()
	}
}

// runtimeCommand sends one command to HAProxy's runtime API.
func runtimeCommand(socket, command string) error {
	conn, err := net.Dial("unix", socket)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := fmt.Fprintln(conn, command); err != nil {
		return err
	}
	var answer strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		answer.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if text := strings.TrimSpace(answer.String()); text != "" {
		return fmt.Errorf("%s: %s", command, text)
	}
	return nil
}

// statHeader is the start of the header line of HAProxy 2.6's "show stat".
const statHeader = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act\n"

func statRows(rows ...string) []byte {
	var b strings.Builder
	b.WriteString(statHeader)
	for _, r := range rows {
		pxsv, status, _ := strings.Cut(r, "=")
		px, sv, _ := strings.Cut(pxsv, "/")
		fmt.Fprintf(&b, "%s,%s,0,0,0,0,,0,0,0,,0,,0,0,0,0,%s,1,1,\n", px, sv, status)
	}
	return []byte(b.String())
}

func TestJudgeBackend(t *testing.T) {
	cases := []struct {
		name  string
		stat  []byte
		minUp int
		want  string
	}{
		{"all up", statRows("fe/FRONTEND=OPEN", "web/s1=UP", "web/s2=UP", "web/BACKEND=UP"), 2, ""},
		{"going down still counts", statRows("web/s1=UP 1/3", "web/s2=DOWN", "web/BACKEND=UP"), 1, ""},
		{"no check counts", statRows("web/s1=no check", "web/BACKEND=UP"), 1, ""},
		{"rising, draining, nolb and maint do not", statRows("web/s1=DOWN 1/2", "web/s2=DRAIN", "web/s3=NOLB", "web/s4=MAINT", "web/s5=MAINT(via)", "web/BACKEND=DOWN"), 1,
			"haproxy backend web: 0/5 servers UP (min 1): s1 DOWN 1/2, s2 DRAIN, s3 NOLB, s4 MAINT, s5 MAINT(via)"},
		{"long lists are cut", statRows("web/s1=DOWN", "web/s2=DOWN", "web/s3=DOWN", "web/s4=DOWN", "web/s5=DOWN", "web/s6=DOWN", "web/s7=DOWN", "web/BACKEND=DOWN"), 1,
			"haproxy backend web: 0/7 servers UP (min 1): s1 DOWN, s2 DOWN, s3 DOWN, s4 DOWN, s5 DOWN and 2 more"},
		{"backend without servers", statRows("web/BACKEND=DOWN"), 1, "haproxy backend web: 0/0 servers UP (min 1)"},
		{"backend down with servers up", statRows("web/s1=UP", "web/BACKEND=DOWN"), 1, "haproxy backend web: is DOWN though 1/1 servers are UP"},
		{"a frontend is not a backend", statRows("web/FRONTEND=OPEN", "api/s1=UP", "api/BACKEND=UP"), 1, "haproxy backend web: is a frontend only, it has no servers; HAProxy has backends api"},
		{"listen section", statRows("web/FRONTEND=OPEN", "web/s1=UP", "web/BACKEND=UP"), 1, ""},
		{"not found", statRows("api/s1=UP", "api/BACKEND=UP", "db/BACKEND=UP"), 1, "haproxy backend web: not found; HAProxy has backends api, db"},
		{"no backends at all", []byte(statHeader), 1, "haproxy backend web: not found; HAProxy has no backends"},
		{"not a stats answer", []byte("Permission denied\n"), 1, `haproxy backend web: unexpected answer to "show stat": "Permission denied"`},
		{"empty answer", nil, 1, `haproxy backend web: unexpected answer to "show stat": ""`},
		{"header without status", []byte("# pxname,svname\nweb,BACKEND\n"), 1, `haproxy backend web: "show stat" has no pxname, svname or status column: "# pxname,svname"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := judgeBackend(tc.stat, "web", tc.minUp)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func FuzzJudgeBackend(f *testing.F) {
	f.Add(statRows("web/s1=UP", "web/BACKEND=UP"), 1)
	f.Add(statRows("web/s1=DOWN", "web/s2=no check", "web/BACKEND=DOWN"), 2)
	f.Add([]byte("# pxname,svname,status\nweb,\"s1,UP\n"), 1)
	f.Fuzz(func(t *testing.T, stat []byte, minUp int) {
		err := judgeBackend(stat, "web", minUp)
		if err != nil && !strings.HasPrefix(err.Error(), "haproxy backend web: ") {
			t.Errorf("reason %q does not name the backend", err)
		}
	})
}
