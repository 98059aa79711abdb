// Package prometheus_test keeps the Prometheus kit in this folder true: the
// rules pass `promtool check rules` and `promtool test rules`, every alert
// has a test where it fires and one where it does not, and every metric name
// the rules and the Grafana dashboard use is one a running vipd exports.
package prometheus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vipd/vipd/lab"
)

const (
	rulesFile     = "vipd.rules.yml"
	rulesTestFile = "vipd.rules.test.yml"
	dashboardFile = "vipd-dashboard.json"
)

// promtool finds promtool, or skips the test as a normal user without it.
// As root a missing promtool fails: `make test` installs it (Debian package
// prometheus).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	if os.Geteuid() != 0 {
		t.Skip("promtool not found: install Debian's prometheus package (apt-get install prometheus), or run `make test` as root, which installs it")
	}
	t.Fatal("promtool not found: `make deps` installs it as root (Debian package prometheus); or apt-get install prometheus")
	return ""
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), strings.TrimSpace(string(out)))
}

func TestPromtoolCheckRules(t *testing.T) {
	runPromtool(t, "check", "rules", rulesFile)
}

func TestPromtoolTestRules(t *testing.T) {
	runPromtool(t, "test", "rules", rulesTestFile)
}

// ruleFile is the part of a Prometheus rule file these tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleTestFile is the part of a promtool test file these tests read.
type ruleTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name       string `yaml:"name"`
		AlertTests []struct {
			EvalTime  string           `yaml:"eval_time"`
			AlertName string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readRules(t *testing.T) ruleFile {
	var rf ruleFile
	readYAML(t, rulesFile, &rf)
	return rf
}

// TestEveryAlertIsTestedBothWaysAndSaysWhatToDo: every alert has a promtool
// test where it fires and one where it does not, a severity, and a summary
// and a description that names a command to run.
func TestEveryAlertIsTestedBothWaysAndSaysWhatToDo(t *testing.T) {
	rf := readRules(t)
	var tf ruleTestFile
	readYAML(t, rulesTestFile, &tf)
	if !slices.Contains(tf.RuleFiles, rulesFile) {
		t.Errorf("%s tests %v, want %s", rulesTestFile, tf.RuleFiles, rulesFile)
	}
	fires, quiet := map[string]int{}, map[string]int{}
	for _, tc := range tf.Tests {
		for _, at := range tc.AlertTests {
			if len(at.ExpAlerts) > 0 {
				fires[at.AlertName]++
			} else {
				quiet[at.AlertName]++
			}
		}
	}
	var alerts []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts = append(alerts, r.Alert)
			if fires[r.Alert] == 0 {
				t.Errorf("alert %s: no test in %s where it fires", r.Alert, rulesTestFile)
			}
			if quiet[r.Alert] == 0 {
				t.Errorf("alert %s: no test in %s where it does not fire", r.Alert, rulesTestFile)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, s)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("alert %s has no summary", r.Alert)
			}
			if d := r.Annotations["description"]; !strings.Contains(d, "`") {
				t.Errorf("alert %s: description %q names no command to run (in backquotes)", r.Alert, d)
			}
		}
	}
	for name := range fires {
		if !slices.Contains(alerts, name) {
			t.Errorf("%s tests alert %s, which %s does not have", rulesTestFile, name, rulesFile)
		}
	}
	if len(alerts) < 10 {
		t.Errorf("found %d alerts in %s: %v; the file lost some", len(alerts), rulesFile, alerts)
	}
	t.Logf("%d alerts, each tested firing and quiet: %s", len(alerts), strings.Join(alerts, ", "))
}

// promqlWords are PromQL's keywords and the identifiers it reads before
// '(' (functions and aggregations are recognised by the parenthesis).
var promqlWords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true, "Inf": true, "NaN": true, "atan2": true,
}

