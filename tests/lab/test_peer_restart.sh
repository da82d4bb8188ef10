#!/bin/bash
# test_peer_restart: peer B dies and comes back; the tunnel is back (ping both
# ways, B logs "tunnel up") within 30 s, without restarting A or the server.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_two_sites
lab_two_peers_up
lab_stop B
lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1
t0=$(lab_now_ms)
lab_wait_tunnel A B 30 || lab_fail "tunnel not back within 30 s of restarting B"
echo "ok: back $(($(lab_now_ms) - t0)) ms after B restarted"
lab_ping_both A B || lab_fail "ping failed after B's restart"
lab_assert_alive server A
lab_pass "the tunnel recovers from a peer restart"
