package main

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/lab"
)

var url4 = lab.URL(mustAddr(vip4), webPort)
var url6 = lab.URL(mustAddr(vip6), webPort)

func TestLabOwnerCrashMovesTheVIP(t *testing.T) {
	l := newVIPDLab(t, 3, "")
	owner := l.agreedOwner("web")
	l.answersFrom(url4, owner)
	if macs := l.arpMACs(vip4); !slices.Equal(macs, []string{l.macOf(l.host(owner))}) {
		t.Fatalf("ARP for %s answered by %v, want only %s's MAC %s", vip4, macs, owner, l.macOf(l.host(owner)))
	}

	probe := lab.Probe(context.Background(), l.lab.Client(), url4, labProbe, 200*time.Millisecond)
	l.vipd[owner].Kill()
	delete(l.vipd, owner)
	if err := l.host(owner).LinkDown(context.Background()); err != nil {
		t.Fatal(err)
	}
	next := l.agreedOwner("web", owner)
	l.answersFrom(url4, next)
	probe.WaitHeard(t, next, 10*time.Second)
	sum := lab.Summarize(probe.Stop())
	t.Logf("hard crash of %s: %s", owner, sum)
	if got := sum.Last(); got != next {
		t.Errorf("client's last answers came from %s, want %s", got, next)
	}
	if macs := l.arpMACs(vip4); !slices.Equal(macs, []string{l.macOf(l.host(next))}) {
		t.Errorf("after the crash ARP for %s answered by %v, want only %s's MAC", vip4, macs, next)
	}
}

func TestLabBackendFailureMovesTheVIPAndStatusSaysWhy(t *testing.T) {
	l := newVIPDLab(t, 3, "")
	owner := l.agreedOwner("web")
	l.answersFrom(url4, owner)
	probe := lab.Probe(context.Background(), l.lab.Client(), url4, labProbe, 200*time.Millisecond)
	if err := l.nginx[owner].Stop(); err != nil {
		t.Fatal(err)
	}
	next := l.agreedOwner("web", owner)
	l.answersFrom(url4, next)
	t.Logf("backend failure on %s: %s", owner, lab.Summarize(probe.Stop()))

	// Every host says why the old owner is out; the old owner names its check.
	lab.Eventually(t, 10*time.Second, func() error {
		err := l.eachVIPStatus("web", func(name string, v api.VIPStatus) error {
			if row := hostRow(v, owner); row.Eligible || !strings.Contains(row.Reason, "check") {
				return errorf("%s's status on %s: %+v, want not eligible because of its checks", owner, name, row)
			}
			return nil
		})
		if err != nil {
			return err
		}
		st, err := l.status(l.host(owner))
		if err != nil {
			return err
		}
		v := vipOf(st, "web")
		if v.Role != api.RoleUnhealthy || !strings.Contains(v.Reason, "check web: GET http://127.0.0.1:8080/") {
			return errorf("status of web on %s: %s: %s; want unhealthy naming check web", owner, v.Role, v.Reason)
		}
		return nil
	})

	// Every backend down: nobody announces, and status says why per host.
	for name, n := range l.nginx {
		if name != owner {
			n.Stop()
		}
	}
	lab.Eventually(t, 10*time.Second, func() error {
		return l.eachVIPStatus("web", func(name string, v api.VIPStatus) error {
			if v.Health != api.HealthNoOwner || !strings.HasPrefix(v.Reason, "checks failing on every host") {
				return errorf("web on %s: %s: %s; want no-owner because checks fail everywhere", name, v.Health, v.Reason)
			}
			for _, h := range v.Hosts {
				if h.Eligible || h.Reason == "" {
					return errorf("web on %s: host row %+v has no reason", name, h)
				}
			}
			return nil
		})
	})
	if macs := l.arpMACs(vip4); len(macs) != 0 {
		t.Errorf("with every backend down, ARP for %s answered by %v; want nobody", vip4, macs)
	}
}

