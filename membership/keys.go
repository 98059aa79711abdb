package membership

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the size of the keys GenerateKey makes: AES-256.
const KeySize = 32

// ErrNoKey is returned by New when gossip is not marked insecure and no key
// was given.
var ErrNoKey = errors.New("membership: no gossip key: set gossip.key_file (write one with 'vipd keygen -o /etc/vipd/gossip.key'), or set gossip.insecure: true on a trusted test network")

// GenerateKey returns a fresh random AES-256 key.
func GenerateKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("membership: generating a key: %w", err)
	}
	return key, nil
}

// FormatKeyFile returns the content of a key file holding keys, the first
// one the primary: one base64 key per line.
func FormatKeyFile(keys [][]byte) []byte {
	var b bytes.Buffer
	for _, k := range keys {
		b.WriteString(base64.StdEncoding.EncodeToString(k))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// LoadKeyFile reads a gossip key file: base64 keys of 16, 24 or 32 bytes
// (AES-128, -192, -256), one per line, the first one the primary, which
// encrypts what this host sends; every key decrypts. Blank lines and lines
// starting with # are ignored.
//
// It refuses a file that group or others can read or write: the key is all
// that keeps a stranger out of the cluster.
func LoadKeyFile(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("gossip key file %s does not exist: create it on one host with 'vipd keygen -o %s' and copy it to every host with mode 0600 (or set gossip.insecure: true on a lab network): %w", path, path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("gossip key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("gossip key file: %w", err)
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		return nil, fmt.Errorf("gossip key file %s has mode %04o, so group or others can read or change the cluster key; run: chmod 600 %s", path, mode, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gossip key file: %w", err)
	}
	keys, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("gossip key file %s: %w", path, err)
	}
	return keys, nil
}

// ParseKeys parses the content of a key file; see LoadKeyFile.
func ParseKeys(data []byte) ([][]byte, error) {
	var keys [][]byte
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: not a base64 key; write one with 'vipd keygen'", i+1)
		}
		if err := validKey(key); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		for _, k := range keys {
			if bytes.Equal(k, key) {
				return nil, fmt.Errorf("line %d: the same key appears twice", i+1)
			}
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("holds no key; write one with 'vipd keygen'")
	}
	return keys, nil
}

func validKey(key []byte) error {
	switch len(key) {
	case 16, 24, 32:
		return nil
	}
	return fmt.Errorf("a key of %d bytes; AES keys have 16, 24 or 32 bytes ('vipd keygen' writes 32)", len(key))
}
