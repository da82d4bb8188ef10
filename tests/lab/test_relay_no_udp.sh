#!/bin/bash
# test_relay_no_udp: site B's NAT drops all UDP (issue 11 item 4). The
# server offers a relay over UDP first, then over TCP (phase 1) or TLS with
# a CA made by this run (phase 2, --turn-ca). B's REGISTERs over UDP go
# unanswered, so it registers over TCP on the server's same port, learns
# its peer and TURN credentials there, skips the UDP relay, and allocates
# over TCP / TLS; A (which has UDP) relays over UDP at once, because the
# server tells it that B registered over TCP. Both come up relayed; ping
# works; status says relayed and the transport. Over TCP, the server then
# stops and comes back: B goes back to UDP while it is away, registers over
# TCP again once it is back, and the tunnel keeps working; then UDP comes
# back, B's periodic UDP check is answered and it registers over UDP again
# (the relayed tunnel stays). Reports the time
# from the start to the tunnel being up, and the ping RTT through the relay.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_keys A B
lab_server
lab_site A cone
lab_site B cone
lab_block_udp B
lab_start_turn --tls

reconnected() {
	[ "$(grep -c "connected to the server .* over TCP" "$(lab_get LOG B)")" -ge 2 ] &&
		grep -q "session 'default' port $LAB_PORT2: peer .* registered" "$(lab_get LOG server)"
}

phase() { # TRANSPORT SECOND_URI
	local tr=$1 uri2=$2 n t0 up rtt
	lab_start_server --turn "turn:$TURN_IP" --turn "$uri2" --turn-secret "$LAB_TURN_SECRET_FILE"
	t0=$(lab_now_ms)
	lab_start_pair A B 10.10.0 --turn-ca "$LAB_TURN_CA"
	lab_wait_tunnel A B 30 || lab_fail "$tr: A-B not up within 30 s with B behind a UDP-less NAT"
	up=$(($(lab_now_ms) - t0))
	for n in A B; do
		[ "$(lab_status "$n" path)" = relayed ] || lab_fail "$tr: $n is not relayed"
	done
	[ "$(lab_status B relay_transport)" = "$tr" ] || lab_fail "$tr: B's relay transport is $(lab_status B relay_transport)"
	[ "$(lab_status A relay_transport)" = udp ] || lab_fail "$tr: A should relay over UDP"
	[ "$(lab_status B server_transport)" = tcp ] || lab_fail "$tr: B's status does not say it registers over TCP"
	[ "$(lab_status A server_transport)" = udp ] || lab_fail "$tr: A's status should say UDP"
	grep -q "registering over TCP" "$(lab_get LOG B)" || lab_fail "$tr: B does not say it registers over TCP"
	grep -q "connected to the server .* over TCP" "$(lab_get LOG B)" || lab_fail "$tr: B never connected over TCP"
	grep -q "path: relayed .*the peer has no UDP" "$(lab_get LOG A)" ||
		lab_fail "$tr: A did not go to the relay because B has no UDP"
	if grep -q "chose .* (attempt [0-9]" "$(lab_get LOG A)"; then
		lab_fail "$tr: A tried a direct path to a peer without UDP"
	fi
	lab_ping_both A B || lab_fail "$tr: ping through the relay"
	rtt=$(ip netns exec "$(lab_ns A)" ping -n -q -c 5 -i 0.2 -W 1 10.10.0.2 | awk -F/ '/^rtt/ { print $5 }')
	echo "$tr: tunnel up $up ms after start (B without UDP), ping RTT $rtt ms through the relay"
	if [ "$tr" = tcp ]; then
		# The server goes away and comes back: B notices over TCP, tries
		# UDP again, and registers over TCP again once the server is back;
		# the relayed tunnel runs on meanwhile.
		lab_stop server
		lab_wait 30 grep -q "answers over TCP no more than over UDP" "$(lab_get LOG B)" ||
			lab_fail "B did not notice the server is gone"
		lab_start_server --turn "turn:$TURN_IP" --turn "$uri2" --turn-secret "$LAB_TURN_SECRET_FILE"
		lab_wait 40 reconnected || lab_fail "B did not register over TCP again after the server came back"
		lab_ping_both A B || lab_fail "ping after the server came back"
		# UDP comes back: B's periodic NAT_PROBE over UDP is answered, and
		# it registers over UDP again; the relayed tunnel stays.
		lab_unblock_udp B
		lab_wait 40 grep -q "answers over UDP again" "$(lab_get LOG B)" ||
			lab_fail "B did not notice that UDP works again"
		[ "$(lab_status B server_transport)" = udp ] || lab_fail "B's status still says $(lab_status B server_transport)"
		lab_ping_both A B || lab_fail "ping after B moved back to UDP"
		lab_stop A
		lab_stop B
		lab_block_udp B
	fi
	lab_stop A
	lab_stop B
	lab_stop server
}

phase tcp "turn:$TURN_IP?transport=tcp"
phase tls "turns:$TURN_IP"
lab_pass "a site without UDP registers over TCP and comes up relayed over TCP and over TLS"
