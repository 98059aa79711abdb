package main

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/lab"
)

// fleetVIP is one VIP of a fleet lab.
type fleetVIP struct {
	Name    string
	Address netip.Addr
}

// fleetVIPs returns n VIPs, v4 of them IPv4, the rest IPv6: 192.0.2.120
// upwards (above the lab's hosts and clients), then 198.51.100.1 and
// 203.0.113.1 upwards (past 135 IPv4 VIPs: the client must reach those
// prefixes on its link, see fleetOnLink), then 2001:db8::1:0 upwards.
func fleetVIPs(n, v4 int) []fleetVIP {
	var addrs4 []netip.Addr
	for i := 120; i <= 254; i++ {
		addrs4 = append(addrs4, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}))
	}
	for _, third := range [][3]byte{{198, 51, 100}, {203, 0, 113}} {
		for i := 1; i <= 254; i++ {
			addrs4 = append(addrs4, netip.AddrFrom4([4]byte{third[0], third[1], third[2], byte(i)}))
		}
	}
	v4 = min(v4, n, len(addrs4))
	out := make([]fleetVIP, 0, n)
	for i := range v4 {
		out = append(out, fleetVIP{fmt.Sprintf("v%04d", i), addrs4[i]})
	}
	a := netip.MustParseAddr("2001:db8::1:0")
	for i := v4; i < n; i++ {
		out = append(out, fleetVIP{fmt.Sprintf("v%04d", i), a})
		a = a.Next()
	}
	return out
}

// fleetOnLink makes the client reach the IPv4 VIPs outside the lab's
// 192.0.2.0/24 on its own link, as a LAN with several prefixes would.
func fleetOnLink(t *testing.T, l *vipdLab) {
	t.Helper()
	for _, p := range []string{"198.51.100.0/24", "203.0.113.0/24"} {
		if out, err := l.lab.Client().Run(t.Context(), "ip", "route", "replace", p, "dev", "eth0"); err != nil {
			t.Fatalf("ip route replace %s dev eth0 on the client: %v: %s", p, err, out)
		}
	}
}

// newFleetLab starts a fleet: hosts running vipd at logLevel with vips and
// the default check timing (a probe a second, 500 ms timeout) and refresh
// (10 s), not the lab's 100 ms and 2 s: on this machine a fleet shares two
// cores, and a check that times out under load would move VIPs for no fault
// of the backend.
func newFleetLab(t *testing.T, hosts int, prefix, profile, logLevel string, nice int, vips []fleetVIP) *vipdLab {
	t.Helper()
	const labChecks = "    interval: 100ms\n    timeout: 90ms\n"
	l := newVIPDLabNice(t, lab.Options{Hosts: hosts, Prefix: prefix}, profile, fleetVIPsYAML(vips), "", logLevel, nice, func(yaml string) string {
		if !strings.Contains(yaml, labChecks) {
			t.Fatalf("the lab's config has no %q to change:\n%s", labChecks, yaml)
		}
		// And the default refresh (10 s), not the lab's 2 s: every host
		// hears every refresh of every VIP.
		const labRefresh = "announce:\n  refresh: 2s\n"
		if !strings.Contains(yaml, labRefresh) {
			t.Fatalf("the lab's config has no %q to remove:\n%s", labRefresh, yaml)
		}
		yaml = strings.Replace(yaml, labRefresh, "", 1)
		return strings.Replace(yaml, labChecks, "    interval: 1s\n    timeout: 500ms\n", 1)
	})
	fleetOnLink(t, l)
	return l
}

func fleetVIPsYAML(vips []fleetVIP) string {
	var b strings.Builder
	for _, v := range vips {
		fmt.Fprintf(&b, "  - name: %s\n    address: %q\n    checks: [web]\n", v.Name, v.Address)
	}
	return b.String()
}

// fleetOwners waits until every running host's status names one owner for
// every VIP, the same on every host, with health ok, and returns the
// owners by VIP name.
func (l *vipdLab) fleetOwners(vips []fleetVIP, timeout time.Duration) map[string]string {
	l.t.Helper()
	var owners map[string]string
	lab.Eventually(l.t, timeout, func() error {
		var err error
		owners, err = l.fleetAgreement(vips)
		return err
	})
	return owners
}

// fleetSettledOwners waits until the owners every host agrees on stay the
// same for quiet (balancing has ended) and returns them.
func (l *vipdLab) fleetSettledOwners(vips []fleetVIP, quiet, timeout time.Duration) map[string]string {
	l.t.Helper()
	deadline := time.Now().Add(timeout)
	owners := l.fleetOwners(vips, timeout)
	for {
		time.Sleep(quiet)
		now := l.fleetOwners(vips, time.Until(deadline))
		if maps.Equal(now, owners) {
			return owners
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("owners still changing %v after balancing", timeout)
		}
		owners = now
	}
}

