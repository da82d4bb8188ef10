#!/bin/bash
# test_relay_probe: the TURN client against coturn, through `natpunch probe
# --turn`. coturn runs in the lab (use-auth-secret, UDP+TCP, TLS with a CA
# made by this run); peers use TURN REST credentials.
#
#  - from site A (cone NAT): the relay answers over UDP, TCP and TLS, and a
#    datagram sent through it to an echo host comes back (the echo host saw
#    it from the relayed address), over each transport;
#  - from site B, whose NAT drops all UDP: UDP gets no allocation, TCP and
#    TLS do;
#  - a wrong password: exit 1 and one line naming the relay and "401 Unauthorized";
#  - TLS without the test CA: the certificate does not verify, in words;
#  - --json: one object per relay with "ok".
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

NP=$NP_BUILD_DIR/natpunch
lab_init
lab_server
lab_site A cone
lab_site B cone
lab_host E
lab_block_udp B
lab_start_turn --tls
ECHO_PORT=7000
lab_bg E "$LAB_DIR/logs/echo.log" "$LAB_UDP" echo --max-seconds 60 "$ECHO_PORT" >/dev/null

UA=$(lab_turn_creds A)
UB=$(lab_turn_creds B)
PA=$LAB_DIR/keys/turn-A.pw
PB=$LAB_DIR/keys/turn-B.pw
U="turn:$TURN_IP"
T="turn:$TURN_IP?transport=tcp"
S="turns:$TURN_IP"

out=$(lab_exec A timeout 60 "$NP" probe --turn "$U" --turn "$T" --turn "$S" --turn-ca "$LAB_TURN_CA" \
	--turn-user "$UA" --turn-password-file "$PA" --echo "$LAB_IP_E:$ECHO_PORT" 2>"$LAB_DIR/logs/probe-A.err") ||
	lab_fail "probe from A failed: $out"
echo "$out"
for tr in udp tcp tls; do
	grep -q "answers over $tr; relayed address $TURN_IP:" <<<"$out" || lab_fail "no $tr allocation from A: $out"
done
# The echo host saw each datagram come from the relay itself.
n=$(grep -c "echo from $LAB_IP_E:$ECHO_PORT: $TURN_IP:" <<<"$out" || true)
[ "$n" = 3 ] || lab_fail "expected 3 echoes through the relay, got $n: $out"

# B: no UDP at all.
set +e
out=$(lab_exec B timeout 60 "$NP" probe --turn "$U" --turn "$T" --turn "$S" --turn-ca "$LAB_TURN_CA" \
	--turn-user "$UB" --turn-password-file "$PB" 2>"$LAB_DIR/logs/probe-B.err")
rc=$?
set -e
echo "$out"
[ "$rc" = 1 ] || lab_fail "probe from B (no UDP) should exit 1, got $rc"
grep -q "relay turn:$TURN_IP:3478?transport=udp: FAILED over udp: no answer from the relay to Allocate" <<<"$out" ||
	lab_fail "UDP from B should get no answer: $out"
grep -q "answers over tcp" <<<"$out" || lab_fail "TCP from B should work: $out"
grep -q "answers over tls" <<<"$out" || lab_fail "TLS from B should work: $out"

# Wrong password.
echo "not-the-password" >"$LAB_DIR/keys/bad.pw"
set +e
out=$(lab_exec A timeout 30 "$NP" probe --turn "$U" --turn-user "$UA" --turn-password-file "$LAB_DIR/keys/bad.pw" 2>&1)
rc=$?
set -e
echo "$out"
[ "$rc" = 1 ] || lab_fail "wrong password should exit 1, got $rc"
grep -q "relay turn:$TURN_IP:3478?transport=udp: .*401 Unauthorized.*does not accept user '$UA'" <<<"$out" ||
	lab_fail "wrong password: no clear error: $out"

# TLS against the system store: our test CA is not in it.
set +e
out=$(lab_exec A timeout 30 "$NP" probe --turn "$S" --turn-user "$UA" --turn-password-file "$PA" 2>&1)
rc=$?
set -e
echo "$out"
[ "$rc" = 1 ] && grep -q "certificate does not verify" <<<"$out" || lab_fail "TLS without the CA should fail to verify: $out"

# JSON
out=$(lab_exec A timeout 30 "$NP" probe --json --turn "$U" --turn "$T" --turn-user "$UA" --turn-password-file "$PA" 2>/dev/null)
echo "$out"
[[ $out == '[{"uri":"turn:'*'"transport":"udp","ok":true'*'},{"uri":'*'"transport":"tcp","ok":true'*'}]' ]] ||
	lab_fail "unexpected JSON: $out"
lab_pass "relay probe: udp/tcp/tls allocate and echo, no-UDP site uses tcp/tls, wrong password and bad certificate reported"
