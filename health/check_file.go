package health

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/vipd/vipd/config"
)

// fileChecker fails while a maintenance file exists, like keepalived's
// track_file: an operator touches the file to take this host out of service
// and removes it to bring the host back. Only the file's presence counts,
// not its content; a dangling symlink is present too.
type fileChecker struct {
	path    string
	timeout time.Duration

	// A stat can hang on a dead network mount. The probe gives up at its
	// timeout, but the stat goes on; later probes wait for that same stat
	// instead of piling up new ones.
	mu       sync.Mutex
	inflight chan error
}

func newFileChecker(c *config.Check) (*fileChecker, error) {
	if c.Path == "" {
		return nil, errors.New("file check: path is missing")
	}
	return &fileChecker{path: c.Path, timeout: c.Timeout.Duration}, nil
}

func (f *fileChecker) Check(ctx context.Context) error {
	probeCtx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	result := f.stat()
	select {
	case err := <-result:
		f.mu.Lock()
		f.inflight = nil
		f.mu.Unlock()
		return err
	case <-probeCtx.Done():
		if timedOut(ctx, probeCtx, probeCtx.Err()) {
			return fmt.Errorf("stat %s: %s", f.path, timedOutAfter(f.timeout))
		}
		return probeCtx.Err()
	}
}

// stat returns the channel that will carry the result of the stat in
// flight, starting one if none is.
func (f *fileChecker) stat() chan error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inflight != nil {
		return f.inflight
	}
	result := make(chan error, 1)
	f.inflight = result
	go func() {
		result <- f.verdict()
	}()
	return result
}

func (f *fileChecker) verdict() error {
	_, err := os.Lstat(f.path)
	switch {
	case err == nil:
		return fmt.Errorf("maintenance file %s exists; remove it to put this host back in service", f.path)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	// Not knowing is not passing: the file may well be there.
	return err
}
