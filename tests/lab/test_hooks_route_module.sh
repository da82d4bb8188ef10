#!/bin/bash
# test_hooks_route_module: the shipped natpunch.route Lua module against real
# iproute2, inside a network namespace of our own.
#
#   np_hooktest_$$ :  lo + np-v0 (veth, plays the tun; its peer stays inside)
#   np_hookrun --hook rt.lua --ifname np-v0 up     -> routes via np-v0
#   np_hookrun --hook rt.lua --ifname np-v0 down   -> routes gone
#   a hook passing "10.1.0.0/16 via 6.6.6.6" fails and adds nothing
#
# Needs root (exit 77 = skipped otherwise).
set -u

NS=np_hooktest_$$
SRC=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NP_BUILD_DIR:-$SRC/build}
RUN=$BUILD/tests/lab/np_hookrun

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root"
	exit 77
fi
[ -x "$RUN" ] || { echo "FAIL: $RUN not built"; exit 1; }

cleanup() {
	ip netns del "$NS" 2>/dev/null
	[ -n "${TMP:-}" ] && rm -rf "$TMP"
}
trap cleanup EXIT
TMP=$(mktemp -d /tmp/np_hooktest.XXXXXX)

failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run() { echo "+ $*"; "$@"; }

run ip netns add "$NS" || exit 1
run ip -n "$NS" link add np-v0 type veth peer name np-p0 || exit 1
run ip -n "$NS" link set np-v0 up
run ip -n "$NS" link set np-p0 up
run ip -n "$NS" link set lo up

cat >"$TMP/rt.lua" <<'LUA'
local route = require "natpunch.route"
local nets = { "192.168.50.0/24", "10.60.0.0/16", "fd00:50::/64" }
function on_up(t) assert(route.up(t, nets)) end
function on_down(t) assert(route.down(t, nets)) end
LUA
cat >"$TMP/evil.lua" <<'LUA'
local route = require "natpunch.route"
function on_up(t) assert(route.up(t, { "10.70.0.0/16", "10.1.0.0/16 via 6.6.6.6" })) end
LUA

hookrun() {
	run ip netns exec "$NS" "$RUN" --lua-path "$SRC/hooks/lua" --ifname np-v0 "$@"
}
routes() { ip -n "$NS" route show dev np-v0; ip -n "$NS" -6 route show dev np-v0; }

if hookrun --hook "$TMP/rt.lua" up; then pass "up"; else fail "up"; fi
r=$(routes)
echo "$r"
for p in 192.168.50.0/24 10.60.0.0/16 fd00:50::/64; do
	echo "$r" | grep -q "^$p " && pass "route $p" || fail "route $p missing"
done
if hookrun --hook "$TMP/rt.lua" up; then pass "up again (replace)"; else fail "up again"; fi
if hookrun --hook "$TMP/rt.lua" up down; then pass "up down"; else fail "up down"; fi
r=$(routes)
for p in 192.168.50.0/24 10.60.0.0/16 fd00:50::/64; do
	echo "$r" | grep -q "^$p " && fail "route $p still there" || pass "route $p removed"
done
# down when the routes are already gone is fine
if hookrun --hook "$TMP/rt.lua" up:x down:again >/dev/null && hookrun --hook "$TMP/rt.lua" up down; then
	pass "down is idempotent"
else
	fail "down twice"
fi

if hookrun --hook "$TMP/evil.lua" up; then fail "bad prefix accepted"; else pass "bad prefix refused"; fi
ip -n "$NS" route show | grep -q 10.70.0.0 && fail "route added despite a bad prefix" || pass "nothing added"

[ $failures = 0 ] && echo "OK" || echo "$failures failure(s)"
[ $failures = 0 ]
