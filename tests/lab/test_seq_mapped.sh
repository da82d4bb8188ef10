#!/bin/bash
# test_seq_mapped: the registration carries what discovery just saw (the
# REGISTER / PEER_INFO MAPPED field), so the peer predicts from now.
# symmetric-seq:3 <-> symmetric-seq:5, both with --port 4500. A ran before
# (its --port socket's mapping toward the server is still in NAT A's
# conntrack table), then 150 other flows left site A, moving NAT A's port
# counter ~450 ports on. The restarted A registers from the same 4500 socket,
# so the server still sees the old mapping; only A's discovery knows where the
# counter stands. B must predict from A's MAPPED and the FIRST attempt must
# connect (predicting from the server's view misses by ~150 steps: 8-port
# window).
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_two_sites symmetric-seq:3 symmetric-seq:5
lab_start_server
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 --port 4500
registered() { grep -q "registered: public endpoint" "$LAB_LOG_A"; }
lab_wait 15 registered || lab_fail "A did not register within 15 s"
old=$(sed -nE 's/.*registered: public endpoint [0-9.]+:([0-9]+).*/\1/p' "$LAB_LOG_A" | head -n 1)
lab_stop A
# 150 new flows from site A (each redirection is a new socket: a new mapping).
lab_exec A bash -c "for i in \$(seq 150); do echo burn > /dev/udp/$SERVER_IP/9 || true; done" 2>/dev/null || true
lab_start_pair A B 10.10.0 --port 4500
lab_wait_tunnel A B 25 || lab_fail "no tunnel within 25 s"
echo "A registered from public port $old before; now: $(grep 'registered: public endpoint' "$LAB_LOG_A" | tail -n 1 | sed 's/^.*natpunch //')"
echo "B: $(grep -m1 "predict: [0-9]* targets" "$LAB_LOG_B" | sed 's/^.*natpunch //')"
! grep -q "punch failed" "$LAB_LOG_A" "$LAB_LOG_B" || lab_fail "the first attempt failed: a peer predicted from the server's stale view"
grep -q "the peer's newest mapping" "$LAB_LOG_B" || lab_fail "B did not predict from A's MAPPED"
[ "$(lab_status A attempt)" = 1 ] || lab_fail "A is on attempt $(lab_status A attempt), not 1"
lab_ping_both A B || lab_fail "ping failed after the tunnel came up"
lab_pass "seq:3 <-> seq:5, A's --port mapping toward the server ~450 ports stale: B predicted from A's MAPPED, first attempt connected"
