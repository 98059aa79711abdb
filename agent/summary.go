package agent

import (
	"fmt"
	"strings"

	"github.com/vipd/vipd/api"
)

// Summary is one line for systemd's STATUS=, such as
// "owner of web, api; 1 standby; 3 hosts alive".
func (a *Agent) Summary() string {
	st := a.Status()
	if len(st.VIPs) == 0 {
		return "no VIPs configured: add them under vips: and reload"
	}
	var owned []string
	roles := map[api.Role]int{}
	health := map[api.Health]int{}
	for _, v := range st.VIPs {
		health[v.Health]++
		if v.Role == api.RoleOwner {
			owned = append(owned, v.Name)
			continue
		}
		roles[v.Role]++
	}
	var parts []string
	if st.Drained {
		parts = append(parts, "drained")
	}
	if len(owned) > 0 {
		parts = append(parts, "owner of "+strings.Join(owned, ", "))
	}
	for _, r := range allRoles {
		if roles[r] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", roles[r], r))
		}
	}
	for _, h := range allHealth[1:] {
		if health[h] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", health[h], h))
		}
	}
	parts = append(parts, st.Problems...)
	if st.Config.ReloadError != "" {
		parts = append(parts, "last reload failed")
	}
	return strings.Join(parts, "; ")
}

// Alive reports whether the reconcile loop ran within the last few resync
// periods, for the systemd watchdog: a stuck loop must get vipd restarted.
func (a *Agent) Alive() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.opts.Clock.Now().Sub(a.lastStep) < 5*a.resync
}
