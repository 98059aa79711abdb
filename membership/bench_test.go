package membership

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

// BenchmarkDeadDetection kills a host of a 5-host cluster without a leave
// message, 20 times per profile, and reports how long it took until every
// other host had it dead: min, median and max in ms. It also counts false
// deaths: hosts declared dead that were not killed. Run it with
//
//	go test ./membership/ -run '^$' -bench DeadDetection -benchtime 1x
func BenchmarkDeadDetection(b *testing.B) {
	for _, profile := range []config.Profile{config.ProfileDefault, config.ProfileFast} {
		b.Run(string(profile), func(b *testing.B) {
			for b.Loop() {
				row := deadDetection(b, profile, 5, 20)
				b.ReportMetric(row.min, "min-ms")
				b.ReportMetric(row.median, "median-ms")
				b.ReportMetric(row.max, "max-ms")
				b.ReportMetric(float64(row.falseDeaths), "false-deaths")
				fmt.Println(row)
			}
		})
	}
}

type detectionRow struct {
	profile          config.Profile
	hosts, kills     int
	min, median, max float64
	falseDeaths      int
}

func (r detectionRow) String() string {
	return fmt.Sprintf("dead-detection profile=%-7s hosts=%d kills=%d  min=%6.1f ms  median=%6.1f ms  max=%6.1f ms  false-deaths=%d",
		r.profile, r.hosts, r.kills, r.min, r.median, r.max, r.falseDeaths)
}

func deadDetection(b *testing.B, profile config.Profile, hosts, kills int) detectionRow {
	b.Helper()
	key, _ := GenerateKey()
	c := newCluster(b, hosts, profile, key)
	killed := map[string]bool{}
	var ms []float64
	for i := range kills {
		victim := c.remove(i % len(c.nodes))
		killed[victim.Name()] = true
		start := time.Now()
		if err := victim.Shutdown(); err != nil {
			b.Fatal(err)
		}
		waitFor(b, 10*time.Second, victim.Name()+" not dead everywhere", func() bool {
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
		ms = append(ms, float64(last.Sub(start).Microseconds())/1000)
		c.add(fmt.Sprintf("r%d", i), profile, key)
		c.waitConverged(10 * time.Second)
	}
	falseDeaths := 0
	for _, m := range c.nodes {
		for _, mem := range m.Members() {
			if mem.State != StateAlive && !killed[mem.Name] {
				falseDeaths++
			}
		}
	}
	for _, m := range c.nodes {
		_ = m.Shutdown()
	}
	slices.Sort(ms)
	return detectionRow{profile: profile, hosts: hosts, kills: kills,
		min: ms[0], median: ms[len(ms)/2], max: ms[len(ms)-1], falseDeaths: falseDeaths}
}
