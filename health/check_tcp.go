package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/vipd/vipd/config"
)

// tcpChecker passes when a TCP connection to address opens; it closes the
// connection at once without sending anything.
type tcpChecker struct {
	address string
	timeout time.Duration
}

func newTCPChecker(c *config.Check) (*tcpChecker, error) {
	if c.Address == "" {
		return nil, errors.New("tcp check: address is missing")
	}
	return &tcpChecker{address: c.Address, timeout: c.Timeout.Duration}, nil
}

func (t *tcpChecker) watchAddress() string { return t.address }

func (t *tcpChecker) Check(ctx context.Context) error {
	probeCtx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(probeCtx, "tcp", t.address)
	if err != nil {
		if timedOut(ctx, probeCtx, err) {
			return fmt.Errorf("dial tcp %s: %s", t.address, timedOutAfter(t.timeout))
		}
		// A *net.OpError already reads "dial tcp 127.0.0.1:80: connect:
		// connection refused".
		return err
	}
	return conn.Close()
}
