#!/bin/bash
# test_hooks_failure: broken hooks never take the tunnel down.
#
#   1. Both peers load, in this order: raise-on-up.lua (on_up raises an error),
#      missing-program.lua (on_up execs a program that does not exist and
#      raises with its stderr), runaway-loop.lua (an endless loop: the
#      watchdog), slow-exec.lua (execs "sleep 300": --hook-timeout 2 kills it),
#      and --hook-dir DIR holding marker.lua (appends "EVENT REASON" to
#      NP_TEST_MARKER). The tunnel pings both ways, each log names the failing
#      file with a traceback, the missing program is reported as "command not
#      found" with status 127, the loop and the timeout are reported, the
#      "sleep 300" child is gone, and marker.lua still ran for up and, after
#      SIGTERM, for down.
#   2. A hook file with a syntax error: natpunch refuses to start (exit 2,
#      "FILE:LINE:" in the message) and --check-hooks says the same; a missing
#      hook file is exit 2 too; --check-hooks with good files exits 0.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

H=$NP_SOURCE_DIR/tests/lab/hooks
lab_init
lab_keys A B
lab_server
lab_site A cone
lab_site B cone
lab_start_server
mkdir "$LAB_DIR/hookdir"
cp "$H/marker.lua" "$LAB_DIR/hookdir/50-marker.lua"
hooks=(--hook "$H/raise-on-up.lua" --hook "$H/missing-program.lua" --hook "$H/runaway-loop.lua"
	--hook "$H/slow-exec.lua" --hook-dir "$LAB_DIR/hookdir")
args=(--hook-timeout 2 "${hooks[@]}")
NP_TEST_MARKER=$LAB_DIR/marker.A lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 "${args[@]}"
NP_TEST_MARKER=$LAB_DIR/marker.B lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 "${args[@]}"
lab_wait_tunnel A B 30 || lab_fail "tunnel not up within 30 s with failing hooks loaded"

marker_has() { [ -f "$LAB_DIR/marker.$1" ] && grep -qx "$2" "$LAB_DIR/marker.$1"; }
for n in A B; do
	lab_wait 10 marker_has "$n" "up handshake complete" ||
		lab_fail "$n: marker.lua (after the failing hooks) did not record 'up handshake complete' within 10 s"
done
lab_ping_both A B || lab_fail "ping through the tunnel failed with failing hooks loaded"

for n in A B; do
	log=$(lab_get LOG "$n")
	raise=$(grep -F "hook $H/raise-on-up.lua: on_up failed:" "$log" | head -n 1) ||
		lab_fail "$n: no 'hook $H/raise-on-up.lua: on_up failed:' line in the daemon log"
	echo "$n: $raise"
	grep -qF "raise-on-up.lua:4: np-test deliberate failure on $LAB_TUN_DEV" <<<"$raise" ||
		lab_fail "$n: the on_up error line lacks 'raise-on-up.lua:4: np-test deliberate failure on $LAB_TUN_DEV'"
	grep -qF "stack traceback:" <<<"$raise" || lab_fail "$n: the on_up error line has no stack traceback"
	grep -qF "raise-on-up.lua:8:" <<<"$raise" && grep -qF "raise-on-up.lua:12:" <<<"$raise" ||
		lab_fail "$n: the traceback does not show the calling lines raise-on-up.lua:8 and :12"
	miss=$(grep -F "hook $H/missing-program.lua: on_up failed:" "$log" | head -n 1) ||
		lab_fail "$n: no 'hook $H/missing-program.lua: on_up failed:' line in the daemon log"
	echo "$n: $miss"
	grep -qF "exec failed with status 127: natpunch.exec: np-test-no-such-program: command not found" <<<"$miss" ||
		lab_fail "$n: the missing program is not reported as 'status 127: natpunch.exec: np-test-no-such-program: command not found'"
	grep -qF "hook $H/runaway-loop.lua: on_up failed: hook exceeded instruction budget" "$log" ||
		lab_fail "$n: no 'runaway-loop.lua: on_up failed: hook exceeded instruction budget' (watchdog) in the log"
	grep -qF "hook $H/slow-exec.lua: on_up timed out after 2.0 s; killing its children" "$log" ||
		lab_fail "$n: no 'slow-exec.lua: on_up timed out after 2.0 s; killing its children' in the log"
	! grep -q "np-test: slow-exec was not abandoned" "$log" || lab_fail "$n: slow-exec.lua went on after its timeout"
	# hooks run in the hook helper, two levels below the daemon
	kids=$(ps -e -o pid=,ppid=,args= | awk -v top="$(lab_get PID "$n")" '
		{ parent[$1] = $2; line[$1] = $0 }
		END { for (p in parent) { q = p; for (i = 0; i < 8 && q != ""; i++) { q = parent[q]; if (q == top) { print line[p]; break } } } }' |
		grep "sleep 300" || true)
	[ -z "$kids" ] || lab_fail "$n: the timed-out hook's child still runs: $kids"
