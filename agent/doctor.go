package agent

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/vipd/vipd/api"
)

// DoctorFacts returns the running config's interfaces and VIPs, and the
// peers whose gossip key differs, for `vipctl doctor`, which checks this
// host's kernel and the cluster against them.
func (a *Agent) DoctorFacts() api.DoctorFacts {
	cfg := a.Config()
	f := api.DoctorFacts{
		Node:          cfg.NodeName,
		File:          a.opts.File,
		Interfaces:    []api.ManagedInterface{},
		VIPs:          []api.DoctorVIP{},
		GossipKeyFile: cfg.Gossip.KeyFile,
	}
	for _, ifc := range cfg.Interfaces {
		f.Interfaces = append(f.Interfaces, api.ManagedInterface{
			Name: ifc.Name, Family: string(ifc.Family), Tuning: ifc.Tuning,
			BridgePorts: slices.Clone(ifc.BridgePorts),
		})
	}
	for _, v := range cfg.VIPs {
		f.VIPs = append(f.VIPs, api.DoctorVIP{
			Name: v.Name, Address: v.Address.Addr().String(), Interface: v.Interface,
			Nodes: slices.Clone(v.Nodes),
		})
	}
	for _, k := range a.opts.Cluster.KeyMismatches() {
		f.KeyMismatches = append(f.KeyMismatches, api.GossipPeer{Node: k.Node, Address: k.Addr})
	}
	slices.SortFunc(f.KeyMismatches, func(x, y api.GossipPeer) int {
		return cmp.Or(strings.Compare(x.Node, y.Node), strings.Compare(x.Address, y.Address))
	})
	return f
}

func (a *Agent) serveDoctor(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.DoctorFacts())
}
