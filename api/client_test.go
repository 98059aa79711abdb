package api

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "vipd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestClientDecodesStatus(t *testing.T) {
	sock := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != PathStatus || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(Status{Node: "h1", VIPs: []VIPStatus{{Name: "web", Health: HealthOK, Role: RoleOwner, Owner: "h1"}}})
	}))
	st, err := NewClient(sock).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Node != "h1" || len(st.VIPs) != 1 || st.VIPs[0].Role != RoleOwner || st.VIPs[0].Health != HealthOK {
		t.Fatalf("got %+v", st)
	}
}

func TestClientSendsDrainWait(t *testing.T) {
	sock := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != PathDrain || r.URL.Query().Get("wait") != "true" {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(DrainResult{Drained: true, HandedOver: []string{"web"}})
	}))
	r, err := NewClient(sock).Drain(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Drained || len(r.HandedOver) != 1 {
		t.Fatalf("got %+v", r)
	}
}

func TestClientReportsTheDaemonsError(t *testing.T) {
	sock := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		json.NewEncoder(w).Encode(Error{Error: "/etc/vipd.yaml:3:5: vips[0].address: bad"})
	}))
	_, err := NewClient(sock).Reload(context.Background())
	if err == nil || err.Error() != "/etc/vipd.yaml:3:5: vips[0].address: bad" {
		t.Fatalf("got %v", err)
	}
}

func TestClientForbiddenIsErrPermission(t *testing.T) {
	sock := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(Error{Error: "drain is for root only"})
	}))
	_, err := NewClient(sock).Drain(context.Background(), false)
	if !errors.Is(err, ErrPermission) {
		t.Fatalf("got %v, want ErrPermission", err)
	}
}

func TestClientWithoutDaemonSaysNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "missing.sock")
	_, err := NewClient(sock).Status(context.Background())
	if !errors.Is(err, ErrNotRunning) {
		t.Fatalf("got %v, want ErrNotRunning", err)
	}
	// A stale socket file with nobody behind it is the same story.
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(sock).Status(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("stale socket: got %v, want ErrNotRunning", err)
	}
}