// fleetAgreement returns the owner of every VIP if every running host's
// status agrees on it and says health ok, and what is wrong otherwise.
func (l *vipdLab) fleetAgreement(vips []fleetVIP) (map[string]string, error) {
	owners, _, _, err := l.fleetAgreementSince(vips, nil)
	return owners, err
}

// fleetAgreementSince is fleetAgreement that also returns the last moment
// a host's status changed a VIP (its since), as the hosts recorded it: a
// sweep of 24 vipctl runs takes a second or more, so the moment the last
// host came to agree is read from the statuses rather than from the sweep.
// lastChange says which host's status of which VIP changed last, and to
// what. With of set, only the VIPs it names count for last.
func (l *vipdLab) fleetAgreementSince(vips []fleetVIP, of map[string]bool) (owners map[string]string, last time.Time, lastChange string, err error) {
	owners = map[string]string{}
	hosts := slices.Sorted(func(yield func(string) bool) {
		for name := range l.vipd {
			if !yield(name) {
				return
			}
		}
	})
	for _, name := range hosts {
		st, err := l.statusBrief(l.host(name))
		if err != nil {
			return nil, last, "", err
		}
		byName := map[string]api.VIPStatus{}
		for _, v := range st.VIPs {
			byName[v.Name] = v
			if v.Since.After(last) && (of == nil || of[v.Name]) {
				last = v.Since
				lastChange = fmt.Sprintf("%s: %s %s/%s, owner %s (%s)", name, v.Name, v.Health, v.Role, v.Owner, v.Reason)
			}
		}
		for _, v := range vips {
			s, ok := byName[v.Name]
			switch {
			case !ok:
				return nil, last, "", fmt.Errorf("%s: status lists no VIP %s", name, v.Name)
			case s.Owner == "" || s.Health != api.HealthOK:
				return nil, last, "", fmt.Errorf("%s: %s owner %q, health %s (%s)", name, v.Name, s.Owner, s.Health, s.Reason)
			case owners[v.Name] == "":
				owners[v.Name] = s.Owner
			case owners[v.Name] != s.Owner:
				return nil, last, "", fmt.Errorf("hosts disagree on the owner of %s: %s says %s, another %s", v.Name, name, s.Owner, owners[v.Name])
			}
		}
	}
	return owners, last, lastChange, nil
}

