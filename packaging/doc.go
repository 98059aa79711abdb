// Package packaging holds what turns vipd into .deb and .rpm packages: the
// nfpm config, the systemd unit, the maintainer scripts, the default
// /etc/vipd.yaml and build.sh. It has no Go code of its own. Its tests run
// as root: boot_test.go installs the .deb in a Debian 12 container booted
// with systemd-nspawn and checks the .rpm with rpm -qp; cluster_test.go
// boots three such containers on a lab bridge, installs the .deb on each
// and follows the operator's story (start, stop, kill, reload, watchdog,
// remove) while a client probes the VIPs. testdata/webd is the small web
// server the cluster's health checks look at.
package packaging
