package lab

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// NeedRootMessage is how a lab test explains why it skipped.
const NeedRootMessage = "lab test needs root and network namespaces: run `make test` as root"

// RequireRoot skips the test unless it runs as root on a kernel and system
// where network namespaces can be created with `ip netns`.
func RequireRoot(t testing.TB) {
	t.Helper()
	if err := netnsSupport(); err != nil {
		t.Skipf("%s (%v)", NeedRootMessage, err)
	}
}

// netnsSupport is checked once per test binary: the answer cannot change.
var netnsSupport = sync.OnceValue(func() error {
	if euid := os.Geteuid(); euid != 0 {
		return fmt.Errorf("running as uid %d", euid)
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns list: %w: %s", err, out)
	}
	return canUnshareNetns()
})

// canUnshareNetns proves we may create network namespaces without naming one:
// a throw-away thread moves into a fresh namespace and then dies with it.
func canUnshareNetns() error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the runtime discards the thread when this goroutine ends.
		runtime.LockOSThread()
		errc <- syscall.Unshare(syscall.CLONE_NEWNET)
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("unshare network namespace: %w", err)
	}
	return nil
}
