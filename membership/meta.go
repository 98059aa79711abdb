package membership

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/hashicorp/memberlist"
)

// Limits of the node metadata. With them the largest metadata, both sets
// written as bitmaps and the MACs taking all their bytes, still fits in
// memberlist's MetaMaxSize (meta_test.go checks it).
const (
	// MaxUnits is the most VIP units (groups and ungrouped VIPs) a config
	// may hold.
	MaxUnits = 1536
	// MaxMACs is the most MAC addresses a host gossips.
	MaxMACs = 8
	// maxMACLen is the longest hardware address: 20 bytes (IPoIB).
	maxMACLen = 20
	// maxMACBytes bounds the MACs' share of the metadata, a length byte
	// and the address each: 8 Ethernet MACs take 56, 5 of IPoIB 105.
	maxMACBytes = 112
	// maxKeyLen is the longest unit key the push/pull state carries.
	maxKeyLen = 255
)

// metaVersion is the first byte of the metadata. A reader refuses other
// versions; within a version, fields are only ever appended, and a reader
// ignores bytes after the fields it knows.
const metaVersion = 1

const (
	flagDrained   = 1 << 0
	flagUnsettled = 1 << 1
	flagLeaving   = 1 << 2
	// flagRawHeartbeats: the host reads version 2 heartbeats
	// (heartbeat_wire.go); every vipd that knows the flag sets it.
	flagRawHeartbeats = 1 << 3
	// flagStateDigests: the host reads heartbeats that carry a digest of
	// the sender's metadata (statedigest.go).
	flagStateDigests = 1 << 4
)

// set kinds: how a set of unit indexes is written.
const (
	setNone   = 0 // no index
	setAll    = 1 // every index below the unit count
	setBitmap = 2 // ceil(units/8) bytes, bit i of byte i/8 (LSB first) for index i
	setList   = 3 // uvarint count, then the first index and each gap minus one, uvarints
)

// errMalformed wraps every reason a metadata or push/pull payload is refused.
var errMalformed = errors.New("malformed")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errMalformed}, args...)...)
}

// nodeMeta is what a host says about itself in its memberlist metadata.
// Passing and Holds are sorted indexes into the host's sorted unit list,
// which only hosts with the same Config fingerprint share.
type nodeMeta struct {
	Drained bool
	// Unsettled: the host lacks the unit list of an alive host, so the
	// whole cluster freezes ownership (see doc.go).
	Unsettled bool
	// Leaving: the host is about to leave the cluster on purpose.
	Leaving bool
	// RawHeartbeats: the host reads version 2 heartbeats.
	RawHeartbeats bool
	// StateDigests: the host reads heartbeats that carry a state digest.
	StateDigests bool
	Config       ConfigFingerprint
	Units        int
	MACs         []net.HardwareAddr
	Passing      []int
	Holds        []int
}

