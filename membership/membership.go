package membership

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
)

// unresolved is the definition a host is reported with for every unit while
// its unit list is unknown here. No real unit has it, and as the highest
// fingerprint it loses every tie in the election's vote on definitions.
const unresolved = election.Fingerprint(^uint64(0))

// departedRetention is how long a dead or departed host stays in the view
// and in Members, so status can show it, before it is forgotten.
const departedRetention = 10 * time.Minute

// Local is what this host says about itself.
type Local struct {
	Drained bool
	// Passing holds the unit keys whose local checks pass here.
	Passing election.KeySet
	// Holds holds the unit keys this host announces now.
	Holds election.KeySet
	// MACs are the hardware addresses of the managed interfaces, at most MaxMACs.
	MACs []net.HardwareAddr
}

// Options configure New.
type Options struct {
	// Name is this host's node name, unique in the cluster.
	Name string
	// Gossip is the gossip section of the config. Port 0 picks a free port.
	Gossip config.Gossip
	// Keys, when set, are used instead of reading Gossip.KeyFile; the first
	// is the primary.
	Keys [][]byte
	// Units are this host's election units, from UnitsFromConfig.
	Units []election.Unit
	// Local is this host's state to start with.
	Local Local
	// Interfaces are the managed interfaces, whose address is preferred as
	// the gossip address when the config names none.
	Interfaces []string
	// Logger gets membership's and memberlist's logs; nil discards them.
	Logger *slog.Logger

	// wrapTransport, set by tests, wraps the network transport (to cut
	// gossip between hosts of one process).
	wrapTransport func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport
}

// State is how gossip sees a host.
type State string

// States of a host.
const (
	StateAlive State = "alive"
	StateDead  State = "dead" // stopped answering probes
	StateLeft  State = "left" // said goodbye
)

// Member is a host as gossip reports it, for status.
type Member struct {
	Name    string
	Addr    netip.AddrPort
	State   State
	Since   time.Time
	Drained bool
	MACs    []net.HardwareAddr
	// Config fingerprints the host's unit list.
	Config ConfigFingerprint
	// Resolved tells whether this host knows the host's unit list; until it
	// does, it assumes the host disagrees on every unit and holds all.
	Resolved bool
	// Problem says why the host's metadata could not be read, or is empty.
	Problem string
	// Silent: gossip says alive, but the host's heartbeats stopped, so the
	// election counts it dead (see heartbeat.go).
	Silent bool
}

// Stats counts what gossip delivered that membership dropped.
type Stats struct {
	// MalformedMeta counts node metadata that could not be decoded.
	MalformedMeta uint64
	// MalformedState counts push/pull payloads that could not be decoded.
	MalformedState uint64
}

// Membership is this host's membership in the gossip cluster.
type Membership struct {
	name    string
	port    int
	timing  Timing
	ml      *memberlist.Memberlist
	keyring *memberlist.Keyring // nil when gossip is insecure
	log     *slog.Logger

	changes chan struct{}
	// kick asks the updater goroutine to gossip new metadata; done ends it.
	kick chan struct{}
	// updating serializes memberlist's UpdateNode: two at once may each
	// read the metadata and take an incarnation in the other's order, and
	// the older metadata then wins.
	updating sync.Mutex
	done     chan struct{}
	stopOnce sync.Once
	stopped  sync.WaitGroup

	// pull asks a member for its state (pullState; nil offline).
	pull func(*memberlist.Node)

	malformedMeta  atomic.Uint64
	malformedState atomic.Uint64
	attempts       [len(attemptResults)]atomic.Uint64
	rejoins        atomic.Uint64
	keyMismatches  atomic.Uint64

	// rejoinKick wakes KeepJoined early.
	rejoinKick chan struct{}
	rejoin     rejoinState
	keys       keyWatch
	hb         heartbeatState

	mu    sync.Mutex
	units []election.Unit
	own   *unitList
	local Local
	meta  []byte
	// unsettled: some alive host's unit list is unknown here.
	unsettled bool
	leaving   bool
	peers     map[string]*peer
	lists     map[ConfigFingerprint]*unitList
	// configured are the configured peers, host:port.
	configured []string
	// lost are the members seen dying (not leaving), by name, which
	// KeepJoined tries to reach again.
	lost map[string]lostPeer
}

