#!/bin/bash
# test_ipv6_fallback: dual-stack peers fall back to IPv4 when IPv6 does not
# get them together (the lab's IPv6 internet as in test_ipv6):
#   G <-> H  dual-stack <-> IPv4-only: H never registers over IPv6; G's
#            IPv4 registration leg learns H is there and G moves to IPv4
#   I <-> J  dual-stack <-> dual-stack, but J's firewall lets no IPv6 UDP
#            out except to the server: the IPv6 punch fails, both move to
#            IPv4 and connect there
# For the first 1.6 s the router drops IPv6 UDP toward the server (from
# I's site for 3 s), so every peer's IPv6 NAT discovery goes unanswered and
# its IPv6 registration starts late, I's later than J's: the IPv4 leg's
# news that the peer is there must not move I or J before their IPv6
# registrations had SWITCH_AFTER_S to pair, nor J while I's IPv4
# registration is a leg too (PEER_LEG: I is coming over IPv6). They used to
# move on "registered there only", racing each other.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_pair G H
lab_pair I J
lab_keys G H I J
lab_server
lab_ipv6_server
for n in G H I J; do
	lab_site "$n" cone
done
lab_ipv6_site G dual
# H stays IPv4-only.
lab_ipv6_site I dual
lab_ipv6_site J dual
lab_exec nat-J nft add rule ip6 nplab6 forward oifname wan meta l4proto udp ip6 daddr != "$SERVER_IP6" drop

lab_start_server
lab_exec router ip6tables -w -I FORWARD -p udp -d "$SERVER_IP6" -j DROP
lab_exec router ip6tables -w -I FORWARD -p udp -s "$(lab_get IP6 I)" -d "$SERVER_IP6" -j DROP
(
	sleep 1.6
	lab_exec router ip6tables -w -D FORWARD -p udp -d "$SERVER_IP6" -j DROP
	sleep 1.4
	lab_exec router ip6tables -w -D FORWARD -p udp -s "$(lab_get IP6 I)" -d "$SERVER_IP6" -j DROP
) &
lab_start_peer G "$LAB_PORT1" 10.23.0.1 10.23.0.2 --session sGH
lab_start_peer H "$LAB_PORT2" 10.23.0.2 10.23.0.1 --session sGH
lab_start_peer I "$LAB_PORT1" 10.24.0.1 10.24.0.2 --session sIJ
lab_start_peer J "$LAB_PORT2" 10.24.0.2 10.24.0.1 --session sIJ
for pr in "G H 20" "I J 45"; do
	# shellcheck disable=SC2086
	set -- $pr
	lab_wait_tunnel "$1" "$2" "$3" || lab_fail "$1 <-> $2: tunnel not up within $3 s"
	for n in "$1" "$2"; do
		u=$(lab_status "$n" underlay) ep=$(lab_status "$n" peer_endpoint)
		echo "$n: underlay $u, peer $ep"
		[ "$u" = IPv4 ] || lab_fail "$n: tunnel over $u, expected IPv4"
		[[ $ep == 198.51.100.* ]] || lab_fail "$n: peer endpoint $ep is not an IPv4 lab address"
	done
	lab_ping_both "$1" "$2" || lab_fail "$1 <-> $2: ping through the tunnel failed"
done
grep -q "moving to IPv4: the peer is registered there only" "$(lab_get LOG G)" || lab_fail "G did not say why it moved"
grep -q "moving to IPv4: the attempt failed" "$(lab_get LOG I)" || lab_fail "I did not say why it moved"
lab_pass "IPv6 fallback: dual<->v4-only and a blocked IPv6 punch both end up over IPv4"
