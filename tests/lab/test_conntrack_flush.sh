#!/bin/bash
# test_conntrack_flush: NAT A "reboots" (conntrack -F) under a live tunnel;
# the tunnel must carry pings both ways again within 30 s.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_keys A B
lab_server
lab_site A cone
lab_site B cone
lab_start_server
lab_start_pair A B 10.10.0
lab_wait_tunnel A B 30 || lab_fail "tunnel not up within 30 s"
lab_ping_both A B || lab_fail "tunnel up but ping failed before the flush"

lab_conntrack_flush A
t0=$(_lab_now_ms)
both_ways() { lab_ping A B && lab_ping B A; }
lab_wait 30 both_ways || lab_fail "no ping both ways within 30 s of flushing NAT A's conntrack table"
echo "ok: pings again $(($(_lab_now_ms) - t0)) ms after the flush"
lab_assert_alive server A B
lab_ping_both A B || lab_fail "ping failed after the recovery"
lab_pass "the tunnel survives a NAT conntrack flush"
