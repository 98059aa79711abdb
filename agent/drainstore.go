package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// drainFile in state_dir holds the time a drain began. It exists exactly
// while the host is drained, like a maintenance flag.
const drainFile = "drained"

// drainStore keeps the drain across restarts.
type drainStore struct{ dir string }

func (s drainStore) path() string { return filepath.Join(s.dir, drainFile) }

// load reports whether an earlier run left this host drained, and since when.
func (s drainStore) load(log *slog.Logger) (time.Time, bool) {
	if s.dir == "" {
		return time.Time{}, false
	}
	b, err := os.ReadFile(s.path())
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, false
	}
	if err != nil {
		// Unreadable is taken as drained: taking VIPs on a host the operator
		// drained is the worse mistake.
		log.Error("reading the recorded drain failed; staying drained. Run 'vipctl undrain' to put the host back", "file", s.path(), "err", err)
		return time.Now(), true
	}
	since, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Now(), true
	}
	return since, true
}

// save records a drain that began at since, unless one is recorded.
func (s drainStore) save(since time.Time) error {
	if s.dir == "" {
		return nil
	}
	if _, err := os.Stat(s.path()); err == nil {
		return nil
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", s.dir, err)
	}
	tmp := s.path() + ".tmp"
	if err := os.WriteFile(tmp, []byte(since.UTC().Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, s.path()); err != nil {
		return fmt.Errorf("record the drain in %s: %w", s.path(), err)
	}
	return nil
}

func (s drainStore) clear() error {
	if s.dir == "" {
		return nil
	}
	if err := os.Remove(s.path()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", s.path(), err)
	}
	return nil
}