// encodeMeta writes m:
//
//	version  1 byte (1)
//	flags    1 byte (bit 0: drained, bit 1: unsettled, bit 2: leaving,
//	         bit 3: reads version 2 heartbeats, bit 4: reads state digests)
//	config   8 bytes, big endian
//	units    uvarint
//	macs     1 byte count, then per MAC 1 byte length and the bytes
//	passing  set (kind byte, then as the kind says)
//	holds    set
func encodeMeta(m nodeMeta) ([]byte, error) {
	if m.Units < 0 || m.Units > MaxUnits {
		return nil, fmt.Errorf("membership: %d units, at most %d fit in node metadata", m.Units, MaxUnits)
	}
	if len(m.MACs) > MaxMACs {
		return nil, fmt.Errorf("membership: %d MAC addresses, at most %d fit in node metadata", len(m.MACs), MaxMACs)
	}
	b := make([]byte, 0, 64)
	var flags byte
	if m.Drained {
		flags |= flagDrained
	}
	if m.Unsettled {
		flags |= flagUnsettled
	}
	if m.Leaving {
		flags |= flagLeaving
	}
	if m.RawHeartbeats {
		flags |= flagRawHeartbeats
	}
	if m.StateDigests {
		flags |= flagStateDigests
	}
	b = append(b, metaVersion, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Config))
	b = binary.AppendUvarint(b, uint64(m.Units))
	b = append(b, byte(len(m.MACs)))
	macBytes := 0
	for _, mac := range m.MACs {
		macBytes += 1 + len(mac)
	}
	if macBytes > maxMACBytes {
		return nil, fmt.Errorf("membership: the MAC addresses of the managed interfaces take %d bytes of node metadata, at most %d fit (8 Ethernet or 5 InfiniBand addresses); manage fewer interfaces", macBytes, maxMACBytes)
	}
	for _, mac := range m.MACs {
		if len(mac) == 0 || len(mac) > maxMACLen {
			return nil, fmt.Errorf("membership: MAC address %v has %d bytes, want 1 to %d", mac, len(mac), maxMACLen)
		}
		b = append(b, byte(len(mac)))
		b = append(b, mac...)
	}
	var err error
	if b, err = appendSet(b, m.Units, m.Passing); err != nil {
		return nil, err
	}
	if b, err = appendSet(b, m.Units, m.Holds); err != nil {
		return nil, err
	}
	if len(b) > memberlist.MetaMaxSize {
		// The limits above make this unreachable; keep memberlist from panicking anyway.
		return nil, fmt.Errorf("membership: node metadata of %d bytes, over the %d-byte limit", len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

// appendSet writes the sorted, unique indexes idx, all below n, in the
// shortest of the set kinds.
func appendSet(b []byte, n int, idx []int) ([]byte, error) {
	for i, x := range idx {
		if x < 0 || x >= n || (i > 0 && x <= idx[i-1]) {
			return nil, fmt.Errorf("membership: set index %d is not sorted, unique and below %d", x, n)
		}
	}
	switch len(idx) {
	case 0:
		return append(b, setNone), nil
	case n:
		return append(b, setAll), nil
	}
	list := binary.AppendUvarint(nil, uint64(len(idx)))
	prev := -1
	for _, x := range idx {
		list = binary.AppendUvarint(list, uint64(x-prev-1))
		prev = x
	}
	bitmapLen := (n + 7) / 8
	if len(list) < bitmapLen {
		b = append(b, setList)
		return append(b, list...), nil
	}
	b = append(b, setBitmap)
	start := len(b)
	b = append(b, make([]byte, bitmapLen)...)
	for _, x := range idx {
		b[start+x/8] |= 1 << (x % 8)
	}
	return b, nil
}

// decodeMeta reads what encodeMeta wrote. Every error wraps errMalformed.
func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	r := reader{b: b}
	if v := r.byte(); r.err == nil && v != metaVersion {
		return m, malformed("metadata version %d, this vipd reads version %d", v, metaVersion)
	}
	flags := r.byte()
	m.Drained = flags&flagDrained != 0
	m.Unsettled = flags&flagUnsettled != 0
	m.Leaving = flags&flagLeaving != 0
	m.RawHeartbeats = flags&flagRawHeartbeats != 0
	m.StateDigests = flags&flagStateDigests != 0
	m.Config = ConfigFingerprint(r.uint64())
	units := r.uvarint()
	if r.err == nil && units > MaxUnits {
		return m, malformed("%d units, more than %d", units, MaxUnits)
	}
	m.Units = int(units)
	nmacs := int(r.byte())
	if r.err == nil && nmacs > MaxMACs {
		return m, malformed("%d MAC addresses, more than %d", nmacs, MaxMACs)
	}
	for i := 0; i < nmacs && r.err == nil; i++ {
		n := int(r.byte())
		if r.err == nil && (n == 0 || n > maxMACLen) {
			return m, malformed("MAC address of %d bytes", n)
		}
		if mac := r.bytes(n); r.err == nil {
			m.MACs = append(m.MACs, net.HardwareAddr(slices.Clone(mac)))
		}
	}
	m.Passing = r.set(m.Units)
	m.Holds = r.set(m.Units)
	if r.err != nil {
		return nodeMeta{}, r.err
	}
	return m, nil
}

// reader reads a payload and remembers the first error, after which every
// read returns zero.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail(malformed("truncated: want %d more bytes, have %d", n, len(r.b)))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte() byte {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) uint64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(malformed("bad varint"))
		return 0
	}
	r.b = r.b[n:]
	return v
}

// set reads a set of indexes below n.
func (r *reader) set(n int) []int {
	kind := r.byte()
	if r.err != nil {
		return nil
	}
	switch kind {
	case setNone:
		return nil
	case setAll:
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	case setBitmap:
		bm := r.bytes((n + 7) / 8)
		if r.err != nil {
			return nil
		}
		var idx []int
		for i := range len(bm) * 8 {
			if bm[i/8]&(1<<(i%8)) == 0 {
				continue
			}
			if i >= n {
				r.fail(malformed("bitmap bit %d set, but there are %d units", i, n))
				return nil
			}
			idx = append(idx, i)
		}
		return idx
	case setList:
		count := r.uvarint()
		if r.err == nil && count > uint64(n) {
			r.fail(malformed("list of %d indexes, but there are %d units", count, n))
		}
		if r.err != nil {
			return nil
		}
		idx := make([]int, 0, count)
		next := uint64(0)
		for range count {
			gap := r.uvarint()
			if r.err != nil {
				return nil
			}
			if gap >= uint64(n) || next+gap >= uint64(n) {
				r.fail(malformed("list index past the %d units", n))
				return nil
			}
			x := next + gap
			idx = append(idx, int(x))
			next = x + 1
		}
		return idx
	}
	r.fail(malformed("unknown set kind %d", kind))
	return nil
}
