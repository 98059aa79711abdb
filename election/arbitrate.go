package election

// Arbitrate picks, among hosts that each answer for unit u on the LAN while
// gossip between them is cut, the one that keeps answering: the highest
// priority, then the highest rendezvous score, then the first name. It is
// the rule Decide applies to several holders once gossip is back
// (ReasonSplitResolved), so the winner on the wire is also the owner after
// the merge and nothing moves twice. Every claimant that sees the same set
// computes the same winner, whatever order it heard the others in. It
// returns "" for no claimants.
func Arbitrate(u Unit, claimants []string) string {
	if len(claimants) == 0 {
		return ""
	}
	cs := make([]candidate, 0, len(claimants))
	for _, name := range claimants {
		cs = append(cs, candidate{name: name, priority: u.priorityOf(name), holds: true})
	}
	return bestOf(u.Key, cs).name
}
