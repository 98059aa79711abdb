package agent

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vipd/vipd/api"
)

func TestWritesNeedRootCredentials(t *testing.T) {
	a := newTestAgent(t, clusterYAML, t.TempDir())
	h := a.handler()
	for _, path := range []string{api.PathDrain, api.PathUndrain, api.PathReload} {
		rec := httptest.NewRecorder()
		// No peer credentials in the context: as if a non-root caller.
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, nil))
		if rec.Code != http.StatusForbidden {
			t.Errorf("POST %s without root: %d, want 403", path, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, api.PathStatus, nil))
	if rec.Code != http.StatusOK {
		t.Errorf("GET status: %d, want 200", rec.Code)
	}
	if a.Status().Drained {
		t.Error("a forbidden drain drained the host")
	}
}

func TestServeReplacesAStaleSocketAndRefusesALiveOne(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("drain over the socket needs root credentials")
	}
	a := newTestAgent(t, clusterYAML, t.TempDir())
	sock := filepath.Join(t.TempDir(), "run", "vipd.sock")
	os.MkdirAll(filepath.Dir(sock), 0o755)
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	ln, err := listenControl(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	go func() { served <- a.serveOn(ctx, ln) }()
	client := api.NewClient(sock)
	if info, err := os.Stat(sock); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v (%v), want 0600 with no group", info.Mode().Perm(), err)
	}
	res, err := client.Drain(context.Background(), false)
	if err != nil || !res.Drained {
		t.Errorf("drain as root: %+v %v", res, err)
	}
	if err := a.Serve(context.Background(), sock, ""); err == nil {
		t.Error("a second Serve on a live socket succeeded")
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := client.Status(context.Background()); !errors.Is(err, api.ErrNotRunning) {
		t.Errorf("after stop: %v, want ErrNotRunning", err)
	}
}
