#!/bin/bash
# test_server_stop: once the tunnel is up it needs no server. Kill the
# server; 20 s later the tunnel still pings both ways.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_two_sites
lab_two_peers_up
lab_stop server
echo "server stopped; waiting 20 s"
sleep 20
lab_assert_alive A B
lab_ping_both A B || lab_fail "the tunnel stopped working 20 s after the server died"
lab_pass "the tunnel outlives the server"
