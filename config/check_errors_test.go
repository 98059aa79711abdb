package config

import (
	"strings"
	"testing"
	"time"
)

// TestBrokenCheckConfigs extends TestBrokenConfigs with the check mistakes
// that health (issue 6) relies on validation to catch: each is reported by
// `vipd check` with file:line:col before any checker is built.
func TestBrokenCheckConfigs(t *testing.T) {
	cases := []struct {
		name string
		file string
		want []string
	}{
		{"tcp check without address", base + "checks:\n  web:\n    type: tcp\n",
			[]string{`vipd.yaml:6:3: checks.web.address: is missing; give the backend's host:port, like 127.0.0.1:80`}},
		{"tcp address without port", base + "checks:\n  web:\n    type: tcp\n    address: localhost\n",
			[]string{`vipd.yaml:8:14: checks.web.address: "localhost" is not host:port; write it like 127.0.0.1:80`}},
		{"http check without url", base + "checks:\n  web:\n    type: http\n",
			[]string{`vipd.yaml:6:3: checks.web.url: is missing; give the URL to GET, like http://127.0.0.1:8404/healthz`}},
		{"url without host", base + "checks:\n  web:\n    type: http\n    url: http:///healthz\n",
			[]string{`vipd.yaml:8:10: checks.web.url: "http:///healthz" is not a URL; write it like http://127.0.0.1:8404/healthz`}},
		{"status out of range", base + "checks:\n  web:\n    type: http\n    url: http://127.0.0.1/\n    status: 600\n",
			[]string{`vipd.yaml:9:13: checks.web.status: "600" is not an HTTP status or range; write it like 200 or 200-399`}},
		{"status range backwards", base + "checks:\n  web:\n    type: http\n    url: http://127.0.0.1/\n    status: 399-200\n",
			[]string{`vipd.yaml:9:13: checks.web.status: "399-200" is not an HTTP status or range; write it like 200 or 200-399`}},
		{"tls_verify on a plain http check", base + "checks:\n  web:\n    type: http\n    url: http://127.0.0.1/\n    tls_verify: false\n",
			[]string{`vipd.yaml:9:17: checks.web.tls_verify: is not used by http checks, only by https checks; remove it or change type`}},
		{"tls_verify is not yes or no", base + "checks:\n  web:\n    type: https\n    url: https://127.0.0.1/\n    tls_verify: no\n",
			[]string{`vipd.yaml:9:17: checks.web.tls_verify: must be true or false, not "no"`}},
		{"body on a tcp check", base + "checks:\n  web:\n    type: tcp\n    address: 127.0.0.1:80\n    body: ok\n",
			[]string{`vipd.yaml:9:11: checks.web.body: is not used by tcp checks, only by http and https checks; remove it or change type`}},
		{"zero interval", base + "checks:\n  web:\n    type: tcp\n    address: 127.0.0.1:80\n    interval: 0s\n",
			[]string{`vipd.yaml:9:15: checks.web.interval: must be more than 0s, like 1s`}},
		{"zero fast_interval", base + "checks:\n  web:\n    type: tcp\n    address: 127.0.0.1:80\n    fast_interval: 0s\n",
			[]string{`vipd.yaml:9:20: checks.web.fast_interval: must be more than 0s, like 200ms`}},
		{"negative fast_interval", base + "checks:\n  web:\n    type: tcp\n    address: 127.0.0.1:80\n    fast_interval: -100ms\n",
			[]string{`vipd.yaml:9:20: checks.web.fast_interval: "-100ms" is negative; a duration here is 0 or more`}},
		{"fast_interval above the default interval", base + "checks:\n  web:\n    type: tcp\n    address: 127.0.0.1:80\n    fast_interval: 2s\n",
			[]string{`vipd.yaml:9:20: checks.web.fast_interval: 2s is above interval 1s; it is how soon a failed check is probed again, so use 1s or less (equal to interval turns faster re-checks off)`}},
		{"fast_interval above a short interval", base + "checks:\n  web:\n    type: tcp\n    address: 127.0.0.1:80\n    interval: 100ms\n    timeout: 50ms\n    fast_interval: 200ms\n",
			[]string{`vipd.yaml:11:20: checks.web.fast_interval: 200ms is above interval 100ms; it is how soon a failed check is probed again, so use 100ms or less (equal to interval turns faster re-checks off)`}},
		{"rise and fall below 1", base + "checks:\n  web:\n    type: tcp\n    address: 127.0.0.1:80\n    rise: 0\n    fall: -1\n",
			[]string{
				`vipd.yaml:9:11: checks.web.rise: is 0; it must be 1 or more (passes in a row before the check counts as up)`,
				`vipd.yaml:10:11: checks.web.fall: is -1; it must be 1 or more (failures in a row before the check counts as down)`,
			}},
		{"exec check without command", base + "checks:\n  script:\n    type: exec\n",
			[]string{`vipd.yaml:6:3: checks.script.command: is missing; give the program and its arguments as a list, like [/usr/local/bin/check-backend, --quiet]`}},
		{"exec env with a bad name", base + "checks:\n  script:\n    type: exec\n    command: [/bin/check]\n    env: {BAD-NAME: x}\n",
			[]string{`vipd.yaml:9:11: checks.script.env.BAD-NAME: "BAD-NAME" is not an environment variable name; use letters, digits and '_', like BACKEND_URL`}},
		{"haproxy check without backend", base + "checks:\n  lb:\n    type: haproxy\n    socket: /run/h.sock\n",
			[]string{`vipd.yaml:6:3: checks.lb.backend: is missing; name the HAProxy backend whose servers must be UP, like web`}},
		{"haproxy socket not absolute", base + "checks:\n  lb:\n    type: haproxy\n    socket: run/h.sock\n    backend: web\n",
			[]string{`vipd.yaml:8:13: checks.lb.socket: "run/h.sock" is not an absolute path; write it like /run/haproxy/admin.sock`}},
		{"haproxy socket and address at once", base + "checks:\n  lb:\n    type: haproxy\n    socket: /run/h.sock\n    address: 127.0.0.1:9999\n    backend: web\n",
			[]string{`vipd.yaml:9:14: checks.lb.address: is set together with socket; use one way to reach HAProxy's runtime API`}},
		{"haproxy min_up below 1", base + "checks:\n  lb:\n    type: haproxy\n    socket: /run/h.sock\n    backend: web\n    min_up: -1\n",
			[]string{`vipd.yaml:10:13: checks.lb.min_up: is -1; it must be 1 or more (servers UP for the check to pass)`}},
		{"haproxy min_up written as 0", base + "checks:\n  lb:\n    type: haproxy\n    socket: /run/h.sock\n    backend: web\n    min_up: 0\n",
			[]string{`vipd.yaml:10:13: checks.lb.min_up: is 0; it must be 1 or more (servers UP for the check to pass)`}},
		{"host_header with a space", base + "checks:\n  web:\n    type: http\n    url: http://127.0.0.1/\n    host_header: \"a b\"\n",
			[]string{`vipd.yaml:9:18: checks.web.host_header: "a b" is not a Host header; write a host name, optionally with :port, like www.example.com or www.example.com:8443`}},
		{"host_header with a path", base + "checks:\n  web:\n    type: https\n    url: https://127.0.0.1/\n    host_header: www.example.com/healthz\n",
			[]string{`vipd.yaml:9:18: checks.web.host_header: "www.example.com/healthz" is not a Host header; write a host name, optionally with :port, like www.example.com or www.example.com:8443`}},
		{"url of the other http scheme", base + "checks:\n  web:\n    type: https\n    url: http://127.0.0.1/\n",
			[]string{`vipd.yaml:8:10: checks.web.url: "http://127.0.0.1/" does not match type https; use a https:// URL, or type: http`}},
		{"url of a scheme that is no check type", base + "checks:\n  web:\n    type: https\n    url: ftp://127.0.0.1/\n",
			[]string{`vipd.yaml:8:10: checks.web.url: "ftp://127.0.0.1/" must start with https:// for type https; write it like https://127.0.0.1:8404/healthz`}},
		{"exec command as one string", base + "checks:\n  script:\n    type: exec\n    command: /bin/check\n",
			[]string{`vipd.yaml:8:14: checks.script.command: must be a list: write [/bin/check] (the program and its arguments, no shell)`}},
		{"exec command with arguments as one string", base + "checks:\n  script:\n    type: exec\n    command: /bin/check --port 80\n",
			[]string{`vipd.yaml:8:14: checks.script.command: must be a list: write [/bin/check, --port, "80"] (the program and its arguments, no shell)`}},
		{"notify command as one string", base + "notify:\n  - command: /usr/local/bin/vip-changed\n",
			[]string{`vipd.yaml:6:14: notify[0].command: must be a list: write [/usr/local/bin/vip-changed] (the program and its arguments, no shell)`}},
		{"file check without path", base + "checks:\n  maint:\n    type: file\n",
			[]string{`vipd.yaml:6:3: checks.maint.path: is missing; give the maintenance file whose presence fails the check, like /etc/vipd/maintenance`}},
		{"file check with a relative path", base + "checks:\n  maint:\n    type: file\n    path: maintenance\n",
			[]string{`vipd.yaml:8:11: checks.maint.path: "maintenance" is not an absolute path; write it like /etc/vipd/maintenance`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("vipd.yaml", []byte(tc.file), "h1")
			if err == nil {
				t.Fatalf("Parse accepted the file:\n%s\ngot config %+v", tc.file, cfg)
			}
			var got []string
			for _, e := range Errors(err) {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors for:\n%s\ngot:\n  %s\nwant:\n  %s", tc.file, strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestHostHeaderForms(t *testing.T) {
	for s, want := range map[string]bool{
		"www.example.com":      true,
		"www.example.com:8443": true,
		"my_app.internal":      true,
		"192.0.2.1":            true,
		"192.0.2.1:80":         true,
		"[2001:db8::1]":        true,
		"[2001:db8::1]:8443":   true,
		"a b":                  false,
		"www.example.com/":     false,
		"user@www.example.com": false,
		"www.example.com:":     false,
		"www.example.com:0":    false,
		"www.example.com:http": false,
		"2001:db8::1":          false,
		"[www.example.com]":    false,
		"[fe80::1%eth0]":       false,
		"www.example.com\r\n":  false,
		"-www.example.com":     false,
	} {
		if got := validHostHeader(s); got != want {
			t.Errorf("validHostHeader(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestMinUpDefaultsToOneUnlessWritten(t *testing.T) {
	for file, want := range map[string]int{
		"lb: {type: haproxy, socket: /run/h.sock, backend: web}\n":            1,
		"lb: {type: haproxy, socket: /run/h.sock, backend: web, min_up: }\n":  1,
		"lb: {type: haproxy, socket: /run/h.sock, backend: web, min_up: 3}\n": 3,
	} {
		cfg, err := Parse("vipd.yaml", []byte(base+"checks:\n  "+file), "h1")
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if got := cfg.Checks["lb"].MinUp; got != want {
			t.Errorf("%s: min_up = %d, want %d", file, got, want)
		}
	}
}

// TestFastIntervalDefaultsToTheShorterOf200msAndInterval: a file that sets
// only a short interval, as the fast profile's checks do, stays valid and
// keeps its cadence; a written fast_interval is kept as written.
func TestFastIntervalDefaultsToTheShorterOf200msAndInterval(t *testing.T) {
	for check, want := range map[string]time.Duration{
		"{type: tcp, address: 127.0.0.1:80}":                                                      200 * time.Millisecond,
		"{type: tcp, address: 127.0.0.1:80, interval: 5s}":                                        200 * time.Millisecond,
		"{type: tcp, address: 127.0.0.1:80, interval: 100ms, timeout: 50ms}":                      100 * time.Millisecond,
		"{type: tcp, address: 127.0.0.1:80, fast_interval: }":                                     200 * time.Millisecond,
		"{type: tcp, address: 127.0.0.1:80, fast_interval: 50ms}":                                 50 * time.Millisecond,
		"{type: tcp, address: 127.0.0.1:80, fast_interval: 1s}":                                   time.Second,
		"{type: tcp, address: 127.0.0.1:80, interval: 100ms, timeout: 50ms, fast_interval: 20ms}": 20 * time.Millisecond,
	} {
		cfg, err := Parse("vipd.yaml", []byte(base+"checks:\n  web: "+check+"\n"), "h1")
		if err != nil {
			t.Fatalf("%s: %v", check, err)
		}
		if got := cfg.Checks["web"].FastInterval.Duration; got != want {
			t.Errorf("%s: fast_interval = %s, want %s", check, got, want)
		}
	}
}
