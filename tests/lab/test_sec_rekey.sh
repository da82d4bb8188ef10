#!/bin/bash
# test_sec_rekey: an iperf3 TCP run through the tunnel crosses several rekeys.
#
# cone/cone tunnel with --rekey-after 3 on both peers; iperf3 -t 15 A -> B
# must exit 0, the daemons must log at least 3 rekeys (debug "rekey" lines)
# during the run, and neither may log "tunnel down".
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
command -v iperf3 >/dev/null || lab_fail "iperf3 is missing (Debian: apt-get install iperf3)"
lab_two_sites
lab_two_peers_up --rekey-after 3

rekeys() { cat "$LAB_LOG_A" "$LAB_LOG_B" | grep -ci "rekey" || true; }
before=$(rekeys)
slog=$LAB_DIR/logs/iperf3-server.log
lab_bg B "$slog" iperf3 -s -1 -B "$LAB_TUN_IP_B" -p 5201 >/dev/null
iperf_listening() {
	local s
	s=$(lab_exec B ss -Hltn 2>/dev/null) || return 1
	grep -q ":5201\b" <<<"$s"
}
lab_wait 10 iperf_listening || lab_fail "iperf3 server did not start listening on $LAB_TUN_IP_B:5201"
clog=$LAB_DIR/logs/iperf3-client.log
rc=0
lab_exec A timeout 60 iperf3 -c "$LAB_TUN_IP_B" -p 5201 -t 15 -f m >"$clog" 2>&1 || rc=$?
after=$(rekeys)
tail -n 4 "$clog"
[ "$rc" = 0 ] || lab_fail "iperf3 through the tunnel failed (exit $rc): $(grep -m 1 -i error "$clog")"
rate=$(awk '/receiver/ { print $(NF-2), $(NF-1) }' "$clog")
n=$((after - before))
[ "$n" -ge 3 ] || lab_fail "only $n rekey log lines during 15 s with --rekey-after 3 (want >= 3)"
for n in A B; do
	[ "$(lab_status "$n" tunnel_downs)" = 0 ] || lab_fail "$n's tunnel went down: $(lab_status_json "$n")"
done
lab_ping_both A B || lab_fail "ping failed after the iperf3 run"
lab_assert_alive server A B
lab_pass "iperf3 15 s at ${rate:-?} across $n rekey log lines, no tunnel down"
