#!/bin/bash
# test_nat_renumber: NATs that move under a live tunnel.
#   phase 1: A's NAT (cone) renumbers its public address (lab_renumber), B is
#            on the internet itself. A's next packet arrives from the new
#            address; B must follow it (authenticated roaming, same keys):
#            pings both ways within 5 s, no new registration on either side.
#   phase 2: B moves behind a cone NAT (lab_site_move: B's address and
#            route change, the process stays). Neither side's packets reach
#            the other's NAT any more. The tunnel carries pings, so A
#            suspects the path 2 s after its first unanswered one (the fast
#            silence rule, np_silence.h) and asks the server; B's next
#            refresh (every 4 s) shows the server where B is now, and the
#            new round re-pairs them. Back within one dead timer; asserted
#            13 s (measured 2.5-3.8 s; 7.4 s when only the slow rule,
#            keepalive 5 s + 2 s of silence, noticed it).
#   phase 3: A's NAT renumbers again, both now behind filtering NATs: A
#            suspects the path after 2 s (or its 4 s refresh comes first,
#            with its data unanswered for 1 s), the server's answer shows
#            A its new address, and both register afresh at once
#            (A: our address changed; B: the peer's data stopped and the
#            server names it elsewhere): back in under 5 s (measured
#            2.6-3.9 s; 7.3-8.3 s with the slow rule). B re-discovered its
#            NAT after phase 2, so its punch sends openers again.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_two_sites cone none
lab_two_peers_up
lab_ping_both A B || lab_fail "tunnel up but ping failed"
both_ways() { lab_ping A B && lab_ping B A; }
regs() { grep -c "registering with" "$(lab_get LOG "$1")" || true; }
# The fast rule acted: A suspected the path (data unanswered for 2 s), or
# its refresh's answer named it elsewhere while its data went unanswered.
fast() { grep -cE "data sent for .* and no packet from the peer|the server sees us at .* now" "$(lab_get LOG "$1")" || true; }

# Phase 1
ra=$(regs A) rb=$(regs B)
old=$(lab_get PUB_IP A)
lab_renumber A
t0=$(lab_now_ms)
lab_wait 5 both_ways || lab_fail "phase 1: no ping both ways within 5 s of NAT A renumbering ($old -> $(lab_get PUB_IP A))"
echo "ok: phase 1: NAT A renumbered $old -> $(lab_get PUB_IP A): pings both ways after $(($(lab_now_ms) - t0)) ms"
# (While lab_renumber swaps the NAT's rules a packet may leave un-NATed and
# B follow it for a moment: only the move to the new address counts.)
grep -q "peer moved from .* to $(lab_get PUB_IP A):" "$(lab_get LOG B)" || lab_fail "phase 1: B did not log the peer's move to $(lab_get PUB_IP A)"
[ "$(regs A)" = "$ra" ] && [ "$(regs B)" = "$rb" ] || lab_fail "phase 1: a new registration although roaming sufficed"

# Phase 2
lab_site_move B cone
t0=$(lab_now_ms)
lab_wait 13 both_ways || lab_fail "phase 2: no ping both ways within 13 s of B moving behind a cone NAT"
echo "ok: phase 2: B moved behind a cone NAT ($(lab_get PUB_IP B)): pings both ways after $(($(lab_now_ms) - t0)) ms"

# Phase 3
old=$(lab_get PUB_IP A) fa=$(fast A)
lab_renumber A
t0=$(lab_now_ms)
lab_wait 5 both_ways || lab_fail "phase 3: no ping both ways within 5 s of NAT A renumbering behind-NAT to behind-NAT"
dt=$(($(lab_now_ms) - t0))
[ "$dt" -lt 5000 ] || lab_fail "phase 3: pings both ways only after $dt ms (the last try began before 5 s)"
echo "ok: phase 3: NAT A renumbered $old -> $(lab_get PUB_IP A) (B behind a NAT): pings both ways after $dt ms"
[ "$(fast A)" -gt "$fa" ] || lab_fail "phase 3: A did not act on its unanswered data (the fast silence rule)"
lab_ping_both A B || lab_fail "ping failed after the last recovery"
lab_assert_alive server A B
lab_pass "the tunnel follows a renumbered NAT and a peer that moved"
