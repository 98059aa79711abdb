// Command vipd-bgp is vipd's BGP helper: vipd starts it when its config has
// a bgp section and drives it over stdin and stdout (package bgpwire). It
// is not meant to be run by hand.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/vipd/vipd/announcer/bgpd"
)

func main() {
	if len(os.Args) > 1 || isTerminal(os.Stdin) {
		fmt.Fprintln(os.Stderr, "vipd-bgp: vipd's BGP helper, started by vipd when /etc/vipd.yaml has a bgp section; it takes no arguments and is not meant to be run by hand")
		os.Exit(2)
	}
	// A stop signals vipd's whole process group (systemd's default
	// KillMode, a terminal's Ctrl-C): the helper must outlive it until vipd
	// has handed its VIPs over, then it ends with vipd's pipe.
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	runtime.GOMAXPROCS(1) // as vipd runs
	// JSON lines on stderr: vipd reads them and logs them as its own.
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := bgpd.Serve(os.Stdin, os.Stdout, log); err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
