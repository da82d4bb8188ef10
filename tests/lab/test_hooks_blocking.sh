#!/bin/bash
# test_hooks_blocking: a hook that takes 6 s in on_up (natpunch.sleep(5), then
# natpunch.exec{"sleep", "1"}; tests/lab/hooks/sleep-on-up.lua) on both peers
# must not stall the tunnel: a ping at 0.2 s intervals started as soon as both
# daemons log "tunnel up" overlaps the hook, loses nothing, and every RTT
# stays under 50 ms.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

COUNT=40        # 40 x 0.2 s = 8 s > the hook's 6 s
MAX_RTT_MS=50
lab_init
lab_keys A B
lab_server
lab_site A cone
lab_site B cone
lab_start_server
lab_start_pair A B 10.10.0 --hook "$NP_SOURCE_DIR/tests/lab/hooks/sleep-on-up.lua"

both_up() {
	lab_assert_alive A B
	lab_tunnel_is_up A && lab_tunnel_is_up B
}
# The hook starts when the tunnel comes up and sleeps 6 s: polling every
# 0.2 s starts the ping well inside it.
lab_wait 30 both_up || lab_fail "the tunnel was not up on both peers within 30 s"
t0=$(lab_now_ms)
ping_log=$LAB_DIR/logs/ping-A-B.log
lab_exec A ping -n -c "$COUNT" -i 0.2 -W 1 "$LAB_TUN_IP_B" >"$ping_log" 2>&1 &
ping_pid=$!
woke() { grep -q "np-test: on_up woke" "$(lab_get LOG "$1")"; }
for n in A B; do
	grep -q "np-test: on_up sleeping" "$(lab_get LOG "$n")" ||
		lab_wait 2 grep -q "np-test: on_up sleeping" "$(lab_get LOG "$n")" ||
		lab_fail "$n: the on_up hook did not start"
	! woke "$n" || lab_fail "$n: the hook had already finished when the ping started (no overlap)"
done
# Both hooks must finish (6 s) while the ping still runs.
for n in A B; do
	lab_wait 15 woke "$n" || lab_fail "$n: the on_up hook did not finish within 15 s"
done
t_woke=$(($(lab_now_ms) - t0))
rc=0
wait "$ping_pid" || rc=$?
t_ping=$(($(lab_now_ms) - t0))
tail -n 3 "$ping_log"
[ "$t_woke" -lt "$t_ping" ] || lab_fail "the hooks finished ${t_woke} ms after the ping started, after the ping ended (${t_ping} ms)"
echo "ok: hooks ran from 'tunnel up' until ${t_woke} ms; the ping ran for ${t_ping} ms"
loss=$(sed -n -E 's/.* ([0-9.]+)% packet loss.*/\1/p' "$ping_log")
[ "$rc" = 0 ] && [ "$loss" = 0 ] || lab_fail "ping through the tunnel lost packets while the hook slept: ${loss:-?}% loss (status $rc)"
max=$(sed -n -E 's|^rtt min/avg/max/mdev = [0-9.]+/[0-9.]+/([0-9.]+)/.*|\1|p' "$ping_log")
[ -n "$max" ] || lab_fail "no rtt line in the ping output"
awk -v m="$max" -v lim="$MAX_RTT_MS" 'BEGIN { exit !(m < lim) }' ||
	lab_fail "max RTT ${max} ms while the hook slept, want < ${MAX_RTT_MS} ms"
grep -q "on_up woke, exec status 0" "$LAB_LOG_A" || lab_fail "A: exec{sleep 1} did not return status 0"
lab_assert_alive server A B
lab_pass "$COUNT pings at 0.2 s during a 6 s on_up hook: 0% loss, max RTT ${max} ms"
