package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// table formats rows under header (if any) as tab-aligned columns, two
// spaces apart, and returns one string per line without its newline. Empty cells
// show as "-"; tabs and newlines in a cell become spaces so a row stays one
// line.
func table(header []string, rows [][]string) []string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	if header != nil {
		rows = append([][]string{header}, rows...)
	}
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, cell := range row {
			cells[i] = cleanCell(cell)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

func cleanCell(s string) string {
	s = strings.TrimSpace(strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ").Replace(s))
	if s == "" {
		return "-"
	}
	return s
}

// lines joins lines into text, each ended by a newline.
func lines(ls []string) string {
	if len(ls) == 0 {
		return ""
	}
	return strings.Join(ls, "\n") + "\n"
}

// ago says how long before now t was, shortly: "12s ago", "3m12s ago",
// "2h5m ago", "3d4h ago". A zero t is "-".
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < time.Second {
		return "just now"
	}
	return shortDuration(d) + " ago"
}

func shortDuration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
}

// list joins names with ", ", or returns "" for none.
func list(names []string) string { return strings.Join(names, ", ") }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// writeJSON writes v as indented JSON, the same struct a table shows.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
