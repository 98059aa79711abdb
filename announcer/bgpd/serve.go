// Package bgpd is vipd's BGP helper, the process vipd-bgp: an embedded
// GoBGP speaker driven by vipd over stdin and stdout (package bgpwire). It
// keeps the sessions and announces the routes it is told to; it decides
// nothing and touches no address.
package bgpd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/vipd/vipd/announcer/bgpwire"
)

// maxLine bounds one request (a Start with many peers is a few KiB).
const maxLine = 1 << 20

// Serve answers the requests read from in on out until a Stop request or
// the end of in (vipd closed the pipe or died), then stops the speaker.
func Serve(in io.Reader, out io.Writer, log *slog.Logger) error {
	w := &replies{enc: json.NewEncoder(out)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sp *speaker
	defer func() {
		if sp != nil {
			sp.close(0)
		}
	}()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	for sc.Scan() {
		var req bgpwire.Request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return fmt.Errorf("a request from vipd does not decode: %w", err)
		}
		rep := bgpwire.Reply{ID: req.ID}
		switch {
		case req.Start != nil:
			if sp != nil {
				rep.Err = "the speaker runs already"
				break
			}
			var err error
			if sp, err = start(ctx, *req.Start, log, w.event); err != nil {
				rep.Err = err.Error()
			}
		case sp == nil && req.Stop != nil:
			return w.send(rep) // nothing to stop: vipd's start failed
		case sp == nil:
			rep.Err = "the speaker is not started"
		case req.Apply != nil:
			rep.Failed, rep.Err = sp.apply(ctx, *req.Apply)
		case req.Peers:
			rep.Peers = sp.peers(ctx)
		case req.Stop != nil:
			err := sp.close(req.Stop.Wait)
			sp = nil
			if err != nil {
				rep.Err = err.Error()
			}
			return w.send(rep)
		default:
			rep.Err = "an empty request"
		}
		if err := w.send(rep); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading vipd's requests: %w", err)
	}
	return errors.New("vipd closed the helper's input")
}

// replies writes replies and events, one line each, from any goroutine.
type replies struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (r *replies) send(rep bgpwire.Reply) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enc.Encode(rep); err != nil {
		return fmt.Errorf("writing to vipd: %w", err)
	}
	return nil
}

func (r *replies) event(ev bgpwire.Event) {
	_ = r.send(bgpwire.Reply{Event: &ev}) // vipd is gone: Serve ends on its input
}
