#!/bin/bash
# test_hooks_firewall: the shipped natpunch.firewall module, run by the daemon
# as an on_up/on_down hook (tests/lab/hooks/fw-allow-5201.lua: only TCP 5201,
# ICMP and replies may come in through the tunnel).
#
#   1. both peers up: table inet natpunch_np0 exists in each peer namespace;
#      A reaches B's iperf3 on the allowed port 5201 through the tunnel; a
#      connection to B's listener on 5202 (not allowed) times out; ping works.
#   2. A stops (SIGTERM): A's table is gone once A exited; B declares the
#      tunnel dead after --dead-after and its on_down removes B's table.
#   3. A comes back: B's table is back (a new on_up), exactly one table.
#   4. B stops (SIGTERM) while up: B's table is gone once B exited.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

DEAD=4
TABLE=natpunch_$LAB_TUN_DEV
ALLOWED=5201
BLOCKED=5202
lab_init
command -v iperf3 >/dev/null || lab_fail "iperf3 is not installed (Debian: iperf3)"
lab_keys A B
lab_server
lab_site A cone
lab_site B cone
lab_start_server
args=(--keepalive 1 --dead-after "$DEAD" --hook "$NP_SOURCE_DIR/tests/lab/hooks/fw-allow-5201.lua"
	--hook-lua-path "$NP_SOURCE_DIR/hooks/lua")
lab_start_pair A B 10.10.0 "${args[@]}"
lab_wait_tunnel A B 30 || lab_fail "tunnel not up within 30 s"

ntables() { # NAME: how many tables named $TABLE in NAME's namespace
	local out
	out=$(lab_exec "$1" nft list tables 2>&1) || { echo "nft-error: $out"; return 0; }
	grep -cx "table inet $TABLE" <<<"$out" || true
}
has_table() { [ "$(ntables "$1")" = 1 ]; }
no_table() { [ "$(ntables "$1")" = 0 ]; }

# 1. tables exist, allowed port open, other port dropped, ICMP passes
for n in A B; do
	lab_wait 10 has_table "$n" || lab_fail "$n: table inet $TABLE not created within 10 s of 'tunnel up' (nft list tables: $(ntables "$n"))"
done
lab_exec B nft list table inet "$TABLE"

# B serves iperf3 on both ports; only the firewall stands between A and 5202.
srv1=$(lab_bg B "$LAB_DIR/logs/iperf3-$ALLOWED.log" iperf3 -s -1 -p "$ALLOWED")
lab_bg B "$LAB_DIR/logs/iperf3-$BLOCKED.log" iperf3 -s -1 -p "$BLOCKED" >/dev/null
listening() { lab_exec B ss -Hltn | grep -q ":$ALLOWED\b" && lab_exec B ss -Hltn | grep -q ":$BLOCKED\b"; }
lab_wait 10 listening || lab_fail "iperf3 servers on B did not listen on $ALLOWED and $BLOCKED within 10 s"

tunip_B=$LAB_TUN_IP_B
if ! out=$(lab_exec A timeout 20 iperf3 -c "$tunip_B" -p "$ALLOWED" -t 1 --connect-timeout 3000 2>&1); then
	echo "$out"
	lab_fail "allowed port $ALLOWED on B not reachable from A through the tunnel"
fi
grep -E 'sender|receiver' <<<"$out" || true
lab_wait 10 lab_ended "$srv1" || lab_fail "iperf3 -s -1 on $ALLOWED did not finish after the client run"

rc=0
lab_exec A timeout 3 bash -c "exec 3<>/dev/tcp/$tunip_B/$BLOCKED" 2>"$LAB_DIR/blocked.err" || rc=$?
case $rc in
124) echo "ok: TCP to $tunip_B:$BLOCKED timed out (dropped by the firewall)" ;;
0) lab_fail "port $BLOCKED (not allowed) on B accepted a connection from A through the tunnel" ;;
*) lab_fail "port $BLOCKED on B: connect failed with status $rc ($(tr '\n' ' ' <"$LAB_DIR/blocked.err")), want a timeout (drop)" ;;
esac
# The listener itself is fine: B reaches its own 5202 (not via the tunnel).
lab_exec B timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BLOCKED" ||
	lab_fail "B's own listener on $BLOCKED is not reachable locally (test setup problem)"
lab_ping_both A B || lab_fail "ping through the tunnel failed with the firewall up (ICMP must pass)"

# 2. A stops: A's table goes with it; B's goes when B sees the tunnel dead.
lab_stop A 10
st=$(lab_exit_status "$LAB_PID_A" 5) || true
[ "$st" = 0 ] || lab_fail "A exited with status $st after SIGTERM"
no_table A || lab_fail "A: table inet $TABLE still there after the daemon stopped (SIGTERM)"
grep -q "firewall down on $LAB_TUN_DEV (shutdown)" "$LAB_LOG_A" || lab_fail "A: on_down (shutdown) did not log"
t0=$(lab_now_ms)
lab_wait $((DEAD + 10)) no_table B || lab_fail "B: table inet $TABLE still there $((DEAD + 10)) s after its peer stopped"
echo "ok: B's table gone $(($(lab_now_ms) - t0)) ms after A stopped"
grep -q "firewall down on $LAB_TUN_DEV (no packet from the peer for $DEAD s[,)]" "$LAB_LOG_B" ||
	lab_fail "B: on_down did not log reason 'no packet from the peer for $DEAD s'"
lab_assert_alive B

# 3. A again: the tunnel comes back, B has exactly one table again.
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 "${args[@]}"
lab_wait_tunnel A B 40 || lab_fail "tunnel not back within 40 s after restarting A"
for n in A B; do
	lab_wait 10 has_table "$n" || lab_fail "$n: table not back after the second 'tunnel up' (count: $(ntables "$n"))"
done
lab_ping_both A B || lab_fail "ping failed after the tunnel came back"

# 4. B stops while up.
lab_stop B 10
st=$(lab_exit_status "$LAB_PID_B" 5) || true
[ "$st" = 0 ] || lab_fail "B exited with status $st after SIGTERM"
no_table B || lab_fail "B: table inet $TABLE still there after the daemon stopped (SIGTERM)"
lab_stop A 10
no_table A || lab_fail "A: table inet $TABLE still there after the daemon stopped (SIGTERM)"
lab_pass "firewall hook: table while up, $ALLOWED open, $BLOCKED dropped, ICMP passes, table gone on dead tunnel and on SIGTERM"
