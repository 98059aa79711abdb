package announcer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/announcer/bgpwire"
)

// helperName is the BGP helper's file name.
const helperName = "vipd-bgp"

// bgpHelper is the running vipd-bgp process and the calls to it, one at a
// time. When vipd ends, however it ends, the helper reads the end of its
// input, withdraws its routes and exits.
type bgpHelper struct {
	cmd *exec.Cmd
	in  io.WriteCloser

	mu     sync.Mutex // one call at a time
	enc    *json.Encoder
	lastID uint64
	// awaited is the ID of the call waiting for its reply (0: none);
	// replies gets that reply alone, so a late one never takes its place.
	awaited atomic.Uint64
	replies chan bgpwire.Reply

	// gone is closed when the helper's output ended: it exited.
	gone chan struct{}
	// exitErr is why, set before gone closes.
	exitErr error
}

// helperDirs are where vipd looks for the helper, in order: next to its
// own binary (a build tree), then where the package installs it.
var helperDirs = []string{"", "/usr/lib/vipd"}

// helperPath finds vipd-bgp.
func helperPath() (string, error) {
	var tried []string
	for _, dir := range helperDirs {
		if dir == "" {
			self, err := os.Executable()
			if err != nil {
				continue
			}
			dir = filepath.Dir(self)
		}
		path := filepath.Join(dir, helperName)
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
		tried = append(tried, path)
	}
	return "", fmt.Errorf("bgp is configured but vipd's BGP helper is missing (looked for %s): it ships with vipd; reinstall the vipd package", strings.Join(tried, ", "))
}

// startBGPHelper runs the helper at path; its events go to events, its log
// lines to log.
func startBGPHelper(path string, log *slog.Logger, events func(bgpwire.Event)) (*bgpHelper, error) {
	cmd := exec.Command(path)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logs, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the BGP helper %s: %w", path, err)
	}
	h := &bgpHelper{cmd: cmd, in: in, enc: json.NewEncoder(in), replies: make(chan bgpwire.Reply, 1), gone: make(chan struct{})}
	relayed := make(chan struct{})
	go func() {
		defer close(relayed)
		relayHelperLog(logs, log)
	}()
	go func() {
		err := h.read(out, events)
		if err != nil {
			_ = cmd.Process.Kill() // it talks nonsense: no call could be answered
		}
		<-relayed // its last words are logged before anyone hears it is gone
		h.exitErr = errors.Join(err, cmd.Wait())
		close(h.gone)
	}()
	return h, nil
}

// read hands replies to the caller waiting and events to events until the
// helper's output ends.
func (h *bgpHelper) read(out io.Reader, events func(bgpwire.Event)) error {
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var rep bgpwire.Reply
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
			return fmt.Errorf("a reply of the BGP helper does not decode: %w", err)
		}
		if rep.ID == 0 {
			if rep.Event != nil {
				events(*rep.Event)
			}
			continue
		}
		if rep.ID == h.awaited.Load() {
			h.replies <- rep // its caller waits, or takes the place of one that just gave up
		}
	}
	return sc.Err()
}

// errHelperGone is what a call to a helper that exited returns.
var errHelperGone = errors.New("vipd's BGP helper is not running; restart vipd (systemctl restart vipd)")

// call sends req and waits for its reply, for ctx or for the helper's end.
func (h *bgpHelper) call(ctx context.Context, req bgpwire.Request) (bgpwire.Reply, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastID++
	req.ID = h.lastID
	h.awaited.Store(req.ID)
	defer h.awaited.Store(0)
	if err := h.enc.Encode(req); err != nil {
		return bgpwire.Reply{}, fmt.Errorf("%w (%v)", errHelperGone, err)
	}
	for {
		select {
		case rep := <-h.replies:
			if rep.ID != req.ID {
				continue // a call that gave up just as its reply came
			}
			return rep, nil
		case <-h.gone:
			return bgpwire.Reply{}, errHelperGone
		case <-ctx.Done():
			return bgpwire.Reply{}, fmt.Errorf("waiting for the BGP helper: %w", ctx.Err())
		}
	}
}

// stop ends the helper's input and waits up to grace for it to exit, then
// kills it.
func (h *bgpHelper) stop(grace time.Duration) {
	_ = h.in.Close()
	select {
	case <-h.gone:
	case <-time.After(grace):
		_ = h.cmd.Process.Kill()
		<-h.gone
	}
}

// relayHelperLog logs the helper's JSON log lines as vipd's own.
func relayHelperLog(r io.Reader, log *slog.Logger) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			log.Warn(sc.Text()) // not a log record: a panic, say
			continue
		}
		var level slog.Level
		if s, ok := rec["level"].(string); !ok || level.UnmarshalText([]byte(s)) != nil {
			level = slog.LevelInfo
		}
		msg, _ := rec["msg"].(string)
		delete(rec, "time")
		delete(rec, "level")
		delete(rec, "msg")
		var args []any
		for _, k := range slices.Sorted(maps.Keys(rec)) {
			args = append(args, k, rec[k])
		}
		log.Log(context.Background(), level, msg, args...)
	}
}
