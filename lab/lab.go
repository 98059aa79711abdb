package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"
)

// Options shape a lab. The zero value is a lab of three hosts.
type Options struct {
	// Hosts is the number of host namespaces, h1..hN (default 3).
	Hosts int
	// Prefix starts every namespace name (default "vl"), so leftovers from a
	// killed test binary are easy to recognise in `ip netns list`.
	Prefix string
	// SecondClient adds a second client namespace, for tests that cut the
	// LAN in two with a client on each side.
	SecondClient bool
}

const (
	defaultHosts  = 3
	defaultPrefix = "vl"
	bridgeName    = "br0"
	hostLink      = "eth0"
	setupTimeout  = 30 * time.Second
)

var prefixPattern = regexp.MustCompile(`^[a-z][a-z0-9]{0,9}$`)

func (o Options) withDefaults() (Options, error) {
	if o.Hosts == 0 {
		o.Hosts = defaultHosts
	}
	if o.Prefix == "" {
		o.Prefix = defaultPrefix
	}
	if o.Hosts < 1 || o.Hosts > maxHosts {
		return o, fmt.Errorf("lab options: %d hosts, want 1..%d", o.Hosts, maxHosts)
	}
	if !prefixPattern.MatchString(o.Prefix) {
		return o, fmt.Errorf("lab options: prefix %q, want %s", o.Prefix, prefixPattern)
	}
	return o, nil
}

// Lab is a bridge with hosts and a client around it, torn down by t.Cleanup.
type Lab struct {
	t            testing.TB
	dir          string // logs and config files of everything the lab started
	switchNetns  string
	hosts        []*Node
	client       *Node
	client2      *Node
	mu           sync.Mutex
	createdNetns []string // only these are ever deleted
	processes    []*Process
	probers      []*Prober
}

// New builds a lab, or skips the test when not root (see RequireRoot).
func New(t testing.TB, opts Options) *Lab {
	t.Helper()
	RequireRoot(t)
	opts, err := opts.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l := &Lab{t: t, dir: t.TempDir()}
	// Registered before anything exists, so a half-built lab is removed too.
	t.Cleanup(l.close)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := l.build(ctx, opts); err != nil {
		t.Fatalf("build lab: %v", err)
	}
	return l
}

// Host returns host i, counting from 1 like the names h1..hN.
func (l *Lab) Host(i int) *Node {
	l.t.Helper()
	if i < 1 || i > len(l.hosts) {
		l.t.Fatalf("lab has hosts h1..h%d, no h%d", len(l.hosts), i)
	}
	return l.hosts[i-1]
}

// Hosts returns h1..hN in order.
func (l *Lab) Hosts() []*Node { return append([]*Node(nil), l.hosts...) }

// Client returns the namespace tests probe from.
func (l *Lab) Client() *Node { return l.client }

// Client2 returns the second client, nil unless Options.SecondClient.
func (l *Lab) Client2() *Node { return l.client2 }

// SwitchNetns names the namespace holding the bridge br0, for tcpdump or
// `bridge fdb` from a test. Its ports are named after the nodes (h1, client).
func (l *Lab) SwitchNetns() string { return l.switchNetns }

// Netnses lists every namespace this lab created, which cleanup deletes.
func (l *Lab) Netnses() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.createdNetns...)
}

// newLabID is random so two labs, in one test binary or in two, never share a name.
func newLabID() (string, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("lab id: %w", err)
	}
	return hex.EncodeToString(b), nil
}
