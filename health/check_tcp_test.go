package health

import (
	"net"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

func TestTCPCheck(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		conn, err := l.Accept()
		if err == nil {
			conn.Close()
		}
	}()
	c := &config.Check{Type: config.CheckTCP, Address: l.Addr().String(), Interval: config.D(time.Second), Timeout: config.D(time.Second), Rise: 1, Fall: 1}
	checker := mustChecker(t, c)
	expect(t, checker, "")
	<-accepted

	l.Close()
	expect(t, checker, "dial tcp "+c.Address+": connect: connection refused")
}
