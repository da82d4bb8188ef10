#!/bin/bash
# test_hooks_route_module: the shipped natpunch.route Lua module against real
# iproute2, in a bare lab namespace (no tunnel, no NAT).
#
#   H :  lo + np-v0 (veth, plays the tun; its peer np-p0 stays inside H)
#   lab_hookrun H --hook rt.lua --ifname np-v0 up     -> routes via np-v0
#   lab_hookrun H --hook rt.lua --ifname np-v0 down   -> routes gone
#   a hook passing "10.1.0.0/16 via 6.6.6.6" fails and adds nothing
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_netns H
lab_link H np-v0 "" H np-p0 ""

RT=$LAB_DIR/rt.lua
cat >"$RT" <<'LUA'
local route = require "natpunch.route"
local nets = { "192.168.50.0/24", "10.60.0.0/16", "fd00:50::/64" }
function on_up(t) assert(route.up(t, nets)) end
function on_down(t) assert(route.down(t, nets)) end
LUA
EVIL=$LAB_DIR/evil.lua
cat >"$EVIL" <<'LUA'
local route = require "natpunch.route"
function on_up(t) assert(route.up(t, { "10.70.0.0/16", "10.1.0.0/16 via 6.6.6.6" })) end
LUA

hookrun() { lab_hookrun H --ifname np-v0 "$@"; }
routes() { lab_exec H ip route show dev np-v0; lab_exec H ip -6 route show dev np-v0; }

absent() { ! grep -q "^$1 " <<<"$2"; } # PREFIX ROUTES

lab_check "up" hookrun --hook "$RT" up
r=$(routes)
echo "$r"
for p in 192.168.50.0/24 10.60.0.0/16 fd00:50::/64; do
	lab_check "route $p added" grep -q "^$p " <<<"$r"
done
lab_check "up again (replace)" hookrun --hook "$RT" up
lab_check "up down" hookrun --hook "$RT" up down
r=$(routes)
for p in 192.168.50.0/24 10.60.0.0/16 fd00:50::/64; do
	lab_check "route $p removed" absent "$p" "$r"
done
# down when the routes are already gone is fine
twice_down() { hookrun --hook "$RT" up:x down:again >/dev/null && hookrun --hook "$RT" up down; }
lab_check "down is idempotent" twice_down

refused() { ! hookrun --hook "$EVIL" up; }
lab_check "a bad prefix is refused" refused
r=$(lab_exec H ip route show)
lab_check "nothing added despite the bad prefix" absent 10.70.0.0/16 "$r"

lab_finish "natpunch.route adds and removes the routes of a tun, refuses a bad prefix"
