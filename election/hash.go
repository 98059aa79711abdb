package election

// The hash is part of the protocol between hosts: every host, whatever its
// version or architecture, must score the same way. So it is spelled out here
// byte by byte (FNV-1a 64, lengths as fixed little-endian words) instead of
// relying on a library whose output might change.

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

type hasher uint64

func newHasher() hasher { return fnvOffset64 }

func (h *hasher) writeByte(b byte) {
	*h ^= hasher(b)
	*h *= fnvPrime64
}

func (h *hasher) writeUint64(v uint64) {
	for i := range 8 {
		h.writeByte(byte(v >> (8 * i)))
	}
}

// writeString prefixes the length so ("ab", "c") and ("a", "bc") differ.
func (h *hasher) writeString(s string) {
	h.writeUint64(uint64(len(s)))
	for i := 0; i < len(s); i++ {
		h.writeByte(s[i])
	}
}

func (h *hasher) writeBool(b bool) {
	if b {
		h.writeByte(1)
	} else {
		h.writeByte(0)
	}
}

// sum mixes the state with the murmur3 finalizer: plain FNV-1a leaves inputs
// that differ in their last byte too close, which skews rendezvous spread.
func (h hasher) sum() uint64 {
	x := uint64(h)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// rendezvousScore is host's highest-random-weight score for the unit: among
// hosts of equal priority, the highest score owns it.
func rendezvousScore(host, key string) uint64 { return scorerOf(key).score(host) }

// scorer is the hash state after the prefix and a unit's key: scoring the
// unit for many hosts hashes only their names.
type scorer hasher

// rendezvousPrefix is the hash state after the scores' prefix.
var rendezvousPrefix = func() hasher {
	h := newHasher()
	h.writeString("vipd/election/rendezvous/v1")
	return h
}()

func scorerOf(key string) scorer {
	h := rendezvousPrefix
	h.writeString(key)
	return scorer(h)
}

func (s scorer) score(host string) uint64 {
	h := hasher(s)
	h.writeString(host)
	return h.sum()
}
