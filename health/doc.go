// Package health runs this host's local checks and says which VIP units it
// may serve.
//
// A Checker probes one thing once (an HTTP endpoint, a TCP port, a command,
// an HAProxy backend, a maintenance file) and explains a failure in words an
// operator can act on. A Runner probes one check every interval and turns the
// results into an up/down state with rise and fall, so one lost probe does
// not move a VIP; a check that is up and fails is re-checked at the shorter
// fast interval until the failure is confirmed or gone, and a refused
// connection (nothing listens) takes it down at once. A Set runs every
// configured check and answers which units are eligible on this host: those
// whose checks are all up.
//
// Checks start down and must rise before the host becomes eligible; a host
// that has just started, or whose backend has not answered yet, never draws
// traffic. Runners read time through a Clock so tests drive them on a fake
// one, and every goroutine they start ends with its context.
package health
