#!/bin/bash
# test_cgnat_hairpin: two peers behind one carrier CGNAT, each behind its own
# home NAT (lab_cgnat_home): they share the CGNAT's public address but not a
# LAN, so their LAN endpoints are out of reach. Three pairs at once:
#   A-B  the CGNAT hairpins: the pair comes up directly through the CGNAT's
#        public address (path direct, path_scope hairpin), each side's peer
#        endpoint is the other's mapping in its own port block, and the
#        CGNAT's conntrack shows the hairpinned flow;
#   C-D  the CGNAT does not hairpin, a TURN relay is configured: the pair
#        comes up relayed (the direct attempt gives up after 5 s), and the
#        reason names the missing hairpin; then the CGNAT starts to hairpin,
#        and the background punch moves the pair to the direct hairpin path
#        (25 to 32 s later: the first background attempt is 30 s after the
#        relay took over) without the tunnel going down;
#   E-F  the CGNAT does not hairpin, no relay: the attempt fails with that
#        reason in status, and the peers go on trying (a second attempt);
#   G-H  the CGNAT hairpins, and both home NATs use the same LAN subnet, H
#        even G's address (routers with factory settings): the LAN probes
#        reach the wrong LAN and go unanswered, the hairpin still works;
#   I-J  the CGNAT hairpins, J's home NAT is symmetric-random: the first
#        attempt (strategy hairpin: openers from I, probes from J's fresh
#        sockets) comes up direct.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
# C-D first: their relay, and the background attempt 30 s after it, run
# while the other sites are built.
lab_keys C D
lab_server
lab_site C double
lab_cgnat_home D C
lab_cgnat_hairpin C off
lab_start_turn
lab_start_server
# shellcheck disable=SC2046
lab_start_peer C "$LAB_PORT1" 10.41.0.1 10.41.0.2 --session sCD $(lab_turn_args C)
# shellcheck disable=SC2046
lab_start_peer D "$LAB_PORT2" 10.41.0.2 10.41.0.1 --session sCD $(lab_turn_args D)
lab_keys A B E F G H I J
lab_pair E F
lab_pair G H
lab_pair I J
lab_site A double
lab_cgnat_home B A
lab_cgnat_hairpin A on
lab_site E double
lab_cgnat_home F E # a CGNAT as lab_cgnat_home leaves it: no hairpin
lab_site G double
lab_cgnat_home H G cone same-lan
lab_cgnat_hairpin G on
[ "$(lab_get LAN_IP H)" = "$(lab_get LAN_IP G)" ] || lab_fail "lab: same-lan gave H $(lab_get LAN_IP H), not G's address"
lab_site I double
lab_cgnat_home J I symmetric-random
lab_cgnat_hairpin I on
lab_start_peer A "$LAB_PORT1" 10.40.0.1 10.40.0.2 --session sAB
lab_start_peer B "$LAB_PORT2" 10.40.0.2 10.40.0.1 --session sAB
lab_start_peer E "$LAB_PORT1" 10.42.0.1 10.42.0.2 --session sEF
lab_start_peer F "$LAB_PORT2" 10.42.0.2 10.42.0.1 --session sEF
lab_start_peer G "$LAB_PORT1" 10.43.0.1 10.43.0.2 --session sGH
lab_start_peer H "$LAB_PORT2" 10.43.0.2 10.43.0.1 --session sGH
lab_start_peer I "$LAB_PORT1" 10.44.0.1 10.44.0.2 --session sIJ
lab_start_peer J "$LAB_PORT2" 10.44.0.2 10.44.0.1 --session sIJ

# (b) no hairpin, with a relay: relayed.
lab_wait_tunnel C D 40 || lab_fail "C <-> D (no hairpin, relay): tunnel not up within 40 s"
for n in C D; do
	path=$(lab_status "$n" path) sc=$(lab_status "$n" path_scope) why=$(lab_status "$n" path_reason || true)
	ms=$(lab_status "$n" time_to_up_ms)
	echo "$n: path $path, path_scope $sc, up after $ms ms; reason: $why"
	lab_check "$n: path relayed" test "$path" = relayed
	lab_check "$n: path_scope relay" test "$sc" = relay
	# The attempt behind one public address gives up after 5 s, not 10.
	lab_check "$n: relayed within 9.5 s of its start ($ms ms)" test "$ms" -le 9500
done
lab_check "C or D: the path reason names the missing hairpin" \
	grep -q "no hairpin through NAT" <<<"$(lab_status C path_reason || true) $(lab_status D path_reason || true)"
lab_check "ping C <-> D both ways (relayed)" lab_ping_both C D
lab_cgnat_hairpin C on
t_on=$(lab_now_ms)

