package agent

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkStepFleet measures one host's step in a cluster of 24 hosts and
// 1000 single-VIP units (the fleet bench's shape): in the steady state, and
// on the step after another host died.
func BenchmarkStepFleet(b *testing.B) {
	var y strings.Builder
	y.WriteString("gossip: {insecure: true}\ninterfaces: [{name: eth0}]\nchecks:\n  web: {type: tcp, address: \"127.0.0.1:80\"}\nvips:\n")
	for i := range 1000 {
		fmt.Fprintf(&y, "  - {name: v%04d, address: \"2001:db8::%x\", checks: [web]}\n", i, i+1)
	}
	var names []string
	for i := range 24 {
		names = append(names, fmt.Sprintf("h%d", i+1))
	}
	s := newSim(b, y.String(), names)
	for _, n := range names {
		s.startHost(n)
	}
	s.tick(5 * time.Second)
	h := s.host("h1")
	steady := s.input(h)
	s.host("h16").up = false
	died := s.input(h)
	b.Run("steady", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.m.Step(steady)
		}
	})
	b.Run("member-died", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.m.Step(died)
			h.m.Step(steady)
		}
	})
}
