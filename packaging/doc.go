// Package packaging holds what turns vipd into .deb and .rpm packages: the
// nfpm config, the systemd unit, the maintainer scripts, the default
// /etc/vipd.yaml and build.sh. It has no Go code of its own; its test
// (boot_test.go, root only) installs the .deb in a Debian 12 container
// booted with systemd-nspawn and checks the .rpm with rpm -qp.
package packaging
