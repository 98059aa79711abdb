package membership

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// keyMismatchRecent is how long a key mismatch stays reported after it was
// last seen. Re-join attempts see it again every RejoinMaxInterval at most,
// so a mismatch that lasts stays listed.
const keyMismatchRecent = 30 * time.Second

// KeyMismatch is a host whose gossip this host cannot decrypt, or that
// cannot decrypt this host's: the two have different gossip keys.
type KeyMismatch struct {
	// Addr is the host's gossip address (host:port), or its IP alone when
	// only a TCP connection from it was seen.
	Addr string
	// Node is the host's node name, when known.
	Node string
	// LastSeen is when the mismatch was last seen.
	LastSeen time.Time
}

// keyWatch holds the recent key mismatches, by Addr. Guarded by its own
// mutex, taken from memberlist's logger: it never calls memberlist or takes
// m.mu while held.
type keyWatch struct {
	mu     sync.Mutex
	byAddr map[string]*KeyMismatch
}

// KeyMismatches returns the hosts whose gossip did not decrypt here, or
// that could not decrypt this host's, within the last 30 seconds, by
// address. A host that has such peers and no alive one must not claim
// anything: it cannot tell what the cluster decided.
func (m *Membership) KeyMismatches() []KeyMismatch {
	now := time.Now()
	m.keys.mu.Lock()
	defer m.keys.mu.Unlock()
	m.expireKeyMismatchesLocked(now)
	out := make([]KeyMismatch, 0, len(m.keys.byAddr))
	for _, k := range m.keys.byAddr {
		out = append(out, *k)
	}
	slices.SortFunc(out, func(a, b KeyMismatch) int { return strings.Compare(a.Addr, b.Addr) })
	return out
}

func (m *Membership) expireKeyMismatchesLocked(now time.Time) {
	for addr, k := range m.keys.byAddr {
		if now.Sub(k.LastSeen) > keyMismatchRecent {
			delete(m.keys.byAddr, addr)
		}
	}
}

// isKeyError tells whether a join error says the keys differ: either side
// could not decrypt, or one side has no encryption.
func isKeyError(err error) bool {
	return err != nil && isKeyText(err.Error())
}

func isKeyText(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "decrypt") || strings.Contains(s, "encrypt")
}

// keyMismatch records a mismatch with the host at addr (host:port, or an
// IP) and logs it at error level the first time.
func (m *Membership) keyMismatch(addr, node string, cause error) {
	now := time.Now()
	m.keyMismatches.Add(1)
	m.keys.mu.Lock()
	m.expireKeyMismatchesLocked(now)
	k := m.keys.byAddr[addr]
	if _, err := netip.ParseAddr(addr); k == nil && err == nil {
		// An IP alone (a TCP connection from an ephemeral port): count it
		// against a host already listed at that IP.
		for _, other := range m.keys.byAddr {
			if hostOf(other.Addr) == addr {
				k = other
				break
			}
		}
	}
	if _, err := netip.ParseAddrPort(addr); k == nil && err == nil {
		// The gossip address of a host first seen by its IP alone: the
		// same host, now named better.
		if ipOnly := m.keys.byAddr[hostOf(addr)]; ipOnly != nil {
			delete(m.keys.byAddr, ipOnly.Addr)
			ipOnly.Addr = addr
			k = ipOnly
			m.keys.byAddr[addr] = k
		}
	}
	first := k == nil
	if first {
		k = &KeyMismatch{Addr: addr}
		m.keys.byAddr[addr] = k
	}
	k.LastSeen = now
	if node != "" {
		k.Node = node
	}
	m.keys.mu.Unlock()
	if first {
		peer := addr
		if node != "" {
			peer = node + " " + addr
		}
		m.log.Error("gossip keys differ: this host and a peer cannot decrypt each other's gossip, so they cannot form one cluster. "+
			"Every host needs the same key file: make one with 'vipd keygen -o /etc/vipd/gossip.key', copy it to gossip.key_file on every host (mode 0600), then reload or restart vipd",
			"peer", peer, "err", errText(cause))
	}
}

// keyOK forgets the mismatch with the host at addr: it is alive in gossip.
func (m *Membership) keyOK(addr string) {
	m.keys.mu.Lock()
	defer m.keys.mu.Unlock()
	host := hostOf(addr)
	for a := range m.keys.byAddr {
		if a == addr || a == host {
			delete(m.keys.byAddr, a)
		}
	}
}

func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// noteMemberlistLine looks at one of memberlist's log lines for a message
// that did not decrypt, and records who sent it. Packets come from the
// sender's gossip port; TCP connections from an ephemeral one, so only
// their IP says who it was.
func (m *Membership) noteMemberlistLine(level, line string) {
	if level != "ERR" || !isKeyText(line) {
		return
	}
	i := strings.LastIndex(line, "from=")
	if i < 0 {
		return
	}
	from := strings.TrimSpace(line[i+len("from="):])
	ap, err := netip.ParseAddrPort(from)
	if err != nil {
		return
	}
	ip := ap.Addr().Unmap()
	addr := netip.AddrPortFrom(ip, ap.Port()).String()
	if !strings.Contains(line, "packet") {
		addr = m.gossipAddrOf(ip)
	}
	m.keyMismatch(addr, m.nodeAt(addr), errorString(strings.TrimSpace(line[:i])))
}

// gossipAddrOf returns the one target address at ip, or ip alone.
func (m *Membership) gossipAddrOf(ip netip.Addr) string {
	m.rejoin.mu.Lock()
	defer m.rejoin.mu.Unlock()
	found := ""
	for addr := range m.rejoin.targets {
		if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Addr().Unmap() == ip {
			if found != "" {
				return ip.String()
			}
			found = addr
		}
	}
	if found == "" {
		return ip.String()
	}
	return found
}

type errorString string

func (e errorString) Error() string { return string(e) }
