#!/bin/bash
# test_cipher: the transport cipher is negotiated in the handshake. If either
# peer asks for ChaCha20-Poly1305 both use it; by default both use
# AES-256-GCM when the CPU has hardware AES (else ChaCha20-Poly1305).
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_two_sites
lab_start_server
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 --cipher chacha20-poly1305
lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1
lab_wait_tunnel A B 30 || lab_fail "tunnel not up with --cipher chacha20-poly1305 on A"
for n in A B; do
	c=$(lab_status "$n" cipher)
	[ "$c" = ChaChaPoly ] || lab_fail "$n uses cipher '$c', want ChaChaPoly (A asked for it)"
done
lab_ping_both A B || lab_fail "ping failed over ChaCha20-Poly1305"

# Default on both sides: AES-256-GCM exactly when this CPU has hardware AES.
lab_stop A
lab_stop B
want=ChaChaPoly
grep -qw aes /proc/cpuinfo && want=AESGCM
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2
lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1
lab_wait_tunnel A B 30 || lab_fail "tunnel not up with default ciphers"
for n in A B; do
	c=$(lab_status "$n" cipher)
	[ "$c" = "$want" ] || lab_fail "$n uses cipher '$c' by default, want $want"
done
lab_ping_both A B || lab_fail "ping failed with the default cipher"
lab_pass "cipher negotiation: ChaCha20-Poly1305 on request, $want by default"
