package announcer

import (
	"fmt"
	"testing"
	"time"

	"github.com/vipd/vipd/lab"
)

// memberAnswers counts h's MemberAnswers events naming mac, by VIP.
func memberAnswers(hp *helper, mac string) map[string]int {
	n := map[string]int{}
	for _, ev := range hp.events() {
		if ev.Kind == MemberAnswers.String() && ev.MAC == mac {
			n[ev.VIP]++
		}
	}
	return n
}

// afterProbes waits until hp has sent n more split probes than it had.
func afterProbes(t *testing.T, hp *helper, n uint64) {
	t.Helper()
	from := hp.counters().SplitProbes
	lab.Eventually(t, 10*time.Second, func() error {
		if got := hp.counters().SplitProbes - from; got < n {
			return fmt.Errorf("%s sent %d split probes, waiting for %d", hp.node.Name(), got, n)
		}
		return nil
	})
}

// Two members that both answer for a VIP (gossip cut, LAN intact) hear each
// other on the wire; the one that lets go and watches keeps hearing the
// other, until that one lets go too. Refreshes are every 10 s, the default:
// what is heard in between comes from the probes.
func TestMembersAnsweringForTheSameVIPHearEachOther(t *testing.T) {
	l := lab.New(t, lab.Options{Hosts: 2})
	ctx := labCtx(t)
	var macs []string
	for _, h := range l.Hosts() {
		macs = append(macs, macOf(t, ctx, h, "eth0"))
	}
	var hps []*helper
	for _, h := range l.Hosts() {
		hp := startHelper(t, h, helperConfig{
			Interfaces: []Interface{{Name: "eth0", Tuning: true}},
			VIPs:       []helperVIP{vip4, vip6},
			StateDir:   t.TempDir(),
			Refresh:    10 * time.Second,
		})
		t.Cleanup(hp.close)
		hp.setMembers(macs...)
		hps = append(hps, hp)
	}
	h1, h2 := hps[0], hps[1]
	vips := []string{vip4.Name, vip6.Name}

	// Both own the VIPs and watch them, as the agent does while gossip
	// misses a member.
	for _, hp := range hps {
		hp.apply(vips, nil)
		hp.watch(vips...)
	}
	heard := func(hp *helper, mac string, atLeast int) func() error {
		return func() error {
			n := memberAnswers(hp, mac)
			for _, a := range []string{vip4.Address, vip6.Address} {
				if n[a] < atLeast {
					return fmt.Errorf("%s heard the member at %s answer for %v times (by VIP), want %d for each of %s and %s",
						hp.node.Name(), mac, n, atLeast, vip4.Address, vip6.Address)
				}
			}
			return nil
		}
	}
	lab.Eventually(t, 1500*time.Millisecond, heard(h1, macs[1], 1))
	lab.Eventually(t, 1500*time.Millisecond, heard(h2, macs[0], 1))
	// After the bursts, only probes can be heard, and they are.
	afterProbes(t, h1, 4)
	base1, base2 := memberAnswers(h1, macs[1]), memberAnswers(h2, macs[0])
	lab.Eventually(t, 5*time.Second, heard(h1, macs[1], max(base1[vip4.Address], base1[vip6.Address])+2))
	lab.Eventually(t, 5*time.Second, heard(h2, macs[0], max(base2[vip4.Address], base2[vip6.Address])+2))

	// h1 loses the arbitration: it lets go and watches. It keeps hearing h2;
	// h2 stops hearing h1.
	h1.apply(nil, nil)
	h1.watch(vips...)
	afterProbes(t, h2, 2) // whatever h1 sent before letting go has arrived
	was1, was2 := memberAnswers(h1, macs[1]), memberAnswers(h2, macs[0])
	lab.Eventually(t, 5*time.Second, heard(h1, macs[1], max(was1[vip4.Address], was1[vip6.Address])+3))
	afterProbes(t, h2, 4)
	if now := memberAnswers(h2, macs[0]); fmt.Sprint(now) != fmt.Sprint(was2) {
		t.Errorf("h2 still hears h1 after h1 let go: %v, was %v", now, was2)
	}
	if got := arpingMACs(t, ctx, l.Client(), vip4.Address); len(got) != 1 || got[0] != macs[1] {
		t.Errorf("ARP for %s answered by %v, want only h2 %s", vip4.Address, got, macs[1])
	}

	// h2 lets go too: nobody answers, and h1, still probing, hears nothing.
	h2.apply(nil, nil)
	h2.watch()
	afterProbes(t, h1, 8)
	was1 = memberAnswers(h1, macs[1])
	afterProbes(t, h1, 16)
	if now := memberAnswers(h1, macs[1]); fmt.Sprint(now) != fmt.Sprint(was1) {
		t.Errorf("h1 still hears h2 after h2 let go: %v, was %v", now, was1)
	}
	for i, hp := range hps {
		c := hp.counters()
		t.Logf("h%d counters: %+v", i+1, c)
		if c.SendErrors != 0 || c.Malformed != 0 {
			t.Errorf("h%d: %d send errors, %d malformed packets", i+1, c.SendErrors, c.Malformed)
		}
	}
}
