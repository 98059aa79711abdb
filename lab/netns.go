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
func inNetns(netns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine ends the runtime discards the
		// thread instead of reusing it for other code in the wrong namespace.
		runtime.LockOSThread()
		errc <- joinNetnsAndRun(netns, fn)
	}()
	return <-errc
}

func joinNetnsAndRun(netns string, fn func() error) error {
	f, err := os.Open(filepath.Join(netnsDir, netns))
	if err != nil {
		return fmt.Errorf("open netns %s: %w", netns, err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("join netns %s: %w", netns, err)
	}
	return fn()
}
