package membership

import (
	"net/netip"
	"testing"
)

func TestAdvertiseAddrLeavesASpecificBindAlone(t *testing.T) {
	if got := advertiseAddr("192.0.2.11", nil, nil); got != "" {
		t.Errorf("bind 192.0.2.11: advertise %q, want memberlist's own (the bind address)", got)
	}
}

func TestAdvertiseAddrPicksAnAddressForAWildcardBind(t *testing.T) {
	got := advertiseAddr("0.0.0.0", nil, nil)
	a, err := netip.ParseAddr(got)
	if err != nil || !a.Is4() {
		t.Fatalf("bind 0.0.0.0: advertise %q, want an IPv4 address", got)
	}
}

func TestCandidateInAPeersSubnetWins(t *testing.T) {
	lan := candidate{addr: netip.MustParseAddr("192.0.2.11"), prefix: netip.MustParsePrefix("192.0.2.0/24")}
	other := candidate{addr: netip.MustParseAddr("198.51.100.7"), prefix: netip.MustParsePrefix("198.51.100.0/24"), managed: true}
	peers := []string{"192.0.2.12:7946", "192.0.2.13"}
	if lan.score(peers) <= other.score(peers) {
		t.Errorf("an address in the peers' subnet scored %d, a managed one elsewhere %d", lan.score(peers), other.score(peers))
	}
}
