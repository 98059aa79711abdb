package announcer

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// fakeBridges is bridgeOps for a host with one bridge br0 that has a
// hardware port eth1 and a virtual port veth1.
type fakeBridges struct{ flags map[string]portFlags }

func (f *fakeBridges) setPortFlags(port string, fl portFlags) error {
	f.flags[port] = fl
	return nil
}

// fakeProcSys writes a /proc/sys tree with the given values.
func fakeProcSys(t *testing.T, values map[string]string) string {
	root := t.TempDir()
	for k, v := range values {
		p := filepath.Join(root, k)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readTree(t *testing.T, root string, keys map[string]string) map[string]string {
	out := map[string]string{}
	for k := range keys {
		b, err := os.ReadFile(filepath.Join(root, k))
		if err != nil {
			t.Fatal(err)
		}
		out[k] = string(bytes.TrimSpace(b))
	}
	return out
}

func TestTuningRecordsOriginalsFirstAndRestoresThemAfterACrash(t *testing.T) {
	orig := map[string]string{
		"net/ipv4/conf/all/arp_ignore":    "0",
		"net/ipv4/conf/all/arp_announce":  "0",
		"net/ipv4/conf/all/rp_filter":     "1",
		"net/ipv4/conf/eth0/arp_ignore":   "0",
		"net/ipv4/conf/eth0/arp_announce": "1",
		"net/ipv4/conf/eth0/rp_filter":    "0",
		"net/ipv4/conf/br0/arp_ignore":    "2", // already stricter: left alone
		"net/ipv4/conf/br0/arp_announce":  "0",
		"net/ipv4/conf/br0/rp_filter":     "2",
		"net/ipv4/conf/eth2/arp_ignore":   "0", // tuning off
		"net/ipv4/conf/eth2/arp_announce": "0",
		"net/ipv4/conf/eth2/rp_filter":    "1",
	}
	root := fakeProcSys(t, orig)
	bridges := &fakeBridges{flags: map[string]portFlags{}}
	store := stateStore{dir: filepath.Join(t.TempDir(), "state")}
	tn := &tuner{sysctlRoot: root, bridges: bridges, store: store}
	ifcs := []Interface{{Name: "eth0", Tuning: true}, {Name: "br0", Tuning: true}, {Name: "eth2"}}

	s, err := store.load()
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.tune(s, ifcs); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"net/ipv4/conf/eth0/arp_ignore":   "1",
		"net/ipv4/conf/eth0/arp_announce": "2",
		"net/ipv4/conf/eth0/rp_filter":    "2", // all=1 makes it strict
		"net/ipv4/conf/br0/arp_ignore":    "2",
		"net/ipv4/conf/br0/arp_announce":  "2",
		"net/ipv4/conf/br0/rp_filter":     "2",
		"net/ipv4/conf/eth2/rp_filter":    "1",
	}
	got := readTree(t, root, orig)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("after tuning %s = %s, want %s", k, got[k], v)
		}
	}
	if len(bridges.flags) != 0 {
		t.Errorf("bridge port flags changed: %+v; vipd leaves bridge ports alone", bridges.flags)
	}

	// A crash: the next start reads the state file and tunes again, over
	// tuned values. It must keep the originals.
	s2, err := store.load()
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.tune(s2, ifcs); err != nil {
		t.Fatal(err)
	}
	if err := tn.restore(s2); err != nil {
		t.Fatal(err)
	}
	if err := store.save(s2); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, root, orig); !mapsEqual(got, orig) {
		t.Errorf("after crash, restart and restore:\n%v\nwant\n%v", got, orig)
	}
	if _, err := os.Stat(store.path()); !os.IsNotExist(err) {
		t.Errorf("state file left after a full restore: %v", err)
	}
}

func TestACorruptStateFileIsAnErrorNotAFreshStart(t *testing.T) {
	store := stateStore{dir: t.TempDir()}
	if err := os.WriteFile(store.path(), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := store.load(); err == nil {
		t.Fatal("load accepted a corrupt state file")
	}
}
