package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vipd/vipd/config"
)

// maxBody is how much of a response an http check reads to look for the
// expected body text.
const maxBody = 64 << 10

// httpChecker GETs a URL and passes when the status is in the expected
// range and, if asked, the body contains a given text.
//
// It probes the backend itself, never through a proxy from the environment,
// follows no redirect (a redirect is a status like any other), and opens a
// new connection for every probe, so a stale pooled connection can neither
// hide a dead backend nor fail a live one.
type httpChecker struct {
	url     string
	addr    string // the URL's host:port, which a connWatch may hold open
	host    string
	status  config.StatusRange
	body    string
	timeout time.Duration
	client  *http.Client
}

func newHTTPChecker(c *config.Check) (*httpChecker, error) {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%s check: %q is not an http:// or https:// URL", c.Type, c.URL)
	}
	status := c.Status
	if status.IsZero() {
		status = config.StatusRange{Min: 200, Max: 399}
	}
	tlsConfig := &tls.Config{
		// Verify unless the file says tls_verify: false.
		InsecureSkipVerify: c.TLSVerify != nil && !*c.TLSVerify,
	}
	if c.HostHeader != "" {
		// The backend is reached by address but serves a name: present and
		// verify that name, as a browser asking for it would.
		tlsConfig.ServerName = hostOnly(c.HostHeader)
	}
	transport := &http.Transport{
		Proxy:              nil,
		DialContext:        (&net.Dialer{}).DialContext,
		TLSClientConfig:    tlsConfig,
		DisableKeepAlives:  true,
		DisableCompression: true,
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return &httpChecker{
		url:     c.URL,
		addr:    net.JoinHostPort(u.Hostname(), port),
		host:    c.HostHeader,
		status:  status,
		body:    c.Body,
		timeout: c.Timeout.Duration,
		client: &http.Client{
			Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}, nil
}

func (h *httpChecker) watchAddress() string { return h.addr }

func (h *httpChecker) Check(ctx context.Context) error {
	probeCtx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	err := h.probe(probeCtx)
	if timedOut(ctx, probeCtx, err) {
		return fmt.Errorf("GET %s: %s", h.url, timedOutAfter(h.timeout))
	}
	return err
}

func (h *httpChecker) probe(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", h.url, err)
	}
	if h.host != "" {
		req.Host = h.host
	}
	req.Header.Set("User-Agent", "vipd-health-check")
	resp, err := h.client.Do(req)
	if err != nil {
		// Drop the url.Error wrapping, which quotes the URL a second time:
		// "GET http://127.0.0.1:80/: dial tcp 127.0.0.1:80: connect:
		// connection refused".
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("GET %s: %w", h.url, err)
	}
	defer resp.Body.Close()
	if !h.status.Contains(resp.StatusCode) {
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
			return fmt.Errorf("GET %s: %s, a redirect to %s (redirects are not followed; expected status %s)", h.url, resp.Status, loc, statusText(h.status))
		}
		return fmt.Errorf("GET %s: %s", h.url, resp.Status)
	}
	if h.body == "" {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("GET %s: %s, reading the body: %w", h.url, resp.Status, err)
	}
	if !strings.Contains(string(body), h.body) {
		return fmt.Errorf("GET %s: %s, but the body does not contain %q; it begins %q", h.url, resp.Status, h.body, head(body, 80))
	}
	return nil
}

func statusText(r config.StatusRange) string {
	text, _ := r.MarshalText()
	return string(text)
}

// hostOnly strips the port from a Host header value.
func hostOnly(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

func head(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
