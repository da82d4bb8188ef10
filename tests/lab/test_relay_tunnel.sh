#!/bin/bash
# test_relay_tunnel: pairs with no direct path come up relayed through
# coturn (TURN REST credentials, UDP), within 10 s:
#   A-B  symmetric-random <-> symmetric-random
#   C-D  symmetric-random <-> symmetric-seq:1
# Both log "tunnel up ... path=relayed", ping works, `natpunch status` says
# "path: relayed" with the relay URI and bytes relayed, and a 64 MiB
# sha256-checked TCP transfer crosses A-B (1 GiB runs in tests/bench/peers).
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

NP=$NP_BUILD_DIR/natpunch
LAB_TCP=$NP_BUILD_DIR/tests/lab/np_labtcp
BULK=${NP_RELAY_BULK:-64M}

lab_init
lab_keys A B C D
lab_server
lab_site A symmetric-random
lab_site B symmetric-random
lab_site C symmetric-random
lab_site D symmetric-seq:1
lab_start_turn
lab_start_server
relay_args() { # NAME
	local u
	u=$(lab_turn_creds "$1")
	echo "--turn turn:$TURN_IP --turn-user $u --turn-password-file $LAB_DIR/keys/turn-$1.pw"
}
# shellcheck disable=SC2046
lab_start_pair A B 10.10.0 $(relay_args A)
# shellcheck disable=SC2046
lab_start_peer C "$LAB_PORT1" 10.11.0.1 10.11.0.2 --session cd $(relay_args C)
# shellcheck disable=SC2046
lab_start_peer D "$LAB_PORT2" 10.11.0.2 10.11.0.1 --session cd $(relay_args D)
lab_wait_tunnel A B 20 || lab_fail "A-B (random <-> random) not up within 20 s"
lab_wait_tunnel C D 20 || lab_fail "C-D (random <-> sequential) not up within 20 s"
for n in A B C D; do
	[ "$(lab_status "$n" path)" = relayed ] || lab_fail "$n: tunnel is not relayed: $(grep 'tunnel up' "$(lab_get LOG "$n")")"
	t=$(lab_status "$n" time_to_up_ms)
	[ "$t" -le 10000 ] || lab_fail "$n: relayed tunnel took $t ms (want <= 10000)"
	echo "$n: relayed tunnel up in $t ms"
done
lab_ping_both A B || lab_fail "ping A-B through the relay"
lab_ping_both C D || lab_fail "ping C-D through the relay"

st=$("$NP" status --control "$LAB_CTL_A") || lab_fail "natpunch status failed"
grep -qx "path: relayed" <<<"$st" || lab_fail "status does not say path: relayed: $st"
grep -qx "relay: turn:$TURN_IP:3478?transport=udp" <<<"$st" || lab_fail "status lacks the relay URI: $st"
grep -qx "relay_transport: udp" <<<"$st" || lab_fail "status lacks the relay transport: $st"
grep -qE "^relay_rtt_ms: [0-9.]+$" <<<"$st" || lab_fail "status lacks the relay RTT: $st"
json=$("$NP" status --control "$LAB_CTL_B" --json) || lab_fail "natpunch status --json failed"
grep -q '"path": *"relayed"' <<<"$json" || lab_fail "status --json does not say relayed: $json"

# A checksummed bulk transfer through the relay.
rlog=$LAB_DIR/logs/labtcp.B.log
pid=$(lab_bg B "$rlog" "$LAB_TCP" recv --max-seconds 120 7001)
lab_wait 5 grep -q listening "$rlog" || lab_fail "np_labtcp recv did not start in B"
t0=$(lab_now_ms)
sent=$(lab_exec A "$LAB_TCP" send --max-seconds 100 --seed 7001 "$LAB_TUN_IP_B" 7001 "$BULK") ||
	lab_fail "np_labtcp send A -> B failed"
t1=$(lab_now_ms)
lab_wait 20 grep -q sha256 "$rlog" || lab_fail "receiver in B printed no checksum"
got=$(grep sha256 "$rlog")
[ "$sent" = "$got" ] || lab_fail "A -> B through the relay: sent '$sent', received '$got'"
lab_exit_status "$pid" >/dev/null || true
echo "A -> B $BULK through the relay intact in $((t1 - t0)) ms ($got)"
st=$("$NP" status --control "$LAB_CTL_A")
rb=$(sed -n 's/^relay_tx_bytes: //p' <<<"$st")
[ "${rb:-0}" -gt 60000000 ] || lab_fail "relay_tx_bytes is ${rb:-none} after the transfer"
lab_assert_alive A B C D
lab_pass "random<->random and random<->sequential relayed through coturn; ping, $BULK transfer, status"
