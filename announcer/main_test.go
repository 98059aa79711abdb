package announcer

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain turns the binary into an announcer helper when a lab test starts
// it in a namespace, and otherwise checks that every goroutine ends.
func TestMain(m *testing.M) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		os.Exit(helperMain(cfg))
	}
	goleak.VerifyTestMain(m)
}
