#!/bin/bash
# test_hooks_privsep: privilege separation (issue 13 item 1).
#   1. natpunch --user nobody with the natpunch.firewall hook: after start the
#      daemon runs as nobody with no capabilities, its hook helper and the
#      helper's worker as root; the tunnel carries pings; on_up made the nft
#      table (as root).
#   2. SIGTERM to A's daemon: on_down removed A's table; the helper is gone.
#      SIGKILL to B's daemon: the helper sees end-of-file and runs the pending
#      on_down: B's table is gone too, and so is the helper.
#   3. A hook that stalls in one C call (tests/lab/hooks/hang-on-up.lua) with
#      --hook-timeout 2: pings through the tunnel during the stall lose
#      nothing; the helper's worker is killed by the stall alarm and
#      restarted (logged by helper and daemon); on SIGTERM the new worker
#      still runs on_down for the up the stalled one never finished.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

H=$NP_SOURCE_DIR/tests/lab/hooks
TABLE=natpunch_np0
lab_init
id nobody >/dev/null 2>&1 || lab_fail "no user 'nobody' on this machine"
lab_keys A B
lab_server
lab_site A cone
lab_site B cone
lab_start_server

# The uid line of /proc/PID/status: "real effective saved fs".
uids() { awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$1/status"; }
capeff() { awk '/^CapEff:/ { print $2 }' "/proc/$1/status"; }
rss() { awk '/^VmRSS:/ { print $2 " kB" }' "/proc/$1/status"; }
children() { ps -o pid= --ppid "$1" | tr -d ' '; }
has_table() { lab_exec "$1" nft list table inet "$TABLE" >/dev/null 2>&1; }
no_table() { ! has_table "$1"; }
gone() { ! kill -0 "$1" 2>/dev/null && ! kill -0 "$2" 2>/dev/null; }

# ---- 1. --user nobody --------------------------------------------------------
args=(--user nobody --hook "$H/fw-allow-5201.lua" --hook-lua-path "$NP_SOURCE_DIR/hooks/lua" --dead-after 30)
lab_start_pair A B 10.10.0 "${args[@]}"
lab_wait_tunnel A B 30 || lab_fail "tunnel not up within 30 s with --user nobody"
nobody=$(id -u nobody)
for n in A B; do
	pid=$(lab_get PID "$n")
	[ "$(uids "$pid")" = "$nobody $nobody $nobody $nobody" ] ||
		lab_fail "$n: daemon uids are '$(uids "$pid")', want all $nobody (nobody)"
	[ "$(capeff "$pid")" = 0000000000000000 ] || lab_fail "$n: daemon keeps capabilities $(capeff "$pid")"
	helper=$(children "$pid")
	[ "$(wc -w <<<"$helper")" = 1 ] || lab_fail "$n: want one hook helper below the daemon, got '$helper'"
	worker=$(children "$helper")
	[ "$(wc -w <<<"$worker")" = 1 ] || lab_fail "$n: want one worker below the hook helper, got '$worker'"
	[ "$(uids "$helper")" = "0 0 0 0" ] || lab_fail "$n: hook helper uids are '$(uids "$helper")', want root"
	[ "$(uids "$worker")" = "0 0 0 0" ] || lab_fail "$n: hook worker uids are '$(uids "$worker")', want root"
	grep -q "dropped privileges: now uid $nobody (nobody)" "$(lab_get LOG "$n")" ||
		lab_fail "$n: no 'dropped privileges: now uid $nobody (nobody)' line"
	lab_wait 10 has_table "$n" || lab_fail "$n: on_up (as root in the helper) did not create table $TABLE"
	eval "HELPER_$n=$helper WORKER_$n=$worker"
	echo "ok: $n: daemon $pid uid $nobody, no capabilities; helper $helper and worker $worker uid 0; table $TABLE" \
		"(RSS: daemon $(rss "$pid"), helper $(rss "$helper"), worker $(rss "$worker"))"
done
lab_ping_both A B || lab_fail "ping through the tunnel failed with --user nobody"

# ---- 2. SIGTERM and SIGKILL: down undoes up ---------------------------------
kill -TERM "$(lab_get PID A)"
lab_wait 10 lab_ended "$(lab_get PID A)" || lab_fail "A did not exit within 10 s of SIGTERM"
! has_table A || lab_fail "A: table $TABLE still there after SIGTERM (on_down did not run)"
lab_wait 5 gone "$HELPER_A" "$WORKER_A" ||
	lab_fail "A: the hook helper outlived the daemon"
grep -q "np-test: firewall down on np0 (shutdown)" "$(lab_get LOG A)" || lab_fail "A: on_down did not log reason 'shutdown'"
echo "ok: A: SIGTERM: table gone, helper gone"

kill -KILL "$(lab_get PID B)"
lab_wait 5 lab_ended "$(lab_get PID B)" || lab_fail "B did not die of SIGKILL"
lab_wait 10 no_table B ||
	lab_fail "B: table $TABLE still there 10 s after SIGKILL of the daemon (pending on_down did not run)"
grep -q "np-test: firewall down on np0 (daemon exited)" "$(lab_get LOG B)" ||
	lab_fail "B: on_down did not log reason 'daemon exited'"
lab_wait 5 gone "$HELPER_B" "$WORKER_B" ||
	lab_fail "B: the hook helper outlived the SIGKILLed daemon"
echo "ok: B: SIGKILL: the helper ran on_down (table gone) and exited"

# ---- 3. a stalled hook does not stop the tunnel -----------------------------
args=(--user nobody --hook "$H/hang-on-up.lua" --hook-timeout 2 --dead-after 30)
NP_TEST_MARKER=$LAB_DIR/marker.A lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 "${args[@]}"
NP_TEST_MARKER=$LAB_DIR/marker.B lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 "${args[@]}"
hanging() { grep -q "np-test: on_up hanging" "$(lab_get LOG "$1")"; }
lab_wait 30 hanging A || lab_fail "A: the hanging on_up did not start within 30 s"
lab_wait 5 hanging B || lab_fail "B: the hanging on_up did not start"
! grep -q "killed by the stall alarm" "$(lab_get LOG A)" || lab_fail "A: the stall was over before the ping started"
ping_log=$LAB_DIR/logs/ping-hang.log
lab_exec A ping -n -c 25 -i 0.2 -W 1 "$LAB_TUN_IP_B" >"$ping_log" 2>&1 || true
tail -n 2 "$ping_log"
loss=$(sed -n -E 's/.* ([0-9.]+)% packet loss.*/\1/p' "$ping_log")
[ "$loss" = 0 ] || lab_fail "pings while on_up hung: ${loss:-?}% loss, want 0"
for n in A B; do
	log=$(lab_get LOG "$n")
	lab_wait 5 grep -q "killed by the stall alarm" "$log" || lab_fail "$n: no 'killed by the stall alarm' line"
	lab_wait 5 grep -q "the hook helper started a new worker; the up event it was running is abandoned" "$log" ||
		lab_fail "$n: the daemon did not log the restarted worker and the abandoned up"
	! grep -q "np-test: on_up was not stopped" "$log" || lab_fail "$n: the stalled on_up went on"
done
echo "ok: 25 pings at 0.2 s while on_up hung: 0% loss; worker killed after 2 s and restarted"
lab_stop A 10
lab_stop B 10
for n in A B; do
	[ "$(cat "$LAB_DIR/marker.$n")" = $'up handshake complete\ndown shutdown' ] ||
		lab_fail "$n: marker is '$(tr '\n' '|' <"$LAB_DIR/marker.$n")', want 'up handshake complete|down shutdown'"
done
lab_assert_alive server
lab_pass "--user nobody: daemon unprivileged, hooks as root; down undoes up after SIGTERM and SIGKILL; a stalled hook costs no pings"
