#!/bin/bash
# test_conntrack_flush: NAT A "reboots" (conntrack -F) under a live tunnel;
# the tunnel must carry pings both ways again within 30 s.
# Phase 1: a plain flush (A usually speaks first and gets its old port back).
# Phase 2: the hard case. Flush again, but hold A's outgoing UDP at NAT A
# until B's packets have reached NAT A and left an unreplied inbound entry
# there (the conntrack clash: A's next mapping gets a random port).
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_two_sites
lab_two_peers_up
lab_ping_both A B || lab_fail "tunnel up but ping failed before the flush"

lab_conntrack_flush A
t0=$(lab_now_ms)
both_ways() { lab_ping A B && lab_ping B A; }
lab_wait 30 both_ways || lab_fail "no ping both ways within 30 s of flushing NAT A's conntrack table"
echo "ok: pings again $(($(lab_now_ms) - t0)) ms after the flush"
lab_assert_alive server A B
lab_ping_both A B || lab_fail "ping failed after the recovery"

# Phase 2: B speaks first after the reboot.
ep_b=$(lab_status A peer_endpoint) || lab_fail "A's status has no peer_endpoint"
lab_block_udp A
lab_conntrack_flush A
b_hit_first() { lab_exec nat-A conntrack -L -p udp -s "${ep_b%:*}" 2>/dev/null | grep -q UNREPLIED; }
lab_wait 20 b_hit_first || lab_fail "phase 2: no packet from B reached NAT A within 20 s of the flush"
lab_unblock_udp A
echo "phase 2: B's packet left an unreplied entry at NAT A: $(lab_exec nat-A conntrack -L -p udp -s "${ep_b%:*}" 2>/dev/null | head -n 1)"
t0=$(lab_now_ms)
lab_wait 30 both_ways || lab_fail "phase 2: no ping both ways within 30 s after B spoke first to rebooted NAT A"
echo "ok: phase 2 pings again $(($(lab_now_ms) - t0)) ms after A's UDP was released"
lab_assert_alive server A B
lab_ping_both A B || lab_fail "phase 2: ping failed after the recovery"
lab_pass "the tunnel survives a NAT conntrack flush, also when the peer speaks first"
