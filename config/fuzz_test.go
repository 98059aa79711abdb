package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary bytes to the config loader. It must never panic;
// every error must be a positioned *Error; and a file it accepts must print
// to a file that it accepts again.
func FuzzParse(f *testing.F) {
	if example, err := os.ReadFile("../examples/vipd.yaml"); err == nil {
		f.Add(example)
	}
	for _, seed := range []string{
		base,
		"gossip: {insecure: true}\nvips: [{name: a, address: 192.0.2.1, group: g}, {name: b, address: 2001:db8::1, group: g}]\n",
		"a: &x [*x]\n",
		"checks: {x: {type: http, url: 'http://[::1]:80/', status: 200-299}}\n",
		"- 1\n- 2\n",
		"gossip: !!binary aGVsbG8=\n",
		"? [a]\n: b\n",
		"<<: {gossip: {}}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseWithin(t, 5*time.Second, data)
		if err != nil {
			problems := Errors(err)
			if len(problems) == 0 {
				t.Fatalf("error without position: %v", err)
			}
			for _, p := range problems {
				if p.Line < 1 || p.Column < 1 || !strings.HasPrefix(p.Error(), "fuzz.yaml:") {
					t.Fatalf("badly placed error %q", p)
				}
			}
			return
		}
		out, err := cfg.YAML()
		if err != nil {
			t.Fatalf("cannot print an accepted config: %v", err)
		}
		if _, err := Parse("printed.yaml", out, "h1"); err != nil {
			t.Fatalf("printed config is rejected:\n%v\nprinted:\n%s\ninput:\n%q", err, out, data)
		}
	})
}

// parseWithin parses data and fails the test, naming the input, when that
// takes longer than limit: a hang is as bad as a panic for a daemon that
// re-reads its file on reload.
func parseWithin(t *testing.T, limit time.Duration, data []byte) (*Config, error) {
	type result struct {
		cfg *Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		cfg, err := Parse("fuzz.yaml", data, "h1")
		done <- result{cfg, err}
	}()
	select {
	case r := <-done:
		return r.cfg, r.err
	case <-time.After(limit):
		t.Fatalf("Parse did not return within %s on input %q", limit, data)
		return nil, nil
	}
}
