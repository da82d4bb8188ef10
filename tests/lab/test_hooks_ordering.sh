#!/bin/bash
# test_hooks_ordering: on_up/on_down pairing across a forced re-handshake.
# Both peers run the shipped examples/hooks/log-events.lua (one line per
# event, into NATPUNCH_EVENT_LOG). NAT A "reboots" (conntrack -F) while its
# UDP is blackholed for longer than --dead-after, so both daemons declare the
# tunnel dead and handshake again; then both daemons are stopped (SIGTERM).
# Each peer's up/down events must read exactly: up, down, up, down(shutdown).
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

DEAD=3
lab_init
lab_keys A B
lab_server
lab_site A cone
lab_site B cone
lab_start_server
hook=$NP_SOURCE_DIR/examples/hooks/log-events.lua
args=(--keepalive 1 --dead-after "$DEAD" --hook "$hook")
NATPUNCH_EVENT_LOG=$LAB_DIR/events.A lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 "${args[@]}"
NATPUNCH_EVENT_LOG=$LAB_DIR/events.B lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 "${args[@]}"
lab_wait_tunnel A B 30 || lab_fail "tunnel not up within 30 s"

# up/down lines of an event log, as "EVENT REASON"
updown() {
	[ -f "$LAB_DIR/events.$1" ] || return 0
	sed -n -E 's/^[^ ]+ event=(up|down) .*reason=(.*) remote_ip=.*$/\1 \2/p' "$LAB_DIR/events.$1"
}
count() { updown "$1" | grep -c "^$2" || true; }
both_logged_up() { [ "$(count A up)" -ge 1 ] && [ "$(count B up)" -ge 1 ]; }
lab_wait 10 both_logged_up || lab_fail "on_up did not log within 10 s of 'tunnel up' (A: $(count A up), B: $(count B up))"

# Blackhole A's UDP in its NAT for DEAD+2 s, flush the NAT's conntrack table.
natns=$(lab_nat_ns A)
ip netns exec "$natns" nft -f - <<<'table ip nphk { chain blackhole { type filter hook forward priority -10; policy accept; meta l4proto udp drop; }; }' ||
	lab_fail "cannot add the UDP blackhole to NAT A"
lab_conntrack_flush A
downs_logged() { [ "$(count A down)" -ge 1 ] && [ "$(count B down)" -ge 1 ]; }
lab_wait $((DEAD + 10)) downs_logged ||
	lab_fail "no on_down within $((DEAD + 10)) s of blackholing NAT A (A: $(count A down), B: $(count B down))"
# Flush first, then lift the blackhole: a packet the blackhole drops leaves
# no conntrack entry, and a flush after the lift could break a tunnel that
# came back in between (seen: up 17 ms before the flush, ping lost after).
lab_conntrack_flush A
ip netns exec "$natns" nft delete table ip nphk || lab_fail "cannot remove the UDP blackhole from NAT A"
ups_logged() { [ "$(count A up)" -ge 2 ] && [ "$(count B up)" -ge 2 ]; }
lab_wait 40 ups_logged || lab_fail "tunnel did not come back (second on_up) within 40 s (A: $(count A up), B: $(count B up))"
lab_ping_both A B || lab_fail "ping failed after the re-handshake"

lab_stop A 10
lab_stop B 10
for n in A B; do
	st=$(lab_exit_status "$(lab_get PID "$n")" 5) || true
	[ "$st" = 0 ] || lab_fail "daemon $n exited with status $st after SIGTERM"
done
for n in A B; do
	echo "--- $n: events"
	cat "$LAB_DIR/events.$n"
	got=$(updown "$n" | cut -d' ' -f1 | tr '\n' ' ')
	[ "$got" = "up down up down " ] || lab_fail "$n: up/down events are '$got', want 'up down up down'"
	first=$(updown "$n" | sed -n 2p)
	# Silence ends the tunnel, or (first) the news that the peer registered
	# again: A, its UDP unanswered, may register over TCP meanwhile.
	[[ $first == "down no packet from the peer for $DEAD s"* || $first == "down the peer registered again"* ]] ||
		lab_fail "$n: first down reason is '${first#down }', want 'no packet from the peer for $DEAD s' or 'the peer registered again'"
	last=$(updown "$n" | tail -n 1)
	[ "$last" = "down shutdown" ] || lab_fail "$n: last event is '$last', want 'down shutdown'"
	updown "$n" | awk '$1 == "up"' | grep -qv "^up handshake complete$" &&
		lab_fail "$n: an up with a reason other than 'handshake complete'"
done
lab_pass "up, down, up, down(shutdown) on both peers across a forced re-handshake"
