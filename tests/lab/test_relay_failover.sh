#!/bin/bash
# test_relay_failover: several --turn relays are tried in order (issue 11
# item 1). Peer A's first relay refuses connections (a TCP port where no
# relay listens); B's first relay is over TLS with a certificate B cannot
# verify (no --turn-ca for the CA this run made). Both move on to their second relay
# (coturn over UDP), and random <-> random comes up relayed through it;
# each log names the relay that failed and why.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_keys A B
lab_server
lab_site A symmetric-random
lab_site B symmetric-random
lab_start_turn --tls
lab_start_server
UA=$(lab_turn_creds A)
UB=$(lab_turn_creds B)
DEAD="turn:$TURN_IP:3479?transport=tcp"
GOOD="turn:$TURN_IP"
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 --turn "$DEAD" --turn "$GOOD" \
	--turn-user "$UA" --turn-password-file "$LAB_DIR/keys/turn-A.pw"
lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 --turn "turns:$TURN_IP" --turn "$GOOD" \
	--turn-user "$UB" --turn-password-file "$LAB_DIR/keys/turn-B.pw"
lab_wait_tunnel A B 40 || lab_fail "A-B not up within 40 s through the second relays"
for n in A B; do
	[ "$(lab_status "$n" path)" = relayed ] || lab_fail "$n: not relayed"
	[ "$(lab_status "$n" relay)" = "turn:$TURN_IP:3478?transport=udp" ] ||
		lab_fail "$n: relay in use is $(lab_status "$n" relay), not the second one"
	grep -q "using relay turn:$TURN_IP:3478?transport=udp (2 of 2): .* failed: " "$(lab_get LOG "$n")" ||
		lab_fail "$n: the log does not say which relay failed and why"
done
grep -q "(2 of 2): turn:$TURN_IP:3479?transport=tcp failed: cannot connect" "$(lab_get LOG A)" ||
	lab_fail "A: no 'cannot connect' reason for the dead relay"
grep -q "(2 of 2): turns:$TURN_IP:5349 failed: .*certificate does not verify" "$(lab_get LOG B)" ||
	lab_fail "B: no TLS reason for the first relay"
lab_ping_both A B || lab_fail "ping through the second relay"
lab_pass "a relay that cannot be reached, or fails TLS, is skipped for the next --turn"
