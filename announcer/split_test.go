package announcer

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// What a host hears, by who sends it and what the host does with the VIP.
func TestMemberAnswersOnlyForAMemberAnsweringAVIPThisHostOwnsOrWatches(t *testing.T) {
	type packet struct {
		name string
		arp  func(mac net.HardwareAddr, vip netip.Addr) []byte // nil: an NA
		vip  netip.Addr
	}
	packets := []packet{
		{"ARP reply", reply, testVIP4},
		{"gratuitous ARP", gratuitousARP, testVIP4},
		{"solicited NA", nil, testVIP6},
	}
	type role int
	const (
		owns role = iota
		watches
		neither
	)
	for _, p := range packets {
		for _, tc := range []struct {
			role role
			mac  net.HardwareAddr
			want EventKind // 0: none
		}{
			{owns, memberMAC, MemberAnswers},
			{watches, memberMAC, MemberAnswers},
			{neither, memberMAC, 0},
			{owns, foreignMAC, ForeignMAC},
			{watches, foreignMAC, ForeignMAC},
			{neither, foreignMAC, ForeignMAC},
			{owns, ownMAC, 0},
			{watches, ownMAC2, 0},
		} {
			name := fmt.Sprintf("%s from %s, role %d", p.name, tc.mac, tc.role)
			h := offline(t)
			switch tc.role {
			case owns:
				if err := h.a.Apply(context.Background(), vipsOf(p.vip), nil); err != nil {
					t.Fatal(err)
				}
			case watches:
				h.a.Watch(vipsOf(p.vip))
			}
			if p.arp != nil {
				h.r.handleARP(p.arp(tc.mac, p.vip))
			} else {
				na := unsolicitedNA(tc.mac, p.vip)
				na.Solicited, na.Override = true, false
				h.r.handleNDP(ndpBytes(t, na), ndp.HopLimit, clientIP6)
			}
			select {
			case ev := <-h.a.Events():
				if tc.want == 0 {
					t.Errorf("%s: event %+v, want none", name, ev)
					continue
				}
				if ev.Kind != tc.want || ev.VIP != p.vip || !macEqual(ev.MAC, tc.mac) || ev.Interface != "eth0" || !ev.At.Equal(h.clock.Now()) {
					t.Errorf("%s: event %+v, want %s for %s from %s on eth0 at %s", name, ev, tc.want, p.vip, tc.mac, h.clock.Now())
				}
			default:
				if tc.want != 0 {
					t.Errorf("%s: no event, want %s", name, tc.want)
				}
			}
			noEvent(t, h.a)
		}
	}
}

// A member's request with the VIP as sender, or its probe, is not an answer.
func TestAMembersQuestionIsNoAnswer(t *testing.T) {
	h := offline(t, testVIP4)
	h.r.handleARP(request(memberMAC, testVIP4, clientIP4))
	h.r.handleNDP(ndpBytes(t, solicitation(memberMAC, testVIP6)), ndp.HopLimit, clientIP6)
	noEvent(t, h.a)
}

// A member probing a VIP this host owns holds it too and stands by: news,
// but not an answer.
func TestAMembersProbeIsMemberProbes(t *testing.T) {
	h := offline(t, testVIP4)
	h.r.handleARP(arpProbe(memberMAC, testVIP4))
	if ev := nextEvent(t, h.a); ev.Kind != MemberProbes || !macEqual(ev.MAC, memberMAC) || ev.VIP != testVIP4 {
		t.Errorf("member's probe: event %+v, want member-probes from %s for %s", ev, memberMAC, testVIP4)
	}
	h.r.handleARP(arpProbe(ownMAC, testVIP4))
	noEvent(t, h.a)
}

// An unknown MAC becomes a member's, and stops being a conflict, with
// SetClusterMACs; this host's own MAC given there is still its own.
func TestSetClusterMACsReplacesTheMembers(t *testing.T) {
	h := offline(t, testVIP4)
	h.a.SetClusterMACs([]net.HardwareAddr{member2MAC, ownMAC})
	h.r.handleARP(reply(memberMAC, testVIP4))
	if ev := nextEvent(t, h.a); ev.Kind != ForeignMAC {
		t.Errorf("former member: event %+v, want a conflict", ev)
	}
	h.r.handleARP(reply(member2MAC, testVIP4))
	if ev := nextEvent(t, h.a); ev.Kind != MemberAnswers || !macEqual(ev.MAC, member2MAC) {
		t.Errorf("new member: event %+v, want member-answers from %s", ev, member2MAC)
	}
	h.r.handleARP(reply(ownMAC, testVIP4))
	noEvent(t, h.a)
}

