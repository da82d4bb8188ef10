#!/bin/bash
# test_peer_restart: a peer that restarts (a new process, the same static
# key) is back within BOUND_MS of starting, while the other side stays up and
# never waits for its dead timer (np_rejoin.h).
#
# cone/cone, default timers (keepalive 5 s, dead-after 15 s). Four restarts,
# one after the other, cover both endpoint cases for both roles (the key
# order makes one peer the Noise initiator; A and B take turns):
#   1. B, same --port: B's NAT keeps the mapping, same public endpoint;
#   2. A, from an ephemeral port to --port: a new public endpoint;
#   3. A, same --port again: the same endpoint;
#   4. B, from --port to an ephemeral port: a new public endpoint.
# Each: the restarted daemon starts, then pings both ways must pass within
# BOUND_MS; the survivor's tunnel never goes down (tunnel_downs stays 0), and
# its endpoint for the restarted peer is that peer's new public endpoint.
# Then the replay: the router captured every HANDSHAKE_INIT of the run; an
# internet host X sends them all again to each peer, forged from addresses
# the NATs let through but that are not the peer's: the server's port the
# peer registers with, and (to A) B's endpoint before its last restart.
# Neither peer's endpoint moves, no tunnel goes down, the responder drops
# the initiations as replayed (an old timestamp; the initiator drops them
# as not made for it), and the tunnel still pings both ways.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

BOUND_MS=5000
PA=45100
PB=45200
INJ=$NP_BUILD_DIR/tests/lab/np_labinject

lab_init
command -v tcpdump >/dev/null || lab_fail "tcpdump is missing (Debian: apt-get install tcpdump)"
[ -x "$INJ" ] || lab_fail "$INJ is missing (build the tests first)"
lab_two_sites
lab_host X
# Every HANDSHAKE_INIT ([2][0x20]...) that crosses the router, for the replay.
inits=$LAB_DIR/inits.pcap
cap_log=$LAB_DIR/logs/tcpdump-router.log
cap_pid=$(lab_bg router "$cap_log" tcpdump -Z root -U --immediate-mode -n -i any -w "$inits" "udp[8] = 2 and udp[9] = 0x20")
lab_wait 10 grep -q "listening on" "$cap_log" || lab_fail "tcpdump on the router did not start"
lab_start_server
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2
lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 --port "$PB"
lab_wait_tunnel A B 30 || lab_fail "tunnel not up within 30 s"

results=""
restart() { # NAME WHAT [natpunch args...]
	local n=$1 what=$2 other t0 ms ep_self ep_seen downs
	shift 2
	other=A
	[ "$n" = B ] || other=B
	downs=$(lab_status "$other" tunnel_downs)
	lab_stop "$n"
	if [ "$n" = A ]; then
		lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 "$@"
	else
		lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 "$@"
	fi
	t0=$(lab_now_ms)
	lab_wait 30 _restart_back "$n" "$other" || lab_fail "$what: tunnel not back within 30 s of restarting $n"
	ms=$(($(lab_now_ms) - t0))
	echo "$what: back $ms ms after $n restarted"
	results="$results $what=${ms}ms"
	[ "$ms" -le "$BOUND_MS" ] || lab_fail "$what: back after $ms ms, want <= $BOUND_MS ms"
	lab_check "$what: $other's tunnel stayed up" test "$(lab_status "$other" tunnel_downs)" = "$downs"
	ep_self=$(lab_status "$n" public_endpoint)
	ep_seen=$(lab_status "$other" peer_endpoint)
	lab_check "$what: $other's endpoint for $n is $n's public endpoint ($ep_seen = $ep_self)" test "$ep_seen" = "$ep_self"
}
_restart_back() { # RESTARTED OTHER
	lab_tunnel_is_up "$1" && lab_ping "$1" "$2" && lab_ping "$2" "$1"
}

restart B "B same port" --port "$PB"
restart A "A new port" --port "$PA"
restart A "A same port" --port "$PA"
old_b=$(lab_status A peer_endpoint)
restart B "B new port"
lab_ping_both A B || lab_fail "ping failed after the restarts"
echo "rejoins: A $(lab_status A rejoins), B $(lab_status B rejoins)"

# ---- the replay ---------------------------------------------------------------
sleep 0.5
lab_kill "$cap_pid"
n=$(tcpdump -r "$inits" -n 2>/dev/null | wc -l)
[ "$n" -ge 4 ] || lab_fail "captured only $n handshake initiations at the router"
ep_a=$(lab_status B peer_endpoint)
ep_b=$(lab_status A peer_endpoint)
downs_a=$(lab_status A tunnel_downs) downs_b=$(lab_status B tunnel_downs)
dropped() { echo $(($(lab_status "$1" dropped_replayed) + $(lab_status "$1" dropped_unauthenticated))); }
replayed() { echo $(($(lab_status A dropped_replayed) + $(lab_status B dropped_replayed))); }
drop_a=$(dropped A) drop_b=$(dropped B) rep0=$(replayed)
inject() { # FROM TO_ENDPOINT
	lab_exec X "$INJ" --spoof "$1" --count 2 replay "${2%:*}" "${2##*:}" "$inits" >/dev/null ||
		lab_fail "the replay from $1 to $2 failed"
}
inject "$old_b" "$ep_a"
inject "$SERVER_IP:$LAB_PORT1" "$ep_a"
inject "$SERVER_IP:$LAB_PORT2" "$ep_b"
sleep 1
echo "replayed $n initiations twice from each of 3 forged sources"
lab_check "A's endpoint for B did not move ($ep_b)" test "$(lab_status A peer_endpoint)" = "$ep_b"
lab_check "B's endpoint for A did not move ($ep_a)" test "$(lab_status B peer_endpoint)" = "$ep_a"
lab_check "no tunnel went down" test "$(lab_status A tunnel_downs):$(lab_status B tunnel_downs)" = "$downs_a:$downs_b"
lab_check "the replays were dropped (A $drop_a -> $(dropped A), B $drop_b -> $(dropped B))" \
	test "$(dropped A)" -gt "$drop_a" -a "$(dropped B)" -gt "$drop_b"
lab_check "the responder refused them as replayed ($rep0 -> $(replayed))" test "$(replayed)" -gt "$rep0"
lab_ping_both A B || lab_fail "ping failed after the replay"
lab_assert_alive server A B
lab_finish "a restarted peer is back within $BOUND_MS ms, the survivor stays up:$results; replayed initiations move nothing"
