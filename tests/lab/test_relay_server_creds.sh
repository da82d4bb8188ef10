#!/bin/bash
# test_relay_server_creds: natpunch-server --turn URI --turn-secret FILE
# hands each pair the relay and TURN REST credentials in PEER_INFO; peers
# with no relay options of their own (random <-> random) use it and come up
# relayed; the server refuses --turn without --turn-secret.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_keys A B
lab_server
lab_site A symmetric-random
lab_site B symmetric-random
lab_start_turn
set +e
out=$("$NP_BUILD_DIR/natpunch-server" --turn "turn:$TURN_IP" 2000 2001 2>&1)
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "go together" <<<"$out" || lab_fail "--turn without --turn-secret: rc=$rc '$out'"
lab_start_server --turn "turn:$TURN_IP" --turn-secret "$LAB_TURN_SECRET_FILE"
lab_start_pair A B 10.10.0
lab_wait_tunnel A B 20 || lab_fail "A-B not up within 20 s with the server's relay"
for n in A B; do
	[ "$(lab_status "$n" path)" = relayed ] || lab_fail "$n: not relayed"
	[ "$(lab_status "$n" relay)" = "turn:$TURN_IP:3478?transport=udp" ] || lab_fail "$n: status relay is wrong"
	grep -q "using the relay the server offers: turn:$TURN_IP" "$(lab_get LOG "$n")" ||
		lab_fail "$n: the log does not say it uses the server's relay"
done
lab_ping_both A B || lab_fail "ping through the server's relay"
lab_pass "the server hands out the relay and credentials; random<->random comes up relayed"