func TestMemberAnswersAreRateLimitedPerVIPAndMAC(t *testing.T) {
	h := offline(t, testVIP4, testVIP4b)
	h.a.SetClusterMACs([]net.HardwareAddr{memberMAC, member2MAC})
	hear := func(mac net.HardwareAddr, vip netip.Addr) { h.r.handleARP(reply(mac, vip)) }
	count := func() int {
		n := 0
		for {
			select {
			case <-h.a.Events():
				n++
			default:
				return n
			}
		}
	}
	hear(memberMAC, testVIP4)
	hear(memberMAC, testVIP4) // same VIP and MAC, same instant: limited
	hear(memberMAC, testVIP4b)
	hear(member2MAC, testVIP4)
	if n := count(); n != 3 {
		t.Errorf("%d events, want 3 (one per VIP and MAC)", n)
	}
	h.clock.Advance(memberAnswersEvery - time.Millisecond)
	hear(memberMAC, testVIP4)
	if n := count(); n != 0 {
		t.Errorf("%d events within %s of the last, want 0", n, memberAnswersEvery)
	}
	h.clock.Advance(time.Millisecond)
	hear(memberMAC, testVIP4)
	if n := count(); n != 1 {
		t.Errorf("%d events %s after the last, want 1", n, memberAnswersEvery)
	}
	if c := h.a.Counters(); c.MemberAnswers != 4 {
		t.Errorf("member answers counted %d, want 4", c.MemberAnswers)
	}
}

// The read loop never waits for the reader of Events.
func TestAFullEventChannelDropsAndCounts(t *testing.T) {
	h := offline(t, testVIP4)
	for i := range eventBuffer + 10 {
		mac := net.HardwareAddr{0x02, 0x99, 0, 0, byte(i >> 8), byte(i)}
		h.r.handleARP(reply(mac, testVIP4))
	}
	if c := h.a.Counters(); c.Conflicts != eventBuffer+10 || c.EventsDropped != 10 {
		t.Errorf("counters %+v, want %d conflicts and 10 dropped", c, eventBuffer+10)
	}
}

// simulate runs a schedule for d and returns when each VIP was probed.
func simulate(s *probeSchedule, d time.Duration) map[netip.Addr][]time.Duration {
	at := map[netip.Addr][]time.Duration{}
	for now := time.Duration(0); now < d; {
		vip, ok := s.next()
		if !ok {
			break
		}
		at[vip] = append(at[vip], now)
		now += s.interval()
	}
	return at
}

