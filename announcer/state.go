package announcer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// stateFile is the name, under the state directory, of the record of
// everything the announcer changed on this host.
const stateFile = "announcer.json"

const stateVersion = 1

// state is what must be undone on stop. It is written before every change,
// so that after a crash the next start finds the values from before vipd
// touched anything, not the tuned ones.
type state struct {
	Version int `json:"version"`
	// Sysctls maps a path under /proc/sys (like net/ipv4/conf/eth0/arp_ignore)
	// to its original value.
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// BridgePorts maps a bridge port to its original flags.
	BridgePorts map[string]portFlags `json:"bridge_ports,omitempty"`
	// Addresses lists the prefixes vipd added to vipd0; no other address is
	// ever removed.
	Addresses []string `json:"addresses,omitempty"`
	// CreatedLink is true when vipd created vipd0 itself.
	CreatedLink bool `json:"created_link,omitempty"`
}

// portFlags are the bridge-port flags vipd sets.
type portFlags struct {
	Hairpin  bool `json:"hairpin"`
	ProxyARP bool `json:"proxy_arp"`
}

func (s *state) empty() bool {
	return len(s.Sysctls) == 0 && len(s.BridgePorts) == 0 && len(s.Addresses) == 0 && !s.CreatedLink
}

func (s *state) addAddress(p string) {
	if !slices.Contains(s.Addresses, p) {
		s.Addresses = append(s.Addresses, p)
	}
}

func (s *state) dropAddress(p string) {
	s.Addresses = slices.DeleteFunc(s.Addresses, func(x string) bool { return x == p })
}

// stateStore reads and writes the state file atomically.
type stateStore struct{ dir string }

func (ss stateStore) path() string { return filepath.Join(ss.dir, stateFile) }

// load returns the recorded state, or an empty one when there is none.
func (ss stateStore) load() (*state, error) {
	s := &state{Version: stateVersion, Sysctls: map[string]string{}, BridgePorts: map[string]portFlags{}}
	b, err := os.ReadFile(ss.path())
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("state file %s is corrupt (%v); the original kernel settings it held are lost: check arp_ignore, arp_announce, rp_filter and bridge-port flags by hand, then remove it", ss.path(), err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("state file %s has version %d, this vipd reads version %d", ss.path(), s.Version, stateVersion)
	}
	if s.Sysctls == nil {
		s.Sysctls = map[string]string{}
	}
	if s.BridgePorts == nil {
		s.BridgePorts = map[string]portFlags{}
	}
	return s, nil
}

// save writes s to a temporary file, syncs it and renames it over the state
// file, so a crash leaves either the old or the new record, never half of one.
// An empty state removes the file.
func (ss stateStore) save(s *state) error {
	if s.empty() {
		if err := os.Remove(ss.path()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove state: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(ss.dir, 0o755); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp, err := os.CreateTemp(ss.dir, stateFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), ss.path()); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if d, err := os.Open(ss.dir); err == nil {
		d.Sync() // make the rename durable; nothing to do if it fails
		d.Close()
	}
	return nil
}
