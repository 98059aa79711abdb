package membership

import (
	"net"
	"testing"
	"time"
)

// backlog sees a packet that waits in the socket, and no longer once it has
// been read.
func TestTransportBacklog(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tr := &transport{udp: conn} // no read loop: packets stay in the socket
	if tr.backlog() {
		t.Fatal("backlog of an empty socket")
	}
	sender, err := net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	if _, err := sender.Write([]byte{heartbeatMagic, 2, 0}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the packet sent never showed as waiting", tr.backlog)
	if _, _, err := conn.ReadFromUDP(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	if tr.backlog() {
		t.Error("backlog after the only packet was read")
	}
}
