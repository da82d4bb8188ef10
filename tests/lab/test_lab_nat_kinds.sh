#!/bin/bash
# test_lab_nat_kinds: the lab's NATs behave as their kind says.
#
# Every kind gets its own site in one lab; np_labudp in each peer sends from
# ONE local port (4000) to four echo ports on the server, and the echoes say
# which public endpoint the server saw:
#   none              the peer's own address, port kept
#   cone              the NAT's address, port kept, the same for every destination
#   cone-altered      the same public port for every destination, but not 4000
#   symmetric-seq:7   consecutive mappings exactly 7 apart
#   symmetric-random  four distinct, unrelated ports
#   double            the CGNAT's public address
# It also checks the routed hop (a TTL of NAT depth + 1 dies at the router,
# one more reaches the server), that the NAT filters unsolicited packets, and
# the conntrack knobs (udp timeout, flush).
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
[ -x "$LAB_UDP" ] || lab_fail "$LAB_UDP is missing (build the tests first)"

lab_server
lab_site A cone
lab_site B cone-altered
lab_site C symmetric-seq:7
lab_site D symmetric-random
lab_site E double
lab_site F none
lab_host X

ECHO_PORTS="3478 3479 3480 3481"
for p in $ECHO_PORTS; do
	lab_bg srv "$LAB_DIR/logs/echo-$p.log" "$LAB_UDP" echo --max-seconds 60 --bind "$SERVER_IP" "$p" >/dev/null
done
echo_ready() {
	local s
	s=$(lab_exec srv ss -Hnlu)
	for p in $ECHO_PORTS; do grep -q ":$p\b" <<<"$s" || return 1; done
}
lab_wait 5 echo_ready || lab_fail "the echo servers did not start"

# observed NAME [send options]: the endpoints the server saw, one per echo port.
observed() {
	local name=$1 dsts=() p
	shift
	for p in $ECHO_PORTS; do dsts+=("$SERVER_IP" "$p"); done
	lab_exec "$name" "$LAB_UDP" send --sport 4000 --wait-ms 500 "$@" "${dsts[@]}" || true
}

expect_eq() { # WHAT GOT WANT
	[ "$2" = "$3" ] || lab_fail "$1: got '$2', want '$3'"
	echo "ok: $1 = $3"
}

check_independent() { # NAME WANT_IP WANT_PORT|any|not:PORT
	local name=$1 ip=$2 want=$3 out n uniq port
	out=$(observed "$name")
	n=$(wc -l <<<"$out")
	[ -n "$out" ] && [ "$n" = 4 ] || lab_fail "$name ($(lab_get KIND "$name")): $n of 4 echoes: '$out'"
	uniq=$(sort -u <<<"$out")
	[ "$(wc -l <<<"$uniq")" = 1 ] || lab_fail "$name ($(lab_get KIND "$name")): mapping depends on the destination: $(echo $out)"
	expect_eq "$name ($(lab_get KIND "$name")) public address" "${uniq%:*}" "$ip"
	port=${uniq##*:}
	case $want in
	not:*) [ "$port" != "${want#not:}" ] || lab_fail "$name: port $port was kept, want it rewritten"
		echo "ok: $name public port $port (rewritten, same for all destinations)" ;;
	*) expect_eq "$name public port" "$port" "$want" ;;
	esac
}

# none: own address, own port.
check_independent F "$LAB_LAN_IP_F" 4000
# cone: public address, port kept, endpoint-independent.
check_independent A "$LAB_PUB_IP_A" 4000
# cone-altered: rewritten, still endpoint-independent, and deterministic.
check_independent B "$LAB_PUB_IP_B" "not:4000"
expect_eq "cone-altered port" "$(observed B | sort -u | sed 's/.*://')" "$((4000 ^ LAB_ALTER_XOR))"
# double: the CGNAT's public address (home NAT and CGNAT both keep the port).
check_independent E "$LAB_PUB_IP_E" 4000
[ "${LAB_PUB_IP_E%.*}" = 198.51.100 ] || lab_fail "double: public address $LAB_PUB_IP_E is not TEST-NET"

