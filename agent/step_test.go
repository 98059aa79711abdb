package agent

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/vipd/vipd/announcer"
	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/health"
)

// TestStep runs the scripts in testdata/: each drives a simulated cluster
// of Machines on a fake clock and compares what happened, command by
// command. Run with -rewrite to update the expected output after a
// deliberate change, then read the diff.
//
// Commands (hosts are named in the arguments):
//
//	cluster h1 h2 h3      the config of every host is the input
//	start h1 ...          start (or restart) vipd on the hosts
//	crash h1              kill -9 and link down: gossip shows it dead
//	stop h1               SIGTERM: hand over, then leave
//	drain h1 / undrain h1 vipctl drain / undrain (kept across restarts)
//	fail h1 UNIT REASON   the unit's checks fail on h1; pass h1 UNIT: they pass
//	event h1 KIND VIP MAC the announcer on h1 reports foreign-mac, foreign-address
//	reload h1 ...         the input is the new config of those hosts
//	link-down h1          h1's managed link goes down: no LAN, no gossip
//	link-up h1 [1s]       it comes back; gossip works again after the delay
//	bgp-down h1 ipv6      h1's BGP sessions of that family are down; bgp-up: up
//	cut-gossip h1 ...     gossip between these hosts and the rest is cut, the LAN is not
//	cut-lan h1 ...        the LAN is cut in two: these hosts on one side
//	heal                  gossip and LAN whole again
//	wrong-key h1          h1 runs with another gossip key
//	slow-gossip D h1 ...  what these hosts publish reaches the others D late;
//	                      their heartbeats announce it at once (Pending)
//	slow-gossip D unannounced h1 ...  the same, unannounced
//	moves                 how often each VIP started being answered, per host
//	tick DURATION         every running host steps each 100ms; prints what happened
//	status [reasons]      every VIP as every running host sees it
func TestStep(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var s *sim
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "cluster" && s == nil {
				t.Fatalf("%s: 'cluster' must come first", d.Pos)
			}
			args := argWords(d)
			switch d.Cmd {
			case "cluster":
				s = newSim(t, d.Input, args)
				return "ok"
			case "start":
				for _, n := range args {
					s.startHost(n)
					s.note("%s started", n)
				}
			case "crash":
				for _, n := range args {
					s.crash(n)
				}
			case "stop":
				for _, n := range args {
					h := s.host(n)
					h.m.SetDrained(true, s.now)
					h.stopping, h.stopBy = true, s.now.Add(h.cfg.DrainTimeout.Duration)
					s.note("%s stopping", n)
				}
			case "drain", "undrain":
				for _, n := range args {
					h := s.host(n)
					drained := d.Cmd == "drain"
					h.m.SetDrained(drained, s.now)
					h.drainedDisk = time.Time{}
					if drained {
						h.drainedDisk = s.now
					}
					s.note("%s %sed", n, d.Cmd)
				}
			case "fail", "pass":
				if len(args) < 2 {
					t.Fatalf("%s: %s HOST UNIT [REASON]", d.Pos, d.Cmd)
				}
				h := s.host(args[0])
				u := h.health[args[1]]
				u.Eligible = d.Cmd == "pass"
				u.Reason = strings.Join(args[2:], " ")
				h.health[args[1]] = u
				s.note("%s: checks of %s %s", args[0], args[1], map[bool]string{true: "pass", false: "fail"}[u.Eligible])
			case "event":
				if len(args) != 4 {
					t.Fatalf("%s: event HOST KIND VIP MAC-or-INTERFACE", d.Pos)
				}
				s.host(args[0]).events = append(s.host(args[0]).events, simEvent(t, args[1:]))
			case "reload":
				for _, n := range args {
					h := s.host(n)
					h.cfg = s.parse(d.Input, n)
					for _, u := range newUnits(h) {
						h.health[u.Unit] = u
					}
					s.note("%s reloaded", n)
				}
			case "link-down", "link-up":
				h := s.host(args[0])
				h.linkDown = d.Cmd == "link-down"
				kind := announcer.LinkDown
				if !h.linkDown {
					kind = announcer.LinkUp
					h.gossipBack = s.now
					if len(args) > 1 {
						h.gossipBack = s.now.Add(parseDuration(t, d, args[1]))
					}
				}
				h.events = append(h.events, announcer.Event{Kind: kind, Interface: "eth0", At: s.now})
				s.note("%s: link %s", args[0], strings.TrimPrefix(d.Cmd, "link-"))
			case "bgp-down", "bgp-up":
				// The BGP sessions of one family (ipv4 or ipv6) of a host:
				// gossip and the LAN are untouched.
				kind := announcer.LinkDown
				if d.Cmd == "bgp-up" {
					kind = announcer.LinkUp
				}
				link := map[string]string{"ipv4": config.BGPLinkIPv4, "ipv6": config.BGPLinkIPv6}[args[1]]
				if link == "" {
					t.Fatalf("%s: %s %s: the family is ipv4 or ipv6", d.Pos, d.Cmd, args[1])
				}
				s.host(args[0]).events = append(s.host(args[0]).events, announcer.Event{Kind: kind, Interface: link, At: s.now})
				s.note("%s: %s %s", args[0], link, strings.TrimPrefix(d.Cmd, "bgp-"))
			case "cut-gossip", "cut-lan":
				for _, n := range args {
					if d.Cmd == "cut-lan" {
						s.host(n).side = "b"
					}
					s.host(n).gossipSide = "b"
				}
				s.note("%s between %s and the others", d.Cmd, strings.Join(args, " "))
			case "heal":
				for _, h := range s.hosts {
					h.side, h.gossipSide = "", ""
				}
				s.note("healed")
			case "slow-gossip":
				if len(args) < 2 {
					t.Fatalf("%s: slow-gossip DURATION [unannounced] HOST...", d.Pos)
				}
				delay := parseDuration(t, d, args[0])
				hosts, unannounced := args[1:], args[1] == "unannounced"
				if unannounced {
					hosts = args[2:]
				}
				for _, n := range hosts {
					h := s.host(n)
					h.gossipDelay, h.unannounced = delay, unannounced
				}
				s.note("gossip from %s takes %v%s", strings.Join(hosts, " "), delay, map[bool]string{true: ", unannounced"}[unannounced])
			case "wrong-key":
				s.host(args[0]).wrongKey = true
				s.note("%s has another gossip key", args[0])
			case "moves":
				return s.moves()
			case "tick":
				s.tick(parseDuration(t, d, args[0]))
			case "status":
				return s.status(len(args) > 0 && args[0] == "reasons")
			default:
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			}
			return s.flush()
		})
	})
}