// fleetWire asks from the client who answers for every VIP (ARP for IPv4,
// a neighbor solicitation for IPv6, several at once) and returns what is
// wrong: a VIP answered by no MAC, by several, or by another MAC than its
// owner's.
func (l *vipdLab) fleetWire(vips []fleetVIP, owners map[string]string) []string {
	l.t.Helper()
	macOf := map[string]string{}
	for _, h := range l.lab.Hosts() {
		macOf[h.Name()] = l.macOf(h)
	}
	var (
		mu    sync.Mutex
		wrong []string
		wg    sync.WaitGroup
		slots = make(chan struct{}, 24)
	)
	client := l.lab.Client()
	for _, v := range vips {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			var macs []string
			if v.Address.Is4() {
				macs = l.arpMACsFrom(client, v.Address.String())
			} else {
				macs = l.ndpMACs(client, v.Address.String())
			}
			if len(macs) != 1 || macs[0] != macOf[owners[v.Name]] {
				mu.Lock()
				wrong = append(wrong, fmt.Sprintf("%s (%s): answered by %v, want only %s's %s", v.Name, v.Address, macs, owners[v.Name], macOf[owners[v.Name]]))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(wrong)
	return wrong
}

// fleetWireSettled sweeps every VIP from the client, then sweeps again the
// ones not answered by their owner alone, with the owners every host then
// agrees on, until none is left: a VIP that rebalancing is moving is
// answered by both hosts, or by the old one, for a moment. It fails the
// test after 30 s, and returns the owners.
func (l *vipdLab) fleetWireSettled(vips []fleetVIP) map[string]string {
	l.t.Helper()
	owners := l.fleetOwners(vips, time.Minute)
	check := vips
	deadline := time.Now().Add(30 * time.Second)
	for {
		wrong := l.fleetWire(check, owners)
		if len(wrong) == 0 {
			return owners
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("on the wire, %d VIPs are not answered by their owner alone:\n%s", len(wrong), strings.Join(wrong, "\n"))
		}
		check = wrongVIPs(check, wrong)
		time.Sleep(time.Second)
		owners = l.fleetOwners(vips, time.Minute)
	}
}

// fleetSample picks up to n VIPs spread over the owners (round robin over
// the hosts, in VIP order), so a sample sees every host's hand-overs.
func fleetSample(vips []fleetVIP, owners map[string]string, n int) []fleetVIP {
	byOwner := map[string][]fleetVIP{}
	var hosts []string
	for _, v := range vips {
		o := owners[v.Name]
		if _, ok := byOwner[o]; !ok {
			hosts = append(hosts, o)
		}
		byOwner[o] = append(byOwner[o], v)
	}
	slices.Sort(hosts)
	var out []fleetVIP
	for i := 0; len(out) < n; i++ {
		added := false
		for _, h := range hosts {
			if i < len(byOwner[h]) && len(out) < n {
				out = append(out, byOwner[h][i])
				added = true
			}
		}
		if !added {
			break
		}
	}
	return out
}

// A fleet of 8 hosts with 200 VIPs (130 IPv4, 70 IPv6, each its own unit):
// every host agrees on one owner for every VIP, rebalancing spreads them
// within 20 % of an even share, the client hears exactly the owner's MAC
// for each, and a rolling restart of every host (SIGTERM, start, wait until
// all agree again) fails no request on a sample of VIPs spread over the
// owners (probed every 50 ms), other than connections reset in flight.
func TestLabFleetAgreesAndSurvivesARollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("a fleet of 8 hosts; skipped with -short")
	}
	vips := fleetVIPs(200, 130)
	l := newFleetLab(t, 8, "vfl", "default", "debug", 0, vips)
	diagOnFailure(t, l)
	start := time.Now()
	owners := l.fleetOwners(vips, 60*time.Second)
	perHost := map[string]int{}
	for _, o := range owners {
		perHost[o]++
	}
	t.Logf("cold start: every host agreed on an owner for each of %d VIPs after %v; VIPs per host %v", len(vips), time.Since(start).Round(time.Millisecond), perHost)

	// Rebalancing spreads them: every host within 20 % of an even share.
	share := len(vips) / len(l.lab.Hosts())
	lab.Eventually(t, 90*time.Second, func() error {
		var err error
		if owners, err = l.fleetAgreement(vips); err != nil {
			return err
		}
		perHost = map[string]int{}
		for _, o := range owners {
			perHost[o]++
		}
		for _, h := range l.lab.Hosts() {
			if n := perHost[h.Name()]; n*5 < share*4 || n*5 > share*6 {
				return fmt.Errorf("%s owns %d VIPs, not within 20%% of %d: %v", h.Name(), n, share, perHost)
			}
		}
		return nil
	})
	t.Logf("balanced %v after the cold start: VIPs per host %v", time.Since(start).Round(time.Millisecond), perHost)
	owners = l.fleetWireSettled(vips)

	sample := fleetSample(vips, owners, 8)
	var probes []*lab.Prober
	ctx := t.Context()
	for _, v := range sample {
		url := lab.URL(v.Address, webPort)
		l.answersFrom(url, owners[v.Name])
		// A 1 s timeout: eight hosts, their nginx and the client share two
		// cores with other packages' tests, and a client stalled for a few
		// hundred milliseconds is no VIP that failed. A VIP with no owner
		// still fails: refused, reset, or no answer to the SYN within 1 s.
		probes = append(probes, lab.Probe(ctx, l.lab.Client(), url, 50*time.Millisecond, time.Second))
	}
	rollStart := time.Now()
	for _, h := range l.lab.Hosts() {
		l.restart(h.Name())
		owners = l.fleetOwners(vips, 60*time.Second)
	}
	t.Logf("rolling restart of %d hosts took %v", len(l.lab.Hosts()), time.Since(rollStart).Round(time.Millisecond))
	var failed []string
	for i, p := range probes {
		sum := lab.Summarize(p.Stop())
		t.Logf("%s (%s): %s", sample[i].Name, sample[i].Address, sum)
		if sum.Failed > sum.Reset {
			failed = append(failed, fmt.Sprintf("%s: %d failed, %d of them resets in flight", sample[i].Name, sum.Failed, sum.Reset))
		}
	}
	if len(failed) > 0 {
		t.Errorf("requests failed during the rolling restart:\n%s", strings.Join(failed, "\n"))
	}
	l.fleetWireSettled(vips)
}

// wrongVIPs returns the VIPs of vips that fleetWire's report wrong names.
func wrongVIPs(vips []fleetVIP, wrong []string) []fleetVIP {
	var named []fleetVIP
	for _, v := range vips {
		if slices.ContainsFunc(wrong, func(w string) bool { return strings.HasPrefix(w, v.Name+" ") }) {
			named = append(named, v)
		}
	}
	return named
}
