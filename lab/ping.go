package lab

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// ICMP echo types (RFC 792, RFC 4443).
const (
	icmpv4EchoRequest = 8
	icmpv4EchoReply   = 0
	icmpv6EchoRequest = 128
	icmpv6EchoReply   = 129
	pingResendEvery   = 200 * time.Millisecond
)

// Ping sends ICMP echo requests from inside the node's namespace to dst, one
// every 200 ms, until a reply arrives (nil) or ctx ends (error). The lab has no
// ping binary to rely on, so this speaks ICMP itself over a raw socket.
func (n *Node) Ping(ctx context.Context, dst netip.Addr) error {
	if err := n.ping(ctx, dst); err != nil {
		return fmt.Errorf("ping %s from %s: %w", dst, n.name, err)
	}
	return nil
}

func (n *Node) ping(ctx context.Context, dst netip.Addr) error {
	if err := checkLabAddr(dst); err != nil {
		return err
	}
	network, listen, request, reply := "ip4:icmp", "0.0.0.0", icmpv4EchoRequest, icmpv4EchoReply
	if dst.Is6() {
		network, listen, request, reply = "ip6:ipv6-icmp", "::", icmpv6EchoRequest, icmpv6EchoReply
	}
	var conn net.PacketConn
	err := inNetns(n.netns, func() (err error) {
		conn, err = net.ListenPacket(network, listen)
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()

	var idBytes [2]byte
	rand.Read(idBytes[:]) // a raw socket sees every echo reply: the ID picks out ours
	id := binary.BigEndian.Uint16(idBytes[:])
	to := &net.IPAddr{IP: dst.AsSlice()}
	var sendErr error
	for seq := uint16(1); ; seq++ {
		if _, err := conn.WriteTo(echoRequest(request, id, seq, !dst.Is6()), to); err != nil {
			sendErr = err // e.g. network unreachable while the link is down
		}
		// Waiting for a reply is also the pause before the next request; a
		// late reply to an earlier request counts too.
		err := awaitEchoReply(ctx, conn, dst, reply, id)
		if !errors.Is(err, errNoReplyYet) {
			return err
		}
		if ctx.Err() != nil {
			if sendErr != nil {
				return fmt.Errorf("no reply: %w (last send error: %v)", ctx.Err(), sendErr)
			}
			return fmt.Errorf("no reply: %w", ctx.Err())
		}
	}
}

var errNoReplyYet = errors.New("no echo reply yet")

// awaitEchoReply reads until our reply arrives (nil), or the resend interval
// or ctx's deadline passes (errNoReplyYet).
func awaitEchoReply(ctx context.Context, conn net.PacketConn, dst netip.Addr, replyType int, id uint16) error {
	deadline := time.Now().Add(pingResendEvery)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetReadDeadline(deadline); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		nbytes, from, err := conn.ReadFrom(buf)
		if err != nil {
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() {
				return errNoReplyYet
			}
			return err
		}
		src, ok := netip.AddrFromSlice(from.(*net.IPAddr).IP)
		if ok && src.Unmap() == dst && isEchoReply(buf[:nbytes], replyType, id) {
			return nil
		}
	}
}

// echoRequest builds an ICMP echo request. For ICMPv6 the kernel fills in
// the checksum, which covers a pseudo-header it alone knows.
func echoRequest(icmpType int, id, seq uint16, withChecksum bool) []byte {
	msg := []byte{byte(icmpType), 0, 0, 0, 0, 0, 0, 0, 'v', 'l', 'a', 'b'}
	binary.BigEndian.PutUint16(msg[4:], id)
	binary.BigEndian.PutUint16(msg[6:], seq)
	if withChecksum {
		binary.BigEndian.PutUint16(msg[2:], internetChecksum(msg))
	}
	return msg
}

func isEchoReply(msg []byte, replyType int, id uint16) bool {
	return len(msg) >= 8 && int(msg[0]) == replyType && msg[1] == 0 &&
		binary.BigEndian.Uint16(msg[4:]) == id
}

// internetChecksum is the RFC 1071 one's-complement sum.
func internetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = (sum >> 16) + (sum & 0xffff)
	}
	return ^uint16(sum)
}