# symmetric-seq:7: a new mapping per destination, each 7 above the last.
out=$(observed C)
mapfile -t ports < <(sed 's/.*://' <<<"$out")
[ ${#ports[@]} = 4 ] || lab_fail "C (symmetric-seq:7): ${#ports[@]} of 4 echoes: '$out'"
for i in 1 2 3; do
	[ $((ports[i] - ports[i - 1])) = 7 ] || lab_fail "C (symmetric-seq:7): ports ${ports[*]} are not 7 apart"
done
[ "$(sed 's/:.*//' <<<"$out" | sort -u)" = "$LAB_PUB_IP_C" ] || lab_fail "C: wrong public address in '$out'"
echo "ok: C (symmetric-seq:7) ports ${ports[*]}"

# symmetric-random: distinct per destination, and not an arithmetic sequence.
out=$(observed D)
mapfile -t ports < <(sed 's/.*://' <<<"$out")
[ ${#ports[@]} = 4 ] || lab_fail "D (symmetric-random): ${#ports[@]} of 4 echoes: '$out'"
[ "$(printf '%s\n' "${ports[@]}" | sort -u | wc -l)" = 4 ] || lab_fail "D (symmetric-random): repeated ports ${ports[*]}"
d1=$((ports[1] - ports[0])) d2=$((ports[2] - ports[1])) d3=$((ports[3] - ports[2]))
if [ "$d1" = "$d2" ] && [ "$d2" = "$d3" ]; then lab_fail "D (symmetric-random): ports ${ports[*]} are sequential"; fi
echo "ok: D (symmetric-random) ports ${ports[*]}"

# The routed hop: TTL = depth + 1 dies at the router, depth + 2 reaches the server.
for n in A E F; do
	depth=$(lab_get NAT_DEPTH "$n")
	if [ "$depth" -gt 0 ]; then
		if lab_exec "$n" "$LAB_UDP" send --ttl $((depth + 1)) --wait-ms 300 "$SERVER_IP" 3478 >/dev/null; then
			lab_fail "$n (depth $depth): a TTL $((depth + 1)) datagram reached the server: no routed hop?"
		fi
	fi
	lab_exec "$n" "$LAB_UDP" send --ttl $((depth + 2)) --wait-ms 500 "$SERVER_IP" 3478 >/dev/null ||
		lab_fail "$n (depth $depth): a TTL $((depth + 2)) datagram did not reach the server"
	if [ "$depth" -gt 0 ]; then
		echo "ok: $n NAT depth $depth: TTL $((depth + 1)) stops at the router, TTL $((depth + 2)) passes"
	else
		echo "ok: $n NAT depth 0: TTL 2 reaches the server"
	fi
done

# ICMP passes every NAT.
for n in A B C D E F X; do
	lab_exec "$n" ping -n -q -c 1 -W 1 "$SERVER_IP" >/dev/null || lab_fail "$n cannot ping the server"
done
echo "ok: every host pings the server"

# Filtering: while A's socket 4001 holds a mapping towards the server, the
# server's answer passes NAT A but a datagram from an internet host does not.
a_log=$LAB_DIR/logs/filter-A.log
a_pid=$(lab_bg A "$a_log" "$LAB_UDP" send --sport 4001 --wait-ms 1000 --linger-ms 1500 "$SERVER_IP" 3478)
lab_wait 3 grep -q "$LAB_PUB_IP_A:4001" "$a_log" || lab_fail "cone: no echo reached A's socket 4001"
lab_exec X "$LAB_UDP" send --data intruder --count 3 --wait-ms 100 "$LAB_PUB_IP_A" 4001 >/dev/null || true
lab_wait 5 lab_ended "$a_pid" || lab_fail "np_labudp in A did not finish"
if grep -q intruder "$a_log"; then lab_fail "cone: an unsolicited datagram from the internet passed NAT A"; fi
echo "ok: cone admits the server's answers and filters unsolicited inbound datagrams"

# Knobs: the UDP timeout lands in every NAT namespace of the site; flush empties.
lab_udp_timeout E 7
for ns in nat-E home-E; do
	expect_eq "$ns udp timeout" "$(lab_exec "$ns" sysctl -n net.netfilter.nf_conntrack_udp_timeout)" 7
	expect_eq "$ns udp stream timeout" "$(lab_exec "$ns" sysctl -n net.netfilter.nf_conntrack_udp_timeout_stream)" 7
done
[ -n "$(lab_exec nat-A conntrack -L -p udp 2>/dev/null)" ] || lab_fail "nat-A: no UDP conntrack entries before the flush"
lab_conntrack_flush A
[ -z "$(lab_exec nat-A conntrack -L -p udp 2>/dev/null)" ] || lab_fail "nat-A: conntrack entries survived the flush"
echo "ok: lab_udp_timeout and lab_conntrack_flush"

lab_pass "every NAT kind behaves as documented"
