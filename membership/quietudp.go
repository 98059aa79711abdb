package membership

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// quietUDP reads and writes the gossip socket with raw system calls.
//
// It exists for the idle cost. When every goroutine is idle, Go's runtime
// parks its monitor thread (sysmon), and the next ordinary system call of
// any goroutine wakes it again (runtime.entersyscall); it then sleeps
// 20 µs, sees nothing to do and parks. So every heartbeat sent or received
// on an idle host cost three extra context switches, about a quarter of
// vipd's idle CPU (perf, issue #16). A recvfrom or sendto on a
// non-blocking UDP socket never blocks, so it may skip the runtime's system
// call bookkeeping; the poller still waits for the socket to be ready.
type quietUDP struct {
	rc syscall.RawConn
	// inet6 is whether the socket is AF_INET6 (a wildcard bind is
	// dual-stack): IPv4 peers are then written to as v4-mapped addresses.
	inet6 bool
}

func newQuietUDP(c *net.UDPConn) (*quietUDP, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var domain int
	cerr := rc.Control(func(fd uintptr) {
		domain, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
	})
	if err = errors.Join(cerr, err); err != nil {
		return nil, fmt.Errorf("reading the gossip socket's address family: %w", err)
	}
	return &quietUDP{rc: rc, inet6: domain == unix.AF_INET6}, nil
}

// readFrom reads one packet into buf, which must not be empty, waiting
// until one comes or the socket is closed.
func (q *quietUDP) readFrom(buf []byte) (int, netip.AddrPort, error) {
	var (
		n     int
		from  syscall.RawSockaddrAny
		errno syscall.Errno
	)
	err := q.rc.Read(func(fd uintptr) bool {
		for {
			size := uint32(syscall.SizeofSockaddrAny)
			r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd,
				uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0,
				uintptr(unsafe.Pointer(&from)), uintptr(unsafe.Pointer(&size)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // nothing yet: wait in the poller
			}
			n, errno = int(r), e
			return true
		}
	})
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if errno != 0 {
		return 0, netip.AddrPort{}, os.NewSyscallError("recvfrom", errno)
	}
	return n, sockaddrAddrPort(&from), nil
}

// writeTo sends b to to in one packet.
func (q *quietUDP) writeTo(b []byte, to netip.AddrPort) error {
	sa, size, err := q.sockaddr(to)
	if err != nil {
		return err
	}
	var data unsafe.Pointer
	if len(b) > 0 {
		data = unsafe.Pointer(&b[0])
	}
	var errno syscall.Errno
	err = q.rc.Write(func(fd uintptr) bool {
		for {
			_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd,
				uintptr(data), uintptr(len(b)), 0,
				uintptr(unsafe.Pointer(&sa)), uintptr(size))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // the send buffer is full: wait in the poller
			}
			errno = e
			return true
		}
	})
	if err != nil {
		return err
	}
	if errno != 0 {
		return os.NewSyscallError("sendto", errno)
	}
	return nil
}

// sockaddr encodes to for this socket's address family.
func (q *quietUDP) sockaddr(to netip.AddrPort) (syscall.RawSockaddrAny, uintptr, error) {
	var sa syscall.RawSockaddrAny
	addr := to.Addr()
	if !addr.IsValid() {
		return sa, 0, fmt.Errorf("sending to %v: no address", to)
	}
	if !q.inet6 {
		if !addr.Unmap().Is4() {
			return sa, 0, fmt.Errorf("sending to %v: the gossip socket is IPv4 only", to)
		}
		sa4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&sa))
		sa4.Family = syscall.AF_INET
		putPort(&sa4.Port, to.Port())
		sa4.Addr = addr.Unmap().As4()
		return sa, syscall.SizeofSockaddrInet4, nil
	}
	sa6 := (*syscall.RawSockaddrInet6)(unsafe.Pointer(&sa))
	sa6.Family = syscall.AF_INET6
	putPort(&sa6.Port, to.Port())
	sa6.Addr = addr.As16() // an IPv4 address comes out v4-mapped
	if zone := addr.Zone(); zone != "" {
		id, err := zoneIndex(zone)
		if err != nil {
			return sa, 0, fmt.Errorf("sending to %v: %w", to, err)
		}
		sa6.Scope_id = id
	}
	return sa, syscall.SizeofSockaddrInet6, nil
}

// sockaddrAddrPort decodes a sender's address; an IPv4 sender on a
// dual-stack socket comes out as IPv4.
func sockaddrAddrPort(sa *syscall.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case syscall.AF_INET:
		sa4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), getPort(&sa4.Port))
	case syscall.AF_INET6:
		sa6 := (*syscall.RawSockaddrInet6)(unsafe.Pointer(sa))
		addr := netip.AddrFrom16(sa6.Addr).Unmap()
		if sa6.Scope_id != 0 && addr.Is6() {
			addr = addr.WithZone(strconv.FormatUint(uint64(sa6.Scope_id), 10))
		}
		return netip.AddrPortFrom(addr, getPort(&sa6.Port))
	}
	return netip.AddrPort{}
}

// zoneIndex is the interface index of an IPv6 zone: a number, or a name.
func zoneIndex(zone string) (uint32, error) {
	if id, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(id), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, fmt.Errorf("zone %q: %w", zone, err)
	}
	return uint32(ifi.Index), nil
}

// putPort and getPort write and read a port in network byte order.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}
