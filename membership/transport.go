package membership

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"golang.org/x/sys/unix"
)

// transport is memberlist's network transport for vipd: the gossip port's
// TCP listener and UDP socket on one bind address.
//
// It exists for the idle cost. memberlist's own NetTransport reads every
// UDP packet into a fresh 64 KiB buffer (the packet is handed on and the
// buffer with it), so each heartbeat and probe received allocated and
// zeroed 64 KiB: at idle that was a tenth of vipd's CPU, and the garbage
// collections it set off another tenth. This one reads into one buffer and
// hands on a copy of the bytes received, and sends to an address without
// resolving it again for every packet; its UDP packets go through raw
// system calls (quietudp.go), which do not wake the runtime's monitor
// thread. Otherwise it behaves the same: a packet or a connection goes to
// memberlist through a channel, in order.
type transport struct {
	tcp   *net.TCPListener
	udp   *net.UDPConn
	quiet *quietUDP // udp's packets, read and written without waking the runtime

	packets chan *memberlist.Packet
	streams chan net.Conn

	// logf logs in memberlist's format (its logger adapter sees the line).
	logf func(format string, args ...any)
	// heartbeat gets every packet that starts with heartbeatMagic, on the
	// read loop, in the read buffer: memberlist never sees them.
	heartbeat func([]byte)

	shutdown atomic.Bool
	wg       sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*transport)(nil)

// udpRecvBuffer is the socket receive buffer asked for (memberlist's own
// figure); a smaller one is taken when the kernel refuses.
const udpRecvBuffer = 2 * 1024 * 1024

// maxPacket is the largest UDP payload.
const maxPacket = 65536

// packetQueue is how many packets may wait for memberlist's handler: while
// it works through a burst of gossip, the read loop goes on taking the
// heartbeats behind them out of the socket.
const packetQueue = 64

// newTransport listens on bind:port (port 0: a free port, the same for TCP
// and UDP) and hands heartbeats (heartbeat_wire.go) to heartbeat.
func newTransport(bind string, port int, logf func(string, ...any), heartbeat func([]byte)) (*transport, error) {
	ip := net.ParseIP(bind)
	if ip == nil {
		return nil, fmt.Errorf("bind address %q is no IP address", bind)
	}
	tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: port})
	if err != nil {
		return nil, err
	}
	if port == 0 {
		port = tcp.Addr().(*net.TCPAddr).Port
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
	if err != nil {
		_ = tcp.Close()
		return nil, err
	}
	for size := udpRecvBuffer; size > 0; size /= 2 {
		if udp.SetReadBuffer(size) == nil {
			break
		}
	}
	quiet, err := newQuietUDP(udp)
	if err != nil {
		_ = tcp.Close()
		_ = udp.Close()
		return nil, err
	}
	t := &transport{
		tcp: tcp, udp: udp, quiet: quiet,
		packets:   make(chan *memberlist.Packet, packetQueue),
		streams:   make(chan net.Conn),
		logf:      logf,
		heartbeat: heartbeat,
	}
	t.wg.Add(2)
	go t.accept()
	go t.read()
	return t, nil
}

// Port is the port bound.
func (t *transport) Port() int { return t.tcp.Addr().(*net.TCPAddr).Port }

// FinalAdvertiseAddr returns ip:port, or the bound address and port when ip
// is empty (New names an address whenever it binds a wildcard one).
func (t *transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip == "" {
		a := t.tcp.Addr().(*net.TCPAddr)
		if a.IP.IsUnspecified() {
			return nil, 0, errors.New("no advertise address for a wildcard bind address")
		}
		return a.IP, a.Port, nil
	}
	a := net.ParseIP(ip)
	if a == nil {
		return nil, 0, fmt.Errorf("advertise address %q is no IP address", ip)
	}
	if a4 := a.To4(); a4 != nil {
		a = a4
	}
	return a, port, nil
}

// WriteTo sends one packet to addr (ip:port).
func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		// Not a literal address: resolve it, as memberlist would.
		ua, rerr := net.ResolveUDPAddr("udp", addr)
		if rerr != nil {
			return time.Time{}, rerr
		}
		_, err = t.udp.WriteTo(b, ua)
		return time.Now(), err
	}
	return time.Now(), t.quiet.writeTo(b, ap)
}

// WriteToAddress sends one packet to a.Addr.
func (t *transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

// PacketCh delivers the packets received.
func (t *transport) PacketCh() <-chan *memberlist.Packet { return t.packets }

// IngestPacket hands memberlist a packet that came over a stream.
func (t *transport) IngestPacket(conn net.Conn, addr net.Addr, now time.Time, shouldClose bool) error {
	if shouldClose {
		defer conn.Close()
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, conn); err != nil {
		return fmt.Errorf("reading a packet: %w", err)
	}
	if buf.Len() < 1 {
		return fmt.Errorf("packet too short (0 bytes) from %s", addr)
	}
	t.packets <- &memberlist.Packet{Buf: buf.Bytes(), From: addr, Timestamp: now}
	return nil
}

// DialTimeout opens a stream to addr.
func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.Dial("tcp", addr)
}

// DialAddressTimeout opens a stream to a.Addr.
func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

// StreamCh delivers the connections accepted.
func (t *transport) StreamCh() <-chan net.Conn { return t.streams }

// IngestStream hands memberlist a connection.
func (t *transport) IngestStream(conn net.Conn) error {
	t.streams <- conn
	return nil
}

// Shutdown closes the sockets and waits for the readers. memberlist calls
// it while it still reads the channels, so a reader handing on a packet or
// a connection finishes, then finds its socket closed and returns.
func (t *transport) Shutdown() error {
	t.shutdown.Store(true)
	_ = t.tcp.Close()
	_ = t.udp.Close()
	t.wg.Wait()
	return nil
}

// accept hands every connection accepted to memberlist.
func (t *transport) accept() {
	defer t.wg.Done()
	delay := time.Duration(0)
	for {
		conn, err := t.tcp.AcceptTCP()
		if err != nil {
			if t.shutdown.Load() {
				return
			}
			// Out of file descriptors and the like: back off, up to 1 s.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t.logf("[ERR] memberlist: Error accepting TCP connection: %v", err)
			time.Sleep(delay)
			continue
		}
		delay = 0
		t.streams <- conn
	}
}

// read hands every UDP packet received to memberlist, but heartbeats to
// the heartbeat handler: one read buffer, and a copy of the bytes received
// for memberlist to keep.
func (t *transport) read() {
	defer t.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, from, err := t.quiet.readFrom(buf)
		now := time.Now()
		if err != nil {
			if t.shutdown.Load() {
				return
			}
			t.logf("[ERR] memberlist: Error reading UDP packet: %v", err)
			continue
		}
		if n < 1 {
			continue
		}
		if buf[0] == heartbeatMagic && t.heartbeat != nil {
			t.heartbeat(buf[:n])
			continue
		}
		t.packets <- &memberlist.Packet{Buf: bytes.Clone(buf[:n]), From: net.UDPAddrFromAddrPort(from), Timestamp: now}
	}
}

// backlog reports whether a packet is waiting in the UDP socket, not yet
// read: a heartbeat may be among them.
func (t *transport) backlog() bool {
	rc, err := t.udp.SyscallConn()
	if err != nil {
		return false
	}
	var waiting int
	if rc.Control(func(fd uintptr) { waiting, err = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }) != nil || err != nil {
		return false
	}
	return waiting > 0
}