func TestLabDrainLosesNoRequestAndNothingMovesBack(t *testing.T) {
	l := newVIPDLab(t, 3, "")
	owner := l.agreedOwner("web")
	l.answersFrom(url4, owner)
	probe := lab.Probe(context.Background(), l.lab.Client(), url4, labProbe, 200*time.Millisecond)
	out, err := l.vipctl(l.host(owner), "drain", "--wait")
	if err != nil {
		t.Fatalf("vipctl drain --wait: %v\n%s", err, out)
	}
	next := l.agreedOwner("web", owner)
	l.answersFrom(url4, next)
	sum := lab.Summarize(probe.Stop())
	t.Logf("drain of %s: %s", owner, sum)
	if lost := sum.Failed - sum.Reset; lost != 0 || sum.Reset > 1 {
		t.Errorf("the client lost %d requests during the drain and %d open connections were reset, want 0 and at most the one open as the VIP moved", lost, sum.Reset)
	}

	if out, err := l.vipctl(l.host(owner), "undrain"); err != nil {
		t.Fatalf("vipctl undrain: %v\n%s", err, out)
	}
	lab.Eventually(t, 10*time.Second, func() error {
		st, err := l.status(l.host(owner))
		if err != nil {
			return err
		}
		if st.Drained || vipOf(st, "web").Role != api.RoleStandby {
			return errorf("%s after undrain: drained=%v web=%s", owner, st.Drained, vipOf(st, "web").Role)
		}
		return nil
	})
	if got := l.agreedOwner("web"); got != next {
		t.Errorf("undrain moved web back from %s to %s", next, got)
	}

	probe = lab.Probe(context.Background(), l.lab.Client(), url4, labProbe, 200*time.Millisecond)
	l.restart(owner)
	lab.Eventually(t, 20*time.Second, func() error {
		st, err := l.status(l.host(owner))
		if err != nil {
			return err
		}
		if !st.Converged {
			return errorf("%s has not converged", owner)
		}
		return nil
	})
	if got := l.agreedOwner("web"); got != next {
		t.Errorf("restarting %s's vipd moved web from %s to %s", owner, next, got)
	}
	sum = lab.Summarize(probe.Stop())
	t.Logf("restart of %s's vipd: %s", owner, sum)
	if sum.Failed != 0 || len(sum.Bodies) != 1 {
		t.Errorf("restarting a standby disturbed the client: %s", sum)
	}
}

func TestLabReload(t *testing.T) {
	l := newVIPDLab(t, 2, "")
	owner := l.agreedOwner("web")
	h := l.host(owner)
	good := l.config(h)

	l.writeConfig(h, good+"vips: oops\n")
	out, err := l.vipctl(h, "reload")
	if err == nil || !strings.Contains(out, "vipd.yaml:") {
		t.Fatalf("reload of a broken file: err %v, output %q; want an error naming the file", err, out)
	}
	st, err := l.status(h)
	if err != nil {
		t.Fatal(err)
	}
	if st.Config.ReloadError == "" || vipOf(st, "web").Role != api.RoleOwner {
		t.Fatalf("after a bad reload: reload error %q, web %s; want the error shown and web still owned", st.Config.ReloadError, vipOf(st, "web").Role)
	}

	probe := lab.Probe(context.Background(), l.lab.Client(), url4, labProbe, 200*time.Millisecond)
	for i, host := range l.lab.Hosts() {
		cfg := strings.Replace(l.config(host), "control:", "  - name: api\n    address: 192.0.2.201\n    checks: [web]\ncontrol:", 1)
		l.writeConfig(host, cfg)
		if i == 0 {
			// SIGHUP, as systemctl reload sends; `ip netns exec` execs
			// vipd, so the process lab started is vipd itself.
			if err := syscall.Kill(l.vipd[host.Name()].Pid(), syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if out, err := l.vipctl(host, "reload"); err != nil {
			t.Fatalf("reload on %s: %v\n%s", host.Name(), err, out)
		}
	}
	apiOwner := l.agreedOwner("api")
	l.answersFrom(lab.URL(mustAddr("192.0.2.201"), webPort), apiOwner)
	sum := lab.Summarize(probe.Stop())
	t.Logf("reload adding a VIP: web %s", sum)
	if sum.Failed != 0 || len(sum.Bodies) != 1 {
		t.Errorf("adding a VIP disturbed web: %s", sum)
	}
	if st, _ := l.status(h); st.Config.ReloadError != "" {
		t.Errorf("reload error still shown after a good reload: %q", st.Config.ReloadError)
	}
}

func TestLabIPv6VIPAndMetrics(t *testing.T) {
	l := newVIPDLab(t, 2, "")
	owner := l.agreedOwner("web6")
	l.answersFrom(url6, owner)

	lab.Eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		body, err := l.lab.Client().HTTPGet(ctx, "http://"+l.host(owner).IPv4().String()+":9469/metrics")
		if err != nil {
			return err
		}
		for _, want := range []string{
			`vipd_vip_role{address="2001:db8::200",role="owner",vip="web6"} 1`,
			`vipd_vip_owner{owner="` + owner + `",vip="web6"} 1`,
			"vipd_members_alive 2",
			`vipd_gratuitous_packets_sent_total{family="ipv6"}`,
		} {
			if !strings.Contains(body, want) {
				return errorf("metrics of %s lack %q:\n%s", owner, want, grepLines(body, "vipd_"))
			}
		}
		return nil
	})
}

