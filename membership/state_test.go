package membership

import (
	"errors"
	"slices"
	"testing"
)

func TestStateRoundTrip(t *testing.T) {
	a, err := unitListOf(someUnits(1000))
	if err != nil {
		t.Fatal(err)
	}
	b, err := unitListOf(someUnits(3))
	if err != nil {
		t.Fatal(err)
	}
	payload := encodeState([]*unitList{a, b})
	t.Logf("push/pull state of a 1000-unit and a 3-unit list: %d bytes", len(payload))
	got, err := decodeState(payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].fp != a.fp || got[1].fp != b.fp || !slices.Equal(got[0].keys, a.keys) {
		t.Fatalf("decoded lists differ from the ones sent")
	}
}

// A list is filed under the fingerprint of its content, so a changed byte
// gives another fingerprint: it cannot be taken for the original.
func TestStateFingerprintFollowsContent(t *testing.T) {
	l, _ := unitListOf(someUnits(2))
	payload := encodeState([]*unitList{l})
	payload[len(payload)-1] ^= 1
	got, err := decodeState(payload)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].fp == l.fp {
		t.Errorf("a changed definition kept the fingerprint %v", l.fp)
	}
}

func TestStateRefusesMalformed(t *testing.T) {
	bad := map[string][]byte{
		"empty":          nil,
		"version 9":      {9, 0},
		"too many lists": {1, maxLists + 1},
		"truncated":      {1, 1, 2, 1, 'a'},
		"empty key":      {1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"unsorted keys":  {1, 1, 2, 1, 'b', 0, 0, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0},
		"repeated keys":  {1, 1, 2, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0},
		"too many units": {1, 1, 0xff, 0xff, 0x03},
	}
	for name, b := range bad {
		if _, err := decodeState(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: decodeState = %v, want a malformed error", name, err)
		}
	}
}

// MergeRemoteState drops and counts what it cannot read.
func TestMergeRemoteStateCountsMalformed(t *testing.T) {
	m := offline(t, "h1", someUnits(2), Local{})
	d := delegate{m}
	d.MergeRemoteState([]byte{7, 7, 7}, false)
	d.MergeRemoteState(nil, true)
	if got := m.Stats().MalformedState; got != 2 {
		t.Errorf("MalformedState = %d, want 2", got)
	}
}

func FuzzState(f *testing.F) {
	l, _ := unitListOf(someUnits(3))
	f.Add(encodeState([]*unitList{l}))
	f.Add(encodeState(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		lists, err := decodeState(b)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not wrap errMalformed", err)
			}
			return
		}
		again, err := decodeState(encodeState(lists))
		if err != nil || len(again) != len(lists) {
			t.Fatalf("re-encoding failed: %v", err)
		}
		for i := range lists {
			if again[i].fp != lists[i].fp {
				t.Fatalf("re-encoding changed list %d", i)
			}
		}
		// And the delegate takes it without panicking.
		m := offline(t, "h1", nil, Local{})
		delegate{m}.MergeRemoteState(b, false)
	})
}
