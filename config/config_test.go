package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sameConfig compares configs by meaning: an empty list equals a missing one.
var sameConfig = []cmp.Option{cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmpopts.EquateEmpty()}

func TestExampleFileIsValid(t *testing.T) {
	cfg, err := Load("../examples/vipd.yaml")
	if err != nil {
		t.Fatalf("examples/vipd.yaml must be valid:\n%v", err)
	}
	if got := len(cfg.VIPs); got != 3 {
		t.Errorf("example has %d VIPs, want 3", got)
	}
	if got := cfg.VIPs[2].Interface; got != "eth0" {
		t.Errorf("vips[2].interface = %q, want the only managed interface eth0", got)
	}
}

func TestDefaultsFillAMinimalFile(t *testing.T) {
	file := "gossip: {key_file: /etc/vipd/gossip.key}\ninterfaces: [{name: eth0}]\n" +
		"checks:\n  web: {type: https, url: \"https://127.0.0.1/\"}\n  lb: {type: haproxy, socket: /run/haproxy.sock, backend: web}\n" +
		"vips: [{name: web, address: 192.0.2.10, checks: [web, lb]}]\nnotify: [{command: [/bin/true]}]\n"
	cfg, err := Parse("vipd.yaml", []byte(file), "h7")
	if err != nil {
		t.Fatal(err)
	}
	verify := true
	want := &Config{
		NodeName:     "h7",
		StateDir:     "/var/lib/vipd",
		DrainTimeout: D(10 * time.Second),
		Rebalance:    true,
		Gossip:       Gossip{Bind: "0.0.0.0", Port: 7946, KeyFile: "/etc/vipd/gossip.key", Profile: ProfileDefault},
		Announce:     Announce{Refresh: D(10 * time.Second)},
		Interfaces:   []Interface{{Name: "eth0", Family: FamilyDual, Tuning: true}},
		Checks: map[string]*Check{
			"web": {Type: CheckHTTPS, Interval: D(time.Second), FastInterval: D(200 * time.Millisecond), Timeout: D(500 * time.Millisecond), Rise: 2, Fall: 2,
				URL: "https://127.0.0.1/", Status: StatusRange{200, 399}, TLSVerify: &verify, Watch: &verify},
			"lb": {Type: CheckHAProxy, Interval: D(time.Second), FastInterval: D(200 * time.Millisecond), Timeout: D(500 * time.Millisecond), Rise: 2, Fall: 2,
				Socket: "/run/haproxy.sock", Backend: "web", MinUp: 1},
		},
		VIPs:    []VIP{{Name: "web", Address: Address{netip.MustParsePrefix("192.0.2.10/32")}, Interface: "eth0", Checks: []string{"web", "lb"}}},
		Control: Control{Socket: "/run/vipd/vipd.sock", Group: "vipd"},
		Metrics: Metrics{Listen: "127.0.0.1:9469"},
		Notify:  []NotifyHook{{Command: []string{"/bin/true"}, Timeout: D(10 * time.Second)}},
	}
	if diff := cmp.Diff(want, cfg, sameConfig...); diff != "" {
		t.Errorf("effective config (-want +got):\n%s", diff)
	}
}

func TestAFileWithNoVIPsIsValid(t *testing.T) {
	// A fresh package install ships a file like this; vipd must start on it.
	cfg, err := Parse("vipd.yaml", []byte("gossip:\n  key_file: /etc/vipd/gossip.key\n"), "h1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Summary(), "node h1, no VIPs yet on (none yet), 0 checks, gossip on 0.0.0.0:7946 encrypted with 0 peers, profile default"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
}

func TestNodeNameFromFileWinsOverHostname(t *testing.T) {
	cfg, err := Parse("vipd.yaml", []byte("node_name: h2\ngossip: {insecure: true}\n"), "myhost")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeName != "h2" {
		t.Errorf("NodeName = %q, want h2", cfg.NodeName)
	}
}

func TestPrintedConfigReadsBackTheSame(t *testing.T) {
	cfg, err := Load("../examples/vipd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("printed.yaml", out, "other-host")
	if err != nil {
		t.Fatalf("the printed config is not valid:\n%v\n%s", err, out)
	}
	if diff := cmp.Diff(cfg, again, sameConfig...); diff != "" {
		t.Errorf("printed config reads back differently (-before +after):\n%s", diff)
	}
}

func TestLoadNamesAMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.yaml")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(%s) = %v, want a not-exist error", path, err)
	}
}

func TestREADMEExampleIsValid(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, found := strings.Cut(string(readme), "### A full example")
	_, block, found2 := strings.Cut(rest, "```yaml\n")
	block, _, found3 := strings.Cut(block, "```")
	if !found || !found2 || !found3 {
		t.Fatal("README.md has no yaml block under \"### A full example\"")
	}
	if _, err := Parse("README.md example", []byte(block), "h1"); err != nil {
		t.Errorf("the README's example config is invalid:\n%v", err)
	}
}
