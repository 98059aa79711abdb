package membership

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Re-merge.
//
// memberlist never probes a host again once it declared it dead, so after a
// gossip cut (a firewall rule, a flapped link, a switch port bounce) both
// sides keep their own view for good (metallb/metallb#589,
// hashicorp/memberlist#222). Serf answers this by joining one failed member
// every 30 s. vipd cannot wait that long: until the views merge, two hosts
// may both hold a VIP.
//
// So KeepJoined tries every target that is not alive: every configured peer
// (but this host) and every member this host saw die (not those that said
// goodbye), each on its own schedule. An attempt first opens a TCP
// connection to the target's gossip port, which can be abandoned when the
// context ends; only a target that answers gets memberlist's Join (a TCP
// push/pull of the whole state). While a target has been missing for less
// than Timing.RejoinBackoffAfter it is tried every Timing.RejoinInterval;
// after that the interval grows linearly to Timing.RejoinMaxInterval. A
// successful push/pull that left the target not alive yet (each side first
// has to refute the other's "dead" with a higher incarnation, which the
// exchange itself triggers) is followed by another attempt after
// rejoinFollowUp. Kick (a managed link came back up, keys changed) retries
// every target at once with the short interval.
//
// While no target is missing the loop sleeps: a member leaving the alive
// state wakes it. Cost per missing target: one TCP SYN (or one ARP request when the host is
// gone from the LAN) per interval, at most rejoinInFlight attempts in flight;
// a dead member is tried for lostRetention, a configured peer for ever.

// rejoinFollowUp is the pause before trying a target again after a push/pull
// that did not bring it back alive yet.
const rejoinFollowUp = 50 * time.Millisecond

// rejoinInFlight bounds the attempts on one target that may wait for a
// connection at the same time (an attempt on a host whose packets are
// dropped waits for its dial timeout).
const rejoinInFlight = 2

// lostRetention is how long a member that died is tried again, as serf's
// reconnect_timeout; a configured peer is tried for as long as vipd runs.
const lostRetention = 24 * time.Hour

// joinedPoll is how often WaitJoined looks at the members.
const joinedPoll = 20 * time.Millisecond

// Attempt results, the label of vipd_gossip_rejoin_attempts_total.
const (
	resultJoined      = "joined"      // push/pull done
	resultUnreachable = "unreachable" // nothing answers on the gossip port
	resultFailed      = "failed"      // the port answered, the push/pull failed
	resultKeyMismatch = "key-mismatch"
)

var attemptResults = [...]string{resultJoined, resultUnreachable, resultFailed, resultKeyMismatch}

// lostPeer is a member this host saw die, kept to be tried again.
type lostPeer struct {
	addr  netip.AddrPort
	since time.Time
}

// target is an address KeepJoined tries while nobody alive has it.
type target struct {
	addr string // host:port
	node string // the member's name, when known
	// resolved holds the addresses a host name resolved to, for matching
	// members; empty for an IP address.
	resolved []string
	missing  time.Time // since when it has not been alive
	next     time.Time // when to try next
	inFlight int
	attempts int
	warned   bool // "still missing" was logged
	// seen: it was alive once, so reaching it again merges two views;
	// else it is a configured peer reached for the first time.
	seen    bool
	lastErr string
}

// rejoinState is KeepJoined's bookkeeping, guarded by its own mutex: it is
// never held while calling memberlist or taking m.mu.
type rejoinState struct {
	mu      sync.Mutex
	targets map[string]*target // by addr
	// missingCount is the number of targets not alive, for the metric.
	missingCount int
}

func (m *Membership) initRejoin() {
	m.rejoinKick = make(chan struct{}, 1)
	m.rejoin.targets = map[string]*target{}
	m.keys.byAddr = map[string]*KeyMismatch{}
	m.lost = map[string]lostPeer{}
}

// SetPeers replaces the configured peers (host or host:port) that
// KeepJoined keeps trying, after a reload.
func (m *Membership) SetPeers(peers []string) {
	norm := m.normalizePeers(peers)
	m.mu.Lock()
	m.configured = norm
	m.mu.Unlock()
	m.Kick()
}

