package announcer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Root is where the tuning plan reads the kernel's settings from. On a host
// it is HostRoot (inside `ip netns exec`, /proc/sys/net and /sys/class/net
// are the namespace's own); tests give a tree in a temp dir.
type Root struct {
	ProcSys string // /proc/sys
	Sys     string // /sys
}

// HostRoot is this host's kernel.
var HostRoot = Root{ProcSys: defaultSysctlRoot, Sys: "/sys"}

// RootUnder is a fake kernel tree below dir: dir/proc/sys and dir/sys.
func RootUnder(dir string) Root {
	return Root{ProcSys: filepath.Join(dir, "proc/sys"), Sys: filepath.Join(dir, "sys")}
}

func (r Root) sysctlPath(key string) string { return filepath.Join(r.ProcSys, key) }

func (r Root) classNet(parts ...string) string {
	return filepath.Join(append([]string{r.Sys, "class/net"}, parts...)...)
}

// readSysctl returns the value of the sysctl key (a path below /proc/sys).
func (r Root) readSysctl(key string) (string, error) {
	b, err := os.ReadFile(r.sysctlPath(key))
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// readInt reads a file holding one number, such as a sysctl or a bridge
// port flag; name is what an error calls it.
func readInt(path, name string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", name, err)
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s is %q, not a number", name, s)
	}
	return v, nil
}

// LinkExists tells whether the interface name exists.
func (r Root) LinkExists(name string) bool {
	_, err := os.Stat(r.classNet(name))
	return err == nil
}

// LinkPath is where the kernel shows the interface name, for evidence.
func (r Root) LinkPath(name string) string { return r.classNet(name) }

// A rule is what the tuning wants of one sysctl of a managed interface.
// The kernel applies the larger of conf/all and conf/<interface> for all
// three, so the rule judges that effective value.
type rule struct {
	name   string
	ok     func(effective int) bool
	want   string // the right values, in words
	value  int    // what the tuning writes on the interface when wrong
	severe bool
	why    string // what a wrong value does; %s is the interface
}

// rules are the tuning's rules. arp_ignore=1: answer ARP only for addresses
// on the interface the request came in on, so no kernel answers for a VIP
// on vipd0. arp_announce=2: always use the interface's own address as ARP
// sender, never a VIP. rp_filter=1 (strict) is changed to 2 (loose).
var rules = []rule{
	{"arp_ignore", func(v int) bool { return v >= wantARPIgnore }, "1 or more", wantARPIgnore, true,
		"every host's kernel answers ARP on %s for the VIPs on " + DummyName + ", not only the owner, so the LAN may send VIP traffic to a host that does not own it"},
	{"arp_announce", func(v int) bool { return v >= wantARPAnnounce }, "2", wantARPAnnounce, false,
		"ARP requests sent from %s may carry a VIP as sender address, so neighbours may learn the VIP at this host's MAC"},
	{"rp_filter", func(v int) bool { return v != rpFilterStrict }, "0 or 2", rpFilterLoose, false,
		"strict rp_filter on %s drops VIP traffic from clients whose route back leaves by another interface"},
}

// confKey is the sysctl key of net.ipv4.conf.<dev>.<name>.
func confKey(dev, name string) string { return "net/ipv4/conf/" + dev + "/" + name }

// Setting is one sysctl of a managed interface as the tuning sees it: the
// values now, what the rule wants and why. It is read-only: the announcer
// applies the settings that are not OK (when Tuning is on), and vipctl
// doctor reports them.
type Setting struct {
	Interface string
	Name      string // arp_ignore, arp_announce or rp_filter
	Path      string // the interface's sysctl key below /proc/sys, e.g. net/ipv4/conf/eth0/arp_ignore
	AllPath   string // the conf/all key, whose value counts too
	Current   int    // the interface's own value
	All       int    // the conf/all value
	// Effective is what the kernel applies: the larger of All and Current.
	Effective int
	Want      string // the values the rule accepts, in words: "1 or more"
	Value     int    // what the tuning writes on Path when Effective is wrong
	OK        bool   // Effective is one the rule accepts
	// Severe: a wrong value sends VIP traffic to the wrong host now, rather
	// than risking it.
	Severe bool
	Why    string // what a wrong value does
	Tuning bool   // the config lets vipd set it (Interface.Tuning)
	// Err is why the values could not be read; the rest but the names is
	// then unknown.
	Err error
}

// SysctlName writes a sysctl key the way sysctl(8) takes it: dots between
// the parts, and a dot inside an interface name (a VLAN like eth0.100)
// written as '/'.
func SysctlName(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, ".", "/")
	}
	return strings.Join(parts, ".")
}

