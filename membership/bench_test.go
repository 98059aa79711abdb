package membership

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

// BenchmarkDeadDetection kills a host of a 5-host cluster without a leave
// message, 10 times per profile, and reports how long it took until every
// other host's election view had it dead (heartbeats; view-*-ms) and until
// memberlist's failure detector declared it dead everywhere (gossip-*-ms):
// min, median and max in ms. It also counts false deaths: hosts declared
// dead that were not killed. Run it with
//
//	go test ./membership/ -run '^$' -bench DeadDetection -benchtime 1x
func BenchmarkDeadDetection(b *testing.B) {
	for _, profile := range []config.Profile{config.ProfileDefault, config.ProfileFast} {
		b.Run(string(profile), func(b *testing.B) {
			for b.Loop() {
				row := deadDetection(b, profile, 5, 10)
				b.ReportMetric(row.view.min, "view-min-ms")
				b.ReportMetric(row.view.median, "view-median-ms")
				b.ReportMetric(row.view.max, "view-max-ms")
				b.ReportMetric(row.gossip.median, "gossip-median-ms")
				b.ReportMetric(float64(row.falseDeaths), "false-deaths")
				fmt.Println(row)
			}
		})
	}
}

type msStats struct{ min, median, max float64 }

func statsOf(ms []float64) msStats {
	slices.Sort(ms)
	return msStats{ms[0], ms[len(ms)/2], ms[len(ms)-1]}
}

type detectionRow struct {
	profile      config.Profile
	hosts, kills int
	// view: until every other host's View has the victim not alive;
	// gossip: until memberlist declared it dead on every other host.
	view, gossip msStats
	falseDeaths  int
}

func (r detectionRow) String() string {
	return fmt.Sprintf("dead-detection profile=%-7s hosts=%d kills=%d  view (heartbeats) min=%6.1f median=%6.1f max=%6.1f ms  gossip (memberlist) min=%6.1f median=%6.1f max=%6.1f ms  false-deaths=%d",
		r.profile, r.hosts, r.kills, r.view.min, r.view.median, r.view.max, r.gossip.min, r.gossip.median, r.gossip.max, r.falseDeaths)
}

func deadDetection(b *testing.B, profile config.Profile, hosts, kills int) detectionRow {
	b.Helper()
	key, _ := GenerateKey()
	c := newCluster(b, hosts, profile, key)
	killed := map[string]bool{}
	var viewMS, gossipMS []float64
	for i := range kills {
		victim := c.remove(i % len(c.nodes))
		// A host that joined moments ago may not have heard the victim
		// yet, and would judge it by memberlist alone: measure the
		// heartbeats' rule, for a victim every host has heard.
		waitHeard(b, c.nodes, victim.Name())
		killed[victim.Name()] = true
		start := time.Now()
		if err := victim.Shutdown(); err != nil {
			b.Fatal(err)
		}
		// Polled every millisecond: the figure is at most 1 ms late.
		for {
			dead := true
			for _, m := range c.nodes {
				if alive(m)[victim.Name()] {
					dead = false
					break
				}
			}
			if dead {
				break
			}
			if time.Since(start) > 15*time.Second {
				b.Fatalf("%s not dead in every view after 15 s", victim.Name())
			}
			time.Sleep(time.Millisecond)
		}
		viewMS = append(viewMS, float64(time.Since(start).Microseconds())/1000)
		waitFor(b, 15*time.Second, victim.Name()+" not dead everywhere", func() bool {
			for _, m := range c.nodes {
				if stateIn(m, victim.Name()) != StateDead {
					return false
				}
			}
			return true
		})
		// Each host stamped the moment its gossip declared the victim dead.
		var last time.Time
		for _, m := range c.nodes {
			for _, mem := range m.Members() {
				if mem.Name == victim.Name() && mem.Since.After(last) {
					last = mem.Since
				}
			}
		}
		gossipMS = append(gossipMS, float64(last.Sub(start).Microseconds())/1000)
		c.add(fmt.Sprintf("r%d", i), profile, key)
		c.waitConverged(10 * time.Second)
	}
	falseDeaths := 0
	for _, m := range c.nodes {
		for _, mem := range m.Members() {
			if (mem.State != StateAlive || mem.Silent) && !killed[mem.Name] {
				falseDeaths++
			}
		}
	}
	for _, m := range c.nodes {
		_ = m.Shutdown()
	}
	return detectionRow{profile: profile, hosts: hosts, kills: kills,
		view: statsOf(viewMS), gossip: statsOf(gossipMS), falseDeaths: falseDeaths}
}
