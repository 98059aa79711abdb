package agent

import (
	"net/http"
	"slices"

	"github.com/vipd/vipd/api"
)

// DoctorFacts returns the running config's interfaces and VIPs for
// `vipctl doctor`, which checks this host's kernel against them.
func (a *Agent) DoctorFacts() api.DoctorFacts {
	cfg := a.Config()
	f := api.DoctorFacts{
		Node:       cfg.NodeName,
		File:       a.opts.File,
		Interfaces: []api.ManagedInterface{},
		VIPs:       []api.DoctorVIP{},
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
	return f
}

func (a *Agent) serveDoctor(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.DoctorFacts())
}