func (m *Membership) normalizePeers(peers []string) []string {
	var out []string
	for _, p := range peers {
		if _, _, err := net.SplitHostPort(p); err != nil {
			p = net.JoinHostPort(p, strconv.Itoa(m.port))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// Kick makes KeepJoined try every missing target now and start its backoff
// again: call it when a managed link comes back up.
func (m *Membership) Kick() {
	m.rejoin.mu.Lock()
	now := time.Now()
	for _, t := range m.rejoin.targets {
		if !t.missing.IsZero() {
			t.missing, t.next = now, now
		}
	}
	m.rejoin.mu.Unlock()
	select {
	case m.rejoinKick <- struct{}{}:
	default:
	}
}

// WaitJoined waits until another host is alive, up to wait or until ctx
// ends, and reports whether one is. With no configured peer it returns false
// at once. KeepJoined does the joining: run it first.
func (m *Membership) WaitJoined(ctx context.Context, wait time.Duration) bool {
	m.mu.Lock()
	none := len(m.configured) == 0
	m.mu.Unlock()
	if none {
		return m.alivePeers() > 0
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(joinedPoll)
	defer tick.Stop()
	for {
		if m.alivePeers() > 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return m.alivePeers() > 0
		case <-tick.C:
		}
	}
}

// alivePeers counts the other hosts gossip sees alive.
func (m *Membership) alivePeers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, p := range m.peers {
		if p.state == StateAlive && p.name != m.name {
			n++
		}
	}
	return n
}

// KeepJoined tries to reach every configured peer and every member that
// died for as long as they are not alive, until ctx ends; it returns once
// every attempt it started has ended. Cancel it before Leave and Shutdown.
//
// It sleeps until the next attempt is due, and while nothing is missing
// until a member leaves the alive state, Kick is called, an attempt ends, or
// rejoinIdle passes.
func (m *Membership) KeepJoined(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(rejoinIdle)
	defer timer.Stop()
	for {
		timer.Reset(m.rejoinRound(ctx, &wg, time.Now()))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-m.rejoinKick:
		}
	}
}

// rejoinIdle is how long KeepJoined sleeps while no target is missing: the
// events that make one missing wake it (wakeRejoin), so this only bounds
// how late it notices anything else, such as a host name that resolves
// to new addresses.
const rejoinIdle = 10 * time.Second

// rejoinMinWait is the shortest sleep between two rounds.
const rejoinMinWait = 10 * time.Millisecond

// wakeRejoin makes KeepJoined look at once, without resetting its backoff.
func (m *Membership) wakeRejoin() {
	select {
	case m.rejoinKick <- struct{}{}:
	default:
	}
}

// wanted returns the addresses to keep reaching, with the member name of
// each when known, and the addresses of the alive members.
func (m *Membership) wanted(now time.Time) (want map[string]string, alive map[string]string) {
	self := m.Addr()
	m.mu.Lock()
	defer m.mu.Unlock()
	want = map[string]string{}
	for _, p := range m.configured {
		if p != self {
			want[p] = ""
		}
	}
	for name, l := range m.lost {
		if now.Sub(l.since) > lostRetention {
			delete(m.lost, name)
			continue
		}
		if a := l.addr.String(); a != self {
			want[a] = name
		}
	}
	alive = map[string]string{}
	for _, p := range m.peers {
		if p.state == StateAlive {
			alive[p.addr.String()] = p.name
		}
	}
	return want, alive
}

// rejoinRound starts the attempts that are due and returns how long to
// sleep until the next one is.
func (m *Membership) rejoinRound(ctx context.Context, wg *sync.WaitGroup, now time.Time) time.Duration {
	want, alive := m.wanted(now)
	wait := rejoinIdle
	var merged []target
	var back []string // addresses alive again, whose key mismatch is over

	m.rejoin.mu.Lock()
	for addr, t := range m.rejoin.targets {
		if _, ok := want[addr]; ok {
			continue
		}
		// A member that died is no longer wanted once it is alive again
		// (or left): count the merge before forgetting it.
		if name, ok := t.aliveIn(alive); ok && !t.missing.IsZero() {
			back = append(back, addr)
			if t.attempts > 0 {
				t.node = name
				merged = append(merged, *t)
			}
		}
		delete(m.rejoin.targets, addr)
	}
	missing := 0
	for addr, name := range want {
		t := m.rejoin.targets[addr]
		if t == nil {
			t = &target{addr: addr, missing: now, next: now}
			m.rejoin.targets[addr] = t
		}
		if name != "" {
			t.node = name
			t.seen = true // a member that died
		}
		if name, ok := t.aliveIn(alive); ok {
			// Reached: keep it (and what its name resolved to) for the
			// next time it goes missing.
			if !t.missing.IsZero() {
				back = append(back, addr)
				if t.attempts > 0 {
					t.node = name
					merged = append(merged, *t)
				}
			}
			t.missing, t.attempts, t.warned, t.lastErr, t.seen = time.Time{}, 0, false, "", true
			continue
		}
		if t.missing.IsZero() {
			t.missing, t.next = now, now
		}
		missing++
		if t.inFlight >= rejoinInFlight || ctx.Err() != nil {
			continue // the end of an attempt wakes the loop
		}
		if now.Before(t.next) {
			wait = min(wait, t.next.Sub(now))
			continue
		}
		t.inFlight++
		t.attempts++
		t.next = now.Add(m.rejoinInterval(now.Sub(t.missing)))
		if !t.warned && now.Sub(t.missing) >= m.timing.RejoinBackoffAfter {
			t.warned = true
			m.log.Warn("a gossip peer has been unreachable for a while; still trying, less often",
				"peer", t.label(), "for", now.Sub(t.missing).Round(time.Second), "every", m.timing.RejoinMaxInterval,
				"err", t.lastErr)
		}
		wg.Go(func() { m.attempt(ctx, addr) })
		if t.inFlight < rejoinInFlight {
			wait = min(wait, t.next.Sub(now))
		}
	}
	m.rejoin.missingCount = missing
	m.rejoin.mu.Unlock()

	for _, t := range merged {
		if !t.seen {
			m.log.Debug("reached a configured peer", "peer", t.label(), "after", now.Sub(t.missing).Round(time.Millisecond))
			continue
		}
		m.rejoins.Add(1)
		m.log.Info("gossip reaches a lost peer again; views merged", "peer", t.label(),
			"after", now.Sub(t.missing).Round(time.Millisecond), "attempts", t.attempts)
	}
	for _, addr := range back {
		m.keyOK(addr)
	}
	return max(wait, rejoinMinWait)
}

// aliveIn reports whether an alive member has t's address, and its name.
func (t *target) aliveIn(alive map[string]string) (string, bool) {
	if name, ok := alive[t.addr]; ok {
		return name, true
	}
	for _, a := range t.resolved {
		if name, ok := alive[a]; ok {
			return name, true
		}
	}
	return "", false
}

func (t *target) label() string {
	if t.node != "" {
		return t.node + " " + t.addr
	}
	return t.addr
}

// rejoinInterval is the pause between two attempts on a target missing
// for absent.
func (m *Membership) rejoinInterval(absent time.Duration) time.Duration {
	base, top := m.timing.RejoinInterval, m.timing.RejoinMaxInterval
	over := absent - m.timing.RejoinBackoffAfter
	if over <= 0 {
		return base
	}
	return min(base+over/10, top)
}

// attempt tries to reach one target once.
func (m *Membership) attempt(ctx context.Context, addr string) {
	result, err := m.tryJoin(ctx, addr)
	if ctx.Err() != nil && result == resultUnreachable {
		m.finish(addr, "", nil, nil)
		return
	}
	m.attempts[slices.Index(attemptResults[:], result)].Add(1)
	var follow bool
	switch result {
	case resultJoined:
		follow = true
	case resultKeyMismatch:
		m.keyMismatch(addr, m.nodeAt(addr), err)
	}
	m.log.Debug("gossip re-join attempt", "peer", addr, "result", result, "err", err)
	var resolved []string
	if host, port, serr := net.SplitHostPort(addr); serr == nil {
		if _, perr := netip.ParseAddr(host); perr != nil {
			resolved = m.resolve(ctx, host, port)
		}
	}
	m.finish(addr, errText(err), resolved, &follow)
}

// finish records the end of an attempt on addr.
func (m *Membership) finish(addr, lastErr string, resolved []string, follow *bool) {
	m.rejoin.mu.Lock()
	if t := m.rejoin.targets[addr]; t != nil {
		t.inFlight--
		if lastErr != "" {
			t.lastErr = lastErr
		}
		if resolved != nil {
			t.resolved = resolved
		}
		if follow != nil && *follow {
			t.next = time.Now().Add(rejoinFollowUp)
		}
	}
	m.rejoin.mu.Unlock()
	// The loop may be asleep for rejoinIdle while this target waited for
	// a free attempt.
	m.wakeRejoin()
}

// tryJoin dials addr's gossip port, abandoning it when ctx ends, and joins
// it if it answers.
func (m *Membership) tryJoin(ctx context.Context, addr string) (string, error) {
	d := net.Dialer{Timeout: min(2*m.timing.RejoinInterval, m.timing.TCPTimeout, time.Second)}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return resultUnreachable, err
	}
	conn.Close()
	if ctx.Err() != nil {
		return resultUnreachable, ctx.Err()
	}
	if _, err := m.ml.Join([]string{addr}); err != nil {
		if isKeyError(err) {
			return resultKeyMismatch, err
		}
		return resultFailed, err
	}
	return resultJoined, nil
}

func (m *Membership) resolve(ctx context.Context, host, port string) []string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip.Unmap().String(), port))
	}
	return out
}

// nodeAt returns the name of the member last seen at addr, or "".
func (m *Membership) nodeAt(addr string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.peers {
		if p.addr.String() == addr {
			return p.name
		}
	}
	return ""
}

// Missing returns the addresses KeepJoined is trying to reach, sorted.
func (m *Membership) Missing() []string {
	m.rejoin.mu.Lock()
	defer m.rejoin.mu.Unlock()
	var out []string
	for addr, t := range m.rejoin.targets {
		if !t.missing.IsZero() {
			out = append(out, addr)
		}
	}
	slices.Sort(out)
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return fmt.Sprintf("%s: %v", op.Op, op.Err)
	}
	return err.Error()
}
