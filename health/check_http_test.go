package health

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

func httpCheck(url string) *config.Check {
	c := &config.Check{Type: config.CheckHTTP, URL: url, Interval: config.D(time.Second), Timeout: config.D(5 * time.Second), Rise: 1, Fall: 1}
	if strings.HasPrefix(url, "https:") {
		c.Type = config.CheckHTTPS
	}
	return c
}

func mustChecker(t *testing.T, c *config.Check) Checker {
	t.Helper()
	checker, err := NewChecker(c)
	if err != nil {
		t.Fatalf("NewChecker(%+v): %v", c, err)
	}
	return checker
}

// expect probes once and compares the result with want, "" for a pass. It
// logs the reason so that `go test -v` shows what operators will read.
func expect(t *testing.T, checker Checker, want string) {
	t.Helper()
	err := checker.Check(context.Background())
	switch {
	case want == "" && err != nil:
		t.Errorf("check failed: %v; want it to pass", err)
	case want != "" && err == nil:
		t.Errorf("check passed; want it to fail with %q", want)
	case want != "" && err.Error() != want:
		t.Errorf("check failed with\n  %q\nwant\n  %q", err, want)
	case err != nil:
		t.Logf("reason: %s", err)
	}
}

func TestHTTPCheckStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			fmt.Fprintln(w, "ok")
		case "/down":
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	expect(t, mustChecker(t, httpCheck(srv.URL+"/healthz")), "")
	expect(t, mustChecker(t, httpCheck(srv.URL+"/down")), "GET "+srv.URL+"/down: 503 Service Unavailable")
	expect(t, mustChecker(t, httpCheck(srv.URL+"/nope")), "GET "+srv.URL+"/nope: 404 Not Found")
	expect(t, mustChecker(t, httpCheck(srv.URL+"/empty")), "")

	only204 := httpCheck(srv.URL + "/healthz")
	only204.Status = config.StatusRange{Min: 204, Max: 204}
	expect(t, mustChecker(t, only204), "GET "+srv.URL+"/healthz: 200 OK")
	only204.URL = srv.URL + "/empty"
	expect(t, mustChecker(t, only204), "")
}

func TestHTTPCheckBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"status": "degraded", "db": "down"}`)
	}))
	defer srv.Close()
	c := httpCheck(srv.URL + "/status")
	c.Body = `"db": "down"`
	expect(t, mustChecker(t, c), "")
	c.Body = `"db": "up"`
	expect(t, mustChecker(t, c), `GET `+srv.URL+`/status: 200 OK, but the body does not contain "\"db\": \"up\""; it begins "{\"status\": \"degraded\", \"db\": \"down\"}\n"`)
}

func TestHTTPCheckSendsTheHostHeader(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "www.example.test" {
			http.Error(w, "unknown site "+r.Host, http.StatusMisdirectedRequest)
		}
	}))
	defer srv.Close()
	c := httpCheck(srv.URL + "/")
	expect(t, mustChecker(t, c), "GET "+srv.URL+"/: 421 Misdirected Request")
	c.HostHeader = "www.example.test"
	expect(t, mustChecker(t, c), "")
}

func TestHTTPCheckDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			followed.Add(1)
			return
		}
		http.Redirect(w, r, "/login", http.StatusFound)
	}))
	defer srv.Close()
	c := httpCheck(srv.URL + "/")
	c.Status = config.StatusRange{Min: 200, Max: 299}
	expect(t, mustChecker(t, c), "GET "+srv.URL+"/: 302 Found, a redirect to /login (redirects are not followed; expected status 200-299)")
	if n := followed.Load(); n != 0 {
		t.Errorf("the check followed the redirect %d times", n)
	}
	c.Status = config.StatusRange{Min: 200, Max: 399} // the default accepts it
	expect(t, mustChecker(t, c), "")
}

func TestHTTPSCheckVerifiesTheCertificateUnlessToldNot(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are expected
	srv.StartTLS()
	defer srv.Close()

	c := httpCheck(srv.URL + "/")
	err := mustChecker(t, c).Check(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "GET "+srv.URL+"/: tls: failed to verify certificate: x509:") {
		t.Fatalf("check of a self-signed server with tls_verify on (the default): %v, want a certificate error", err)
	}
	t.Logf("reason: %s", err)

	on := true
	c.TLSVerify = &on
	if err := mustChecker(t, c).Check(context.Background()); err == nil {
		t.Fatal("check of a self-signed server with tls_verify: true passed")
	}
	off := false
	c.TLSVerify = &off
	expect(t, mustChecker(t, c), "")
}

func TestHTTPCheckOpensAFreshConnectionEachTime(t *testing.T) {
	var opened, closed atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.Close {
			http.Error(w, "the check asked to keep the connection", http.StatusBadRequest)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed:
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	checker := mustChecker(t, httpCheck(srv.URL+"/"))
	for range 3 {
		expect(t, checker, "")
	}
	if n := opened.Load(); n != 3 {
		t.Errorf("3 probes opened %d connections, want 3", n)
	}
	eventually(t, "every connection is closed", func() bool { return closed.Load() == 3 })
}

func TestHTTPCheckConnectionRefused(t *testing.T) {
	addr := closedPort(t)
	expect(t, mustChecker(t, httpCheck("http://"+addr+"/healthz")),
		"GET http://"+addr+"/healthz: dial tcp "+addr+": connect: connection refused")
}

func TestHTTPCheckTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c := httpCheck(srv.URL + "/slow")
	c.Timeout = config.D(200 * time.Millisecond)
	expect(t, mustChecker(t, c), "GET "+srv.URL+"/slow: timed out after 200ms")
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