func addrs(prefix string, n int) []netip.Addr {
	var out []netip.Addr
	for i := range n {
		out = append(out, netip.MustParseAddr(fmt.Sprintf("%s%d.%d", prefix, i/250, i%250+1)))
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// gaps returns the largest and the mean gap between probes.
func gaps(times []time.Duration) (maxGap, mean time.Duration) {
	for i := 1; i < len(times); i++ {
		maxGap = max(maxGap, times[i]-times[i-1])
	}
	if len(times) > 1 {
		mean = (times[len(times)-1] - times[0]) / time.Duration(len(times)-1)
	}
	return maxGap, mean
}

func TestProbePacing(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		owned, watched       int
		ownedMax, watchedMax time.Duration // largest gap allowed
		ownedMean            time.Duration
	}{
		{name: "one owned", owned: 1, ownedMax: time.Second, ownedMean: time.Second},
		{name: "five owned", owned: 5, ownedMax: time.Second, ownedMean: time.Second},
		{name: "one watched", watched: 1, watchedMax: 250 * time.Millisecond},
		{name: "owned and watched", owned: 3, watched: 2, ownedMax: time.Second, ownedMean: time.Second, watchedMax: 400 * time.Millisecond},
		{name: "50 owned, at the cap", owned: 50, ownedMax: time.Second, ownedMean: time.Second},
		{name: "1000 owned, capped", owned: 1000, ownedMax: 20 * time.Second, ownedMean: 20 * time.Second},
		{name: "100 watched, capped", watched: 100, watchedMax: 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &probeSchedule{rate: DefaultProbeRate}
			owned, watched := addrs("192.0.2.", 0), addrs("198.51.100.", 0)
			if tc.owned > 0 {
				owned = addrs("10.1.", tc.owned) // schedule only: never sent
			}
			if tc.watched > 0 {
				watched = addrs("10.2.", tc.watched)
			}
			if !s.set(owned, watched) || s.set(slices.Clone(owned), slices.Clone(watched)) {
				t.Fatal("set does not report changes right")
			}
			const span = 60 * time.Second
			at := simulate(s, span)
			// The cap: never more than rate probes in any second.
			var all []time.Duration
			for _, ts := range at {
				all = append(all, ts...)
			}
			slices.Sort(all)
			for i := DefaultProbeRate; i < len(all); i++ {
				if all[i]-all[i-DefaultProbeRate] < time.Second-time.Millisecond {
					t.Fatalf("%d probes within %s", DefaultProbeRate+1, all[i]-all[i-DefaultProbeRate])
				}
			}
			check := func(vips []netip.Addr, maxAllowed, meanWant time.Duration) {
				for _, v := range vips {
					ts := at[v]
					if len(ts) < 2 {
						t.Fatalf("%s probed %d times in %s", v, len(ts), span)
					}
					mx, mean := gaps(ts)
					if mx > maxAllowed+time.Millisecond {
						t.Errorf("%s: largest gap %s, want at most %s", v, mx, maxAllowed)
					}
					if meanWant > 0 && (mean < meanWant-10*time.Millisecond || mean > meanWant+10*time.Millisecond) {
						t.Errorf("%s: mean gap %s, want %s", v, mean, meanWant)
					}
				}
			}
			check(owned, tc.ownedMax, tc.ownedMean)
			check(watched, tc.watchedMax, 0)
			for _, v := range watched {
				if _, mean := gaps(at[v]); tc.watched*4+tc.owned <= DefaultProbeRate && mean > 251*time.Millisecond {
					t.Errorf("watched %s: mean gap %s, want 250ms", v, mean)
				}
			}
		})
	}
}

