#!/bin/bash
# test_sec_server_token: natpunch-server --token-file admits only token holders.
#
# 1. A token file readable by others (0644) is refused by natpunch-server
#    --token-file and by natpunch --server-token: exit code 2, one clear line.
# 2. Server with --token-file. A has no --server-token, B has the token: A's
#    REGISTERs are dropped and counted (server log at -v), the pair never
#    forms, no tunnel for 12 s. A peer with a wrong token fares no better.
# 3. A restarts with the token: the tunnel comes up and pings. Discovery
#    with the token worked on both (a NAT kind in the log), and natpunch
#    probe believes the token server only with its token: with a wrong one
#    every answer is refused (they carry no valid MAC) and it says so.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_keys A B
tok=$LAB_DIR/keys/token
(umask 077 && "$NP_BUILD_DIR/natpunch" genpsk >"$tok") || lab_fail "natpunch genpsk failed"
(umask 077 && "$NP_BUILD_DIR/natpunch" genpsk >"$LAB_DIR/keys/token.wrong") || lab_fail "natpunch genpsk failed"
lab_server
lab_site A cone
lab_site B cone

# ---- 1. a token file that others can read is refused ------------------------
cp "$tok" "$LAB_DIR/keys/token.0644"
chmod 0644 "$LAB_DIR/keys/token.0644"
rc=0
out=$(lab_exec srv timeout 10 "$NP_BUILD_DIR/natpunch-server" --token-file "$LAB_DIR/keys/token.0644" \
	--bind "$SERVER_IP" 2900 2901 2>&1) || rc=$?
[ "$rc" = 2 ] || lab_fail "natpunch-server with a 0644 token file: exit code $rc, want 2 (output: $out)"
grep -q "accessible by others" <<<"$out" || lab_fail "natpunch-server's refusal does not say why: $out"
echo "server: $out"
rc=0
out=$(lab_exec A timeout 10 "$NP_BUILD_DIR/natpunch" --key "$LAB_KEY_A" --peer-key "$LAB_PUBKEY_B" \
	--server-token "$LAB_DIR/keys/token.0644" "$SERVER_IP" "$LAB_PORT1" np9 10.99.0.1 10.99.0.2 1400 2>&1) || rc=$?
[ "$rc" = 2 ] || lab_fail "natpunch with a 0644 --server-token file: exit code $rc, want 2 (output: $out)"
grep -q "accessible by others" <<<"$out" || lab_fail "natpunch's refusal does not say why: $out"
[ "$(wc -l <<<"$out")" = 1 ] || lab_fail "natpunch's refusal is not one line: $out"
echo "peer: $out"

# ---- 2. without the token (or with a wrong one): never paired -----------------
lab_start_server --token-file "$tok"
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2
lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 --server-token "$tok"
sleep 12
for n in A B; do
	! lab_tunnel_was_up "$n" || lab_fail "$n got a tunnel although A has no server token"
done
! grep -q "paired" "$LAB_LOG_server" || lab_fail "the server paired an unauthenticated peer: $(grep paired "$LAB_LOG_server")"
grep -q "unauthenticated REGISTER from ${LAB_PUB_IP_A}:[0-9]* dropped" "$LAB_LOG_server" ||
	lab_fail "the server log does not show A's unauthenticated REGISTERs dropped"
grep -q "registered: public endpoint" "$LAB_LOG_B" || lab_fail "B (with the token) was not registered"
! grep -q "registered: public endpoint" "$LAB_LOG_A" || lab_fail "A (without the token) got a REGISTER_ACK"
! lab_ping A B || lab_fail "ping A -> B passes without a server token"
lab_stop A
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 --server-token "$LAB_DIR/keys/token.wrong"
sleep 5
! lab_tunnel_was_up A || lab_fail "A got a tunnel with a wrong server token"
! grep -q "paired" "$LAB_LOG_server" || lab_fail "the server paired a peer with a wrong token"
dropped=$(grep -c "unauthenticated REGISTER" "$LAB_LOG_server" || true)
echo "server dropped $dropped unauthenticated REGISTERs"

# ---- 3. with the token: tunnel ------------------------------------------------
lab_stop A
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 --server-token "$tok"
lab_wait_tunnel A B 30 || lab_fail "tunnel not up within 30 s with the token on both sides"
lab_ping_both A B || lab_fail "ping failed with the token on both sides"
for n in A B; do
	grep -q "NAT discovery: cone" "$(lab_get LOG "$n")" || lab_fail "$n's NAT discovery with the token did not classify its NAT"
done
lab_exec A "$NP_BUILD_DIR/natpunch" probe "$SERVER_IP" "$LAB_PORT1" --server-token "$tok" >/dev/null ||
	lab_fail "natpunch probe with the token failed against the token server"
rc=0
out=$(lab_exec A "$NP_BUILD_DIR/natpunch" probe "$SERVER_IP" "$LAB_PORT1" --server-token "$LAB_DIR/keys/token.wrong" 2>&1) ||
	rc=$?
[ "$rc" = 1 ] && grep -q "without a valid token MAC" <<<"$out" ||
	lab_fail "natpunch probe with a wrong token: exit $rc, want 1 and a word on the MAC: $out"
lab_assert_alive server A B
lab_pass "0644 token refused (exit 2); no token or a wrong one: dropped ($dropped), never paired; with the token: tunnel up"
