package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vipd/vipd/membership"
)

func TestKeygenWritesA0600KeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gossip.key")
	var stdout, stderr bytes.Buffer
	if err := runKeygen(&stdout, &stderr, path, false); err != nil {
		t.Fatalf("keygen: %v\n%s", err, stderr.String())
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode %04o, want 0600", mode)
	}
	keys, err := membership.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || len(keys[0]) != 32 {
		t.Errorf("keys = %d of %d bytes, want one of 32", len(keys), len(keys[0]))
	}
	if stdout.Len() != 0 {
		t.Errorf("the key went to stdout too: %q", stdout.String())
	}
}

func TestKeygenRefusesToOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gossip.key")
	if err := runKeygen(new(bytes.Buffer), new(bytes.Buffer), path, false); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	var stderr bytes.Buffer
	err := runKeygen(new(bytes.Buffer), &stderr, path, false)
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Fatalf("second keygen = %v, want exit status 1", err)
	}
	if !strings.Contains(stderr.String(), path+": exists") || !strings.Contains(stderr.String(), "--force") {
		t.Errorf("stderr = %q, want it to name the file and --force", stderr.String())
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("the existing key file changed")
	}

	// --force replaces it, with mode 0600 even if it was looser.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runKeygen(new(bytes.Buffer), new(bytes.Buffer), path, true); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if bytes.Equal(before, after) {
		t.Errorf("--force kept the old key")
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("mode after --force %04o, want 0600", info.Mode().Perm())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestKeygenPrintsWithoutOutput(t *testing.T) {
	var a, b bytes.Buffer
	if err := runKeygen(&a, new(bytes.Buffer), "", false); err != nil {
		t.Fatal(err)
	}
	if err := runKeygen(&b, new(bytes.Buffer), "", false); err != nil {
		t.Fatal(err)
	}
	keys, err := membership.ParseKeys(a.Bytes())
	if err != nil || len(keys) != 1 || len(keys[0]) != 32 {
		t.Fatalf("printed %q: %v", a.String(), err)
	}
	if a.String() == b.String() {
		t.Errorf("two runs printed the same key")
	}
	if strings.Count(a.String(), "\n") != 1 {
		t.Errorf("printed %q, want one line", a.String())
	}
}

func TestKeygenCommandLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	root := newRootCommand()
	root.SetArgs([]string{"keygen", "-o", path})
	root.SetOut(new(bytes.Buffer))
	root.SetErr(new(bytes.Buffer))
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if _, err := membership.LoadKeyFile(path); err != nil {
		t.Fatal(err)
	}
}
