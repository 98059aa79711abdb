package membership

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"strings"
)

// memberlistLogger returns a *log.Logger for memberlist that writes each of
// its lines to l at debug level, with memberlist's own level
// ("DEBUG", "INFO", "WARN", "ERR") as the attribute memberlist_level, and
// hands every line to note first, whatever l's level: some of them are
// facts membership reports (a message that did not decrypt).
func memberlistLogger(l *slog.Logger, note func(level, line string)) *log.Logger {
	return log.New(slogWriter{l: l, note: note}, "", 0)
}

type slogWriter struct {
	l    *slog.Logger
	note func(level, line string)
}

func (w slogWriter) Write(p []byte) (int, error) {
	debug := w.l.Enabled(context.Background(), slog.LevelDebug)
	if !debug && w.note == nil {
		return len(p), nil
	}
	line := string(bytes.TrimRight(p, "\n"))
	level := ""
	if strings.HasPrefix(line, "[") {
		if end := strings.IndexByte(line, ']'); end > 0 {
			level, line = line[1:end], strings.TrimSpace(line[end+1:])
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	if w.note != nil {
		w.note(level, line)
	}
	if debug {
		w.l.Debug(line, "memberlist_level", level)
	}
	return len(p), nil
}