func hostRow(v api.VIPStatus, host string) api.HostEligibility {
	for _, h := range v.Hosts {
		if h.Host == host {
			return h
		}
	}
	return api.HostEligibility{Host: host, Reason: "missing"}
}

func grepLines(s, substr string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, substr) && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func TestLabStoppingTheOwnerLosesNoRequest(t *testing.T) {
	l := newVIPDLab(t, 3, "")
	owner := l.agreedOwner("web")
	l.answersFrom(url4, owner)
	probe := lab.Probe(context.Background(), l.lab.Client(), url4, labProbe, 200*time.Millisecond)
	if err := l.vipd[owner].Stop(); err != nil {
		t.Fatalf("SIGTERM of vipd on %s: %v", owner, err)
	}
	delete(l.vipd, owner)
	next := l.agreedOwner("web", owner)
	l.answersFrom(url4, next)
	results := probe.Stop()
	sum := lab.Summarize(results)
	t.Logf("SIGTERM of %s's vipd: %s", owner, sum)
	if lost := sum.Failed - sum.Reset; lost != 0 || sum.Reset > 1 {
		t.Errorf("the client lost %d requests when the owner's vipd was stopped and %d open connections were reset, want 0 and at most the one open as the VIP moved", lost, sum.Reset)
		for _, r := range results {
			if !r.OK() {
				t.Logf("failed request sent at %s after %s: %v", r.Sent.Format("15:04:05.000"), r.Latency, r.Err)
			}
		}
	}
}

// A reload that adds a VIP leaves an owner alone even when it holds its
// unit only because owners are kept (another host wins the unit's hash):
// the other hosts must not claim it while they learn the new unit list.
func TestLabReloadAddingAVIPMovesNoOwnerKept(t *testing.T) {
	l := newVIPDLabWith(t, lab.Options{Hosts: 3}, "fast", frontVIPs, "")
	diagOnFailure(t, l)
	winner := l.agreedOwner("web")
	if out, err := l.vipctl(l.host(winner), "drain", "--wait"); err != nil {
		t.Fatalf("vipctl drain --wait: %v\n%s", err, out)
	}
	owner := l.agreedOwner("web", winner)
	if out, err := l.vipctl(l.host(winner), "undrain"); err != nil {
		t.Fatalf("vipctl undrain: %v\n%s", err, out)
	}
	l.answersFrom(url4, owner)
	probe := lab.Probe(context.Background(), l.lab.Client(), url4, labProbe, 200*time.Millisecond)
	for _, host := range l.lab.Hosts() {
		cfg := strings.Replace(l.config(host), "control:", "  - name: api\n    address: 192.0.2.201\n    checks: [web]\ncontrol:", 1)
		l.writeConfig(host, cfg)
		if out, err := l.vipctl(host, "reload"); err != nil {
			t.Fatalf("reload on %s: %v\n%s", host.Name(), err, out)
		}
	}
	l.answersFrom(lab.URL(mustAddr("192.0.2.201"), webPort), l.agreedOwner("api"))
	after := l.agreedOwner("web")
	sum := lab.Summarize(probe.Stop())
	t.Logf("reload adding a VIP while %s keeps web against the hash (%s would win it): %s", owner, winner, sum)
	if after != owner || len(sum.Bodies) != 1 {
		t.Errorf("the reload moved web from %s to %s (the client saw %v)", owner, after, sum.Bodies)
	}
}
