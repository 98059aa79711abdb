package membership

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/vipd/vipd/config"
)

// A member that announces a state whose metadata has not arrived here is
// pending until it arrives; the announcement alone keeps nobody alive, and
// one older than pendingFor is not believed.
func TestAMemberWhoseAnnouncedStateHasNotArrivedIsPending(t *testing.T) {
	key, _ := GenerateKey()
	units := someUnits(2)
	m := offline(t, "self", units, Local{})
	m.timing = Profiles[config.ProfileDefault]
	if err := m.hb.sealer.setKeys([][]byte{key}); err != nil {
		t.Fatal(err)
	}
	h1 := offline(t, "h1", units, Local{})
	old := offline(t, "old", units, Local{}).node()
	old.Meta[1] &^= flagStateDigests
	old.Port++
	ev := events{m}
	ev.NotifyJoin(h1.node())
	ev.NotifyJoin(old)
	if got := m.Pending(); len(got) != 0 {
		t.Fatalf("pending before any announcement: %v", got)
	}
	targets, _, _ := m.heartbeatRound(time.Now(), m.timing.HeartbeatTimeout, false)
	digest := map[string]bool{}
	for _, tg := range targets {
		digest[tg.node.Name] = tg.digest
	}
	if !digest["h1"] || digest["old"] {
		t.Errorf("heartbeats with a digest: %v, want h1 only (old's metadata lacks the flag)", digest)
	}

	announce := func(flags byte) {
		var d [4]byte
		binary.BigEndian.PutUint32(d[:], h1.hb.digest.Load())
		m.receiveRawHeartbeat(sealerWith(t, key).seal(nil, flags|flagDigest, d[:], "h1"))
	}
	// h1 claims u0000; its announcement outruns its gossip.
	if err := h1.setLocalLocked(Local{Passing: setOf("u0000"), Holds: setOf("u0000")}); err != nil {
		t.Fatal(err)
	}
	announce(flagStateOnly)
	if got := m.Pending(); !slices.Equal(got, []string{"h1"}) {
		t.Errorf("pending after h1 announced a new state: %v, want [h1]", got)
	}
	// Still missing after pullAfter, the state is asked of h1, once per
	// pullAfter.
	var pulled []string
	m.pull = func(n *memberlist.Node) {
		defer m.stopped.Done()
		pulled = append(pulled, n.Name)
	}
	timeout := m.timing.HeartbeatTimeout
	m.heartbeatRound(time.Now(), timeout, false)
	m.stopped.Wait()
	if len(pulled) != 0 {
		t.Errorf("pulled %v as soon as the state was announced, want none before %v", pulled, pullAfter)
	}
	m.heartbeatRound(time.Now().Add(2*timeout), timeout, false)
	m.heartbeatRound(time.Now().Add(2*timeout+pullAfter/2), timeout, false)
	m.stopped.Wait()
	if !slices.Equal(pulled, []string{"h1"}) {
		t.Errorf("pulled %v after %v, want [h1] once", pulled, 2*timeout)
	}
	if !alive(m)["h1"] {
		t.Error("a state-only announcement started the heartbeat timeout of a member this host does not watch")
	}
	ev.NotifyUpdate(h1.node())
	if got := m.Pending(); len(got) != 0 {
		t.Errorf("pending once h1's metadata arrived: %v, want none", got)
	}
	m.heartbeatRound(time.Now().Add(2*time.Second), timeout, false)
	m.stopped.Wait()
	if len(pulled) != 1 {
		t.Errorf("pulled %v, want no pull once the metadata arrived", pulled)
	}
	m.heartbeatRound(time.Now().Add(3*pullAfter), timeout, false)
	m.stopped.Wait()
	if len(pulled) != 1 {
		t.Errorf("pulled %v, want no pull once the metadata arrived", pulled)
	}

	if err := h1.setLocalLocked(Local{Passing: setOf("u0000", "u0001"), Holds: setOf("u0000")}); err != nil {
		t.Fatal(err)
	}
	announce(0)
	if got := m.Pending(); !slices.Equal(got, []string{"h1"}) {
		t.Errorf("pending after a heartbeat with h1's next digest: %v, want [h1]", got)
	}
	m.hb.mu.Lock()
	m.hb.heard["h1"].announcedAt = time.Now().Add(-pendingFor - time.Millisecond)
	m.hb.mu.Unlock()
	if got := m.Pending(); len(got) != 0 {
		t.Errorf("pending on a digest heard longer than %v ago: %v, want none", pendingFor, got)
	}
}
