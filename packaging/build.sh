#!/usr/bin/env bash
# packaging/build.sh [VERSION [OUTDIR]] — build the vipd .deb and .rpm.
#
#   VERSION  what 'vipd --version' prints; default: git describe --tags
#            --always --dirty. The package version is made from it:
#              v1.2.3            -> 1.2.3
#              v1.2.3-4-gabc1234 -> 1.2.3+git4.abc1234
#              abc1234 (no tag)  -> 0.0.0~git<commits>.abc1234
#              ...-dirty         -> ... with .dirty appended
#   OUTDIR   where the packages go; default dist. It gets
#            vipd_<pkgversion>_amd64.deb and vipd-<pkgversion>-1.x86_64.rpm.
#
# Environment: BINDIR (default bin) is where vipd and vipctl are built;
# PKG_VERSION overrides the package version. Needs Go and network access to
# the Go module proxy the first time (nfpm v2.45.2 goes to .tools/bin).
# 'make packages' runs: bash packaging/build.sh $(VERSION) dist
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PATH=/usr/local/go/bin:$PATH

NFPM_VERSION=v2.45.2
version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
outdir=${2:-dist}
bindir=${BINDIR:-bin}
nfpm=$root/.tools/bin/nfpm

# pkg_version turns a git describe output into a version deb and rpm sort
# right: digits first, only [A-Za-z0-9.+~], '~' sorting before a release.
pkg_version() {
	local v=$1 dirty=""
	if [[ $v == *-dirty ]]; then dirty=.dirty; v=${v%-dirty}; fi
	v=${v#v}
	if [[ $v =~ ^([0-9][0-9A-Za-z.]*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
		v="${BASH_REMATCH[1]}+git${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
	elif [[ $v =~ ^[0-9a-f]{7,40}$ ]]; then
		v="0.0.0~git$(git rev-list --count HEAD 2>/dev/null || echo 0).$v"
	elif [[ ! $v =~ ^[0-9] ]]; then
		v="0.0.0~$v"
	fi
	v=$(printf '%s' "$v$dirty" | tr -c 'A-Za-z0-9.+~' '.')
	printf '%s\n' "$v"
}
pkgver=${PKG_VERSION:-$(pkg_version "$version")}

# Reproducible: file times and man page dates from the last commit.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

echo "== vipd $version, package version $pkgver"

if ! [[ -x $nfpm ]] || ! go version -m "$nfpm" | grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/goreleaser/nfpm/v2[[:space:]]+$NFPM_VERSION[[:space:]]"; then
	echo "== installing nfpm $NFPM_VERSION to .tools/bin"
	GOBIN=$root/.tools/bin go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
fi

mkdir -p "$bindir" "$outdir"
echo "== building $bindir/vipd $bindir/vipctl $bindir/vipd-bgp"
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath \
	-ldflags "-s -w -X main.version=$version" -o "$bindir/" ./cmd/vipd ./cmd/vipctl ./cmd/vipd-bgp

stage=$(mktemp -d "${TMPDIR:-/tmp}/vipd-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,man,completions}
cp "$bindir/vipd" "$bindir/vipctl" "$bindir/vipd-bgp" "$stage/bin/"

echo "== man pages and completions from the commands' help"
go build -o "$stage/mangen" ./packaging/mangen
for p in vipd vipctl; do
	"$stage/mangen" -section 8 -version "$version" "$stage/bin/$p" > "$stage/man/$p.8"
	if command -v groff >/dev/null; then
		warnings=$(groff -man -Tutf8 -ww -z "$stage/man/$p.8" 2>&1)
		if [[ -n $warnings ]]; then echo "$p.8: groff warns:"; echo "$warnings"; exit 1; fi
	fi
	gzip -9n "$stage/man/$p.8"
	for sh in bash zsh fish; do
		"$stage/bin/$p" completion "$sh" > "$stage/completions/$p.$sh"
	done
done

echo "== checking the default config and the examples"
"$stage/bin/vipd" check -c packaging/vipd.yaml
while IFS= read -r f; do
	"$stage/bin/vipd" check -c "$f" >/dev/null
done < <(find examples -name '*.yaml' | sort)

# The examples as files of 0644 in directories of 0755, whatever the umask.
cp -r examples "$stage/examples"
find "$stage/examples" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +

deb=$outdir/vipd_${pkgver}_amd64.deb
rpm=$outdir/vipd-${pkgver}-1.x86_64.rpm
rm -f "$deb" "$rpm"
export VIPD_PKG_VERSION=$pkgver VIPD_STAGE=$stage
"$nfpm" package --config packaging/nfpm.yaml --packager deb --target "$deb"
"$nfpm" package --config packaging/nfpm.yaml --packager rpm --target "$rpm"
ls -l "$deb" "$rpm"
