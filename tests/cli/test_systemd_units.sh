#!/bin/bash
# test_systemd_units: the units CMake generates (dist/systemd/*.in) pass
# `systemd-analyze verify` without a single warning, with ExecStart pointed at
# this build's binaries (the installed path need not exist here). Also checks
# the hardening the units promise is there.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NP_BUILD_DIR=${NP_BUILD_DIR:-$NP_SOURCE_DIR/build}
bindir=${NP_INSTALL_BINDIR:-/usr/local/bin}
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (apt-get install systemd)"
tmp=$(mktemp -d /tmp/np-units.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

for unit in natpunch@.service natpunch-server.service; do
	src=$NP_BUILD_DIR/dist/systemd/$unit
	[ -f "$src" ] || fail "$src was not generated"
	grep -q "^ExecStart=$bindir/natpunch" "$src" || fail "$unit does not run $bindir/natpunch*"
	sed "s|^ExecStart=$bindir/|ExecStart=$NP_BUILD_DIR/|" "$src" >"$tmp/$unit"
	for want in Type=notify NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
		"ExecReload=/bin/kill -HUP \$MAINPID" CapabilityBoundingSet=; do
		grep -q "^$want" "$src" || fail "$unit lacks $want"
	done
done
grep -qx "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SETUID CAP_SETGID" "$tmp/natpunch@.service" ||
	fail "natpunch@.service has another capability bounding set"
grep -qx "ExecStart=$NP_BUILD_DIR/natpunch --config /etc/natpunch/%i.conf" "$tmp/natpunch@.service" ||
	fail "natpunch@.service does not read /etc/natpunch/%i.conf"
for want in RuntimeDirectory=natpunch StateDirectory=natpunch; do
	grep -qx "$want" "$tmp/natpunch@.service" || fail "natpunch@.service lacks $want"
done

cd "$tmp"
for u in natpunch@tun0.service natpunch-server.service; do
	out=$(systemd-analyze verify --man=no "./$u" 2>&1) || fail "systemd-analyze verify $u: $out"
	[ -z "$out" ] || fail "systemd-analyze verify $u warns: $out"
	echo "verify $u: clean"
done
# The check bites: a broken copy must be reported.
sed 's/^NoNewPrivileges=yes/NoNewPrivileges=perhaps/' natpunch-server.service >bad.service
out=$(systemd-analyze verify --man=no ./bad.service 2>&1) || true
grep -q "perhaps" <<<"$out" || fail "systemd-analyze verify did not notice a bad value: $out"
echo "PASS: units verify clean and carry the promised hardening"
