// Package agent is vipd's reconcile loop. It reads which units this host's
// checks allow (health) and what the cluster says (membership), asks
// election who owns each unit, tells the announcer which VIPs to answer
// for, and publishes what it holds back to the cluster. It keeps a state
// per VIP (owner, standby, unhealthy, drained, excluded, conflict,
// no-owner) with election's reason, serves it on the control socket, runs
// notify hooks on every change and exports metrics.
//
// Handing a unit over is make-before-break: a host whose backend still
// works keeps answering for a unit election gave to another host until
// that host says it holds the unit (it has sent its gratuitous packets),
// bounded by drain_timeout. A host whose checks fail lets go at once.
package agent
