package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/vipd/vipd/config"
)

// Checker probes one thing once. Check returns nil when the thing works and
// otherwise an error whose text is the reason an operator reads in status
// and logs, such as "dial tcp 127.0.0.1:80: connect: connection refused".
// Check returns soon after ctx ends.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckerFunc lets a plain function be a Checker.
type CheckerFunc func(ctx context.Context) error

// Check calls f(ctx).
func (f CheckerFunc) Check(ctx context.Context) error { return f(ctx) }

// NewChecker returns the checker for c by its type. Every probe it makes is
// bounded by c's timeout, and one that runs out of time fails with a reason
// that says so ("... timed out after 500ms").
//
// It expects a check that config has validated; it reports what it cannot
// use, but does not repeat every rule of validation.
func NewChecker(c *config.Check) (Checker, error) {
	if c.Timeout.Duration <= 0 {
		return nil, fmt.Errorf("%s check: timeout %s must be more than 0s", c.Type, c.Timeout)
	}
	switch c.Type {
	case config.CheckHTTP, config.CheckHTTPS:
		return newHTTPChecker(c)
	case config.CheckTCP:
		return newTCPChecker(c)
	case config.CheckExec:
		return newExecChecker(c)
	case config.CheckHAProxy:
		return newHAProxyChecker(c)
	case config.CheckFile:
		return newFileChecker(c)
	}
	return nil, fmt.Errorf("unknown check type %q", c.Type)
}

// timedOut reports whether a probe bounded by probeCtx failed with err
// because its own timeout ran out, rather than because the caller gave up.
// A connection whose deadline is the probe's own can fail a moment before
// probeCtx ends: that is the same timeout.
func timedOut(parent, probeCtx context.Context, err error) bool {
	return err != nil && parent.Err() == nil &&
		(errors.Is(probeCtx.Err(), context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded))
}

func timedOutAfter(d time.Duration) string {
	return "timed out after " + d.String()
}
