#!/bin/bash
# test_seq_retry: symmetric-seq:3 <-> symmetric-seq:5 with --port, and the
# first attempt forced to fail (NAT B drops everything its peer sends to
# anyone but the server, until A has logged "punch failed"). Each retry's
# discovery moves both NATs' port counters on, while the --port socket's
# mapping toward the server stays the same: a retry that predicted from that
# stale mapping would never succeed. The retry must register from a fresh
# port (so the server sees the NAT's newest mapping) and bring the tunnel up
# within 30 s of the block being lifted.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_two_sites symmetric-seq:3 symmetric-seq:5
lab_exec nat-B nft -f - <<EOF2
table ip nplab_peerblock {
	chain forward {
		type filter hook forward priority filter - 10; policy accept;
		iifname "lan" meta l4proto udp ip daddr != { $SERVER_IP, $SERVER_ALT_IP } drop
	}
}
EOF2
lab_start_server
lab_start_pair A B 10.10.0 --port 4500
failed() { grep -q "punch failed" "$LAB_LOG_A"; }
lab_wait 40 failed || lab_fail "A logged no 'punch failed' within 40 s although B's punch is blocked"
lab_exec nat-B nft delete table ip nplab_peerblock
t0=$(lab_now_ms)
echo "first attempt failed as forced: $(grep -m1 'punch failed' "$LAB_LOG_A" | sed 's/^.*natpunch //')"
lab_wait_tunnel A B 30 || lab_fail "no tunnel within 30 s of lifting the block"
echo "ok: tunnel $(($(lab_now_ms) - t0)) ms after lifting the block: $(grep 'tunnel up' "$LAB_LOG_A" | tail -n 1 | sed 's/^.*natpunch //')"
grep -q "registering from a fresh port" "$LAB_LOG_A" || lab_fail "A's retry did not register from a fresh port"
lab_ping_both A B || lab_fail "ping failed after the tunnel came up"
lab_pass "seq:3 <-> seq:5 with --port: the retry after a failed attempt predicts from fresh facts and connects"
