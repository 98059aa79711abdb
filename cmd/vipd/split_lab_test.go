package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/lab"
)

// The lab tests of issue 15: one owner, always. Each fault is made for
// real on the default profile (link down and up, a firewall on the gossip
// port, the switch cut in two, another gossip key), and each test asserts
// what the client sees, which MACs answer ARP and NDP from the client's
// namespace, and what status says on every host. The times they log are
// figures, not pass marks: `make bench` measures them.

// frontVIPs is one group, an IPv4 and an IPv6 VIP that move together.
var frontVIPs = fmt.Sprintf("  - name: web\n    address: %s\n    group: front\n    checks: [web]\n  - name: web6\n    address: %q\n    group: front\n    checks: [web]\n", vip4, vip6)

// settleBound is how long a test waits for the cluster to come to one
// owner after a fault ends. The goal is 2s; this leaves room for a loaded
// CI machine while still failing a cluster that never merges.
const settleBound = 15 * time.Second

func newSplitLab(t *testing.T, opts lab.Options) *vipdLab {
	opts.Hosts = 3
	return newVIPDLabWith(t, opts, "default", frontVIPs, "")
}

// ndpMACs asks for the VIP's MAC with a neighbor solicitation from the
// client and returns the distinct MACs that answered.
func (l *vipdLab) ndpMACs(client *lab.Node, vip string) []string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := client.Run(ctx, "ndisc6", "-m", "-q", "-r", "3", "-w", "300", vip, "eth0")
	return distinctMACs(out)
}

// arpMACsFrom is arpMACs from a given client.
func (l *vipdLab) arpMACsFrom(client *lab.Node, vip string) []string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := client.Run(ctx, "arping", "-c", "3", "-w", "1", "-i", "eth0", vip)
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "from") {
			lines = append(lines, line)
		}
	}
	return distinctMACs(strings.Join(lines, "\n"))
}

func distinctMACs(out string) []string {
	var macs []string
	for _, mac := range macPattern.FindAllString(out, -1) {
		mac = strings.ToLower(mac)
		if !slices.Contains(macs, mac) {
			macs = append(macs, mac)
		}
	}
	return macs
}

// members reads `vipctl members --json` on a host.
func (l *vipdLab) members(h *lab.Node) ([]api.Member, error) {
	out, errOut, err := l.vipctlStreams(h, "members", "--json")
	var ms []api.Member
	if jerr := json.Unmarshal([]byte(out), &ms); jerr != nil {
		return nil, fmt.Errorf("vipctl members --json on %s: %v %v: %s%s", h.Name(), err, jerr, out, errOut)
	}
	return ms, nil
}

// oneOwner waits until exactly one MAC answers ARP for web and NDP for
// web6 from client, it is the MAC of the owner every running host names,
// every member is alive on every host, and no host shows a split. It
// returns the owner and how long it took.
func (l *vipdLab) oneOwner(client *lab.Node) (string, time.Duration) {
	l.t.Helper()
	start := time.Now()
	var owner string
	lab.Eventually(l.t, settleBound, func() error {
		owner = ""
		err := l.eachVIPStatus("web", func(name string, v api.VIPStatus) error {
			if v.Owner == "" || v.Health != api.HealthOK {
				return fmt.Errorf("web on %s: owner %q, health %s (%s)", name, v.Owner, v.Health, v.Reason)
			}
			if owner != "" && owner != v.Owner {
				return fmt.Errorf("hosts disagree on the owner of web: %s and %s", owner, v.Owner)
			}
			owner = v.Owner
			return nil
		})
		if err != nil {
			return err
		}
		for name := range l.vipd {
			ms, err := l.members(l.host(name))
			if err != nil {
				return err
			}
			for _, m := range ms {
				if m.State != api.MemberAlive {
					return fmt.Errorf("on %s, member %s is %s", name, m.Name, m.State)
				}
			}
		}
		want := []string{l.macOf(l.host(owner))}
		if got := l.arpMACsFrom(client, vip4); !slices.Equal(got, want) {
			return fmt.Errorf("ARP for %s answered by %v, want only %s's %v", vip4, got, owner, want)
		}
		if got := l.ndpMACs(client, vip6); !slices.Equal(got, want) {
			return fmt.Errorf("NDP for %s answered by %v, want only %s's %v", vip6, got, owner, want)
		}
		return nil
	})
	return owner, time.Since(start)
}

