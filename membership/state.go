package membership

import (
	"encoding/binary"

	"github.com/vipd/vipd/election"
)

// The push/pull state: the unit lists (key and definition fingerprint of
// every unit) behind the config fingerprints that alive hosts gossip.
//
//	version  1 byte (1)
//	lists    uvarint count, at most maxLists
//	list     uvarint unit count, at most MaxUnits, then per unit, by key:
//	         uvarint key length (1-255), the key, 8-byte definition fingerprint
//
// Within a version, fields are only appended, and a reader ignores bytes
// after the ones it knows. A reader recomputes each list's ConfigFingerprint from its content, so a
// list can only ever be used for hosts whose metadata names that fingerprint.
const (
	stateVersion = 1
	maxLists     = 16
	maxStateSize = maxLists * MaxUnits * (1 + 2 + maxKeyLen + 8)
)

func encodeState(lists []*unitList) []byte {
	var b []byte
	b = append(b, stateVersion)
	if len(lists) > maxLists {
		lists = lists[:maxLists]
	}
	b = binary.AppendUvarint(b, uint64(len(lists)))
	for _, l := range lists {
		b = binary.AppendUvarint(b, uint64(len(l.keys)))
		for _, k := range l.keys {
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			b = binary.BigEndian.AppendUint64(b, uint64(l.known[k]))
		}
	}
	return b
}

// decodeState reads what encodeState wrote. Every error wraps errMalformed.
func decodeState(b []byte) ([]*unitList, error) {
	if len(b) > maxStateSize {
		return nil, malformed("push/pull state of %d bytes, more than %d", len(b), maxStateSize)
	}
	r := reader{b: b}
	if v := r.byte(); r.err == nil && v != stateVersion {
		return nil, malformed("push/pull state version %d, this vipd reads version %d", v, stateVersion)
	}
	count := r.uvarint()
	if r.err == nil && count > maxLists {
		return nil, malformed("%d unit lists, more than %d", count, maxLists)
	}
	var lists []*unitList
	for i := uint64(0); i < count && r.err == nil; i++ {
		n := r.uvarint()
		if r.err == nil && n > MaxUnits {
			return nil, malformed("%d units, more than %d", n, MaxUnits)
		}
		keys := make([]string, 0, n)
		fps := make([]election.Fingerprint, 0, n)
		for j := uint64(0); j < n && r.err == nil; j++ {
			kl := r.uvarint()
			if r.err == nil && (kl == 0 || kl > maxKeyLen) {
				return nil, malformed("unit key of %d bytes", kl)
			}
			key := string(r.bytes(int(kl)))
			fp := election.Fingerprint(r.uint64())
			if r.err == nil && len(keys) > 0 && key <= keys[len(keys)-1] {
				return nil, malformed("unit keys not sorted and unique at %q", key)
			}
			keys = append(keys, key)
			fps = append(fps, fp)
		}
		if r.err == nil {
			lists = append(lists, newUnitList(keys, fps))
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	// Bytes after the lists are fields of a later revision of this version.
	return lists, nil
}
