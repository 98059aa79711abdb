package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/lab"
)

// TestDemo is `sudo make demo`: three hosts, a VIP, the owner killed, the
// client's answers moving. It runs only when VIPD_DEMO=1, and prints for a
// person rather than asserting much. Ctrl-C ends it early and still tears
// the lab down.
func TestDemo(t *testing.T) {
	if os.Getenv("VIPD_DEMO") != "1" {
		t.Skip("the demo runs with VIPD_DEMO=1 (sudo make demo)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	say := func(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

	say("building vipd and vipctl, starting hosts h1 h2 h3 and a client in network namespaces on a bridge")
	l := newVIPDLab(t, 3, "")
	say("each host runs nginx on :%d answering with its name, and vipd with VIPs %s and %s", webPort, vip4, vip6)
	owner := l.agreedOwner("web")
	l.answersFrom(url4, owner)
	if ctx.Err() != nil {
		return
	}
	first := l.host("h1")
	if owner == "h1" {
		first = l.host("h2")
	}
	out, _ := l.vipctl(first, "status")
	say("vipctl status on %s:\n%s", first.Name(), indent(out))

	say("the client GETs %s every 10 ms", url4)
	probe := lab.Probe(ctx, l.lab.Client(), url4, labProbe, 200*time.Millisecond)
	wait(ctx, 2*time.Second)
	say("killing vipd on the owner %s (kill -9) and taking its link down", owner)
	l.vipd[owner].Kill()
	delete(l.vipd, owner)
	l.host(owner).LinkDown(context.Background())
	next := l.agreedOwner("web", owner)
	l.answersFrom(url4, next)
	wait(ctx, time.Second)
	sum := lab.Summarize(probe.Stop())
	say("the client's answers came from %s; longest gap %d ms; %d of %d requests failed",
		strings.Join(sum.Bodies, " -> "), sum.LongestGap.Milliseconds(), sum.Failed, sum.OK+sum.Failed)
	out, _ = l.vipctl(first, "status")
	say("vipctl status on %s:\n%s", first.Name(), indent(out))
	say("tearing the lab down")
}

func wait(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