func parseDuration(t *testing.T, d *datadriven.TestData, word string) time.Duration {
	dur, err := time.ParseDuration(word)
	if err != nil {
		t.Fatalf("%s: %v", d.Pos, err)
	}
	return dur
}

// argWords returns a command's arguments as plain words.
func argWords(d *datadriven.TestData) []string {
	var out []string
	for _, a := range d.CmdArgs {
		out = append(out, a.Key)
		out = append(out, a.Vals...)
	}
	return out
}

func simEvent(t *testing.T, args []string) announcer.Event {
	ev := announcer.Event{VIP: netip.MustParseAddr(args[1])}
	switch args[0] {
	case "foreign-mac":
		mac, err := net.ParseMAC(args[2])
		if err != nil {
			t.Fatal(err)
		}
		ev.Kind, ev.MAC, ev.Interface = announcer.ForeignMAC, mac, "eth0"
	case "foreign-address":
		ev.Kind, ev.Interface = announcer.ForeignAddress, args[2]
	default:
		t.Fatalf("unknown event kind %q", args[0])
	}
	return ev
}

// newUnits are the passing health entries for the units a reload added.
func newUnits(h *simHost) []health.UnitStatus {
	var out []health.UnitStatus
	for _, v := range h.cfg.VIPs {
		if _, ok := h.health[v.Unit()]; !ok {
			out = append(out, health.UnitStatus{Unit: v.Unit(), Checks: checksOf(h.cfg, v.Unit()), Eligible: true})
		}
	}
	return out
}

func configState() api.ConfigState { return api.ConfigState{} }