var (
	promqlStrings   = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promqlMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promqlLabelList = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlTokens    = regexp.MustCompile(`[0-9][0-9A-Za-z_.]*|[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
	labelValues     = regexp.MustCompile(`^\s*label_values\(\s*(.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)
)

// metricNames returns the metric names a PromQL expression selects: every
// identifier that is not in a string, a label matcher, a range, a label
// list, a number or duration, a keyword, or a function name.
func metricNames(expr string) []string {
	if m := labelValues.FindStringSubmatch(expr); m != nil { // Grafana's label_values(metric, label)
		expr = m[1]
	}
	expr = promqlStrings.ReplaceAllString(expr, `""`)
	expr = promqlMatchers.ReplaceAllString(expr, " ")
	expr = promqlRanges.ReplaceAllString(expr, " ")
	expr = promqlLabelList.ReplaceAllString(expr, " ")
	var names []string
	for _, tok := range promqlTokens.FindAllString(expr, -1) {
		if tok[0] >= '0' && tok[0] <= '9' || strings.HasSuffix(tok, "(") || promqlWords[tok] {
			continue
		}
		if !slices.Contains(names, tok) {
			names = append(names, tok)
		}
	}
	return names
}

func TestMetricNamesOfAnExpression(t *testing.T) {
	for expr, want := range map[string][]string{
		`vipd_members_alive`: {"vipd_members_alive"},
		`max by (job, vip) (vipd_vip_health{health="split",vip=~"$vip"}) == 1 or on (job, vip) count by (job, vip) (increase(vipd_splits_total[15m]) > 0 or (vipd_splits_total unless vipd_splits_total offset 15m))`: {"vipd_vip_health", "vipd_splits_total"},
		`label_replace(count by (vip) (vipd_conflicts_total), "address", "$1", "vip", "(.*)")`:                                                                                                                        {"vipd_conflicts_total"},
		`count by (job, vip) (x_a) < on (job) group_left count by (job) (up{job="vipd"} == 0)`:                                                                                                                        {"x_a", "up"},
		`rate(process_cpu_seconds_total{job="$job"}[$__rate_interval]) / 1e9`:                                                                                                                                         {"process_cpu_seconds_total"},
		`vipd:vip_failovers:increase1h{vip=~"$vip"}`:                                                                                                                                                                  {"vipd:vip_failovers:increase1h"},
		`label_values(vipd_vip_role{job="$job"}, vip)`:                                                                                                                                                                {"vipd_vip_role"},
		`sum(rate(a_total[5m])) by (instance)`:                                                                                                                                                                        {"a_total"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%s) = %q, want %q", expr, got, want)
		}
	}
}

// kitExprs returns every expression of the rules and the dashboard, each
// with where it is, and the names the recording rules define.
func kitExprs(t *testing.T) (exprs map[string]string, recorded map[string]bool) {
	t.Helper()
	exprs, recorded = map[string]string{}, map[string]bool{}
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			name := r.Alert
			if r.Record != "" {
				name = r.Record
				recorded[r.Record] = true
			}
			exprs[fmt.Sprintf("%s: %s", rulesFile, name)] = r.Expr
		}
	}
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	// Every "expr" and every templating "query" string anywhere in the JSON.
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && (k == "expr" || (k == "query" && strings.Contains(path, "templating") && strings.HasPrefix(s, "label_values("))) {
					exprs[fmt.Sprintf("%s: %s.%s", dashboardFile, path, k)] = s
				}
				walk(path+"."+k, c)
			}
		case []any:
			for i, c := range v {
				title := ""
				if m, ok := c.(map[string]any); ok {
					title, _ = m["title"].(string)
				}
				walk(fmt.Sprintf("%s[%d %s]", path, i, title), c)
			}
		}
	}
	walk("", dash)
	return exprs, recorded
}

// kitNames maps every metric name the kit uses to where it is used.
func kitNames(t *testing.T) (names map[string][]string, recorded map[string]bool) {
	exprs, recorded := kitExprs(t)
	names = map[string][]string{}
	for where, expr := range exprs {
		for _, n := range metricNames(expr) {
			names[n] = append(names[n], where)
		}
	}
	return names, recorded
}

// fromPrometheus are names Prometheus makes itself, not vipd.
var fromPrometheus = map[string]string{"up": "set by Prometheus for every scrape target"}

// TestKitUsesOnlyVipdNames needs no root: every name is vipd's, a process
// metric of its Go client, Prometheus's own, or a recording rule the rule
// file defines.
func TestKitUsesOnlyVipdNames(t *testing.T) {
	names, recorded := kitNames(t)
	if len(names) < 15 {
		t.Fatalf("found only %d metric names in the kit: %v", len(names), names)
	}
	for n, where := range names {
		switch {
		case strings.Contains(n, ":"):
			if !recorded[n] {
				t.Errorf("%s (used in %s) looks like a recording rule but %s does not define it", n, where, rulesFile)
			}
		case strings.HasPrefix(n, "vipd_"), strings.HasPrefix(n, "process_"), strings.HasPrefix(n, "go_"), fromPrometheus[n] != "":
		default:
			t.Errorf("%s (used in %s) is not a vipd metric", n, where)
		}
	}
}

