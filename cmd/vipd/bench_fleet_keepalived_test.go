package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vipd/vipd/lab"
)

// keepalivedAtFleetSize asks keepalived whether it would run the fleet's
// VIPs its own way, one VRRP instance per VIP on the host's eth0 (one
// instance per VIP is what lets each VIP have its own owner), and returns
// what it said: `keepalived -t` checks the config without starting.
func keepalivedAtFleetSize(t *testing.T, h *lab.Node, vips []fleetVIP) string {
	if _, err := os.Stat(keepalivedPath); err != nil {
		return "not tried: keepalived is not installed"
	}
	var b strings.Builder
	b.WriteString("global_defs {\n  router_id " + h.Name() + "\n}\n")
	for i, v := range vips {
		prefix := "/32"
		if v.Address.Is6() {
			prefix = "/128"
		}
		fmt.Fprintf(&b, "vrrp_instance %s {\n  state BACKUP\n  interface eth0\n  virtual_router_id %d\n  priority 100\n  advert_int 1\n  virtual_ipaddress {\n    %s%s\n  }\n}\n",
			v.Name, i+1, v.Address, prefix)
	}
	path := filepath.Join(t.TempDir(), "keepalived-fleet.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := h.Run(t.Context(), keepalivedPath, "-t", "-f", path)
	if err == nil {
		return fmt.Sprintf("keepalived -t accepts %d instances (not run further)", len(vips))
	}
	var refused int
	var first string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "VRID") && strings.Contains(line, "not valid") {
			if refused++; first == "" {
				first = strings.TrimLeft(line[strings.LastIndex(line, ")")+1:], ": ")
			}
		}
	}
	if refused == 0 {
		return fmt.Sprintf("keepalived -t refused the config of %d instances: %v", len(vips), err)
	}
	return fmt.Sprintf("does not start: keepalived -t refuses %d of %d instances (%s)", refused, len(vips), first)
}
