// Package lab builds throw-away L2 networks out of Linux network namespaces for
// integration tests, `make demo` and `make bench`.
//
// A lab is one "switch" namespace holding a Linux bridge, hosts h1..hN and one
// client, each joined to the bridge by a veth pair and called eth0 inside its
// own namespace. Hosts and the client run real processes (vipd, nginx, ...)
// with Start, and the client probes a URL with Probe to see who answers.
//
// Safety rules the package enforces, because it runs as root:
//   - it only ever deletes namespaces and stops processes it created itself;
//   - it never uses pkill or killall: processes are stopped by PID and process group;
//   - its dialer and pinger refuse any address outside the documentation
//     ranges 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32.
//
// Everything is torn down by t.Cleanup. A test binary killed by SIGKILL (or by
// the `go test -timeout` panic) cannot run its cleanups and leaves namespaces
// named after Options.Prefix behind; `ip netns list` shows them.
package lab
