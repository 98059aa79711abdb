// Command hbfloor is the bench's floor for vipd's idle cost: a Go program
// that does nothing but what vipd's heartbeats do on the wire, a small UDP
// packet to every peer every interval, read by the peers. Its CPU is what
// the Go runtime and the kernel charge for that traffic on the machine at
// hand, before any of vipd's own work.
package main

import (
	"flag"
	"log"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"time"
)

func main() {
	listen := flag.String("listen", ":7946", "UDP address to read on")
	every := flag.Duration("every", 150*time.Millisecond, "time between two rounds of packets")
	peers := flag.String("peers", "", "comma-separated ip:port of the peers to send to")
	size := flag.Int("size", 40, "bytes per packet (a sealed vipd heartbeat is about 40)")
	flag.Parse()
	runtime.GOMAXPROCS(1) // as vipd runs
	conn, err := net.ListenPacket("udp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	udp := conn.(*net.UDPConn)
	var to []netip.AddrPort
	for _, p := range strings.Split(*peers, ",") {
		if p = strings.TrimSpace(p); p != "" {
			to = append(to, netip.MustParseAddrPort(p))
		}
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := udp.ReadFromUDPAddrPort(buf); err != nil {
				log.Fatal(err)
			}
		}
	}()
	msg := make([]byte, *size)
	for range time.Tick(*every) {
		for _, p := range to {
			_, _ = udp.WriteToUDPAddrPort(msg, p)
		}
	}
}
