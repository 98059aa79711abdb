package membership

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
)

func writeKeyFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gossip.key")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadKeyFile(t *testing.T) {
	k1, _ := GenerateKey()
	k2 := bytes.Repeat([]byte{7}, 16)
	content := "# rotation in progress\n" + string(FormatKeyFile([][]byte{k1, k2})) + "\n"
	keys, err := LoadKeyFile(writeKeyFile(t, content, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !bytes.Equal(keys[0], k1) || !bytes.Equal(keys[1], k2) {
		t.Errorf("keys = %x, want the primary %x then %x", keys, k1, k2)
	}
}

func TestLoadKeyFileRefusesOpenModes(t *testing.T) {
	k, _ := GenerateKey()
	for _, mode := range []os.FileMode{0o640, 0o604, 0o620, 0o644, 0o666} {
		path := writeKeyFile(t, string(FormatKeyFile([][]byte{k})), mode)
		_, err := LoadKeyFile(path)
		if err == nil {
			t.Errorf("mode %04o: accepted", mode)
			continue
		}
		for _, want := range []string{path, "chmod 600 " + path} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("mode %04o: error %q does not name %q", mode, err, want)
			}
		}
		if want := "mode " + "0" + octal(mode); !strings.Contains(err.Error(), want) {
			t.Errorf("mode %04o: error %q does not say %q", mode, err, want)
		}
	}
	if _, err := LoadKeyFile(writeKeyFile(t, string(FormatKeyFile([][]byte{k})), 0o400)); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}

func octal(m os.FileMode) string {
	const digits = "01234567"
	p := uint32(m.Perm())
	return string([]byte{digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

func TestParseKeysErrors(t *testing.T) {
	k, _ := GenerateKey()
	line := string(FormatKeyFile([][]byte{k}))
	cases := map[string]string{
		"":                 "holds no key",
		"# only a comment": "holds no key",
		"not base64!\n":    "line 1: not a base64 key",
		"\nAAAA\n":         "line 2: a key of 3 bytes",
		line + line:        "line 2: the same key appears twice",
	}
	for content, want := range cases {
		_, err := ParseKeys([]byte(content))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKeys(%q) = %v, want %q", content, err, want)
		}
	}
}

func TestNewRefusesToStartWithoutKey(t *testing.T) {
	_, err := New(Options{Name: "h1", Gossip: config.Gossip{Bind: "127.0.0.1"}})
	if !errors.Is(err, ErrNoKey) {
		t.Errorf("New without key = %v, want ErrNoKey", err)
	}
	path := writeKeyFile(t, "", 0o644)
	k, _ := GenerateKey()
	if err := os.WriteFile(path, FormatKeyFile([][]byte{k}), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = New(Options{Name: "h1", Gossip: config.Gossip{Bind: "127.0.0.1", KeyFile: path}})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("New with a world-readable key file = %v, want the chmod advice", err)
	}
}
