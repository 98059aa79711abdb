package election

import (
	"testing"
)

// The scores and fingerprints are part of the protocol between hosts: if one
// of these values changes, hosts on the old and new versions disagree on
// owners. Change them only together with a protocol version. The values were
// checked against a separate implementation of the encoding in hash.go.
func TestHashIsStable(t *testing.T) {
	scores := []struct {
		host, key string
		want      uint64
	}{
		{"h1", "web", 0x77aaacdb36589f61},
		{"h2", "web", 0x93d52f5b18e574dc},
		{"web", "h1", 0x68ca56778d1d6234},
		{"", "", 0xdebb8f79b367006a},
	}
	for _, s := range scores {
		if got := rendezvousScore(s.host, s.key); got != s.want {
			t.Errorf("rendezvousScore(%q, %q) = %#x, want %#x", s.host, s.key, got, s.want)
		}
	}

	unit := Unit{
		Key:      "frontends",
		VIPs:     []string{"192.0.2.10", "2001:db8::10"},
		Nodes:    []string{"h1", "h2"},
		Priority: map[string]int{"h1": 100, "h2": -1},
		Failback: true,
	}
	if got, want := unit.Fingerprint(), Fingerprint(0xd0ac30584094e7a9); got != want {
		t.Errorf("Fingerprint() = %v, want %v", got, want)
	}
}

func TestRendezvousSeparatesNames(t *testing.T) {
	if rendezvousScore("ab", "c") == rendezvousScore("a", "bc") {
		t.Error(`("ab", "c") and ("a", "bc") score the same`)
	}
}

func TestFingerprintIgnoresWhatDoesNotChangeADecision(t *testing.T) {
	base := Unit{Key: "web", VIPs: []string{"a", "b"}, Nodes: []string{"h1", "h2"}, Priority: map[string]int{"h1": 5}}
	same := Unit{Key: "web", VIPs: []string{"b", "a", "a"}, Nodes: []string{"h2", "h1", "h2"}, Priority: map[string]int{"h1": 5, "h3": 0}}
	if base.Fingerprint() != same.Fingerprint() {
		t.Errorf("order, repeats or zero priorities changed the fingerprint")
	}

	changed := map[string]Unit{
		"key":      {Key: "db", VIPs: base.VIPs, Nodes: base.Nodes, Priority: base.Priority},
		"vips":     {Key: "web", VIPs: []string{"a"}, Nodes: base.Nodes, Priority: base.Priority},
		"nodes":    {Key: "web", VIPs: base.VIPs, Nodes: []string{"h1"}, Priority: base.Priority},
		"no nodes": {Key: "web", VIPs: base.VIPs, Priority: base.Priority},
		"priority": {Key: "web", VIPs: base.VIPs, Nodes: base.Nodes, Priority: map[string]int{"h1": 6}},
		"failback": {Key: "web", VIPs: base.VIPs, Nodes: base.Nodes, Priority: base.Priority, Failback: true},
		// A node name and a VIP must not trade places unnoticed.
		"vip as node": {Key: "web", VIPs: []string{"a", "b", "h1"}, Nodes: []string{"h2"}, Priority: base.Priority},
	}
	for what, u := range changed {
		if u.Fingerprint() == base.Fingerprint() {
			t.Errorf("changing the %s kept the fingerprint", what)
		}
	}
}
