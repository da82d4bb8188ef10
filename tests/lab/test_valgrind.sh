#!/bin/bash
# test_valgrind: cone <-> cone with the server and both peers under valgrind.
# Ping both ways, stop everything with SIGTERM, and require that valgrind
# found no errors (exit 99) and no definitely lost bytes.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
command -v valgrind >/dev/null || lab_fail "valgrind is not installed (apt-get install valgrind)"
lab_keys A B
lab_server
lab_site A cone
lab_site B cone

vg() { echo "valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --log-file=$LAB_DIR/logs/valgrind-$1.log"; }
LAB_WRAP=$(vg server) lab_start_server
LAB_WRAP=$(vg A) lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2
LAB_WRAP=$(vg B) lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1
lab_wait_tunnel A B 90 || lab_fail "tunnel not up within 90 s under valgrind"
lab_ping_both A B || lab_fail "ping failed under valgrind"

status=()
for n in A B server; do
	pid=$(lab_get PID "$n")
	lab_kill "$pid" 30
	rc=$(lab_exit_status "$pid" 10) || lab_fail "$n: no exit status"
	status+=("$n=$rc")
	[ "$rc" != 99 ] || lab_fail "$n: valgrind reported errors (exit 99), see valgrind-$n.log"
	[ "$rc" != 137 ] || lab_fail "$n: did not exit within 30 s of SIGTERM (killed)"
	log=$LAB_DIR/logs/valgrind-$n.log
	[ -s "$log" ] || lab_fail "$n: no valgrind log"
	lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d , | head -n 1)
	[ "${lost:-0}" = 0 ] || lab_fail "$n: $lost bytes definitely lost (valgrind-$n.log)"
	grep -q "ERROR SUMMARY: 0 errors" "$log" || lab_fail "$n: $(grep "ERROR SUMMARY" "$log")"
done
lab_pass "valgrind clean (exit statuses ${status[*]})"
