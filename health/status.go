package health

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// Status is the state of one check on this host.
type Status struct {
	Check string
	// Up is true once the check has passed Rise probes in a row, and false
	// again once it has failed Fall probes in a row, or at once when nothing
	// listens where it probes (see confirmsAtOnce). It starts false.
	Up bool
	// Reason explains Up. While down it is the failure that brought the
	// check down or keeps it down, such as
	// "GET http://127.0.0.1:8404/healthz: 503 Service Unavailable", or how
	// far a check that has not failed yet has risen.
	Reason string
	// Since is when Up last changed, or when the check was set up if it has
	// not changed yet.
	Since time.Time
	// Passes and Failures count the latest probes in a row that passed or
	// failed; one of the two is always 0.
	Passes   int
	Failures int
	// LastProbe is when the latest probe started; zero before the first.
	LastProbe time.Time
	// LastError is the latest probe's failure, "" if it passed. A check that
	// is up can have one: it has not failed Fall times in a row yet.
	LastError string

	// cause is the failure that keeps a down check down, "" if it has not
	// failed since it started. Reason repeats it while the check rises, so
	// the operator still sees what went wrong.
	cause string
}

const notCheckedYet = "not checked yet"

func initialStatus(check string, now time.Time) Status {
	return Status{Check: check, Reason: notCheckedYet, Since: now}
}

// advance returns the status after a probe that started at at and ended
// with err (nil when it passed), for a check that needs rise passes in a row
// to come up and fall failures in a row to go down.
func advance(st Status, at time.Time, err error, rise, fall int) Status {
	st.LastProbe = at
	if err != nil {
		st.LastError, st.Passes = err.Error(), 0
		st.Failures++
		if st.Up && st.Failures < fall && !confirmsAtOnce(err) {
			return st // tolerated: one lost probe must not move a VIP
		}
		if st.Up {
			st.Up, st.Since = false, at
		}
		st.cause, st.Reason = st.LastError, st.LastError
		return st
	}
	st.LastError, st.Failures = "", 0
	st.Passes++
	switch {
	case st.Up:
	case st.Passes >= rise:
		st.Up, st.Since, st.cause = true, at, ""
		st.Reason = risenReason(rise)
	case st.cause != "":
		st.Reason = fmt.Sprintf("%s (since then passed %d of %d probes needed)", st.cause, st.Passes, rise)
	default:
		st.Reason = fmt.Sprintf("starting: passed %d of %d probes needed", st.Passes, rise)
	}
	return st
}

func risenReason(rise int) string {
	if rise == 1 {
		return "passed 1 probe"
	}
	return fmt.Sprintf("passed %d probes in a row", rise)
}

// confirmsAtOnce reports whether a failed probe is evidence enough on its
// own that the backend is gone, so that the check goes down at once rather
// than after fall failures: the connection was refused (or, for a unix
// socket, the socket file is missing), which means no process listens
// where the check probes.
//
// Checks probe this host's own backend, so a refusal comes from this host's
// kernel and says the backend has stopped or crashed; it is not how a busy
// or slow backend fails. An overloaded listener drops new connections and
// the probe times out, and a slow answer times out too: timeouts, like bad
// statuses and resets, are ordinary failures that must reach fall (re-checked
// at the fast interval), so one slow response never moves a VIP. A reset
// after the connection opened is ordinary as well, since that is also what
// one crashed worker looks like while the listener stays up. A refused
// probe waits for nothing: the clients of the VIP are being refused too, and
// waiting fall-1 more probes would only add their delay to the move.
func confirmsAtOnce(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return false
	}
	return errors.Is(op.Err, syscall.ECONNREFUSED) || (op.Net == "unix" && errors.Is(op.Err, syscall.ENOENT))
}
