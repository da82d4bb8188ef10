#!/bin/bash
# test_install: `cmake --install` into a scratch prefix puts everything a
# system installation needs in place: both programs, the strategies, the Lua
# library, the strategy header and .pc file, the five man pages, the systemd
# units and the example files; and the installed natpunch runs.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NP_BUILD_DIR=${NP_BUILD_DIR:-$NP_SOURCE_DIR/build}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d /tmp/np-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$NP_BUILD_DIR" --prefix "$tmp" >"$tmp.log" 2>&1 || { cat "$tmp.log"; rm -f "$tmp.log"; fail "cmake --install failed"; }
rm -f "$tmp.log"
libdir=$(cd "$tmp" && ls -d lib* | grep -v '^lib$' | head -1 || true)
for f in bin/natpunch bin/natpunch-server \
	share/man/man8/natpunch.8 share/man/man8/natpunch-server.8 share/man/man5/natpunch.conf.5 \
	share/man/man7/natpunch-hooks.7 share/man/man3/natpunch-strategy.3 \
	lib/systemd/system/natpunch@.service lib/systemd/system/natpunch-server.service \
	include/natpunch/strategy.h share/natpunch/lua/natpunch/firewall.lua \
	share/doc/natpunch/examples/natpunch.conf.example share/doc/natpunch/examples/server.conf.example; do
	[ -e "$tmp/$f" ] || fail "$f is not installed"
done
ls "$tmp"/lib*/natpunch/strategies/simple.so >/dev/null 2>&1 || fail "no strategies installed"
ls "$tmp"/lib*/pkgconfig/natpunch-strategy.pc >/dev/null 2>&1 || fail "no natpunch-strategy.pc installed"
"$tmp/bin/natpunch" --version | grep -q "^natpunch " || fail "the installed natpunch does not run"
"$tmp/bin/natpunch" check-strategy simple "$(ls -d "$tmp"/lib*/natpunch/strategies | head -1)" >/dev/null ||
	fail "the installed simple.so does not load"
echo "PASS: cmake --install puts programs, strategies, Lua library, header, .pc, man pages, units, examples in place${libdir:+ ($libdir)}"
