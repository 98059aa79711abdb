package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/lab"
)

// A drained host that restarts (a package upgrade does) comes back drained
// and takes nothing, even when it is the only host its peers leave; undrain
// puts it back in service and nothing moves back to it.
func TestLabDrainSurvivesARestart(t *testing.T) {
	l := newVIPDLab(t, 2, "")
	owner := l.agreedOwner("web")
	other := "h1"
	if owner == other {
		other = "h2"
	}
	if out, err := l.vipctl(l.host(owner), "drain", "--wait"); err != nil {
		t.Fatalf("vipctl drain --wait: %v\n%s", err, out)
	}
	l.agreedOwner("web", owner)

	l.restart(owner)
	lab.Eventually(t, 20*time.Second, func() error {
		st, err := l.status(l.host(owner))
		if err != nil {
			return err
		}
		if !st.Drained || st.DrainedSince.IsZero() {
			return fmt.Errorf("%s after a restart: drained=%v since %v, want still drained", owner, st.Drained, st.DrainedSince)
		}
		if !st.Converged {
			return fmt.Errorf("%s has not converged yet", owner)
		}
		for _, v := range st.VIPs {
			if v.Role != api.RoleDrained || v.Owner != other {
				return fmt.Errorf("%s on %s: role %s owner %s, want drained with %s owning it", v.Name, owner, v.Role, v.Owner, other)
			}
		}
		return nil
	})

	// With the other host's vipd gone, a drained host still takes nothing.
	if err := l.vipd[other].Stop(); err != nil {
		t.Fatal(err)
	}
	delete(l.vipd, other)
	time.Sleep(2 * time.Second) // longer than a failover takes: room to do the wrong thing
	if macs := l.arpMACs(vip4); len(macs) != 0 {
		t.Fatalf("ARP for %s answered by %v while the only running host is drained", vip4, macs)
	}

	l.start(l.host(other))
	if got := l.agreedOwner("web"); got != other {
		t.Fatalf("web is owned by %s while %s is drained", got, owner)
	}
	l.answersFrom(url4, other)
	// Every host knows the owner holds it: the rule that keeps an owner
	// needs the hold gossiped (an undrain a few ms after a claim is two
	// concurrent claims, which the election settles by its hash).
	lab.Eventually(t, 20*time.Second, func() error {
		return l.eachVIPStatus("web", func(name string, v api.VIPStatus) error {
			if !strings.Contains(v.Reason, "owner kept") {
				return fmt.Errorf("web on %s: %s (%s), want %s's hold known", name, v.Owner, v.Reason, other)
			}
			return nil
		})
	})
	probe := lab.Probe(context.Background(), l.lab.Client(), url4, labProbe, 200*time.Millisecond)
	if out, err := l.vipctl(l.host(owner), "undrain"); err != nil {
		t.Fatalf("vipctl undrain: %v\n%s", err, out)
	}
	time.Sleep(2 * time.Second) // room for a move back that must not happen
	got := l.agreedOwner("web")
	sum := lab.Summarize(probe.Stop())
	t.Logf("undrain of %s after a restart: %s", owner, sum)
	if got != other || !slices.Equal(sum.Bodies, []string{other}) {
		t.Errorf("after undrain web is owned by %s and the client saw %v, want %s throughout", got, sum.Bodies, other)
	}
}
