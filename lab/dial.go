package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
)

// DialContext connects from inside the node's namespace. address must be a
// literal IP and port in the documentation ranges: no name lookups, and no
// way to reach a real network by mistake.
func (n *Node) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	conn, err := n.dial(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("from %s: %w", n.name, err)
	}
	return conn, nil
}

func (n *Node) dial(ctx context.Context, network, address string) (net.Conn, error) {
	dst, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: want a literal ip:port: %w", address, err)
	}
	if err := checkLabAddr(dst.Addr()); err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	var conn net.Conn
	err = inNetns(n.netns, func() error {
		var d net.Dialer
		// One literal address: the dialer creates the socket on this
		// goroutine, hence on the thread that is in the namespace.
		conn, err = d.DialContext(ctx, network, address)
		return err
	})
	return conn, err
}

// maxBody bounds what HTTPGet reads: lab servers answer with a host name.
const maxBody = 64 << 10

// HTTPGet fetches url from inside the node's namespace on a fresh connection
// and returns the body. Anything but 200 OK is an error.
func (n *Node) HTTPGet(ctx context.Context, url string) (string, error) {
	transport := &http.Transport{
		Proxy:             nil, // never a proxy from the environment
		DialContext:       n.dial,
		DisableKeepAlives: true, // each request finds the current owner afresh
	}
	defer transport.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("get %s from %s: %w", url, n.name, err)
	}
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		return "", fmt.Errorf("from %s: %w", n.name, err) // err names the URL
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", fmt.Errorf("get %s from %s: read body: %w", url, n.name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("get %s from %s: %s", url, n.name, resp.Status)
	}
	return string(body), nil
}

// URL is "http://ip:port/" for an address of the lab, with brackets for IPv6.
func URL(addr netip.Addr, port uint16) string {
	return "http://" + netip.AddrPortFrom(addr, port).String() + "/"
}
