package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/api"
)

type peerKey struct{}

// Serve answers the control API on the unix socket at path until ctx ends.
// The socket is mode 0660 and owned by group, so the kernel lets only root
// and that group connect; drain, undrain and reload also need the caller
// to be root, read from the connection's peer credentials. An empty group
// makes the socket root's alone. A stale socket file is replaced; a live
// one means another vipd runs, which is an error.
func (a *Agent) Serve(ctx context.Context, path, group string) error {
	ln, err := listenControl(path, group)
	if err != nil {
		return err
	}
	return a.serveOn(ctx, ln)
}

// serveOn serves the control API on ln until ctx ends.
func (a *Agent) serveOn(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if uc, ok := c.(*net.UnixConn); ok {
				if cred, err := peerCred(uc); err == nil {
					return context.WithValue(ctx, peerKey{}, cred)
				}
			}
			return ctx
		},
	}
	stopped := make(chan struct{})
	defer func() { <-stopped }()
	served := make(chan struct{})
	defer close(served)
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
		case <-served:
		}
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("control socket %s: %w", ln.Addr(), err)
	}
	return nil
}

func listenControl(path, group string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another vipd is running and answers on it; stop it first", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: remove stale %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	mode := os.FileMode(0o600)
	if group != "" {
		g, err := user.LookupGroup(group)
		if err == nil {
			gid, _ := strconv.Atoi(g.Gid)
			err = os.Chown(path, 0, gid)
		}
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("control socket %s: give it to group %q (control.group): %w; create the group with 'groupadd --system %s' or set control.group to \"\"", path, group, err, group)
		}
		mode = 0o660
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil {
		return nil, err
	}
	return cred, credErr
}

func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathStatus, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.status(r.URL.Query().Get(api.QueryHosts) != "0"))
	})
	mux.HandleFunc("GET "+api.PathMembers, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Members())
	})
	mux.HandleFunc("GET "+api.PathChecks, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Checks())
	})
	mux.HandleFunc("GET "+api.PathDoctor, a.serveDoctor)
	mux.HandleFunc("POST "+api.PathDrain, rootOnly("drain", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Drain(r.Context(), r.URL.Query().Get("wait") == "true"))
	}))
	mux.HandleFunc("POST "+api.PathUndrain, rootOnly("undrain", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Undrain())
	}))
	mux.HandleFunc("POST "+api.PathReload, rootOnly("reload", func(w http.ResponseWriter, r *http.Request) {
		res, err := a.Reload(r.Context())
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, api.Error{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, res)
	}))
	return mux
}

// rootOnly lets only a caller whose peer credentials say uid 0 through.
func rootOnly(what string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cred, _ := r.Context().Value(peerKey{}).(*unix.Ucred)
		if cred == nil || cred.Uid != 0 {
			writeJSON(w, http.StatusForbidden, api.Error{Error: what + " is for root only: run it with sudo"})
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
