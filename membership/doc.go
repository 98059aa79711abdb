// Package membership is vipd's gossip layer and the only importer of
// hashicorp/memberlist. It joins and leaves the cluster, encrypts gossip,
// carries what each host says about itself in memberlist's node metadata,
// and turns the members into the plain election.View that the election
// decides from, with a change signal (Changes) that never blocks
// memberlist's callbacks.
//
// # Node metadata (at most 512 bytes)
//
// Each host gossips a small versioned binary record (meta.go): a drained
// flag, the ConfigFingerprint of its unit list, the number of units, the MAC
// addresses of its managed interfaces, and two sets of units: those whose
// local checks pass and those it holds (announces). The sets are indexes into
// the host's unit list sorted by key, written in the shortest of four forms:
// none, all, a bitmap, or a list of gaps. Priorities, node lists and
// failback are part of the config and of each unit's fingerprint, not of the
// metadata.
//
// # How 1000 VIPs fit
//
// The per-unit state that changes at run time (passing, holds) goes in the
// metadata as bitmaps: 1536 units (MaxUnits) cost at most 2 x 193 bytes, and
// the worst case, with the MAC addresses at their 112 bytes, is 511 bytes. Typical
// clusters send far less: passing is usually "all" (1 byte) and holds a short
// gap list. Metadata changes reach every host in a few gossip intervals.
//
// The per-unit definitions (key and election.Fingerprint of every unit: tens
// of kilobytes for 1000 units) change only on reload and do not fit; they go
// in memberlist's push/pull state (state.go), which is exchanged over TCP on
// every join and every PushPullInterval. Each exchange carries this host's
// unit list and those of the other alive hosts it knows, so one exchange
// teaches a host every config in use. A receiver recomputes the
// ConfigFingerprint of every list it gets and files it under that
// fingerprint: a list is used only for hosts whose metadata names it.
//
// A bitmap index is meaningful only against the list it was built from, so a
// host decodes another host's sets with that host's own unit list: its own,
// when the ConfigFingerprints are equal (the normal case, every host with the
// same vipd.yaml), else the list learned by push/pull.
//
// # Hosts whose VIP lists differ never both own a VIP
//
// The election decides each unit only among hosts whose Known fingerprint of
// that unit equals the local definition, and when more alive hosts gossip
// another definition of the unit (ties go to the definition a holder has,
// then to the lowest fingerprint), it names no owner. Every host that can
// claim a unit therefore has the same definition, and seeing the same hosts
// decides the same owner. Membership feeds that rule true Known maps for
// every host whose unit list it has.
//
// For a host whose unit list it does not have yet (it just changed its
// config, or its push/pull has not arrived), or whose metadata it cannot
// read, membership is pessimistic: it reports the host as knowing every
// local unit with a definition no real unit has (the highest fingerprint,
// which loses ties) and as holding every unit. Such a host can never be
// elected, but it votes, and it wins the vote unless strictly fewer
// hosts are unresolved than agree with this one, or as many and one of
// those that agree holds the unit; when it wins, this host takes nothing. So two hosts that cannot yet compare their
// configs never both take a unit; at worst a unit whose owner died waits for
// the next push/pull (5 s default, 3 s fast) before it moves. Members
// reports such hosts with Resolved false.
//
// A unit's definition covers its key, its VIP addresses, its node list,
// priorities and failback; not the interface a VIP is on.
//
// # Encryption
//
// Gossip is encrypted and authenticated with AES-GCM under memberlist's
// keyring. New refuses to start without a key unless the gossip config says
// insecure: true. LoadKeyFile reads a key file (base64 keys, one per line,
// the first one primary) and refuses one that group or others may read or
// write. A host with a wrong key cannot join: its messages do not decrypt
// (see Wrong keys).
// SetKeys rotates keys without a restart (install new, switch primary,
// remove old).
//
// # Re-merge
//
// memberlist never probes a host again once it declared it dead, so after a
// gossip cut both sides would keep their own view for good. KeepJoined (run
// it for as long as the host is in the cluster, and stop it before Leave)
// tries every configured peer and every member seen dying (not those that
// left) while it is not alive: every Timing.RejoinInterval (500 ms default,
// 250 ms fast) for the first 30 s of an absence, then less often, up to every
// 2 s; while nothing is missing it sleeps, woken by a member leaving the
// alive state, a Kick, or every 10 s. An attempt is a TCP connect to the gossip port that ctx can abandon,
// then, if it answered, a memberlist join (push/pull). Kick retries at once
// and resets the backoff: the daemon calls it when a managed link comes back
// up. WaitJoined is the start-up wait for a first peer; a host that reaches
// none goes on as the first host of the cluster. See rejoin.go for the cost.
//
// # Wrong keys
//
// A host whose peers answer on the gossip port but whose messages do not
// decrypt (a join's error, or memberlist's "Decrypt packet failed" and "No
// installed keys could decrypt the message" lines, seen through the logger
// adapter whatever the log level) is a key mismatch. KeyMismatches lists the
// ones seen in the last 30 s by address, with the node name when known; the
// first sighting of each is logged at error level with what to do.
//
// # Heartbeats
//
// memberlist runs at membership-grade timings (a probe every 1 s default,
// 0.5 s fast), which cost little when idle but take seconds to declare a
// crashed host dead. So every host also sends a small heartbeat (UDP to the
// gossip port, sealed with the gossip key, so a firewall on the gossip port
// cuts it like gossip) to its watchers, the two members that follow it by
// name (every other member in a cluster of three), every
// Timing.HeartbeatInterval (150 ms default, 60 ms fast). A watcher that
// heard heartbeats from a member and then hears none for
// Timing.HeartbeatTimeout (400 ms, 160 ms: one lost heartbeat is forgiven)
// reports it not alive in View until it is heard again or memberlist
// decides, and sends the other members a notice every interval while it
// does; a host that is no watcher of it counts it dead while all its
// watchers send notices. Members marks it Silent.
// Heartbeats never bring back a member memberlist has dead. A member never
// heard (an older version during a rolling upgrade, or one just joined) is
// judged by memberlist alone. Leave sends a last, stopping heartbeat, so a
// host that stops on purpose is left to memberlist's leave message rather
// than taken for dead; so does a host whose watchers change, to the ones it
// leaves; a host whose own loop woke late judges nobody that round.
// heartbeat.go has the details and the cost.
//
// Heartbeats also carry a digest of the sender's metadata, and a host whose
// metadata changed sends its new digest to every member at once, ahead of
// memberlist's gossip. Pending names the members whose announced state has
// not arrived yet; the agent holds first claims until it has, so a claim
// made a moment ago elsewhere is not claimed again here. A state still
// missing half a second after its digest came is pulled from its member
// (statedigest.go): gossip misses a member now and then.
//
// # Metrics
//
// Collector exposes vipd_gossip_dropped_total{payload}, vipd_members_alive,
// vipd_gossip_missing_peers, vipd_gossip_rejoin_attempts_total{result},
// vipd_gossip_rejoins_total, vipd_gossip_key_mismatches_total,
// vipd_gossip_key_mismatch_peers, vipd_heartbeats_sent_total,
// vipd_heartbeats_received_total, vipd_heartbeats_dropped_total,
// vipd_heartbeat_deaths_total, vipd_heartbeat_silent_members and
// vipd_heartbeat_late_loops_total.
//
// # Timing
//
// Profiles maps the config's default and fast profiles to memberlist's
// failure detector and gossip timings and to the heartbeat's; see Timing.
// memberlist's compression is off: the payloads are small, and its LZW
// writer allocated large buffers for every packet. For the same reason
// gossip goes through vipd's own transport (transport.go): memberlist's
// allocated a 64 KiB buffer for every packet received. BenchmarkDeadDetection
// kills hosts without a leave message and prints how long the others take
// to count them dead in the view (heartbeats) and to declare them dead in
// gossip (memberlist). A graceful Leave is seen at once.
//
// # Dropped input
//
// Metadata or push/pull payloads that do not decode are dropped, counted
// (Stats) and logged at debug level; they never panic (fuzz_test.go).
// memberlist's own log lines go to the slog logger at debug level.
package membership