# (a) hairpinning CGNAT: direct, through the CGNAT's public address.
lab_wait_tunnel A B 20 || lab_fail "A <-> B (hairpinning CGNAT): tunnel not up within 20 s"
pub=$(lab_get PUB_IP A)
[ "$(lab_get PUB_IP B)" = "$pub" ] || lab_fail "lab: B's public address is not A's CGNAT's"
# Subscriber s of the CGNAT owns public ports (s+1)*4096 ..: A is s = 0, B s = 1.
block() { case $1 in A) echo 4096 ;; B) echo 8192 ;; esac; }
for n in A B; do
	other=B
	[ "$n" = A ] || other=A
	ep=$(lab_status "$n" peer_endpoint) path=$(lab_status "$n" path) sc=$(lab_status "$n" path_scope)
	echo "$n: peer $ep, path $path, path_scope $sc, strategy $(lab_status "$n" strategy), up after $(lab_status "$n" time_to_up_ms) ms (attempt $(lab_status "$n" attempt))"
	lab_check "$n: path direct (not relayed)" test "$path" = direct
	lab_check "$n: path_scope hairpin" test "$sc" = hairpin
	lab_check "$n: the peer endpoint is on the CGNAT's public address $pub" test "${ep%:*}" = "$pub"
	port=${ep##*:} lo=$(block "$other")
	lab_check "$n: the peer endpoint's port $port is in $other's block $lo..$((lo + 4095))" \
		test "$port" -ge "$lo" -a "$port" -le $((lo + 4095))
done
# The CGNAT carried it: a UDP flow from one home NAT to the public address
# whose reply comes from the other home NAT, translated to the public address.
ca=$(lab_get CGN_IP A) cb=$(lab_get CGN_IP B)
ct=$(lab_exec nat-A conntrack -L -p udp -d "$pub" 2>/dev/null || true)
hp=$(grep -E "^udp .* src=($ca|$cb) dst=$pub .* src=($ca|$cb) dst=$pub " <<<"$ct" || true)
echo "nat-A: hairpinned flows between $ca and $cb:"
echo "${hp:-  (none)}"
lab_check "nat-A holds a hairpinned flow between the two home NATs" \
	grep -qE "src=$ca dst=$pub .* src=$cb dst=$pub |src=$cb dst=$pub .* src=$ca dst=$pub " <<<"$hp"
lab_check "ping A <-> B both ways" lab_ping_both A B

# (a') the same, with both home LANs on 192.168.x.0/24 and the same address.
lab_wait_tunnel G H 20 || lab_fail "G <-> H (hairpinning CGNAT, one LAN subnet): tunnel not up within 20 s"
for n in G H; do
	ep=$(lab_status "$n" peer_endpoint) sc=$(lab_status "$n" path_scope)
	echo "$n ($(lab_get LAN_IP "$n")): peer $ep, path $(lab_status "$n" path), path_scope $sc, up after $(lab_status "$n" time_to_up_ms) ms"
	lab_check "$n: path_scope hairpin (same LAN subnet on both homes)" test "$sc" = hairpin
	lab_check "$n: the peer endpoint is on the public address" test "${ep%:*}" = "$(lab_get PUB_IP G)"
done
lab_check "ping G <-> H both ways" lab_ping_both G H

# (a'') a random home NAT behind the hairpinning CGNAT: strategy hairpin.
lab_wait_tunnel I J 30 || lab_fail "I <-> J (hairpinning CGNAT, J's home NAT random): tunnel not up within 30 s"
for n in I J; do
	st=$(lab_status "$n" strategy) sc=$(lab_status "$n" path_scope)
	echo "$n: peer $(lab_status "$n" peer_endpoint), path $(lab_status "$n" path), path_scope $sc, strategy $st, attempt $(lab_status "$n" attempt), nat $(lab_status "$n" nat_self)"
	lab_check "$n: path_scope hairpin (a random home NAT)" test "$sc" = hairpin
	lab_check "$n: strategy hairpin" test "$st" = hairpin
	lab_check "$n: on the first attempt" test "$(lab_status "$n" attempt)" = 1
done
lab_check "ping I <-> J both ways" lab_ping_both I J

# (c) no hairpin, no relay: a clear failure, and still trying.
failed() { # NAME: status reports the failure, and the tunnel is not up
	local f
	f=$(lab_status "$1" last_failure 2>/dev/null) || return 1
	[[ $f == *"no hairpin through NAT"* ]]
}
lab_wait 25 failed E || lab_fail "E: no 'no hairpin through NAT' failure in status within 25 s"
echo "E: state $(lab_status E state), last_failure: $(lab_status E last_failure)"
lab_check "E: the tunnel is not up" test "$(lab_status E state)" != UP
lab_check "F: the tunnel was never up" test "$(lab_status F tunnel_ups)" = 0
retrying() { [ "$(lab_status E attempts 2>/dev/null || echo 0)" -ge 2 ]; }
lab_check "E: a second attempt started (it keeps trying)" lab_wait 10 retrying
lab_check "E: 'no relay configured' in its log" grep -q "no relay configured" "$(lab_get LOG E)"

# (b') C's CGNAT hairpins now: C-D leaves the relay for the hairpin.
moved() { # NAME: direct over the hairpin
	local v
	v=$(lab_status "$1" path_scope 2>/dev/null) && [ "$v" = hairpin ]
}
both_moved() { moved C && moved D; }
if lab_wait 45 both_moved; then
	echo "C-D: direct over the hairpin $(($(lab_now_ms) - t_on)) ms after the CGNAT started to hairpin"
	lab_check "C-D moved to the hairpin" true
else
	lab_check "C-D moved to the hairpin within 45 s of the CGNAT hairpinning" false
fi
for n in C D; do
	echo "$n: path $(lab_status "$n" path), path_scope $(lab_status "$n" path_scope), switches $(lab_status "$n" path_switches), downs $(lab_status "$n" tunnel_downs)"
	lab_check "$n: the tunnel never went down" test "$(lab_status "$n" tunnel_downs)" = 0
done
lab_check "ping C <-> D both ways (direct)" lab_ping_both C D
lab_assert_alive A B C D E F G H I J
lab_finish "one CGNAT: direct through a hairpinning CGNAT, relayed through TURN where it does not hairpin (and direct once it does), a clear failure without a relay"