// peer is another host as the event callbacks last saw it.
type peer struct {
	name    string
	addr    netip.AddrPort
	state   State
	since   time.Time
	meta    nodeMeta
	metaErr error
	// sets caches meta's Passing and Holds as key sets of the unit list
	// they were read with: a fleet host builds its view on every step, and
	// a peer's metadata changes far less often.
	sets *peerSets
}

type peerSets struct {
	list           *unitList
	passing, holds election.KeySet
}

// keySets returns p's Passing and Holds read with list. Callers share them
// and must not change them.
func (p *peer) keySets(list *unitList) (passing, holds election.KeySet) {
	if p.sets == nil || p.sets.list != list {
		p.sets = &peerSets{list: list, passing: list.keySet(p.meta.Passing), holds: list.keySet(p.meta.Holds)}
	}
	return p.sets.passing, p.sets.holds
}

// New starts gossip on the configured address; Join then finds the others.
// It refuses to start without a key unless gossip is insecure.
func New(opts Options) (*Membership, error) {
	if opts.Name == "" {
		return nil, errors.New("membership: no node name")
	}
	timing, err := timingOf(opts.Gossip.Profile)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Membership{
		name:    opts.Name,
		port:    opts.Gossip.Port,
		timing:  timing,
		log:     logger,
		changes: make(chan struct{}, 1),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		peers:   map[string]*peer{},
		lists:   map[ConfigFingerprint]*unitList{},
	}
	m.initRejoin()
	m.initHeartbeats()
	if err := m.setUnitsLocked(opts.Units); err != nil {
		return nil, err
	}
	if err := m.setLocalLocked(opts.Local); err != nil {
		return nil, err
	}

	mc := memberlist.DefaultLANConfig()
	mc.Name = opts.Name
	mc.BindAddr = opts.Gossip.Bind
	if mc.BindAddr == "" {
		mc.BindAddr = "0.0.0.0"
	}
	mc.BindPort = opts.Gossip.Port
	mc.AdvertisePort = opts.Gossip.Port
	mc.AdvertiseAddr = opts.Gossip.Advertise
	if mc.AdvertiseAddr == "" {
		mc.AdvertiseAddr = advertiseAddr(mc.BindAddr, opts.Gossip.Peers, opts.Interfaces)
	}
	timing.apply(mc)
	// vipd's payloads are small; memberlist's LZW compression allocates
	// large buffers for each message and costs more than it saves.
	mc.EnableCompression = false
	mc.Delegate = delegate{m}
	mc.Events = events{m}
	mc.Logger = memberlistLogger(logger, m.noteMemberlistLine)

	switch {
	case opts.Gossip.Insecure:
		logger.Warn("gossip is not encrypted (gossip.insecure: true); anyone on the network can read it and join the cluster. Create a key with 'vipd keygen -o /etc/vipd/gossip.key' and set gossip.key_file")
	default:
		keys := opts.Keys
		if keys == nil && opts.Gossip.KeyFile != "" {
			if keys, err = LoadKeyFile(opts.Gossip.KeyFile); err != nil {
				return nil, err
			}
		}
		if len(keys) == 0 {
			return nil, ErrNoKey
		}
		for _, k := range keys {
			if err := validKey(k); err != nil {
				return nil, fmt.Errorf("membership: %w", err)
			}
		}
		ring, err := memberlist.NewKeyring(keys[1:], keys[0])
		if err != nil {
			return nil, fmt.Errorf("membership: %w", err)
		}
		m.keyring = ring
		mc.Keyring = ring
		if err := m.hb.sealer.setKeys(keys); err != nil {
			return nil, fmt.Errorf("membership: %w", err)
		}
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}

	// vipd's own transport: memberlist's allocates 64 KiB per packet
	// received (transport.go).
	nt, err := newTransport(mc.BindAddr, mc.BindPort, mc.Logger.Printf, m.receiveRawHeartbeat)
	if err != nil {
		return nil, fmt.Errorf("membership: starting gossip on %s: %w", net.JoinHostPort(mc.BindAddr, strconv.Itoa(opts.Gossip.Port)), err)
	}
	mc.BindPort = nt.Port()
	mc.AdvertisePort = mc.BindPort
	mc.Transport = nt
	if opts.wrapTransport != nil {
		mc.Transport = opts.wrapTransport(nt)
	}
	m.hb.wire = mc.Transport.(memberlist.NodeAwareTransport)
	m.hb.backlog = nt.backlog
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = nt.Shutdown() // memberlist leaves a transport it did not make
		return nil, fmt.Errorf("membership: starting gossip on %s: %w", net.JoinHostPort(mc.BindAddr, strconv.Itoa(opts.Gossip.Port)), err)
	}
	m.ml = ml
	if m.port == 0 {
		m.port = int(ml.LocalNode().Port)
	}
	m.configured = m.normalizePeers(opts.Gossip.Peers)
	m.pull = m.pullState
	m.stopped.Add(2)
	go m.updater()
	go m.heartbeats()
	return m, nil
}

