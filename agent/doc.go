// Package agent is vipd's decision loop, built like etcd's raft: a pure
// state machine and a loop that does the I/O.
//
// Machine.Step(Input) Plan is the decision. Its input is this host's check
// results (health), what gossip says (an election.View and the members),
// what the announcer saw (conflicts, members answering on the LAN, link
// changes), peers whose gossip key differs, and the time; it reads no clock,
// socket or memberlist type. Its Plan says which VIPs to answer for, which
// to watch, what to gossip about this host, which VIPs changed health or
// role (for logs, metrics and notify hooks), and when to step again. The
// rules live in the step, each in its own file:
//
//   - handoff.go: make-before-break. A host whose backend still works keeps
//     answering a unit election gave to another host until that host says
//     it holds it (it has sent its gratuitous packets), bounded by
//     drain_timeout. A host whose checks fail lets go at once.
//   - settle.go: the first claim of a unit no host held waits until the
//     decision has stood for 500ms, so hosts that start together do not
//     each claim it for a moment.
//   - split.go: a member heard answering on the LAN for a unit this host
//     holds, while gossip does not show it alive, is a split; election's
//     Arbitrate picks the one that keeps answering, the other stands by.
//   - link.go: a host whose managed link is down answers nothing there, and
//     once it is back re-joins before it claims; a host that cannot decrypt
//     its peers' gossip claims nothing.
//   - anycast.go: a VIP with bgp: all is announced by every host whose
//     checks pass, whoever the election names.
//   - vipstate.go: each VIP's health (ok, no-owner, conflict, split) and this
//     host's role (owner, standby, unhealthy, drained, excluded), with the
//     reason status shows.
//
// Agent runs a Machine (loop.go): it gathers inputs when gossip, checks or
// the announcer report a change, steps, and carries out the plan. It serves
// the control API, exports metrics, runs notify hooks, and keeps a drain in
// state_dir so it survives a restart. The step's tests are scripts in
// testdata/, run on a simulated cluster with a fake clock (step_test.go).
package agent
