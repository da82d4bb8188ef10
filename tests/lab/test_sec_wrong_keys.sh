#!/bin/bash
# test_sec_wrong_keys: mismatched keys never give a tunnel, and both sides say why.
#
# Two pairs run side by side on one server:
#   A-B (session wk1): B is given a wrong --peer-key (a fresh key's public key);
#   C-D (session wk2): both have keys right, but D's --psk differs from C's.
# For 20 s neither pair may log "tunnel up" and no ping may pass; each of the
# four peers must log the reason (a bad probe MAC, a key that does not match
# --peer-key, or a handshake timeout). Then C-D restart with the same PSK and
# come up, which shows the PSK failure was the mismatch and nothing else.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

WHY='bad MAC|does not match --peer-key|handshake .*timed out|handshake .*rejected'

lab_init
lab_keys A B C D Z
(umask 077 && "$NP_BUILD_DIR/natpunch" genpsk >"$LAB_DIR/keys/psk2") || lab_fail "natpunch genpsk failed"
lab_server
for n in A B C D; do lab_site "$n" cone; done
lab_start_server
# A is right about B; B believes A's key is Z's (the later --peer-key wins).
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 --session wk1
lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 --session wk1 --peer-key "$LAB_PUBKEY_Z"
lab_start_peer C "$LAB_PORT1" 10.20.0.1 10.20.0.2 --session wk2 --psk "$LAB_PSK"
lab_start_peer D "$LAB_PORT2" 10.20.0.2 10.20.0.1 --session wk2 --psk "$LAB_DIR/keys/psk2"

no_tunnel() {
	local n
	for n in A B C D; do
		! lab_tunnel_was_up "$n" || lab_fail "$n had a tunnel up despite mismatched keys: $(lab_status_json "$n")"
	done
	lab_assert_alive A B C D
}
end=$(($(lab_now_ms) + 20000))
while [ "$(lab_now_ms)" -lt "$end" ]; do
	no_tunnel
	sleep 1
done
! lab_ping A B && ! lab_ping B A || lab_fail "ping passes between A and B with a wrong --peer-key"
! lab_ping C D && ! lab_ping D C || lab_fail "ping passes between C and D with different PSKs"
no_tunnel

# Both sides of each pair punched (so the server paired them) and say why it failed.
for n in A B C D; do
	log=$(lab_get LOG "$n")
	grep -q "peer found" "$log" || lab_fail "$n was never paired by the server: the test did not reach the key check"
	line=$(grep -m 1 -E "$WHY" "$log") || lab_fail "$n does not log why the tunnel fails (want one of: $WHY)"
	echo "$n: ${line#* * }"
done

# The same PSK on both sides: C-D come up.
lab_stop C
lab_stop D
lab_start_peer C "$LAB_PORT1" 10.20.0.1 10.20.0.2 --session wk2b --psk "$LAB_PSK"
lab_start_peer D "$LAB_PORT2" 10.20.0.2 10.20.0.1 --session wk2b --psk "$LAB_PSK"
lab_wait_tunnel C D 30 || lab_fail "C-D with the same PSK: tunnel not up within 30 s"
lab_ping_both C D || lab_fail "C-D with the same PSK: ping failed"
lab_assert_alive server A B C D
lab_pass "wrong --peer-key and wrong --psk: no tunnel for 20 s, all four peers log why; same PSK works"
