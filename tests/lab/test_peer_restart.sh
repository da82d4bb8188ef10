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
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

BOUND_MS=5000
PA=45100
PB=45200

lab_init
lab_two_sites
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
restart B "B new port"
lab_ping_both A B || lab_fail "ping failed after the restarts"
echo "rejoins: A $(lab_status A rejoins), B $(lab_status B rejoins)"
lab_assert_alive server A B
lab_pass "a restarted peer is back within $BOUND_MS ms, the survivor stays up:$results"
