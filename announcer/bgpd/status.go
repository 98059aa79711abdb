package bgpd

import (
	"cmp"
	"context"
	"slices"
	"time"

	api "github.com/osrg/gobgp/v4/api"

	"github.com/vipd/vipd/announcer/bgpwire"
)

// peers reports every configured session.
func (s *speaker) peers(ctx context.Context) []bgpwire.PeerStatus {
	var out []bgpwire.PeerStatus
	_ = s.srv.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		st := p.GetState()
		ps := bgpwire.PeerStatus{
			Address: p.GetConf().GetNeighborAddress(),
			ASN:     p.GetConf().GetPeerAsn(),
			State:   sessionState(st.GetSessionState()),
		}
		if ps.State != "established" {
			ps.Reason = disconnectReason(st)
			if t := p.GetTimers().GetState().GetDowntime(); t != nil {
				ps.Since = t.AsTime()
			}
		} else {
			ps.HoldTime = time.Duration(p.GetTimers().GetState().GetNegotiatedHoldTime()) * time.Second
			if t := p.GetTimers().GetState().GetUptime(); t != nil {
				ps.Since = t.AsTime()
			}
		}
		for _, af := range p.GetAfiSafis() {
			ps.Announced += af.GetState().GetAdvertised()
			ps.Received += af.GetState().GetReceived()
			ps.Accepted += af.GetState().GetAccepted()
		}
		out = append(out, ps)
	})
	slices.SortFunc(out, func(a, b bgpwire.PeerStatus) int { return cmp.Compare(a.Address, b.Address) })
	return out
}

func sessionState(s api.PeerState_SessionState) string {
	switch s {
	case api.PeerState_SESSION_STATE_IDLE:
		return "idle"
	case api.PeerState_SESSION_STATE_CONNECT:
		return "connect"
	case api.PeerState_SESSION_STATE_ACTIVE:
		return "active"
	case api.PeerState_SESSION_STATE_OPENSENT:
		return "opensent"
	case api.PeerState_SESSION_STATE_OPENCONFIRM:
		return "openconfirm"
	case api.PeerState_SESSION_STATE_ESTABLISHED:
		return "established"
	}
	return "unknown"
}

// disconnectReason names why a session is down in the operator's words.
func disconnectReason(st *api.PeerState) string {
	msg := st.GetDisconnectMessage()
	with := func(s string) string {
		if msg != "" {
			return s + ": " + msg
		}
		return s
	}
	switch st.GetDisconnectReason() {
	case api.PeerState_DISCONNECT_REASON_UNSPECIFIED:
		return "never established; the peer refuses the connection, or TCP 179 is blocked, or the peer has no neighbor statement for this host"
	case api.PeerState_DISCONNECT_REASON_HOLD_TIMER_EXPIRED:
		return with("hold timer expired: no keepalive from the peer")
	case api.PeerState_DISCONNECT_REASON_BAD_PEER_AS:
		return with("wrong ASN: the peer's AS number is not the one configured in bgp.peers")
	case api.PeerState_DISCONNECT_REASON_NOTIFICATION_RECEIVED:
		return with("the peer closed the session")
	case api.PeerState_DISCONNECT_REASON_NOTIFICATION_SENT:
		return with("this host closed the session")
	case api.PeerState_DISCONNECT_REASON_READ_FAILED, api.PeerState_DISCONNECT_REASON_WRITE_FAILED:
		return with("connection lost")
	case api.PeerState_DISCONNECT_REASON_ADMIN_DOWN:
		return with("shut down")
	}
	return with(st.GetDisconnectReason().String())
}
