package config

import (
	"slices"
	"strings"
	"testing"
)

func TestRestartNeeded(t *testing.T) {
	parse := func(extra string) *Config {
		t.Helper()
		cfg, err := Parse("vipd.yaml", []byte(base+extra), "h1")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	old := parse("")
	for _, tc := range []struct {
		extra string
		want  []string
	}{
		{"", nil},
		{"notify: [{command: [/bin/true]}]\n", nil}, // applied by reload
		{"node_name: h2\n", []string{"node_name"}},
		{"state_dir: /tmp/x\n", []string{"state_dir"}},
		{"control: {socket: /tmp/x.sock}\n", []string{"control"}},
		{"metrics: {listen: \"\"}\n", []string{"metrics"}},
	} {
		if got := RestartNeeded(old, parse(tc.extra)); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", strings.TrimSpace(tc.extra), got, tc.want)
		}
	}
}
