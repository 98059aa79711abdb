package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns add` mounts named namespaces.
const netnsDir = "/run/netns"

// inNetns runs fn on an OS thread that has joined the named network
// namespace. Sockets fn creates stay in that namespace after fn returns, which
// is how the test process talks from inside a host. fn must create its sockets
// itself, not in goroutines it starts: those run on other threads.
//
// The thread goes back to the test process's namespace afterwards and is
// reused: a client probing 40 VIPs every 100 ms would otherwise make and
// discard 400 threads a second.
func inNetns(netns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := joinNetnsAndRun(netns, fn)
		if home {
			runtime.UnlockOSThread()
		}
		// Otherwise the thread stays locked, and the runtime discards it
		// with this goroutine rather than run other code in the wrong
		// namespace.
		errc <- err
	}()
	return <-errc
}

// joinNetnsAndRun moves the calling thread into netns, runs fn, and moves
// it back; home reports whether the thread is back in its own namespace.
func joinNetnsAndRun(netns string, fn func() error) (home bool, err error) {
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return true, fmt.Errorf("open this thread's netns: %w", err)
	}
	defer own.Close()
	f, err := os.Open(filepath.Join(netnsDir, netns))
	if err != nil {
		return true, fmt.Errorf("open netns %s: %w", netns, err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return true, fmt.Errorf("join netns %s: %w", netns, err)
	}
	err = fn()
	return unix.Setns(int(own.Fd()), unix.CLONE_NEWNET) == nil, err
}
