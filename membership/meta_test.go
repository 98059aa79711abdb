package membership

import (
	"bytes"
	"errors"
	"net"
	"reflect"
	"slices"
	"testing"

	"github.com/hashicorp/memberlist"
	"pgregory.net/rapid"
)

func TestMetaRoundTrip(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	cases := []nodeMeta{
		{},
		{Drained: true, Config: 0xdeadbeef, Units: 3, Passing: []int{0, 1, 2}, Holds: []int{1}},
		{Config: 1, Units: 1000, MACs: []net.HardwareAddr{mac}, Passing: seq(0, 1000, 1), Holds: []int{7, 999}},
		{Config: 2, Units: 1000, Passing: seq(0, 1000, 2), Holds: seq(1, 1000, 3)},
	}
	for _, want := range cases {
		b, err := encodeMeta(want)
		if err != nil {
			t.Fatalf("encode %+v: %v", want, err)
		}
		got, err := decodeMeta(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !sameMeta(got, want) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
	}
}

// TestMetaAtTheLimit writes the largest metadata there can be: MaxUnits units,
// both sets as bitmaps (every other unit, so no shorter form exists), MACs
// of the longest kind filling their bytes. It must fit memberlist's limit,
// and one unit or one MAC byte more must be refused, not sent.
func TestMetaAtTheLimit(t *testing.T) {
	var macs []net.HardwareAddr
	for used := 0; used < maxMACBytes; {
		n := min(maxMACLen, maxMACBytes-used-1)
		macs = append(macs, bytes.Repeat([]byte{byte(len(macs) + 1)}, n))
		used += 1 + n
	}
	worst := nodeMeta{Drained: true, Config: ^ConfigFingerprint(0), Units: MaxUnits, MACs: macs,
		Passing: seq(0, MaxUnits, 2), Holds: seq(1, MaxUnits, 2)}
	b, err := encodeMeta(worst)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("largest metadata: %d bytes of %d", len(b), memberlist.MetaMaxSize)
	if len(b) > memberlist.MetaMaxSize {
		t.Fatalf("largest metadata is %d bytes, over memberlist's %d", len(b), memberlist.MetaMaxSize)
	}
	if b[len(b)-1-(MaxUnits+7)/8] != setBitmap {
		t.Errorf("holds was not written as a bitmap, so this is not the worst case")
	}
	got, err := decodeMeta(b)
	if err != nil || !sameMeta(got, worst) {
		t.Fatalf("decode of the largest metadata: %v", err)
	}

	longer := worst
	longer.MACs = slices.Clone(worst.MACs)
	longer.MACs[len(longer.MACs)-1] = append(slices.Clone(longer.MACs[len(longer.MACs)-1]), 0)
	if _, err := encodeMeta(longer); err == nil {
		t.Errorf("encodeMeta accepted MACs of %d bytes", maxMACBytes+1)
	}
	worst.Units = MaxUnits + 1
	if _, err := encodeMeta(worst); err == nil {
		t.Errorf("encodeMeta accepted %d units", MaxUnits+1)
	}
	if _, err := unitListOf(someUnits(MaxUnits + 1)); err == nil {
		t.Errorf("a config of %d units was accepted", MaxUnits+1)
	}
}

// TestThousandVIPs: a host with 1000 VIPs and a realistic state sends
// little, and the worst state still fits.
func TestThousandVIPs(t *testing.T) {
	units := someUnits(1000)
	keys := keysOf(units)
	m := offline(t, "h1", units, Local{Passing: setOf(keys...), Holds: setOf(keys[:200]...),
		MACs: []net.HardwareAddr{{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}}})
	t.Logf("1000 units, all passing, 200 held: %d bytes", len(m.meta))
	if len(m.meta) > memberlist.MetaMaxSize {
		t.Fatalf("%d bytes", len(m.meta))
	}
	odd := setOf()
	for i := 1; i < len(keys); i += 2 {
		odd[keys[i]] = struct{}{}
	}
	if err := m.setLocalLocked(Local{Passing: odd, Holds: odd}); err != nil {
		t.Fatal(err)
	}
	t.Logf("1000 units, every other one passing and held: %d bytes", len(m.meta))
}

func TestMetaRefusesMalformed(t *testing.T) {
	good, err := encodeMeta(nodeMeta{Config: 9, Units: 10, Passing: []int{1, 2}, Holds: []int{3}})
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"empty":             nil,
		"version 2":         append([]byte{2}, good[1:]...),
		"truncated":         good[:len(good)-1],
		"units over limit":  {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x03},
		"too many MACs":     {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, MaxMACs + 1},
		"empty MAC":         {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0},
		"unknown set kind":  {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 9, 0},
		"bitmap past units": {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, setBitmap, 0x08, setNone},
		"list past units":   {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, setList, 1, 3, setNone},
		"list too long":     {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, setList, 4, 0, 0, 0, 0, setNone},
	}
	for name, b := range bad {
		if _, err := decodeMeta(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: decodeMeta = %v, want a malformed error", name, err)
		}
	}
}

func TestMetaProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, MaxUnits).Draw(t, "units")
		pick := func(label string) []int {
			var idx []int
			density := rapid.Float64Range(0, 1).Draw(t, label+"density")
			for i := range n {
				if float64(i%97)/97 < density {
					idx = append(idx, i)
				}
			}
			return idx
		}
		macs := rapid.SliceOfN(rapid.SliceOfN(rapid.Byte(), 1, maxMACLen), 0, MaxMACs).Draw(t, "macs")
		want := nodeMeta{
			Drained: rapid.Bool().Draw(t, "drained"),
			Config:  ConfigFingerprint(rapid.Uint64().Draw(t, "config")),
			Units:   n,
			Passing: pick("passing"),
			Holds:   pick("holds"),
		}
		used := 0
		for _, mac := range macs {
			if used += 1 + len(mac); used > maxMACBytes {
				break
			}
			want.MACs = append(want.MACs, mac)
		}
		b, err := encodeMeta(want)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if len(b) > memberlist.MetaMaxSize {
			t.Fatalf("%d bytes", len(b))
		}
		got, err := decodeMeta(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !sameMeta(got, want) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
		}
	})
}

func FuzzMeta(f *testing.F) {
	for _, m := range []nodeMeta{{}, {Units: 20, Passing: seq(0, 20, 1), Holds: []int{3, 9}}, {Units: 100, Passing: seq(0, 100, 3)}} {
		b, _ := encodeMeta(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not wrap errMalformed", err)
			}
			return
		}
		again, err := encodeMeta(m)
		if err != nil {
			t.Fatalf("decoded %+v but cannot encode it: %v", m, err)
		}
		m2, err := decodeMeta(again)
		if err != nil || !sameMeta(m, m2) {
			t.Fatalf("re-encoding changed the metadata: %+v vs %+v (%v)", m, m2, err)
		}
	})
}

func seq(from, to, step int) []int {
	var s []int
	for i := from; i < to; i += step {
		s = append(s, i)
	}
	return s
}

func sameMeta(a, b nodeMeta) bool {
	norm := func(m nodeMeta) nodeMeta {
		if len(m.Passing) == 0 {
			m.Passing = nil
		}
		if len(m.Holds) == 0 {
			m.Holds = nil
		}
		if len(m.MACs) == 0 {
			m.MACs = nil
		}
		return m
	}
	return reflect.DeepEqual(norm(a), norm(b))
}
