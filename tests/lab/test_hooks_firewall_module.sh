#!/bin/bash
# test_hooks_firewall_module: the shipped natpunch.firewall Lua module against
# real nftables, in two bare lab namespaces (no tunnel, no NAT).
#
#   P                              H
#   ┌──────────────────┐  veth     ┌──────────────────────────────────┐
#   │ np-p0 10.77.0.2  ├───────────┤ np-v0 10.77.0.1 (plays the tun)   │
#   └──────────────────┘           │ table inet natpunch_np_v0        │
#                                  └──────────────────────────────────┘
#   lab_hookrun H --hook fw.lua --ifname np-v0 up [up ...] down
#
# Checks: exactly one table after "up" twice (separate runs and one run),
# the rules name the allowed ports, allowed TCP gets through (refused by the
# closed port, not dropped), other TCP is dropped, ICMP passes, and "down"
# removes the table.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_netns H
lab_netns P
lab_link H np-v0 10.77.0.1/24 P np-p0 10.77.0.2/24

FW=$LAB_DIR/fw.lua
cat >"$FW" <<'LUA'
local fw = require "natpunch.firewall"
function on_up(t) assert(fw.up(t, { allow_tcp = { 22, 8022 }, allow_udp = { 5353 } })) end
function on_down(t) assert(fw.down(t)) end
LUA

hookrun() { lab_hookrun H --hook "$FW" --ifname np-v0 "$@"; }
tables() { lab_exec H nft list tables | grep -c natpunch || true; }

# up, up: the second up goes through an implicit down, then re-creates
lab_check "first up" hookrun up
n=$(tables)
lab_check "one table after up (found $n)" test "$n" = 1
# a second up in another run (no down between): still exactly one table
lab_check "second up" hookrun up
n=$(tables)
lab_check "one table after up twice (found $n)" test "$n" = 1
rules=$(lab_exec H nft list table inet natpunch_np_v0)
echo "$rules"
lab_check "tcp ports" grep -q 'iifname "np-v0" tcp dport { 22, 8022 } accept' <<<"$rules"
lab_check "udp port" grep -q 'iifname "np-v0" udp dport 5353 accept' <<<"$rules"
lab_check "drop rule" grep -q 'iifname "np-v0" drop' <<<"$rules"
lab_check "policy accept" grep -q 'policy accept' <<<"$rules"

# in one run: up up down (implicit down in between) leaves nothing
lab_check "up up down" hookrun up up down
n=$(tables)
lab_check "table gone after down (found $n)" test "$n" = 0

# down of a table that is not there is fine (fw.down is idempotent)
cat >"$LAB_DIR/down.lua" <<'LUA'
local fw = require "natpunch.firewall"
function on_up(t) assert(fw.down(t)) end
LUA
lab_check "down without a table" lab_hookrun H --hook "$LAB_DIR/down.lua" --ifname np-v0 up

# the rules work. TCP to a closed but allowed port is refused at once (RST);
# to a port not listed it is dropped (the connect times out).
tcp_probe() { # PORT -> "refused", "timeout" or "other"
	local rc=0
	lab_exec P timeout 2 bash -c "echo >/dev/tcp/10.77.0.1/$1" 2>"$LAB_DIR/tcp.err" || rc=$?
	case $rc in
	124) echo timeout ;;
	*) grep -q refused "$LAB_DIR/tcp.err" && echo refused || echo other ;;
	esac
}
if hookrun up; then
	r=$(tcp_probe 8022)
	lab_check "allowed port 8022 reaches the host (refused, got: $r)" test "$r" = refused
	r=$(tcp_probe 2323)
	lab_check "other port 2323 dropped (timeout, got: $r)" test "$r" = timeout
	lab_check "icmp passes" lab_exec P ping -n -c 1 -W 2 10.77.0.1
	lab_check "up:again down" hookrun up:again down
	r=$(tcp_probe 2323)
	lab_check "after down nothing filters port 2323 (refused, got: $r)" test "$r" = refused
else
	lab_check "up for the traffic test" false
fi

lab_finish "natpunch.firewall: one table per tun, the rules filter as configured, down removes them"
