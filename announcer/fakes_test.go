package announcer

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/vipd/vipd/config"
	"golang.org/x/net/ipv6"
)

var (
	ownMAC     = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	ownMAC2    = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x11} // this host's second link
	memberMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	member2MAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x03}
	foreignMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x66}
	clientMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x64}
	testVIP4   = netip.MustParseAddr("192.0.2.200")
	testVIP4b  = netip.MustParseAddr("192.0.2.201")
	testVIP6   = netip.MustParseAddr("2001:db8::200")
	clientIP4  = netip.MustParseAddr("192.0.2.100")
	clientIP6  = netip.MustParseAddr("2001:db8::100")
)

func testVIP(name string, a netip.Addr) config.VIP {
	return config.VIP{Name: name, Address: config.Address{Prefix: netip.PrefixFrom(a, a.BitLen())}, Interface: "eth0"}
}

var testVIPs = map[netip.Addr]config.VIP{
	testVIP4:  testVIP("web4", testVIP4),
	testVIP4b: testVIP("api4", testVIP4b),
	testVIP6:  testVIP("web6", testVIP6),
}

func vipsOf(addrs ...netip.Addr) []config.VIP {
	var out []config.VIP
	for _, a := range addrs {
		out = append(out, testVIPs[a])
	}
	return out
}

// fakeFrames is a packet connection: reads block until Close, writes are
// kept for the test.
type fakeFrames struct {
	sent   chan []byte
	closed chan struct{}
	once   sync.Once
}

func newFakeFrames() *fakeFrames {
	return &fakeFrames{sent: make(chan []byte, 256), closed: make(chan struct{})}
}

func (f *fakeFrames) ReadFrom([]byte) (int, net.Addr, error) {
	<-f.closed
	return 0, nil, net.ErrClosed
}

func (f *fakeFrames) WriteTo(b []byte, _ net.Addr) (int, error) {
	select {
	case f.sent <- append([]byte(nil), b...):
	default:
	}
	return len(b), nil
}

func (f *fakeFrames) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

// fakeNDP is an ICMPv6 connection: reads block until Close; groups joined
// are kept.
type fakeNDP struct {
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	groups map[netip.Addr]bool
}

func newFakeNDP() *fakeNDP {
	return &fakeNDP{closed: make(chan struct{}), groups: map[netip.Addr]bool{}}
}

func (f *fakeNDP) ReadRaw([]byte) (int, *ipv6.ControlMessage, netip.Addr, error) {
	<-f.closed
	return 0, nil, netip.Addr{}, net.ErrClosed
}
func (f *fakeNDP) WriteTo(ndp.Message, *ipv6.ControlMessage, netip.Addr) error { return nil }
func (f *fakeNDP) JoinGroup(g netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[g] = true
	return nil
}
func (f *fakeNDP) LeaveGroup(g netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.groups, g)
	return nil
}
func (f *fakeNDP) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

// fakeClock moves only when told. Every timer armed or stopped is reported
// on armed and stopped, so a test knows when the loop is waiting.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	armed   chan time.Duration
	stopped chan struct{}
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), armed: make(chan time.Duration, 1024), stopped: make(chan struct{}, 1024)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) timer {
	t := &fakeTimer{clk: c, c: make(chan time.Time, 1)}
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	t.Reset(d)
	return t
}

// Advance moves the clock and fires the timers that fall due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if t.active && !t.due.After(c.now) {
			t.active = false
			t.c <- c.now
		}
	}
}

// activeTimers counts the timers armed now.
func (c *fakeClock) activeTimers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.active {
			n++
		}
	}
	return n
}

type fakeTimer struct {
	clk    *fakeClock
	c      chan time.Time
	due    time.Time
	active bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.clk.mu.Lock()
	select { // as time.Timer since Go 1.23: no stale value after Reset
	case <-t.c:
	default:
	}
	t.due, t.active = t.clk.now.Add(d), true
	t.clk.mu.Unlock()
	t.clk.armed <- d
}

func (t *fakeTimer) Stop() {
	t.clk.mu.Lock()
	t.active = false
	t.clk.mu.Unlock()
	t.clk.stopped <- struct{}{}
}

// within waits for a value on ch for up to 5 s.
func within[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5s", what)
		panic("unreachable")
	}
}

// offline is an announcer with one link eth0 on fake connections and a
// fake clock, no change to the host, owning owned. Bursts and refreshes
// are off, so nothing is sent but answers and probes. The cluster has one
// other member, memberMAC (member2MAC is not told).
type offlineHost struct {
	a     *Announcer
	r     *responder
	arp   *fakeFrames
	dad   *fakeFrames
	ndp   *fakeNDP
	clock *fakeClock
}

func offline(t testing.TB, owned ...netip.Addr) *offlineHost {
	t.Helper()
	h := &offlineHost{arp: newFakeFrames(), dad: newFakeFrames(), ndp: newFakeNDP(), clock: newFakeClock()}
	opts, err := Options{
		Interfaces: []Interface{{Name: "eth0"}, {Name: "eth1"}},
		VIPs:       vipsOf(testVIP4, testVIP4b, testVIP6),
		StateDir:   t.TempDir(),
		Burst:      []time.Duration{},
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		clock:      h.clock,
	}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	h.a = newAnnouncer(opts)
	t.Cleanup(func() {
		if err := h.a.Close(); err != nil {
			t.Error(err)
		}
	})
	ifi := &net.Interface{Name: "eth0", Index: 2, HardwareAddr: ownMAC}
	h.r = newResponder(h.a.ctx, ifi, h.arp, h.ndp, h.dad, h.a.book, h.a.events, &h.a.count, h.a.log)
	h.a.addResponder(h.r)
	// The second link is only here for its MAC: this host's own.
	h.a.book.addOwn(ownMAC2)
	h.a.SetClusterMACs([]net.HardwareAddr{memberMAC, ownMAC})
	if err := h.a.Apply(context.Background(), vipsOf(owned...), nil); err != nil {
		t.Fatal(err)
	}
	// Apply armed the prober when it owns something; tests that count
	// timers read the clock's channels themselves.
	return h
}

// noEvent fails if an event is waiting.
func noEvent(t testing.TB, a *Announcer) {
	t.Helper()
	select {
	case ev := <-a.Events():
		t.Errorf("unexpected event %+v", ev)
	default:
	}
}

// nextEvent returns the waiting event, or fails.
func nextEvent(t testing.TB, a *Announcer) Event {
	t.Helper()
	select {
	case ev := <-a.Events():
		return ev
	default:
		t.Fatal("no event")
		return Event{}
	}
}
