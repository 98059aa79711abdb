package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEveryExampleConfigPassesCheck(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	more, _ := filepath.Glob("../../examples/*/vipd*.yaml")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no example configs found under examples/")
	}
	for _, file := range files {
		var stdout, stderr bytes.Buffer
		if err := runCheck(&stdout, &stderr, file, false); err != nil {
			t.Errorf("vipd check %s failed: %v\n%s", file, err, stderr.String())
			continue
		}
		if !strings.HasPrefix(stdout.String(), file+": OK: ") || strings.Count(stdout.String(), "\n") != 1 {
			t.Errorf("vipd check %s printed %q, want one line starting %q", file, stdout.String(), file+": OK: ")
		}
	}
}

func TestCheckPrintsEveryErrorAndExitsOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vipd.yaml")
	bad := "gossip:\n  insecure: true\n  port: 70000\nvips:\n  - name: web\n    address: 192.0.2.10/24\n"
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := runCheck(&stdout, &stderr, path, false)
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Fatalf("runCheck = %v, want exit status 1", err)
	}
	want := path + `:3:9: gossip.port: 70000 is not a port; use 1-65535 (the default is 7946)
` + path + `:5:5: vips[0].interface: is missing and no interface is managed; add the NIC under interfaces:, like interfaces: [{name: eth0}]
` + path + `:6:14: vips[0].address: "192.0.2.10/24" is a /24 network, but a VIP is one address; write 192.0.2.10/32
` + path + `: 3 errors; nothing was changed
`
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
}

func TestCheckPrintShowsDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vipd.yaml")
	if err := os.WriteFile(path, []byte("node_name: h1\ngossip: {insecure: true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := runCheck(&stdout, &stderr, path, true); err != nil {
		t.Fatalf("runCheck --print: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"port: 7946", "socket: /run/vipd/vipd.sock", "drain_timeout: 10s", "refresh: 10s"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--print output lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestCheckOnAMissingFileSaysWhatToDo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runCheck(&stdout, &stderr, "/nonexistent/vipd.yaml", false)
	if !errors.As(err, new(exitError)) {
		t.Fatalf("runCheck = %v, want an exit status", err)
	}
	if want := "/nonexistent/vipd.yaml: no such file; write one from /usr/share/doc/vipd/examples/vipd.yaml or pass -c FILE\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}
