package lab

import (
	"fmt"
	"testing"
	"time"
)

// pollEvery is how often Eventually retries: short next to any timeout a
// lab test uses, long enough not to busy the machine.
const pollEvery = 10 * time.Millisecond

// Eventually calls check until it returns nil, and fails the test with the
// last error if that does not happen within timeout.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	if err := poll(timeout, check); err != nil {
		t.Fatal(err)
	}
}

func poll(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after %v: %w", timeout, err)
		}
		time.Sleep(pollEvery)
	}
}
