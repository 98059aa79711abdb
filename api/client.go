package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
)

// DefaultSocket is where vipd listens unless control.socket says otherwise.
const DefaultSocket = "/run/vipd/vipd.sock"

// Sentinel errors a script can tell apart; the wrapped messages say what
// to do.
var (
	ErrNotRunning = errors.New("vipd is not running")
	ErrPermission = errors.New("permission denied")
)

// Client talks to one vipd over its control socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	dialer := &net.Dialer{}
	return &Client{
		socket: socket,
		http: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, "unix", socket)
			},
		}},
	}
}

// Status returns the VIPs as this host sees them.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodGet, PathStatus, url.Values{QueryHosts: {"0"}}, &s)
}

// StatusWithHosts is Status with, for every VIP, every host and whether it
// may own the VIP (VIPStatus.Hosts), which Status leaves out.
func (c *Client) StatusWithHosts(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodGet, PathStatus, nil, &s)
}

// Members returns the gossip cluster's hosts.
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	var m []Member
	return m, c.do(ctx, http.MethodGet, PathMembers, nil, &m)
}

// Checks returns this host's health checks.
func (c *Client) Checks(ctx context.Context) ([]Check, error) {
	var ch []Check
	return ch, c.do(ctx, http.MethodGet, PathChecks, nil, &ch)
}

// Drain hands this host's VIPs to other hosts and keeps it from taking
// any. With wait, it returns once the VIPs are handed over or the drain
// timeout has passed.
func (c *Client) Drain(ctx context.Context, wait bool) (DrainResult, error) {
	q := url.Values{}
	if wait {
		q.Set("wait", "true")
	}
	var r DrainResult
	return r, c.do(ctx, http.MethodPost, PathDrain, q, &r)
}

// Undrain lets this host take VIPs again. It does not take any back.
func (c *Client) Undrain(ctx context.Context) (DrainResult, error) {
	var r DrainResult
	return r, c.do(ctx, http.MethodPost, PathUndrain, nil, &r)
}

// Reload makes the daemon re-read its config file. A bad file is an error
// and the daemon keeps running the config it had.
func (c *Client) Reload(ctx context.Context) (ReloadResult, error) {
	var r ReloadResult
	return r, c.do(ctx, http.MethodPost, PathReload, nil, &r)
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, out any) error {
	u := url.URL{Scheme: "http", Host: "vipd", Path: path, RawQuery: query.Encode()}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.dialError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e Error
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(body))
		}
		if resp.StatusCode == http.StatusForbidden {
			return fmt.Errorf("%w: %s", ErrPermission, e.Error)
		}
		return errors.New(e.Error)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: bad answer from vipd: %w", method, path, err)
	}
	return nil
}

func (c *Client) dialError(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: nothing listens on %s; start it with 'systemctl start vipd' or point --socket at its control.socket", ErrNotRunning, c.socket)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w on %s: run as root or as a member of the group in control.group", ErrPermission, c.socket)
	}
	return fmt.Errorf("talk to vipd on %s: %w", c.socket, err)
}
