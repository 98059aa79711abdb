package announcer

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
)

// FuzzParseARPFrame: any input either fails to parse or round-trips.
func FuzzParseARPFrame(f *testing.F) {
	f.Add(request(clientMAC, clientIP4, testVIP4))
	f.Add(gratuitousARP(ownMAC, testVIP4))
	f.Add(arpProbe(ownMAC, testVIP4))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := parseARPFrame(b)
		if err != nil {
			return
		}
		again, err := parseARPFrame(fr.marshal())
		if err != nil {
			t.Fatalf("re-parse of a parsed frame failed: %v", err)
		}
		if !bytes.Equal(again.marshal(), fr.marshal()) {
			t.Fatalf("round trip changed %+v to %+v", fr, again)
		}
		const headers = 14 + 28
		if !bytes.Equal(fr.marshal()[:headers], b[:headers]) {
			t.Fatalf("marshal does not reproduce the input header")
		}
	})
}

// FuzzHandleARP: the responder never panics, and answers only requests for
// the owned VIP, with its own MAC.
func FuzzHandleARP(f *testing.F) {
	f.Add(request(clientMAC, clientIP4, testVIP4))
	f.Add(gratuitousARP(foreignMAC, testVIP4))
	f.Add(arpProbe(clientMAC, testVIP4))
	f.Add(reply(memberMAC, testVIP4))
	h := offline(f, testVIP4)
	f.Fuzz(func(t *testing.T, b []byte) {
		out := h.r.handleARP(b)
		for len(h.a.Events()) > 0 {
			<-h.a.Events()
		}
		if out == nil {
			return
		}
		fr, err := parseARPFrame(out)
		if err != nil {
			t.Fatalf("sent a reply that does not parse: %v", err)
		}
		p := fr.pkt
		if p.Operation != arp.OperationReply || p.SenderIP != testVIP4 || !macEqual(p.SenderHardwareAddr, ownMAC) || !macEqual(fr.eth.Source, ownMAC) {
			t.Fatalf("bad reply %+v", fr)
		}
	})
}

// FuzzHandleNDP: any ICMPv6 payload is answered correctly or dropped.
func FuzzHandleNDP(f *testing.F) {
	seed := func(m ndp.Message) {
		b, err := ndp.MarshalMessage(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	seed(solicitation(clientMAC, testVIP6))
	seed(&ndp.NeighborSolicitation{TargetAddress: testVIP6})
	seed(unsolicitedNA(foreignMAC, testVIP6))
	seed(unsolicitedNA(memberMAC, testVIP6))
	f.Add([]byte{135, 0, 0, 0}, false)
	h := offline(f, testVIP6)
	f.Fuzz(func(t *testing.T, b []byte, dad bool) {
		src := clientIP6
		if dad {
			src = netip.IPv6Unspecified()
		}
		r, ok := h.r.handleNDP(b, ndp.HopLimit, src)
		for len(h.a.Events()) > 0 {
			<-h.a.Events()
		}
		if !ok {
			return
		}
		if r.msg.TargetAddress != testVIP6 || !r.msg.Override {
			t.Fatalf("bad answer %+v", r.msg)
		}
		if mac, _ := linkLayer(r.msg.Options, ndp.Target); !macEqual(mac, ownMAC) {
			t.Fatalf("answer with link-layer address %s", mac)
		}
		if _, err := ndp.MarshalMessage(r.msg); err != nil {
			t.Fatalf("answer does not marshal: %v", err)
		}
	})
}