// PlanTuning reads the settings the tuning rules cover on every interface
// in ifcs, with tuning on or off, below root. It changes nothing. The error
// joins the Err of every setting it could not read.
func PlanTuning(root Root, ifcs []Interface) ([]Setting, error) {
	var out []Setting
	var errs []error
	for _, ifc := range ifcs {
		for _, r := range rules {
			s := r.read(root, ifc)
			if s.Err != nil {
				errs = append(errs, fmt.Errorf("tuning %s: %w", ifc.Name, s.Err))
			}
			out = append(out, s)
		}
	}
	return out, errors.Join(errs...)
}

func (r rule) read(root Root, ifc Interface) Setting {
	s := Setting{
		Interface: ifc.Name, Name: r.name, Path: confKey(ifc.Name, r.name), AllPath: confKey("all", r.name),
		Want: r.want, Value: r.value, Severe: r.severe, Why: fmt.Sprintf(r.why, ifc.Name), Tuning: ifc.Tuning,
	}
	s.All, s.Err = readInt(root.sysctlPath(s.AllPath), "sysctl "+s.AllPath)
	if s.Err != nil {
		return s
	}
	if s.Current, s.Err = readInt(root.sysctlPath(s.Path), "sysctl "+s.Path); s.Err != nil {
		return s
	}
	s.Effective = max(s.All, s.Current)
	s.OK = r.ok(s.Effective)
	return s
}

// Bridge port flags that break a VIP on a LAN-facing port. vipd answers
// with the bridge's own MAC, which the bridge delivers without promiscuous
// mode, so it sets neither and leaves bridge ports alone.
var portFlagRules = []struct{ name, file, why string }{
	{"proxy_arp", "proxyarp", "with proxy_arp on the bridge floods no broadcast out of it, so this host's own ARP requests never reach the LAN and VIP traffic gets no reply"},
	{"hairpin", "hairpin_mode", "with hairpin on the LAN's broadcasts go back to the LAN and the switch learns their MACs on this port"},
}

// Bridge is a managed interface that is a Linux bridge, and its ports.
type Bridge struct {
	Name  string
	Ports []BridgePort
	// Unknown are names listed as LAN-facing ports that are no port of it.
	Unknown []string
}

// BridgePort is one port of a managed bridge.
type BridgePort struct {
	Name     string
	Hardware bool // a NIC with a device behind it
	Listed   bool // named by the config as facing the LAN (bridge_ports)
	// Flags are the port's proxy_arp and hairpin as read, each with its
	// file (for evidence) and what it breaks when on.
	Flags []PortFlag
}

// PortFlag is one flag of a bridge port.
type PortFlag struct {
	Name string // proxy_arp or hairpin
	Path string // the file under /sys/class/net it was read from
	On   bool
	Why  string // what it breaks on a LAN-facing port
}

// FacesLAN tells whether the port faces the LAN: a hardware NIC, or one
// listed under bridge_ports. Other ports (a VM's tap) are not judged.
func (p BridgePort) FacesLAN() bool { return p.Hardware || p.Listed }

// Breaking returns the flags that are on where they break the VIP.
func (p BridgePort) Breaking() []PortFlag {
	if !p.FacesLAN() {
		return nil
	}
	var on []PortFlag
	for _, f := range p.Flags {
		if f.On {
			on = append(on, f)
		}
	}
	return on
}

// PlanBridge reads the ports of the managed interface name and their flags
// below root; listed are the ports the config names as facing the LAN
// (bridge_ports). It returns false when name is not a bridge. A flag that
// cannot be read is left out of the port's Flags. It changes nothing.
func PlanBridge(root Root, name string, listed []string) (Bridge, bool, error) {
	if _, err := os.Stat(root.classNet(name, "bridge")); err != nil {
		return Bridge{}, false, nil
	}
	b := Bridge{Name: name}
	entries, err := os.ReadDir(root.classNet(name, "brif"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return b, true, fmt.Errorf("list the ports of bridge %s: %w", name, err)
	}
	var names []string
	for _, e := range entries {
		port := e.Name()
		names = append(names, port)
		_, devErr := os.Stat(root.classNet(port, "device"))
		p := BridgePort{Name: port, Hardware: devErr == nil, Listed: slices.Contains(listed, port)}
		for _, r := range portFlagRules {
			path := root.classNet(port, "brport", r.file)
			v, err := readInt(path, path)
			if err != nil {
				continue
			}
			p.Flags = append(p.Flags, PortFlag{Name: r.name, Path: path, On: v != 0, Why: r.why})
		}
		b.Ports = append(b.Ports, p)
	}
	for _, p := range listed {
		if !slices.Contains(names, p) {
			b.Unknown = append(b.Unknown, p)
		}
	}
	return b, true, nil
}
