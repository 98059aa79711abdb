package health

import (
	"errors"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// run feeds a probe script to advance: '+' passes, '-' fails. It returns
// the state after each probe as 'U' (up) or 'd' (down), and the last status.
func run(script string, rise, fall int) (string, Status) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := initialStatus("web", t0)
	var ups strings.Builder
	for i, c := range script {
		var err error
		if c == '-' {
			err = errors.New("dial tcp 127.0.0.1:80: connect: connection refused")
		}
		st = advance(st, t0.Add(time.Duration(i+1)*time.Second), err, rise, fall)
		if st.Up {
			ups.WriteByte('U')
		} else {
			ups.WriteByte('d')
		}
	}
	return ups.String(), st
}

func TestRiseAndFall(t *testing.T) {
	cases := []struct {
		script     string
		rise, fall int
		want       string
	}{
		{"++++", 2, 2, "dUUU"},
		{"+-++", 2, 2, "dddU"},
		{"++-+-+", 2, 2, "dUUUUU"}, // single failures are tolerated
		{"++--++", 2, 2, "dUUddU"},
		{"+++---", 3, 3, "ddUUUd"},
		{"+-", 1, 1, "Ud"},
		{"----+", 1, 5, "ddddU"},
		{"++++--+--", 1, 3, "UUUUUUUUU"},
		{"++++---", 1, 3, "UUUUUUd"},
		{"", 2, 2, ""},
	}
	for _, tc := range cases {
		if got, _ := run(tc.script, tc.rise, tc.fall); got != tc.want {
			t.Errorf("rise %d fall %d, probes %q: got %q, want %q", tc.rise, tc.fall, tc.script, got, tc.want)
		}
	}
}

func TestReasonsExplainTheState(t *testing.T) {
	refused := "dial tcp 127.0.0.1:80: connect: connection refused"
	cases := []struct {
		script     string
		rise, fall int
		want       Status
	}{
		{"", 2, 2, Status{Reason: "not checked yet"}},
		{"+", 2, 2, Status{Reason: "starting: passed 1 of 2 probes needed", Passes: 1}},
		{"++", 2, 2, Status{Up: true, Reason: "passed 2 probes in a row", Passes: 2}},
		{"+", 1, 2, Status{Up: true, Reason: "passed 1 probe", Passes: 1}},
		{"-", 2, 2, Status{Reason: refused, Failures: 1, LastError: refused}},
		{"-+", 2, 2, Status{Reason: refused + " (since then passed 1 of 2 probes needed)", Passes: 1}},
		{"++-", 2, 2, Status{Up: true, Reason: "passed 2 probes in a row", Failures: 1, LastError: refused}},
		{"++--", 2, 2, Status{Reason: refused, Failures: 2, LastError: refused}},
	}
	for _, tc := range cases {
		_, got := run(tc.script, tc.rise, tc.fall)
		if got.Up != tc.want.Up || got.Reason != tc.want.Reason || got.Passes != tc.want.Passes ||
			got.Failures != tc.want.Failures || got.LastError != tc.want.LastError {
			t.Errorf("probes %q: got up=%v reason=%q passes=%d failures=%d lastError=%q, want %+v",
				tc.script, got.Up, got.Reason, got.Passes, got.Failures, got.LastError, tc.want)
		}
	}
}

func TestSinceMarksTheLastChange(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, st := run("++-+--", 2, 2) // up at probe 2, down at probe 6
	if want := t0.Add(6 * time.Second); !st.Since.Equal(want) || !st.LastProbe.Equal(want) {
		t.Errorf("Since = %v, LastProbe = %v, want both %v", st.Since, st.LastProbe, want)
	}
	_, st = run("--", 2, 2) // never up: Since stays at set-up time
	if !st.Since.Equal(t0) {
		t.Errorf("Since of a check never up = %v, want %v", st.Since, t0)
	}
}

// TestRiseFallProperty checks advance against the definition: the check is
// up after a probe exactly when it has passed rise probes in a row since it
// was last down, and stays up until it has failed fall probes in a row.
func TestRiseFallProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rise := rapid.IntRange(1, 5).Draw(t, "rise")
		fall := rapid.IntRange(1, 5).Draw(t, "fall")
		script := rapid.StringMatching(`[+-]{0,40}`).Draw(t, "probes")
		got, _ := run(script, rise, fall)
		up, passes, failures := false, 0, 0
		for i, c := range script {
			if c == '+' {
				passes, failures = passes+1, 0
			} else {
				passes, failures = 0, failures+1
			}
			if !up && passes >= rise {
				up = true
			} else if up && failures >= fall {
				up = false
			}
			if want := map[bool]byte{true: 'U', false: 'd'}[up]; got[i] != want {
				t.Fatalf("probe %d of %q (rise %d, fall %d): got %q", i, script, rise, fall, got)
			}
		}
	})
}
