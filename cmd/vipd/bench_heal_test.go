package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/lab"
)

// The heal rows of the benchmark (issue #15): faults after which the
// question is not how fast another host takes over but how fast the
// cluster is back to exactly one MAC answering ARP for the VIP.
//
//   - partition heal: the owner's cluster traffic is cut while the LAN stays
//     whole (vipd: TCP and UDP 7946; keepalived: VRRP, IP protocol 112), for
//     benchCutFor, then let through again.
//   - link flap: the owner's eth0 down for benchFlapFor, then up.
//
// While the client probes the VIP over HTTP as in the failover rows, it
// also asks for the VIP's MAC with one ARP request after another and
// counts the distinct MACs that answer each.

const (
	benchCutFor  = 6 * time.Second
	benchFlapFor = 2 * time.Second
	// benchARPWait is how long one ARP request waits for answers: every
	// MAC that answers within it counts.
	benchARPWait = "0.2"
	// benchHealObserve is how long after the heal the client keeps asking
	// at least, so that a late move or a second MAC coming back is seen.
	benchHealObserve = 5 * time.Second
	// benchHealStableFor is how long one MAC must have answered alone for
	// the run to end.
	benchHealStableFor = time.Second
	// benchHealTimeout bounds the wait for one MAC after the heal.
	benchHealTimeout = 20 * time.Second
	// benchVRRPTable is the nftables table that cuts keepalived's VRRP.
	benchVRRPTable = "vipdbenchvrrp"
)

// benchHealRun is what a heal run records besides the client's figures.
type benchHealRun struct {
	// Settled says exactly one MAC answered ARP for the VIP at the end of
	// the run; SettleMS is the time from the heal (or link up) to the first
	// of the ARP requests from which on only that MAC answered.
	Settled  bool    `json:"settled"`
	SettleMS float64 `json:"settle_ms"`
	// Final is the host whose MAC answered at the end.
	Final string `json:"final_host,omitempty"`
	// Moves counts the owner changes the client saw over HTTP.
	Moves int `json:"moves"`
	// FaultPolls ARP requests were sent during the fault (cut or link
	// down); FaultMulti of them had two or more MACs answering;
	// FaultMaxMACs is the most MACs that answered one of them.
	FaultPolls   int `json:"fault_arp_requests"`
	FaultMulti   int `json:"fault_arp_requests_2plus_macs"`
	FaultMaxMACs int `json:"fault_max_macs"`
	// Changes lists every change in who answered ARP, in seconds from
	// the heal (negative: during the fault).
	Changes []benchARPPoll `json:"arp_changes"`
}

// benchARPPoll is one ARP request from the client and who answered it.
type benchARPPoll struct {
	T     float64  `json:"t_s"`
	Hosts []string `json:"hosts"`
}

// arpPoll is one ARP request as sent.
type arpPoll struct {
	Sent  time.Time
	Hosts []string // hosts (or unknown MACs) that answered, sorted
}

// arpPoller asks from a node, one request after another, which MACs answer
// ARP for an address.
type arpPoller struct {
	node  *lab.Node
	addr  string
	names map[string]string // MAC -> host
	stop  context.CancelFunc
	done  chan struct{}

	mu    sync.Mutex
	polls []arpPoll
}

func startARPPoller(node *lab.Node, addr string, names map[string]string) *arpPoller {
	ctx, stop := context.WithCancel(context.Background())
	p := &arpPoller{node: node, addr: addr, names: names, stop: stop, done: make(chan struct{})}
	go p.run(ctx)
	return p
}

func (p *arpPoller) run(ctx context.Context) {
	defer close(p.done)
	for ctx.Err() == nil {
		sent := time.Now()
		// One request, every answer within benchARPWait. arping exits 1
		// when nobody answers, which is a poll with no host, not an error.
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, _ := p.node.Run(rctx, "arping", "-c", "1", "-w", benchARPWait, "-i", "eth0", p.addr)
		cancel()
		if ctx.Err() != nil {
			return
		}
		var hosts []string
		for _, line := range strings.Split(out, "\n") {
			if !strings.Contains(line, "from") {
				continue
			}
			for _, mac := range macPattern.FindAllString(line, -1) {
				name := strings.ToLower(mac)
				if h, ok := p.names[name]; ok {
					name = h
				}
				if !slices.Contains(hosts, name) {
					hosts = append(hosts, name)
				}
			}
		}
		slices.Sort(hosts)
		p.mu.Lock()
		p.polls = append(p.polls, arpPoll{Sent: sent, Hosts: hosts})
		p.mu.Unlock()
	}
}

func (p *arpPoller) Polls() []arpPoll {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.polls)
}

// Stop ends the polling and returns every poll.
func (p *arpPoller) Stop() []arpPoll {
	p.stop()
	<-p.done
	return p.Polls()
}

// settleOf looks at the last run of polls that each had exactly one, the
// same, host answering. It returns when that run began, counted from from
// (zero if it began before), and the host; ok is false if the last poll did
// not have exactly one host answering.
func settleOf(polls []arpPoll, from time.Time) (d time.Duration, host string, ok bool) {
	if len(polls) == 0 || len(polls[len(polls)-1].Hosts) != 1 {
		return 0, "", false
	}
	host = polls[len(polls)-1].Hosts[0]
	start := polls[len(polls)-1].Sent
	for i := len(polls) - 1; i >= 0; i-- {
		if len(polls[i].Hosts) != 1 || polls[i].Hosts[0] != host {
			break
		}
		start = polls[i].Sent
	}
	return max(start.Sub(from), 0), host, true
}

