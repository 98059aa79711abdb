package membership

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"sync"
)

// Heartbeats on the wire.
//
// A heartbeat goes straight to the member's gossip port over UDP, not
// through memberlist: a memberlist user message builds a new AES-GCM cipher
// for every packet and passes through two goroutines at each end, which at a
// heartbeat every 150 ms to every member was most of vipd's idle CPU. The
// transport tells a heartbeat from memberlist's packets by its first byte
// (memberlist starts a packet with a message type, an encryption version or
// its label marker, all small or 244) and hands it to receiveRawHeartbeat on
// its read loop.
//
//	magic    1 byte (heartbeatMagic)
//	version  1 byte (2)
//	nonce    12 bytes, random                 } when gossip is encrypted
//	payload  AES-GCM sealed with the primary gossip key, magic and version
//	         as additional data; the receiver tries every key it has
//
// payload: flags (1 byte), with flagDigest the sender's 4-byte state
// digest (statedigest.go), then the sender's node name. With insecure: true
// the payload follows the version byte as is. The key and the cipher are
// those of memberlist's encryption, so a host with another key is not heard,
// and a firewall that cuts the gossip port cuts heartbeats too.
//
// Version 1 is the payload alone, sent as a memberlist user message: a vipd
// from before version 2 sends and reads only that. A member whose metadata
// lacks flagRawHeartbeats gets version 1, so a rolling upgrade keeps every
// pair hearing each other.
const rawHeartbeatVersion = 2

const gcmNonceSize = 12

// heartbeatSealer seals and opens version 2 heartbeats with ciphers built
// once per key, not per packet.
type heartbeatSealer struct {
	mu    sync.RWMutex
	aeads []cipher.AEAD // the primary key's first; none when gossip is insecure
}

// setKeys replaces the keys; keys[0] seals. No keys: heartbeats go in the
// clear, as the rest of the gossip does.
func (s *heartbeatSealer) setKeys(keys [][]byte) error {
	aeads := make([]cipher.AEAD, 0, len(keys))
	for _, k := range keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			return fmt.Errorf("heartbeat cipher: %w", err)
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return fmt.Errorf("heartbeat cipher: %w", err)
		}
		aeads = append(aeads, gcm)
	}
	s.mu.Lock()
	s.aeads = aeads
	s.mu.Unlock()
	return nil
}

// seal appends to dst the heartbeat with flags, then prefix (the digest,
// or nothing) and name.
func (s *heartbeatSealer) seal(dst []byte, flags byte, prefix []byte, name string) []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	dst = append(dst, heartbeatMagic, rawHeartbeatVersion)
	if len(s.aeads) == 0 {
		dst = append(dst, flags)
		dst = append(dst, prefix...)
		return append(dst, name...)
	}
	head := len(dst) - 2
	var nonce [gcmNonceSize]byte
	_, _ = rand.Read(nonce[:]) // never fails on Linux (crypto/rand)
	dst = append(dst, nonce[:]...)
	plain := append(append([]byte{flags}, prefix...), name...)
	return s.aeads[0].Seal(dst, nonce[:], plain, dst[head:head+2])
}

// open returns the flags and node name of heartbeat b, decrypted into
// scratch (whose space it reuses); ok is false when b is not a version 2
// heartbeat that one of the keys opens.
func (s *heartbeatSealer) open(scratch, b []byte) (flags byte, name []byte, ok bool) {
	if len(b) < 3 || b[0] != heartbeatMagic || b[1] != rawHeartbeatVersion {
		return 0, nil, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.aeads) == 0 {
		return b[2], b[3:], len(b) > 3
	}
	if len(b) < 2+gcmNonceSize+1+16 {
		return 0, nil, false
	}
	nonce, sealed := b[2:2+gcmNonceSize], b[2+gcmNonceSize:]
	for _, aead := range s.aeads {
		// Not in place: a failed Open clears what it wrote, and the next
		// key must see the packet as it came.
		plain, err := aead.Open(scratch[:0], nonce, sealed, b[:2])
		if err == nil && len(plain) > 1 {
			return plain[0], plain[1:], true
		}
	}
	return 0, nil, false
}
