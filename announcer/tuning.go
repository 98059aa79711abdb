package announcer

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/vishvananda/netlink"
)

// Values the tuning sets (see rules in plan.go).
const (
	wantARPIgnore   = 1
	wantARPAnnounce = 2
	rpFilterStrict  = 1
	rpFilterLoose   = 2
)

// bridgeOps is what restoring needs from netlink for bridge ports whose
// flags an older vipd recorded; tests use a fake.
type bridgeOps interface {
	setPortFlags(port string, f portFlags) error
}

// tuner changes kernel settings and records the originals first.
type tuner struct {
	sysctlRoot string // /proc/sys
	bridges    bridgeOps
	store      stateStore
}

func (t *tuner) root() Root { return Root{ProcSys: t.sysctlRoot} }

func (t *tuner) readSysctl(key string) (string, error) { return t.root().readSysctl(key) }

func (t *tuner) writeSysctl(key, value string) error {
	if err := os.WriteFile(t.root().sysctlPath(key), []byte(value+"\n"), 0o644); err != nil {
		return fmt.Errorf("write sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// change is one setting the tuning wants.
type change struct {
	sysctl string // a sysctl key under /proc/sys
	value  string
}

// plan returns the changes the interfaces with tuning on need: the
// settings PlanTuning finds wrong, each set on the interface itself.
//
// Bridge ports are left alone: vipd answers with the bridge's own MAC,
// which the bridge delivers without promiscuous mode, and in the lab
// proxy_arp on the LAN-facing port stopped the host's own ARP requests
// (the bridge floods nothing out of a proxy_arp port) while hairpin
// reflected the LAN's broadcasts back to the switch. Flags recorded by an
// older vipd are still restored.
func (t *tuner) plan(ifcs []Interface) ([]change, error) {
	var tuned []Interface
	for _, ifc := range ifcs {
		if ifc.Tuning {
			tuned = append(tuned, ifc)
		}
	}
	settings, err := PlanTuning(t.root(), tuned)
	if err != nil {
		return nil, err
	}
	var out []change
	for _, s := range settings {
		if !s.OK {
			out = append(out, change{sysctl: s.Path, value: strconv.Itoa(s.Value)})
		}
	}
	return out, nil
}

// tune records the original value of every setting it is about to change in
// s, saves s, and only then changes them. A value already recorded (by a run
// that crashed) is kept: the current value is the tuned one.
func (t *tuner) tune(s *state, ifcs []Interface) error {
	all, err := t.plan(ifcs)
	if err != nil {
		return err
	}
	for _, c := range all {
		if _, ok := s.Sysctls[c.sysctl]; ok {
			continue
		}
		v, err := t.readSysctl(c.sysctl)
		if err != nil {
			return err
		}
		s.Sysctls[c.sysctl] = v
	}
	if err := t.store.save(s); err != nil {
		return fmt.Errorf("record original kernel settings before changing them: %w", err)
	}
	for _, c := range all {
		if err := t.writeSysctl(c.sysctl, c.value); err != nil {
			return err
		}
	}
	return nil
}

// restore puts back every recorded value, this run's and a crashed run's,
// and forgets those it restored. Settings of interfaces that no longer
// exist are forgotten too: there is nothing left to restore.
func (t *tuner) restore(s *state) error {
	var errs []error
	for key, v := range s.Sysctls {
		err := t.writeSysctl(key, v)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		delete(s.Sysctls, key)
	}
	for port, f := range s.BridgePorts {
		err := t.bridges.setPortFlags(port, f)
		var notFound netlink.LinkNotFoundError
		if err != nil && !errors.As(err, &notFound) {
			errs = append(errs, err)
			continue
		}
		delete(s.BridgePorts, port)
	}
	return errors.Join(errs...)
}

// netlinkBridges is bridgeOps on the real kernel.
type netlinkBridges struct{}

func (nb netlinkBridges) setPortFlags(port string, f portFlags) error {
	l, err := netlink.LinkByName(port)
	if err != nil {
		return fmt.Errorf("bridge port %s: %w", port, err)
	}
	if err := netlink.LinkSetHairpin(l, f.Hairpin); err != nil {
		return fmt.Errorf("bridge port %s hairpin %v: %w", port, f.Hairpin, err)
	}
	if err := netlink.LinkSetBrProxyArp(l, f.ProxyARP); err != nil {
		return fmt.Errorf("bridge port %s proxy_arp %v: %w", port, f.ProxyARP, err)
	}
	return nil
}
