#!/bin/bash
# test_hooks_firewall_module: the shipped natpunch.firewall Lua module against
# real nftables, inside a network namespace of our own.
#
#   np_hooktest_$$_peer             np_hooktest_$$
#   ┌──────────────────┐  veth      ┌──────────────────────────────────┐
#   │ np-p0 10.77.0.2  ├────────────┤ np-v0 10.77.0.1 (plays the tun)   │
#   └──────────────────┘            │ table inet natpunch_np_v0        │
#                                   └──────────────────────────────────┘
#   np_hookrun --hook fw.lua --ifname np-v0 up [up ...] down
#
# Checks: exactly one table after "up" twice (separate runs and one run),
# the rules name the allowed ports, allowed TCP gets through (refused by the
# closed port, not dropped), other TCP is dropped, ICMP passes, and "down"
# removes the table.
#
# Needs root (exit 77 = skipped otherwise); fails when root and nft is missing.
set -u

NS=np_hooktest_$$
SRC=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NP_BUILD_DIR:-$SRC/build}
RUN=$BUILD/tests/lab/np_hookrun

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root"
	exit 77
fi
command -v nft >/dev/null || { echo "FAIL: nft not installed"; exit 1; }
[ -x "$RUN" ] || { echo "FAIL: $RUN not built"; exit 1; }

cleanup() {
	ip netns del "$NS" 2>/dev/null
	ip netns del "${NS}_peer" 2>/dev/null
	[ -n "${TMP:-}" ] && rm -rf "$TMP"
}
trap cleanup EXIT
TMP=$(mktemp -d /tmp/np_hooktest.XXXXXX)

failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run() { echo "+ $*"; "$@"; }

run ip netns add "$NS" || exit 1
run ip netns add "${NS}_peer" || exit 1
run ip -n "$NS" link add np-v0 type veth peer name np-p0 netns "${NS}_peer" || exit 1
run ip -n "$NS" addr add 10.77.0.1/24 dev np-v0
run ip -n "${NS}_peer" addr add 10.77.0.2/24 dev np-p0
run ip -n "$NS" link set np-v0 up
run ip -n "${NS}_peer" link set np-p0 up
run ip -n "$NS" link set lo up

cat >"$TMP/fw.lua" <<'LUA'
local fw = require "natpunch.firewall"
function on_up(t) assert(fw.up(t, { allow_tcp = { 22, 8022 }, allow_udp = { 5353 } })) end
function on_down(t) assert(fw.down(t)) end
LUA

hookrun() {
	run ip netns exec "$NS" "$RUN" --lua-path "$SRC/hooks/lua" --hook "$TMP/fw.lua" --ifname np-v0 "$@"
}
tables() { ip netns exec "$NS" nft list tables | grep -c natpunch; }

# up, up: the second up goes through an implicit down, then re-creates
if hookrun up; then pass "first up"; else fail "first up"; fi
[ "$(tables)" = 1 ] && pass "one table after up" || fail "tables after up: $(tables)"
# a second up in another run (no down between): still exactly one table
if hookrun up; then pass "second up"; else fail "second up"; fi
[ "$(tables)" = 1 ] && pass "one table after up twice" || fail "tables after up twice: $(tables)"
rules=$(ip netns exec "$NS" nft list table inet natpunch_np_v0)
echo "$rules"
echo "$rules" | grep -q 'iifname "np-v0" tcp dport { 22, 8022 } accept' && pass "tcp ports" || fail "tcp ports missing"
echo "$rules" | grep -q 'iifname "np-v0" udp dport 5353 accept' && pass "udp port" || fail "udp port missing"
echo "$rules" | grep -q 'iifname "np-v0" drop' && pass "drop rule" || fail "drop rule missing"
echo "$rules" | grep -q 'policy accept' && pass "policy accept" || fail "policy not accept"

# in one run: up up down (implicit down in between) leaves nothing
if hookrun up up down; then pass "up up down"; else fail "up up down"; fi
[ "$(tables)" = 0 ] && pass "table gone after down" || fail "tables after down: $(tables)"

# down of a table that is not there is fine (fw.down is idempotent)
cat >"$TMP/down.lua" <<'LUA'
local fw = require "natpunch.firewall"
function on_up(t) assert(fw.down(t)) end
LUA
if run ip netns exec "$NS" "$RUN" --lua-path "$SRC/hooks/lua" --hook "$TMP/down.lua" --ifname np-v0 up; then
	pass "down without table"
else
	fail "down without table"
fi

# the rules work. TCP to a closed but allowed port is refused at once (RST);
# to a port not listed it is dropped (the connect times out).
tcp_probe() { # port -> "refused", "timeout" or "other"
	ip netns exec "${NS}_peer" timeout 2 bash -c "echo >/dev/tcp/10.77.0.1/$1" 2>"$TMP/tcp.err"
	case $? in
	124) echo timeout ;;
	*) grep -q refused "$TMP/tcp.err" && echo refused || echo other ;;
	esac
}
if hookrun up; then
	[ "$(tcp_probe 8022)" = refused ] && pass "allowed port reaches the host" || fail "port 8022 not refused"
	[ "$(tcp_probe 2323)" = timeout ] && pass "other port dropped" || fail "port 2323 not dropped"
	run ip netns exec "${NS}_peer" ping -c1 -W2 10.77.0.1 >/dev/null && pass "icmp passes" || fail "icmp blocked"
	hookrun up:again down >/dev/null
	[ "$(tcp_probe 2323)" = refused ] && pass "after down nothing filters" || fail "port 2323 still filtered after down"
else
	fail "up for traffic test"
fi

[ $failures = 0 ] && echo "OK" || echo "$failures failure(s)"
[ $failures = 0 ]
