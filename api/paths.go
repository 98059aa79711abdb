package api

// Paths of the control API. The version prefix lets a newer vipctl tell an
// older daemon apart instead of misreading it.
const (
	PathStatus  = "/v1/status"
	PathMembers = "/v1/members"
	PathChecks  = "/v1/checks"
	PathDrain   = "/v1/drain"
	PathUndrain = "/v1/undrain"
	PathReload  = "/v1/reload"
)

// QueryHosts=0 on PathStatus leaves out every VIP's host list
// (VIPStatus.Hosts): with many VIPs and hosts it is most of the answer.
const QueryHosts = "hosts"