// updater gossips this host's metadata again whenever a callback changed it
// (the unsettled flag): callbacks must not call memberlist themselves.
func (m *Membership) updater() {
	defer m.stopped.Done()
	for {
		select {
		case <-m.done:
			return
		case <-m.kick:
			m.update()
		}
	}
}

// Name returns this host's node name.
func (m *Membership) Name() string { return m.name }

// Addr returns the address other hosts reach this one at.
func (m *Membership) Addr() string { return m.ml.LocalNode().Address() }

// Join contacts peers (host or host:port; the port defaults to this host's
// gossip port) and returns how many answered. It succeeds if one did.
func (m *Membership) Join(peers []string) (int, error) {
	if len(peers) == 0 {
		return 0, nil
	}
	addrs := make([]string, len(peers))
	for i, p := range peers {
		addrs[i] = p
		if _, _, err := net.SplitHostPort(p); err != nil {
			addrs[i] = net.JoinHostPort(p, strconv.Itoa(m.port))
		}
	}
	n, err := m.ml.Join(addrs)
	if err != nil {
		return n, fmt.Errorf("membership: joining %v: %w", peers, err)
	}
	return n, nil
}

// Leave tells the cluster this host is going, and waits up to timeout for
// the message to go out. Others see it gone at once, not after the failure
// detector's delay. Call Shutdown after it.
//
// Memberlist's leave message does not say it was a leave rather than a
// death, so Leave first gossips a leaving flag in the metadata. It also
// sends a last, stopping heartbeat, so no host takes the heartbeats' end
// for a crash.
func (m *Membership) Leave(timeout time.Duration) error {
	m.stopHeartbeats()
	m.mu.Lock()
	m.leaving = true
	err := m.encodeMetaLocked()
	m.mu.Unlock()
	if err == nil {
		if err := m.updateNode(timeout / 2); err != nil {
			m.log.Debug("gossiping the leaving flag", "err", err)
		}
	}
	return m.ml.Leave(timeout)
}

// Shutdown stops gossip. Without Leave first, the others notice this host
// gone only when their probes fail, as after a crash.
func (m *Membership) Shutdown() error {
	m.stopOnce.Do(func() { close(m.done) })
	m.stopped.Wait()
	return m.ml.Shutdown()
}

// Changes returns a channel that receives a token whenever the view may have
// changed. It holds one token at most: read the View after each receive.
func (m *Membership) Changes() <-chan struct{} { return m.changes }

// Stats returns the counts of dropped gossip payloads.
func (m *Membership) Stats() Stats {
	return Stats{MalformedMeta: m.malformedMeta.Load(), MalformedState: m.malformedState.Load()}
}

// stopping reports whether Close has begun: work started on a timer or a
// packet is not begun any more.
func (m *Membership) stopping() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// signal leaves a token in the changes channel without ever blocking.
func (m *Membership) signal() {
	select {
	case m.changes <- struct{}{}:
	default:
	}
}

// SetLocal changes what this host says about itself and gossips it: the
// new digest goes to every member at once, the metadata with memberlist's
// next gossip rounds. It does not wait for them to spread: a caller that
// waited would hold back the next state (a claim right after a health
// change) by as long.
func (m *Membership) SetLocal(l Local) error {
	m.mu.Lock()
	err := m.setLocalLocked(l)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	m.update()
	return nil
}

// SetUnits changes this host's unit list, after a config reload, and
// gossips it. Only a unit list that cannot be gossiped is an error.
func (m *Membership) SetUnits(units []election.Unit) error {
	m.mu.Lock()
	err := m.setUnitsLocked(units)
	if err == nil {
		err = m.encodeMetaLocked()
	}
	m.mu.Unlock()
	if err != nil {
		return err
	}
	m.update()
	return nil
}

// update announces this host's current metadata and queues it for gossip
// without waiting: UpdateNode queues the metadata, then waits for it to have
// gone out enough times; the shortest timeout skips the wait, and its error
// says only that.
func (m *Membership) update() {
	m.signal()
	_ = m.updateNode(time.Nanosecond)
}

