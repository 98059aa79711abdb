// Package api is the contract between the vipd daemon and vipctl: the
// request and response types of the control socket, and a small client.
//
// The daemon serves HTTP over a unix socket (default /run/vipd/vipd.sock).
// Reads are open to root and the configured group; drain, undrain and
// reload are for root only, decided from the peer's credentials. vipctl
// prints the same structs as a table or, with --json, as JSON.
package api
