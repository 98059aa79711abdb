package membership

import (
	"bytes"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

func sealerWith(t *testing.T, keys ...[]byte) *heartbeatSealer {
	t.Helper()
	var s heartbeatSealer
	if err := s.setKeys(keys); err != nil {
		t.Fatal(err)
	}
	return &s
}

// A version 2 heartbeat opens with the sender's key wherever it is in the
// receiver's keys (a rotation), and with nothing else: not another key, not
// a changed byte, not the clear text a host without keys sends.
func TestRawHeartbeatOpensOnlyWithTheKey(t *testing.T) {
	k1, _ := GenerateKey()
	k2, _ := GenerateKey()
	sender := sealerWith(t, k1)
	pkt := sender.seal(nil, flagStopping, nil, "h1")
	if pkt[0] != heartbeatMagic || pkt[1] != rawHeartbeatVersion {
		t.Fatalf("packet starts % x, want the magic and version 2", pkt[:2])
	}
	if bytes.Contains(pkt, []byte("h1")) {
		t.Errorf("the node name is readable in % x", pkt)
	}

	for _, keys := range [][][]byte{{k1}, {k2, k1}, {k1, k2}} {
		flags, name, ok := sealerWith(t, keys...).open(nil, bytes.Clone(pkt))
		if !ok || flags != flagStopping || string(name) != "h1" {
			t.Errorf("with %d keys: open = %d %q %v, want the stopping flag from h1", len(keys), flags, name, ok)
		}
	}
	if _, _, ok := sealerWith(t, k2).open(nil, bytes.Clone(pkt)); ok {
		t.Error("opened with another key")
	}
	for i := range pkt {
		bad := bytes.Clone(pkt)
		bad[i] ^= 0x01
		if _, _, ok := sealerWith(t, k1).open(nil, bad); ok {
			t.Errorf("opened with byte %d changed", i)
		}
	}

	clear := sealerWith(t).seal(nil, 0, nil, "h2")
	if flags, name, ok := sealerWith(t).open(nil, clear); !ok || flags != 0 || string(name) != "h2" {
		t.Errorf("without keys: open = %d %q %v, want h2", flags, name, ok)
	}
	if _, _, ok := sealerWith(t, k1).open(nil, clear); ok {
		t.Error("a host with a key opened a heartbeat sent in the clear")
	}
	v1 := append([]byte{heartbeatMagic, heartbeatVersion, 0}, "h3"...)
	if _, _, ok := sealerWith(t).open(nil, v1); ok {
		t.Error("open took a version 1 heartbeat")
	}
}

// A member whose metadata says it reads version 2 gets version 2; one from
// before (no flag) gets version 1 as a memberlist user message. A version 2
// heartbeat received counts like a version 1 one.
func TestHeartbeatVersionFollowsTheMembersMetadata(t *testing.T) {
	key, _ := GenerateKey()
	units := someUnits(1)
	m := offline(t, "self", units, Local{})
	m.timing = Profiles[config.ProfileDefault]
	if err := m.hb.sealer.setKeys([][]byte{key}); err != nil {
		t.Fatal(err)
	}
	ev := events{m}
	current := offline(t, "new", units, Local{}).node()
	old := offline(t, "old", units, Local{}).node()
	old.Meta[1] &^= flagRawHeartbeats
	old.Port++
	ev.NotifyJoin(current)
	ev.NotifyJoin(old)

	targets, _, _ := m.heartbeatRound(time.Now(), m.timing.HeartbeatTimeout, false)
	raw := map[string]bool{}
	for _, tg := range targets {
		raw[tg.node.Name] = tg.raw
	}
	if len(raw) != 2 || !raw["new"] || raw["old"] {
		t.Errorf("targets by version 2: %v, want new: true, old: false", raw)
	}

	m.receiveRawHeartbeat(sealerWith(t, key).seal(nil, 0, nil, "new"))
	timeout := m.timing.HeartbeatTimeout
	m.heartbeatRound(time.Now().Add(2*timeout), timeout, false)
	if alive(m)["new"] {
		t.Error("a member heard by a version 2 heartbeat, then quiet past the timeout, is alive in the view")
	}
	m.receiveRawHeartbeat(sealerWith(t).seal(nil, 0, nil, "old"))
	if st := m.HeartbeatStats(); st.Received != 1 || st.Dropped != 1 {
		t.Errorf("received %d, dropped %d; want 1 and 1 (a heartbeat in the clear to a host with a key)", st.Received, st.Dropped)
	}
}