// updateNode announces this host's current metadata (its digest, at once),
// gossips it and waits up to timeout for it to spread.
func (m *Membership) updateNode(timeout time.Duration) error {
	m.pushState()
	m.updating.Lock()
	defer m.updating.Unlock()
	return m.ml.UpdateNode(timeout)
}

func (m *Membership) setUnitsLocked(units []election.Unit) error {
	list, err := unitListOf(units)
	if err != nil {
		return err
	}
	m.units = slices.Clone(units)
	m.own = list
	m.lists[list.fp] = list
	// A host that reloads into the unit list its peers already gossip now
	// knows their lists: its unsettled flag must clear now, not at the next
	// change of a peer (which may never come).
	m.refreshSettledLocked()
	return nil
}

func (m *Membership) setLocalLocked(l Local) error {
	old := m.local
	m.local = Local{
		Drained: l.Drained,
		Passing: maps.Clone(l.Passing),
		Holds:   maps.Clone(l.Holds),
		MACs:    slices.Clone(l.MACs),
	}
	if err := m.encodeMetaLocked(); err != nil {
		m.local = old
		return err
	}
	return nil
}

func (m *Membership) encodeMetaLocked() error {
	b, err := encodeMeta(nodeMeta{
		Drained:       m.local.Drained,
		Unsettled:     m.unsettled,
		Leaving:       m.leaving,
		RawHeartbeats: true,
		StateDigests:  true,
		Config:        m.own.fp,
		Units:         len(m.own.keys),
		MACs:          m.local.MACs,
		Passing:       m.own.bits(m.local.Passing),
		Holds:         m.own.bits(m.local.Holds),
	})
	if err != nil {
		return err
	}
	m.meta = b
	m.hb.digest.Store(metaDigest(b))
	return nil
}

// SetKeys replaces the gossip keys without a restart: it installs the new
// keys, makes keys[0] the primary, then removes the keys not in keys.
//
// To rotate a key across the cluster: add the new key as a second line of
// every host's key file and reload each; move it to the first line and
// reload each; remove the old line and reload each. At every step every
// host can decrypt what every other sends.
func (m *Membership) SetKeys(keys [][]byte) error {
	if m.keyring == nil {
		return errors.New("membership: gossip runs without encryption (insecure: true); restart vipd to turn encryption on")
	}
	if len(keys) == 0 {
		return errors.New("membership: no gossip key given; keeping the current keys")
	}
	for _, k := range keys {
		if err := validKey(k); err != nil {
			return fmt.Errorf("membership: %w", err)
		}
	}
	for _, k := range keys {
		if err := m.keyring.AddKey(k); err != nil {
			return fmt.Errorf("membership: installing a key: %w", err)
		}
	}
	if err := m.keyring.UseKey(keys[0]); err != nil {
		return fmt.Errorf("membership: switching the primary key: %w", err)
	}
	for _, old := range m.keyring.GetKeys() {
		if !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, old) }) {
			if err := m.keyring.RemoveKey(old); err != nil {
				return fmt.Errorf("membership: removing an old key: %w", err)
			}
		}
	}
	if err := m.hb.sealer.setKeys(keys); err != nil {
		return fmt.Errorf("membership: %w", err)
	}
	m.log.Info("gossip keys replaced", "keys", len(keys))
	// Hosts that could not decrypt the old keys may decrypt the new ones.
	m.Kick()
	return nil
}

// View returns the cluster as the election needs it: this host, every other
// host that is alive or left or died within the last ten minutes, and this
// host's units. See the package documentation for hosts whose unit list
// differs from this host's. The hosts' Known, Passing and Holds are shared
// with later views: read them, never change them.
func (m *Membership) View() election.View {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgetLocked(time.Now())

	hosts := make([]election.Host, 0, len(m.peers)+1)
	hosts = append(hosts, election.Host{
		Name:    m.name,
		Alive:   true,
		Drained: m.local.Drained,
		Known:   m.own.known,
		Passing: m.own.keySet(m.own.bits(m.local.Passing)),
		Holds:   m.own.keySet(m.own.bits(m.local.Holds)),
	})
	for _, name := range slices.Sorted(maps.Keys(m.peers)) {
		if name != m.name {
			h := m.hostLocked(m.peers[name])
			h.Alive = h.Alive && !m.silentLocked(name)
			hosts = append(hosts, h)
		}
	}
	if !m.settledLocked() {
		// Frozen: only a holder can stay eligible, so nothing moves to a
		// new owner until every host has every alive host's unit list.
		for i := range hosts {
			h := &hosts[i]
			held := election.KeySet{}
			for k := range h.Passing {
				if h.Holds.Has(k) {
					held[k] = struct{}{}
				}
			}
			h.Passing = held
		}
	}
	return election.View{Hosts: hosts, Units: slices.Clone(m.units)}
}

