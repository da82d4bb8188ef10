#!/bin/bash
# test_idle_keepalive: keepalives hold the NAT mappings open. Both NATs
# forget UDP flows after 10 s; the tunnel idles 40 s with no traffic of
# ours; the very first ping after that must succeed.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_two_sites
lab_udp_timeout A 10
lab_udp_timeout B 10
lab_two_peers_up
echo "tunnel up; idle for 40 s (NAT UDP timeout 10 s)"
sleep 40
lab_assert_alive A B
lab_exec A ping -n -c 1 -W 2 "$LAB_TUN_IP_B" >/dev/null ||
	lab_fail "the first ping A -> B after 40 s idle failed (mapping expired?)"
lab_exec B ping -n -c 1 -W 2 "$LAB_TUN_IP_A" >/dev/null ||
	lab_fail "the first ping B -> A after 40 s idle failed"
for n in A B; do
	[ "$(lab_status "$n" tunnel_downs)" = 0 ] ||
		lab_fail "$n's tunnel went down while idle: $(lab_status_json "$n")"
done
lab_pass "keepalives hold 10 s NAT mappings through 40 s of idle"
