package membership

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func listenQuiet(t *testing.T, addr string) (*net.UDPConn, *quietUDP) {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	q, err := newQuietUDP(c)
	if err != nil {
		t.Fatal(err)
	}
	return c, q
}

func localAddrPort(t *testing.T, c *net.UDPConn, ip string) netip.AddrPort {
	t.Helper()
	port := c.LocalAddr().(*net.UDPAddr).Port
	return netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(port))
}

// Packets go both ways between quiet sockets of each address family, and a
// reader learns the sender's address as a plain address it can answer to.
func TestQuietUDPCarriesPacketsBothWays(t *testing.T) {
	for _, tc := range []struct{ name, bind, ip string }{
		{"IPv4", "127.0.0.1:0", "127.0.0.1"},
		{"IPv6", "[::1]:0", "::1"},
		{"dual-stack socket, IPv4 peer", "[::]:0", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca, qa := listenQuiet(t, tc.bind)
			cb, qb := listenQuiet(t, tc.bind)
			a, b := localAddrPort(t, ca, tc.ip), localAddrPort(t, cb, tc.ip)

			if err := qa.writeTo([]byte("ping"), b); err != nil {
				t.Fatalf("a writes to b: %v", err)
			}
			buf := make([]byte, 64)
			n, from, err := qb.readFrom(buf)
			if err != nil || string(buf[:n]) != "ping" || from != a {
				t.Fatalf("b read %q from %v (%v), want \"ping\" from %v", buf[:n], from, err, a)
			}
			if err := qb.writeTo([]byte("pong"), from); err != nil {
				t.Fatalf("b answers to %v: %v", from, err)
			}
			n, from, err = qa.readFrom(buf)
			if err != nil || string(buf[:n]) != "pong" || from != b {
				t.Fatalf("a read %q from %v (%v), want \"pong\" from %v", buf[:n], from, err, b)
			}
		})
	}
}

// An IPv4-only socket refuses an IPv6 destination with an error, as the
// net package would.
func TestQuietUDPRefusesTheOtherFamily(t *testing.T) {
	_, q := listenQuiet(t, "127.0.0.1:0")
	if err := q.writeTo([]byte("x"), netip.MustParseAddrPort("[2001:db8::1]:7946")); err == nil {
		t.Fatal("an IPv4 socket sent to an IPv6 address")
	}
}

// Closing the socket ends a read that waits, with net.ErrClosed, so the
// transport's read loop can stop.
func TestQuietUDPReadEndsWhenClosed(t *testing.T) {
	c, q := listenQuiet(t, "127.0.0.1:0")
	done := make(chan error, 1)
	go func() {
		_, _, err := q.readFrom(make([]byte, 64))
		done <- err
	}()
	_ = c.Close() // whether the read waits in the poller yet or not, it must end
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read ended with %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read went on waiting after its socket closed")
	}
}