// moves counts the owner changes the client saw.
func moves(sum lab.Summary) int { return max(len(sum.Bodies)-1, 0) }

func TestLabOwnerLinkFlapMovesTheVIPOnce(t *testing.T) {
	l := newSplitLab(t, lab.Options{})
	owner, _ := l.oneOwner(l.lab.Client())
	probe := lab.Probe(context.Background(), l.lab.Client(), url4, labProbe, 200*time.Millisecond)
	ctx := context.Background()
	if err := l.host(owner).LinkDown(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the flap itself
	if err := l.host(owner).LinkUp(ctx); err != nil {
		t.Fatal(err)
	}
	next, took := l.oneOwner(l.lab.Client())
	sum := lab.Summarize(probe.Stop())
	t.Logf("link of %s down 2s then up: one owner (%s) %dms after link up; client %s", owner, next, took.Milliseconds(), sum)
	if moves(sum) > 1 {
		t.Errorf("the VIP moved %d times (%v), want at most once", moves(sum), sum.Bodies)
	}
}

func TestLabGossipCutIsSeenAndHeals(t *testing.T) {
	l := newSplitLab(t, lab.Options{})
	owner, _ := l.oneOwner(l.lab.Client())
	probe := lab.Probe(context.Background(), l.lab.Client(), url4, labProbe, 200*time.Millisecond)
	ctx := context.Background()
	h := l.host(owner)
	if err := h.BlockPort(ctx, 7946); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	// Both sides see the split, and at most one MAC answers.
	var splitAfter time.Duration
	lab.Eventually(t, settleBound, func() error {
		var split []string
		err := l.eachVIPStatus("web", func(name string, v api.VIPStatus) error {
			if v.Health == api.HealthSplit {
				split = append(split, name)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(split) < 2 || !slices.Contains(split, owner) {
			return fmt.Errorf("hosts showing the split: %v, want the old owner %s and the new one", split, owner)
		}
		if got := l.arpMACsFrom(l.lab.Client(), vip4); len(got) != 1 {
			return fmt.Errorf("ARP for %s answered by %v during the cut, want one MAC", vip4, got)
		}
		splitAfter = time.Since(cut)
		return nil
	})
	if rest := 10*time.Second - time.Since(cut); rest > 0 {
		time.Sleep(rest) // the cut lasts 10s
	}
	if got := l.arpMACsFrom(l.lab.Client(), vip4); len(got) != 1 {
		t.Errorf("ARP for %s answered by %v at the end of the cut, want one MAC", vip4, got)
	}
	if err := h.Unblock(ctx); err != nil {
		t.Fatal(err)
	}
	next, took := l.oneOwner(l.lab.Client())
	sum := lab.Summarize(probe.Stop())
	t.Logf("gossip of %s cut 10s: split seen and one MAC answering %dms after the cut; after the heal one owner (%s) and all alive in %dms; client %s",
		owner, splitAfter.Milliseconds(), next, took.Milliseconds(), sum)
	l.requireLog(owner, "split")
}

func TestLabLANSplitServesBothSidesThenHeals(t *testing.T) {
	l := newSplitLab(t, lab.Options{SecondClient: true})
	owner, _ := l.oneOwner(l.lab.Client())
	ctx := context.Background()
	// The owner and the second client on one side, the rest on the other.
	side := []*lab.Node{l.host(owner), l.lab.Client2()}
	if err := l.lab.SplitLAN(ctx, side); err != nil {
		t.Fatal(err)
	}
	l.answersVia(l.lab.Client2(), url4, owner)
	var other string
	lab.Eventually(t, settleBound, func() error {
		ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		body, err := l.lab.Client().HTTPGet(ctx, url4)
		if err != nil {
			return err
		}
		if other = strings.TrimSpace(body); other == owner {
			return fmt.Errorf("the first client reached %s across the split", owner)
		}
		return nil
	})
	t.Logf("LAN split: the owner's side is served by %s, the other side by %s", owner, other)
	if err := l.lab.HealLAN(ctx, side); err != nil {
		t.Fatal(err)
	}
	next, took := l.oneOwner(l.lab.Client())
	if got := l.arpMACsFrom(l.lab.Client2(), vip4); !slices.Equal(got, []string{l.macOf(l.host(next))}) {
		t.Errorf("the second client's ARP for %s answered by %v, want only %s", vip4, got, next)
	}
	t.Logf("after the heal one owner (%s) in %dms", next, took.Milliseconds())
}

func TestLabWrongKeyClaimsNothingAndSaysWhy(t *testing.T) {
	l := newSplitLab(t, lab.Options{})
	owner, _ := l.oneOwner(l.lab.Client())
	wrong := "h1"
	if owner == wrong {
		wrong = "h2"
	}
	h := l.host(wrong)
	l.vipd[wrong].Stop()
	delete(l.vipd, wrong)
	probe := lab.Probe(context.Background(), l.lab.Client(), url4, labProbe, 200*time.Millisecond)
	key := filepath.Join(l.hostDir(h), "other.key")
	if out, err := exec.Command(filepath.Join(l.bin, "vipd"), "keygen", "-o", key).CombinedOutput(); err != nil {
		t.Fatalf("vipd keygen: %v\n%s", err, out)
	}
	cfg := strings.Replace(l.config(h), filepath.Join(l.dir, "gossip.key"), key, 1)
	l.writeConfig(h, cfg)
	l.start(h)

	lab.Eventually(t, settleBound, func() error {
		st, err := l.status(h)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(st.Problems, func(p string) bool { return strings.Contains(p, "gossip keys differ") }) {
			return fmt.Errorf("%s's status problems %q, want the key mismatch named", wrong, st.Problems)
		}
		for _, v := range st.VIPs {
			if v.Role == api.RoleOwner {
				return fmt.Errorf("%s with the wrong key owns %s", wrong, v.Name)
			}
		}
		return nil
	})
	// Long enough for a host that went on alone to have claimed.
	time.Sleep(4 * time.Second)
	if got := l.arpMACsFrom(l.lab.Client(), vip4); !slices.Equal(got, []string{l.macOf(l.host(owner))}) {
		t.Errorf("ARP for %s answered by %v, want only the owner %s", vip4, got, owner)
	}
	sum := lab.Summarize(probe.Stop())
	t.Logf("%s started with another key: %s", wrong, sum)
	if sum.Failed > 0 || moves(sum) > 0 {
		t.Errorf("the client saw %s while a host with another key started, want no failure and no move", sum)
	}
	l.requireLog(wrong, "gossip keys differ")
	doctor, _ := l.vipctl(h, "doctor")
	if !strings.Contains(doctor, "gossip key differs") {
		t.Errorf("vipctl doctor on %s does not name the key mismatch:\n%s", wrong, doctor)
	}
}

func TestLabOwnerLinkFlappingEndsWithOneOwner(t *testing.T) {
	l := newSplitLab(t, lab.Options{})
	owner, _ := l.oneOwner(l.lab.Client())
	probe := lab.Probe(context.Background(), l.lab.Client(), url4, labProbe, 200*time.Millisecond)
	ctx := context.Background()
	h := l.host(owner)
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		if err := h.LinkDown(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if err := h.LinkUp(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
	}
	next, took := l.oneOwner(l.lab.Client())
	sum := lab.Summarize(probe.Stop())
	t.Logf("link of %s flapping (down 1s, up 2s) for 30s: owner changes seen by the client %d (%v); one owner (%s) %dms after the last flap; client %s",
		owner, moves(sum), sum.Bodies, next, took.Milliseconds(), sum)
}

// requireLog fails the test unless host's vipd log has a line with text.
func (l *vipdLab) requireLog(host, text string) {
	l.t.Helper()
	p, ok := l.vipd[host]
	if !ok {
		return
	}
	b, err := os.ReadFile(p.LogPath())
	if err != nil {
		l.t.Fatal(err)
	}
	if !strings.Contains(string(b), text) {
		l.t.Errorf("the log of vipd on %s has no line with %q", host, text)
	}
}