// TestLabKitMetricNamesAreExported runs vipd on two lab hosts with a VIP
// and a health check, and waits until every metric name of the rules and
// the dashboard has been seen in a scrape of /metrics. It makes no split,
// conflict, link flap or check flap: the alerts' increase() needs those
// counters at 0 from the start, so they must be there before any event. A
// metric renamed in vipd fails it, naming the panel or rule.
func TestLabKitMetricNamesAreExported(t *testing.T) {
	names, recorded := kitNames(t)
	lab.RequireRoot(t)
	k := startKitLab(t)
	var want []string
	for n := range names {
		if !recorded[n] && fromPrometheus[n] == "" {
			want = append(want, n)
		}
	}
	sort.Strings(want)

	k.owner() // the VIP has an owner: every host has run its first step
	missing := k.missing(want)
	for deadline := time.Now().Add(10 * time.Second); len(missing) > 0 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		missing = k.missing(want)
	}
	for _, n := range missing {
		t.Errorf("%s is used by %s but no scrape of vipd had it", n, strings.Join(names[n], "; "))
	}
	if len(missing) > 0 {
		t.Logf("names vipd exported:\n%s", strings.Join(k.seenNames(), "\n"))
	}
	t.Logf("%d metric names of the rules and the dashboard checked against vipd's /metrics on %d hosts: %s",
		len(want), len(k.hosts), strings.Join(want, " "))
}

// kitVIP is a documentation address no lab host uses.
const kitVIP = "192.0.2.210"

type kitLab struct {
	t     *testing.T
	lab   *lab.Lab
	hosts []*lab.Node
	seen  map[string]bool // metric names seen in any scrape
}

func startKitLab(t *testing.T) *kitLab {
	t.Helper()
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, goTool(), "build", "-o", bin+"/", "../../cmd/vipd").CombinedOutput(); err != nil {
		t.Fatalf("go build vipd: %v\n%s", err, out)
	}
	vipd := filepath.Join(bin, "vipd")
	dir := t.TempDir()
	key := filepath.Join(dir, "gossip.key")
	if out, err := exec.Command(vipd, "keygen", "-o", key).CombinedOutput(); err != nil {
		t.Fatalf("vipd keygen: %v\n%s", err, out)
	}
	k := &kitLab{t: t, lab: lab.New(t, lab.Options{Hosts: 2, Prefix: "vk"}), seen: map[string]bool{}}
	k.hosts = k.lab.Hosts()
	var peers []string
	for _, h := range k.hosts {
		peers = append(peers, h.IPv4().String())
	}
	for _, h := range k.hosts {
		hd := filepath.Join(dir, h.Name())
		if err := os.MkdirAll(hd, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := fmt.Sprintf(`node_name: %s
state_dir: %s
drain_timeout: 2s
gossip:
  bind: %s
  peers: [%s]
  key_file: %s
  profile: fast
announce:
  refresh: 1s
interfaces:
  - name: eth0
checks:
  maintenance:
    type: file
    path: %s
vips:
  - name: kit
    address: %s
    checks: [maintenance]
control:
  socket: %s
  group: ""
metrics:
  listen: %s:9469
`, h.Name(), filepath.Join(hd, "state"), h.IPv4(), strings.Join(peers, ", "), key,
			filepath.Join(hd, "maintenance"), kitVIP,
			filepath.Join(hd, "vipd.sock"), h.IPv4())
		path := filepath.Join(hd, "vipd.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := h.Start(vipd, "run", "-c", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("log of vipd on %s:\n%s", h.Name(), p.Log())
			}
		})
	}
	return k
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// scrape reads /metrics of a host from the client and returns its samples.
func (k *kitLab) scrape(h *lab.Node) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	body, err := k.lab.Client().HTTPGet(ctx, fmt.Sprintf("http://%s:9469/metrics", h.IPv4()))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			k.seen[line[:i]] = true
		}
	}
	return body, nil
}

// ownerSample matches the owner gauge of the VIP naming a host.
var ownerSample = regexp.MustCompile(`vipd_vip_role\{address="` + regexp.QuoteMeta(kitVIP) + `",role="owner",vip="kit"\} 1`)

// owner waits until exactly one host says it owns the VIP and returns it.
func (k *kitLab) owner() *lab.Node {
	k.t.Helper()
	var owner *lab.Node
	lab.Eventually(k.t, 20*time.Second, func() error {
		var owners []*lab.Node
		for _, h := range k.hosts {
			body, err := k.scrape(h)
			if err != nil {
				return err
			}
			if ownerSample.MatchString(body) {
				owners = append(owners, h)
			}
		}
		if len(owners) != 1 {
			return fmt.Errorf("hosts whose metrics say they own %s: %v, want one", kitVIP, owners)
		}
		owner = owners[0]
		return nil
	})
	return owner
}

// missing scrapes every host once more and returns the names not seen yet.
func (k *kitLab) missing(names []string) []string {
	for _, h := range k.hosts {
		_, _ = k.scrape(h) // a host that does not answer leaves its names missing
	}
	var out []string
	for _, n := range names {
		if !k.seen[n] {
			out = append(out, n)
		}
	}
	return out
}

func (k *kitLab) seenNames() []string {
	var out []string
	for n := range k.seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
