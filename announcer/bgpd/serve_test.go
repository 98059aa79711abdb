package bgpd

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/announcer/bgpwire"
)

// helperPipe runs Serve as vipd-bgp would and talks to it as vipd does.
type helperPipe struct {
	t    *testing.T
	in   *io.PipeWriter
	out  *bufio.Scanner
	done chan error
}

func startServe(t *testing.T) *helperPipe {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	h := &helperPipe{t: t, in: inW, out: bufio.NewScanner(outR), done: make(chan error, 1)}
	go func() {
		err := Serve(inR, outW, slog.New(slog.DiscardHandler))
		_ = outW.Close()
		h.done <- err
	}()
	t.Cleanup(func() { _ = inW.Close() })
	return h
}

func (h *helperPipe) call(req bgpwire.Request) bgpwire.Reply {
	h.t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.in.Write(append(b, '\n')); err != nil {
		h.t.Fatalf("writing %s: %v", b, err)
	}
	for h.out.Scan() {
		var rep bgpwire.Reply
		if err := json.Unmarshal(h.out.Bytes(), &rep); err != nil {
			h.t.Fatalf("reply %q: %v", h.out.Text(), err)
		}
		if rep.ID == req.ID {
			return rep
		}
		if rep.ID != 0 {
			h.t.Fatalf("reply to %d while waiting for %d", rep.ID, req.ID)
		}
	}
	h.t.Fatalf("the helper's output ended before the reply to %d", req.ID)
	return bgpwire.Reply{}
}

// ended returns what Serve returned, failing the test when it has not
// returned within 10 s of what should have ended it.
func (h *helperPipe) ended(after string) error {
	h.t.Helper()
	select {
	case err := <-h.done:
		return err
	case <-time.After(10 * time.Second):
		h.t.Fatalf("Serve went on after %s", after)
		return nil
	}
}

// A speaker with no peers starts, announces and withdraws routes, and
// stops on request, answering every call by its ID.
func TestServeAnswersEveryCallAndStops(t *testing.T) {
	h := startServe(t)
	if rep := h.call(bgpwire.Request{ID: 1, Apply: &bgpwire.Apply{}}); !strings.Contains(rep.Err, "not started") {
		t.Fatalf("apply before start: err %q, want not started", rep.Err)
	}
	if rep := h.call(bgpwire.Request{ID: 2, Start: &bgpwire.Start{ASN: 64512, RouterID: "192.0.2.1"}}); rep.Err != "" {
		t.Fatalf("start: %s", rep.Err)
	}
	routes := []bgpwire.Route{{Addr: netip.MustParseAddr("192.0.2.200"), Prepend: 1}, {Addr: netip.MustParseAddr("2001:db8::200"), Prepend: 2}}
	if rep := h.call(bgpwire.Request{ID: 3, Apply: &bgpwire.Apply{Announce: routes, Wait: 10 * time.Millisecond}}); rep.Err != "" || len(rep.Failed) > 0 {
		t.Fatalf("announce: err %q, failed %v", rep.Err, rep.Failed)
	}
	if rep := h.call(bgpwire.Request{ID: 4, Apply: &bgpwire.Apply{Withdraw: routes[:1]}}); rep.Err != "" || len(rep.Failed) > 0 {
		t.Fatalf("withdraw: err %q, failed %v", rep.Err, rep.Failed)
	}
	if rep := h.call(bgpwire.Request{ID: 5, Peers: true}); rep.Err != "" || len(rep.Peers) != 0 {
		t.Fatalf("peers of a speaker with none: %+v (%s)", rep.Peers, rep.Err)
	}
	if rep := h.call(bgpwire.Request{ID: 6, Stop: &bgpwire.Stop{}}); rep.Err != "" {
		t.Fatalf("stop: %s", rep.Err)
	}
	if err := h.ended("a stop"); err != nil {
		t.Fatalf("Serve after stop: %v", err)
	}
}

// vipd stops a helper whose start failed: that ends it without an error.
func TestServeStopsBeforeStart(t *testing.T) {
	h := startServe(t)
	if rep := h.call(bgpwire.Request{ID: 1, Stop: &bgpwire.Stop{}}); rep.Err != "" {
		t.Fatalf("stop before start: %s", rep.Err)
	}
	if err := h.ended("a stop"); err != nil {
		t.Fatalf("Serve after stop: %v", err)
	}
}

// When vipd goes away its end of the pipe closes, and the helper stops its
// speaker and ends: no session outlives vipd.
func TestServeEndsWithItsInput(t *testing.T) {
	h := startServe(t)
	if rep := h.call(bgpwire.Request{ID: 1, Start: &bgpwire.Start{ASN: 64512, RouterID: "192.0.2.1"}}); rep.Err != "" {
		t.Fatalf("start: %s", rep.Err)
	}
	_ = h.in.Close()
	if err := h.ended("its input ended"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Serve ended with %v, want vipd closed its input", err)
	}
}
