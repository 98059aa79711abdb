package daemon

import (
	"os"
	"runtime/debug"

	"github.com/vipd/vipd/config"
)

// smallConfigVIPs is the largest config whose heap is small enough for
// smallConfigGCPercent.
const (
	smallConfigVIPs      = 100
	smallConfigGCPercent = 50
)

// tuneGC sets the garbage collector's target for cfg unless the GOGC
// environment variable says otherwise.
//
// Go lets the heap grow to at least 4 MiB before it collects (GOGC=100),
// though a config of a few VIPs lives in much less: GOGC=50 halves that
// floor and the headroom, and an idle host of 10 VIPs keeps about 1.5 MiB
// less private memory (make bench's idle rows), while collecting a small
// heap more often costs it little CPU. A large config keeps the default:
// there, collections cost a share of the CPU (24 hosts x 1000 VIPs) and
// halving the headroom would double them.
func tuneGC(cfg *config.Config) {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(gcPercentFor(len(cfg.VIPs)))
}

func gcPercentFor(vips int) int {
	if vips <= smallConfigVIPs {
		return smallConfigGCPercent
	}
	return 100
}
