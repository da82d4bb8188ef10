#!/bin/bash
# test_relay_modes: how the relayed path is chosen and carried.
#   A-B  random <-> random, A over TURN/TCP with --relay always (no punch
#        at all), B over TURN/TLS (a CA made by this run, --turn-ca) with the
#        default fallback: relayed, ping both ways, status names the
#        transports and the mode.
#   C-D  random <-> random with --relay never: no tunnel within 12 s, and
#        both logs say why they wait ("--relay never").
#   E    a relay that refuses the credentials: one error line naming the
#        relay and "401 Unauthorized"; status shows the reason.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_keys A B C D E F
lab_pair E F
lab_server
for n in A B C D; do lab_site "$n" symmetric-random; done
lab_site E cone
lab_start_turn --tls
lab_start_server
# shellcheck disable=SC2046
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 --relay always $(lab_turn_args A "${NP_RELAY_URI_A:-turn:$TURN_IP?transport=tcp}")
# shellcheck disable=SC2046
lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 $(lab_turn_args B "${NP_RELAY_URI_B:-turns:$TURN_IP}") --turn-ca "$LAB_TURN_CA"
# shellcheck disable=SC2046
lab_start_peer C "$LAB_PORT1" 10.11.0.1 10.11.0.2 --session cd --relay never $(lab_turn_args C "turn:$TURN_IP")
lab_start_peer D "$LAB_PORT2" 10.11.0.2 10.11.0.1 --session cd --relay never
echo "wrong" >"$LAB_DIR/keys/bad.pw"
lab_start_peer E "$LAB_PORT1" 10.12.0.1 10.12.0.2 --session e --turn "turn:$TURN_IP" \
	--turn-user "$(lab_turn_creds E)" --turn-password-file "$LAB_DIR/keys/bad.pw"

lab_wait_tunnel A B 20 || lab_fail "A-B (TCP and TLS relays) not up within 20 s"
for n in A B; do
	[ "$(lab_status "$n" path)" = relayed ] || lab_fail "$n: not relayed"
done
[ "$(lab_status A relay_transport)" = tcp ] || lab_fail "A: relay transport is not tcp"
[ "$(lab_status B relay_transport)" = tls ] || lab_fail "B: relay transport is not tls"
[ "$(lab_status A relay_mode)" = always ] || lab_fail "A: status relay_mode is not always"
[ "$(lab_status B relay_mode)" = fallback ] || lab_fail "B: status relay_mode is not fallback"
grep -q "relayed through .*: --relay always" "$(lab_get LOG A)" || lab_fail "A: the log does not say why it relays"
lab_ping_both A B || lab_fail "ping A-B over TCP/TLS relays"
echo "A-B: relayed over TURN/TCP (--relay always) and TURN/TLS (fallback), ping ok"

# --relay never: no tunnel, and the reason in the log.
sleep 8
for n in C D; do
	! lab_tunnel_was_up "$n" || lab_fail "$n: a tunnel came up with --relay never"
	grep -q "not relaying (--relay never): waiting for a direct path" "$(lab_get LOG "$n")" ||
		lab_fail "$n: the log does not say why it waits"
done
grep -q "relayed through" "$(lab_get LOG C)" && lab_fail "C relayed despite --relay never"
echo "C-D: --relay never honoured, and logged"

# Refused credentials: a clear error.
line=$(grep "ERR\|error" "$(lab_get LOG E)" | grep "turn:$TURN_IP:3478?transport=udp" | head -n 1 || true)
[[ $line == *"401 Unauthorized"*"does not accept user"* ]] || lab_fail "E: no clear credentials error: '$line'"
echo "E: $line"
err=$(lab_status E relay_last_error)
[[ $err == *"401 Unauthorized"* ]] || lab_fail "E: status relay_last_error is '$err'"
lab_assert_alive A B C D E
lab_pass "relay over TCP and TLS, --relay always; --relay never honoured and logged; refused credentials reported"