// hostMACs maps the MAC of each host's eth0 to the host's name.
func hostMACs(l *lab.Lab) (map[string]string, error) {
	out := map[string]string{}
	for _, h := range l.Hosts() {
		mac, err := h.Run(context.Background(), "cat", "/sys/class/net/eth0/address")
		if err != nil {
			return nil, err
		}
		out[strings.ToLower(strings.TrimSpace(mac))] = h.Name()
	}
	return out, nil
}

// runHealScenario makes the fault on sys's owner, undoes it and measures
// until one MAC has answered alone for benchHealStableFor, and at least
// observe after the heal. The lab is whole again when it returns.
func runHealScenario(t *testing.T, sys benchSystem, sc benchScenario, observe time.Duration) (benchRun, error) {
	t.Helper()
	owner, err := sys.Steady(benchSteadyTimeout)
	if err != nil {
		return benchRun{}, fmt.Errorf("%s before %s: %w", sys.Name(), sc.Key, err)
	}
	h := hostByName(sys.Lab(), owner)
	names, err := hostMACs(sys.Lab())
	if err != nil {
		return benchRun{Owner: owner}, err
	}
	ctx := context.Background()
	probe := lab.Probe(ctx, sys.Lab().Client(), benchURL, benchProbeEvery, benchProbeTimeout)
	arp := startARPPoller(sys.Lab().Client(), vip4, names)
	time.Sleep(benchBaseline)

	fault := time.Now()
	var faultErr, healErr error
	switch sc.Key {
	case "partition-heal":
		if faultErr = sys.CutGossip(h); faultErr == nil {
			time.Sleep(benchCutFor)
			healErr = sys.HealGossip(h)
		}
	case "link-flap":
		if faultErr = h.LinkDown(ctx); faultErr == nil {
			time.Sleep(benchFlapFor)
			healErr = h.LinkUp(ctx)
		}
	default:
		faultErr = fmt.Errorf("unknown heal scenario %q", sc.Key)
	}
	heal := time.Now()
	if faultErr == nil && healErr == nil {
		deadline := heal.Add(benchHealTimeout)
		for time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			d, _, ok := settleOf(arp.Polls(), heal)
			if ok && time.Since(heal) >= observe && time.Since(heal.Add(d)) >= benchHealStableFor {
				break
			}
		}
	}
	polls := arp.Stop()
	results := probe.Stop()

	sum := lab.Summarize(results)
	run := benchRun{Owner: owner, GapMS: ms(sum.LongestGap), Failed: sum.Failed, OK: sum.OK,
		Bodies: sum.Bodies, Heal: &benchHealRun{Moves: max(len(sum.Bodies)-1, 0)}}
	for _, r := range results {
		run.Timeline = append(run.Timeline, benchPoint{T: r.Sent.Sub(fault).Seconds(), OK: r.OK(),
			Host: r.Body, LatencyMS: ms(r.Latency)})
	}
	hr := run.Heal
	var prev []string
	for i, p := range polls {
		if !p.Sent.Before(fault) && p.Sent.Before(heal) {
			hr.FaultPolls++
			hr.FaultMaxMACs = max(hr.FaultMaxMACs, len(p.Hosts))
			if len(p.Hosts) > 1 {
				hr.FaultMulti++
			}
		}
		if i == 0 || !slices.Equal(p.Hosts, prev) {
			hr.Changes = append(hr.Changes, benchARPPoll{T: p.Sent.Sub(heal).Seconds(), Hosts: p.Hosts})
		}
		prev = p.Hosts
	}
	if d, host, ok := settleOf(polls, heal); ok {
		hr.Settled, hr.SettleMS, hr.Final = true, ms(d), host
	}
	run.Recovered = hr.Settled
	if healErr != nil {
		faultErr = fmt.Errorf("heal: %w", healErr)
	}
	if faultErr != nil {
		run.Error = faultErr.Error()
		return run, fmt.Errorf("%s %s on %s: %w", sys.Name(), sc.Key, owner, faultErr)
	}
	return run, nil
}

// blockVRRP drops VRRP (IP protocol 112) to and from the node, in and out,
// as a firewall rule would; everything else flows.
func blockVRRP(h *lab.Node) error {
	rules := fmt.Sprintf(`table inet %[1]s {
	chain in { type filter hook input priority 0; meta l4proto 112 drop; }
	chain out { type filter hook output priority 0; meta l4proto 112 drop; }
}`, benchVRRPTable)
	cmd := exec.Command("ip", "netns", "exec", h.Netns(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("block VRRP on %s: %w: %s", h.Name(), err, out)
	}
	return nil
}

// unblockVRRP removes what blockVRRP added.
func unblockVRRP(h *lab.Node) error {
	_, err := h.Run(context.Background(), "nft", "delete", "table", "inet", benchVRRPTable)
	return err
}

// fmtARPChanges prints who answered ARP over time: "-6.30s [h1] -2.10s [h1 h2] 0.42s [h1]".
func fmtARPChanges(cs []benchARPPoll) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%+.2fs %v", c.T, c.Hosts))
	}
	return strings.Join(parts, " ")
}
