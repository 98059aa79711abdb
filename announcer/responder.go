package announcer

import (
	"net"
	"time"
)

// readErrorPause keeps a socket that keeps failing (its link is down, say)
// from spinning.
const readErrorPause = 100 * time.Millisecond

// arpLoop reads ARP frames on l until Close.
func (a *Announcer) arpLoop(l *link) {
	buf := make([]byte, 1514)
	for {
		n, _, err := l.arp.ReadFrom(buf)
		if err != nil {
			if !a.readFailed(l, "ARP", err) {
				return
			}
			continue
		}
		if reply := a.handleARP(l, buf[:n]); reply != nil {
			if a.sendFrame(l, reply, net.HardwareAddr(reply[0:6])) {
				a.count.arpReplies.Add(1)
			}
		}
	}
}

// ndpLoop reads neighbor solicitations and advertisements until Close.
func (a *Announcer) ndpLoop(l *link) {
	buf := make([]byte, 1500)
	for {
		n, cm, src, err := l.ndp.ReadRaw(buf)
		if err != nil {
			if !a.readFailed(l, "NDP", err) {
				return
			}
			continue
		}
		hopLimit := -1
		if cm != nil {
			// The socket is bound to no interface: keep only what arrived on l.
			if cm.IfIndex != 0 && cm.IfIndex != l.index {
				continue
			}
			hopLimit = cm.HopLimit
		}
		reply, ok := a.handleNDP(l, buf[:n], hopLimit, src)
		if !ok {
			continue
		}
		if err := l.ndp.WriteTo(reply.msg, naControl(l, reply.msg.TargetAddress), reply.dst); err != nil {
			a.sendFailed(l, err)
			continue
		}
		a.count.naReplies.Add(1)
	}
}

// readFailed reports whether the loop should go on after err.
func (a *Announcer) readFailed(l *link, what string, err error) bool {
	if a.ctx.Err() != nil {
		return false
	}
	a.log.Debug("read failed on a managed interface", "socket", what, "interface", l.name, "err", err)
	return sleepUntil(a.ctx, time.Now().Add(readErrorPause))
}
