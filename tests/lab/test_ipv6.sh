#!/bin/bash
# test_ipv6: the IPv6 underlay. The lab internet also carries 2001:db8::/32;
# sites route IPv6 without NAT behind stateful firewalls (inbound only
# established). Three pairs at once, one server listening on both families:
#   A <-> B  dual-stack <-> dual-stack   up over IPv6 (preferred)
#   C <-> D  IPv6-only  <-> dual-stack   up over IPv6
#   E <-> F  IPv6-only  <-> IPv6-only    up over IPv6
# Status says which family each path uses. (Falling back to IPv4:
# test_ipv6_fallback.)
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_pair E F
lab_keys A B C D E F
lab_server
lab_ipv6_server
for n in A B C D E F; do
	lab_site "$n" cone
done
lab_ipv6_site A dual
lab_ipv6_site B dual
lab_ipv6_site C only
lab_ipv6_site D dual
lab_ipv6_site E only
lab_ipv6_site F only

# The firewall is stateful: nothing from outside reaches a peer unasked.
if lab_exec router ping -6 -n -q -c 1 -W 1 "$(lab_get IP6 B)" >/dev/null 2>&1; then
	lab_fail "an unsolicited ping from the internet crossed B's IPv6 firewall"
fi
# An IPv6-only site has no IPv4 internet.
if lab_exec C ping -n -q -c 1 -W 1 "$SERVER_IP" >/dev/null 2>&1; then
	lab_fail "the IPv6-only site C reaches the server over IPv4"
fi

lab_start_server
net=20
for pr in "A B" "C D" "E F"; do
	# shellcheck disable=SC2086
	set -- $pr
	lab_start_peer "$1" "$LAB_PORT1" "10.$net.0.1" "10.$net.0.2" --session "s$1$2"
	lab_start_peer "$2" "$LAB_PORT2" "10.$net.0.2" "10.$net.0.1" --session "s$1$2"
	net=$((net + 1))
done
for pr in "A B" "C D" "E F"; do
	# shellcheck disable=SC2086
	set -- $pr
	lab_wait_tunnel "$1" "$2" 30 || lab_fail "$1 <-> $2: tunnel not up within 30 s"
	for n in "$1" "$2"; do
		u=$(lab_status "$n" underlay) ep=$(lab_status "$n" peer_endpoint)
		echo "$n: underlay $u, peer $ep, server families $(lab_status "$n" server_families)"
		[ "$u" = IPv6 ] || lab_fail "$n: tunnel over $u, expected IPv6"
		[[ $ep == "[2001:db8:"* ]] || lab_fail "$n: peer endpoint $ep is not an IPv6 lab address"
	done
	lab_ping_both "$1" "$2" || lab_fail "$1 <-> $2: ping through the tunnel failed"
done
[ "$(lab_status C server_families)" = "IPv4+IPv6" ] || lab_fail "C does not know both server addresses"
lab_pass "IPv6 underlay: dual<->dual, v6-only<->dual and v6-only<->v6-only all over IPv6"