done

lab_stop A 10
lab_stop B 10
for n in A B; do
	st=$(lab_exit_status "$(lab_get PID "$n")" 5) || true
	[ "$st" = 0 ] || lab_fail "daemon $n exited with status $st after SIGTERM"
	marker_has "$n" "down shutdown" || lab_fail "$n: marker.lua did not record 'down shutdown'"
	[ "$(cat "$LAB_DIR/marker.$n")" = $'up handshake complete\ndown shutdown' ] ||
		lab_fail "$n: marker file is '$(tr '\n' '|' <"$LAB_DIR/marker.$n")', want 'up handshake complete|down shutdown'"
done
echo "ok: failing hooks logged, tunnel worked, later hook ran for up and down"

# 2. syntax error: the daemon refuses to start
NP_TEST_MARKER=$LAB_DIR/marker.syntax lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 \
	--hook "$H/marker.lua" --hook "$H/syntax-error.lua"
st=$(lab_exit_status "$LAB_PID_A" 10) || lab_fail "natpunch with a syntax error in a hook file did not exit within 10 s"
[ "$st" = 2 ] || lab_fail "natpunch with a syntax error in a hook file exited with $st, want 2"
want="$H/syntax-error.lua:4:"
grep -qF "natpunch: $want" "$LAB_LOG_A" || lab_fail "the daemon's error does not name '$want' (FILE:LINE)"
! grep -q "registering\|tun .* up" "$LAB_LOG_A" || lab_fail "natpunch went on (registered or opened the tun) despite the syntax error"
echo "ok: daemon refused to start: $(grep -F "natpunch: $want" "$LAB_LOG_A")"

check() { # expected-status expected-text args...
	local want_st=$1 want_txt=$2 out st=0
	shift 2
	out=$(NP_TEST_MARKER=/nonexistent lab_exec A timeout 10 "$NP_BUILD_DIR/natpunch" --check-hooks "$@" 2>&1) || st=$?
	[ "$st" = "$want_st" ] || lab_fail "natpunch --check-hooks $* exited with $st, want $want_st (output: $out)"
	grep -qF "$want_txt" <<<"$out" || lab_fail "natpunch --check-hooks $* printed '$out', want '$want_txt'"
	echo "ok: --check-hooks $(basename "${!#}") -> $st: $(grep -F "$want_txt" <<<"$out" | head -n 1)"
}
check 2 "$want" --hook "$H/marker.lua" --hook "$H/syntax-error.lua"
check 2 "$LAB_DIR/no-such-hook.lua" --hook "$LAB_DIR/no-such-hook.lua"
check 0 "hooks OK" "${hooks[@]}"
check 0 "hooks OK" --hook-lua-path "$NP_SOURCE_DIR/hooks/lua" --hook "$H/fw-allow-5201.lua" --hook "$H/sleep-on-up.lua" \
	--hook "$NP_SOURCE_DIR/examples/hooks/firewall.lua" --hook "$NP_SOURCE_DIR/examples/hooks/log-events.lua" \
	--hook "$NP_SOURCE_DIR/examples/hooks/route-subnet.lua"
lab_assert_alive server
lab_pass "failing hooks leave the tunnel working and log clearly; syntax errors stop the start (exit 2)"