// The probe loop arms one timer while there is something to probe, none
// while idle, and sends each probe when the (fake) clock says so.
func TestProberSendsOnItsTimerAndSleepsWhenIdle(t *testing.T) {
	h := offline(t)
	clk := h.clock
	if n := clk.activeTimers(); n != 0 {
		t.Fatalf("%d timers armed with nothing to probe", n)
	}
	h.a.Watch(vipsOf(testVIP4))
	if d := within(t, clk.armed, "timer"); d != watchedProbeEvery {
		t.Fatalf("timer armed for %s, want %s", d, watchedProbeEvery)
	}
	for i := range 3 {
		clk.Advance(watchedProbeEvery)
		p := mustParseARP(t, within(t, h.arp.sent, "probe"))
		if p.Operation != arp.OperationRequest || !p.SenderIP.IsUnspecified() || !macEqual(p.SenderHardwareAddr, ownMAC) || p.TargetIP != testVIP4 {
			t.Fatalf("probe %d: %+v, want an RFC 5227 probe for %s from %s", i, p, testVIP4, ownMAC)
		}
		if d := within(t, clk.armed, "timer"); d != watchedProbeEvery {
			t.Fatalf("timer re-armed for %s, want %s", d, watchedProbeEvery)
		}
	}
	// Owning it as well: probed as owned, once a second.
	if err := h.a.Apply(context.Background(), vipsOf(testVIP4), nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(watchedProbeEvery)
	within(t, h.arp.sent, "probe")
	if d := within(t, clk.armed, "timer"); d != ownedProbeEvery {
		t.Fatalf("timer re-armed for %s, want %s once owned", d, ownedProbeEvery)
	}
	// Owned but no longer watched (the agent watches what it owns only
	// while a member is missing): the timer stops, and no probe goes out
	// however long; nor once nothing is owned.
	h.a.Watch(nil)
	within(t, clk.stopped, "timer stop")
	if err := h.a.Apply(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := clk.activeTimers(); n != 0 {
		t.Fatalf("%d timers armed while idle", n)
	}
	clk.Advance(time.Hour)
	select {
	case b := <-h.arp.sent:
		t.Fatalf("sent %x while idle", b)
	default:
	}
	if c := h.a.Counters(); c.SplitProbes != 4 {
		t.Errorf("split probes %d, want 4", c.SplitProbes)
	}
}

func TestIPv6ProbeIsASolicitationFromTheUnspecifiedAddress(t *testing.T) {
	frame, dst, err := dadSolicitation(ownMAC, testVIP6)
	if err != nil {
		t.Fatal(err)
	}
	var eth ethernet.Frame
	if err := eth.UnmarshalBinary(frame); err != nil {
		t.Fatal(err)
	}
	wantDst := net.HardwareAddr{0x33, 0x33, 0xff, 0x00, 0x02, 0x00}
	if !macEqual(eth.Destination, wantDst) || !macEqual(dst, wantDst) || !macEqual(eth.Source, ownMAC) || eth.EtherType != ethernet.EtherTypeIPv6 {
		t.Fatalf("Ethernet header %s -> %s (%s), type %s", eth.Source, eth.Destination, dst, eth.EtherType)
	}
	hdr, err := ipv6.ParseHeader(eth.Payload)
	if err != nil {
		t.Fatal(err)
	}
	group := netip.MustParseAddr("ff02::1:ff00:200")
	if !hdr.Src.Equal(net.IPv6unspecified) || !hdr.Dst.Equal(group.AsSlice()) || hdr.HopLimit != 255 || hdr.NextHeader != 58 {
		t.Fatalf("IPv6 header %+v, want :: -> %s, hop limit 255, ICMPv6", hdr, group)
	}
	body := eth.Payload[ipv6.HeaderLen : ipv6.HeaderLen+hdr.PayloadLen]
	m, err := ndp.ParseMessage(body)
	if err != nil {
		t.Fatal(err)
	}
	ns, ok := m.(*ndp.NeighborSolicitation)
	if !ok || ns.TargetAddress != testVIP6 || len(ns.Options) != 0 {
		t.Fatalf("message %#v, want a solicitation for %s with no option", m, testVIP6)
	}
	// The checksum over the pseudo-header is right: recomputing it with the
	// field zeroed gives the same bytes.
	zeroed := append([]byte(nil), body...)
	binary.BigEndian.PutUint16(zeroed[2:4], 0)
	pm, err := icmp.ParseMessage(58, zeroed)
	if err != nil {
		t.Fatal(err)
	}
	again, err := pm.Marshal(icmp.IPv6PseudoHeader(net.IPv6unspecified, group.AsSlice()))
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(body) {
		t.Errorf("checksum %x, want %x", body[2:4], again[2:4])
	}
}

func TestWatchedIPv6VIPIsProbedOnThePacketSocket(t *testing.T) {
	h := offline(t)
	h.a.Watch(vipsOf(testVIP6))
	within(t, h.clock.armed, "timer")
	h.clock.Advance(watchedProbeEvery)
	got := within(t, h.dad.sent, "IPv6 probe")
	want, _, _ := dadSolicitation(ownMAC, testVIP6)
	if string(got) != string(want) {
		t.Errorf("sent %x, want %x", got, want)
	}
}

func TestCollectorNamesTheMetrics(t *testing.T) {
	h := offline(t, testVIP4)
	h.r.handleARP([]byte{1})
	h.a.count.arpReplies.Add(2)
	h.a.count.naSent.Add(3)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(h.a.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += fmt.Sprintf("{%s=%s}", l.GetName(), l.GetValue())
			}
			got[key] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"vipd_gratuitous_packets_sent_total{family=ipv4}": 0,
		"vipd_gratuitous_packets_sent_total{family=ipv6}": 3,
		"vipd_neighbor_replies_sent_total{family=ipv4}":   2,
		"vipd_neighbor_replies_sent_total{family=ipv6}":   0,
		"vipd_dropped_packets_total{reason=malformed}":    1,
		"vipd_send_errors_total":                          0,
		"vipd_claim_probes_sent_total":                    0,
		"vipd_split_probes_sent_total":                    0,
		"vipd_refresh_probes_sent_total":                  0,
		"vipd_member_answers_total":                       0,
		"vipd_member_probes_total":                        0,
		"vipd_events_dropped_total":                       0,
	}
	if !maps.Equal(got, want) {
		t.Errorf("metrics\n%v\nwant\n%v", got, want)
	}
}