// Settled reports whether ownership may move: this host has the unit list
// of every alive host and no alive host says it lacks one. Until then View
// keeps every host from taking a unit it does not hold.
func (m *Membership) Settled() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.settledLocked()
}

func (m *Membership) settledLocked() bool {
	if m.unsettled {
		return false
	}
	for _, p := range m.peers {
		if p.state == StateAlive && p.name != m.name && (p.meta.Unsettled || p.metaErr != nil) {
			return false
		}
	}
	return true
}

// refreshSettledLocked recomputes this host's unsettled flag after the peers
// or the lists changed, and has the updater gossip it if it changed.
func (m *Membership) refreshSettledLocked() {
	unsettled := false
	for _, p := range m.peers {
		if p.state == StateAlive && p.name != m.name && m.resolveLocked(p) == nil {
			unsettled = true
			break
		}
	}
	if unsettled == m.unsettled {
		return
	}
	m.unsettled = unsettled
	if err := m.encodeMetaLocked(); err != nil {
		m.log.Error("encoding node metadata", "err", err) // cannot happen: only a flag changed
		return
	}
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// hostLocked returns the election's picture of p.
func (m *Membership) hostLocked(p *peer) election.Host {
	h := election.Host{Name: p.name, Alive: p.state == StateAlive, Drained: p.meta.Drained}
	list := m.resolveLocked(p)
	if list == nil {
		// Unknown unit list: assume p defines every unit differently and
		// holds them all, so it can only keep this host from owning.
		h.Known = make(map[string]election.Fingerprint, len(m.own.keys))
		for _, k := range m.own.keys {
			h.Known[k] = unresolved
		}
		h.Holds = election.NewKeySet(m.own.keys...)
		h.Passing = election.KeySet{}
		return h
	}
	h.Known = list.known
	h.Passing, h.Holds = p.keySets(list)
	return h
}

// resolveLocked returns p's unit list, or nil when it is unknown here.
func (m *Membership) resolveLocked(p *peer) *unitList {
	if p.metaErr != nil {
		return nil
	}
	list := m.lists[p.meta.Config]
	if list == nil || len(list.keys) != p.meta.Units {
		return nil
	}
	return list
}

// Members returns every host in the view, this one first, the others by name.
func (m *Membership) Members() []Member {
	// Ask memberlist before taking m.mu: its callbacks take m.mu while
	// holding memberlist's own lock.
	self := m.ml.LocalNode()
	addr, _ := netip.AddrFromSlice(self.Addr)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgetLocked(time.Now())
	out := []Member{{
		Name:     m.name,
		Addr:     netip.AddrPortFrom(addr.Unmap(), self.Port),
		State:    StateAlive,
		Drained:  m.local.Drained,
		MACs:     slices.Clone(m.local.MACs),
		Config:   m.own.fp,
		Resolved: true,
	}}
	for _, name := range slices.Sorted(maps.Keys(m.peers)) {
		p := m.peers[name]
		if name == m.name {
			continue
		}
		mem := Member{
			Name:     p.name,
			Addr:     p.addr,
			State:    p.state,
			Since:    p.since,
			Drained:  p.meta.Drained,
			MACs:     slices.Clone(p.meta.MACs),
			Config:   p.meta.Config,
			Resolved: m.resolveLocked(p) != nil,
			Silent:   p.state == StateAlive && m.silentLocked(name),
		}
		if p.metaErr != nil {
			mem.Problem = p.metaErr.Error()
		}
		out = append(out, mem)
	}
	return out
}

// forgetLocked drops hosts gone for longer than departedRetention, and unit
// lists no host uses any more.
func (m *Membership) forgetLocked(now time.Time) {
	for name, p := range m.peers {
		if p.state != StateAlive && now.Sub(p.since) > departedRetention {
			delete(m.peers, name)
			m.heartbeatForget(name)
		}
	}
	if len(m.lists) <= maxLists {
		return
	}
	used := map[ConfigFingerprint]bool{m.own.fp: true}
	for _, p := range m.peers {
		used[p.meta.Config] = true
	}
	for fp := range m.lists {
		if !used[fp] {
			delete(m.lists, fp)
		}
	}
}
