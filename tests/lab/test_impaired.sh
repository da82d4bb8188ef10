#!/bin/bash
# test_impaired: cells of the traversal matrix on an impaired lab internet
# (np_impair via lab_impair_site: per-site one-way delay, jitter and loss).
#   symmetric: every site 50 ms one way, +-10 ms jitter, 5 % loss each way
#              (so 100 ms +-20 one way between the peers, ~10 % loss per
#              round trip)
#   asym:      A 5 ms from the internet core (and the server), B 150 ms,
#              both +-5 ms jitter and 2 % loss
# Each cell: fresh NATs, tunnel up and a ping each way within 25 s of
# starting the daemons, that is within the first attempt or its retry with
# fresh facts (the 10 s attempt timeout plus one more attempt: under 5 %
# loss predict's first attempt between two sequential NATs failed in one CI
# run of several). cone x symmetric-random is spray, where the easy side
# (the handshake responder) used to wait 10 s for a hard side that had lost
# its one confirming ack (np_punch_confirm_start now keeps probing). The
# matrix benchmark measures the p95 target of 10 s over many runs; then
# pings each way through the impaired tunnel.
# The cell RESET_CELL (sym seq:2 x seq:1) then loses its NATs' state
# (conntrack -F on both) and must carry pings both ways again within 20 s
# (issue 12's target): between two sequential NATs on a lossy path the
# sides leave the tunnel seconds apart, and a side that punched the rounds
# of the other's old socket alone spent the ports its fresh round predicts
# (np_peer.c stale_hold_s()).
# NP_IMPAIR_CELLS="PROFILE:ROW:COL ..." overrides the cells.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

CELLS=${NP_IMPAIR_CELLS:-"sym:cone:cone sym:symmetric-seq:2:symmetric-seq:1 sym:cone:symmetric-random asym:double:symmetric-seq:4"}
BOUND=25
RESET_CELL=sym:symmetric-seq:2:symmetric-seq:1
RESET_BOUND=20
reset=""

lab_init
lab_keys A B
lab_server
lab_start_server

impair() { # PROFILE
	case $1 in
	sym)
		lab_impair_site A 50 10 5 300
		lab_impair_site B 50 10 5 300
		;;
	asym)
		lab_impair_site A 5 5 2 300
		lab_impair_site B 150 5 2 300
		;;
	*) lab_fail "unknown impairment profile '$1'" ;;
	esac
}

ready() { lab_tunnel_is_up A && lab_tunnel_is_up B && lab_ping A B && lab_ping B A; }
both_ways() { lab_ping A B && lab_ping B A; }
n=0
for cell in $CELLS; do
	prof=${cell%%:*}
	rest=${cell#*:}
	# ROW:COL where a kind may itself contain a colon (symmetric-seq:4)
	if [[ $rest =~ ^(symmetric-seq:[0-9]+|[a-z-]+):(.+)$ ]]; then
		row=${BASH_REMATCH[1]} col=${BASH_REMATCH[2]}
	else
		lab_fail "bad cell '$cell' (PROFILE:ROW:COL)"
	fi
	n=$((n + 1))
	lab_stop A 2
	lab_stop B 2
	unset LAB_PID_A LAB_PID_B
	lab_site_del A
	lab_site_del B
	lab_site A "$row"
	lab_site B "$col"
	impair "$prof"
	t0=$(lab_now_ms)
	lab_start_pair A B 10.10.0 --session "imp$n"
	lab_wait "$BOUND" ready || lab_fail "cell $prof $row x $col: no tunnel with ping both ways within $BOUND s"
	wall=$(($(lab_now_ms) - t0))
	out=$(lab_exec A ping -n -q -c 10 -i 0.2 -W 2 "$LAB_TUN_IP_B" 2>&1 | grep -E 'received|rtt' | tr '\n' ' ') ||
		lab_fail "cell $prof $row x $col: no ping through the impaired tunnel"
	printf 'cell %-5s %-16s x %-16s strategy=%-7s time_ms=%-5s wall_ms=%-5s ping: %s\n' "$prof" "$row" "$col" \
		"$(lab_status A strategy || echo '?')" "$(lab_status A time_to_up_ms || echo '?')" "$wall" "$out"
	[ "$cell" = "$RESET_CELL" ] || continue
	lab_conntrack_flush A
	lab_conntrack_flush B
	t0=$(lab_now_ms)
	lab_wait "$RESET_BOUND" both_ways ||
		lab_fail "cell $prof $row x $col: no ping both ways within $RESET_BOUND s of flushing both NATs"
	echo "cell $prof $row x $col: conntrack -F on both NATs: pings both ways again after $(($(lab_now_ms) - t0)) ms"
	reset=", and back within $RESET_BOUND s of a reset of both NATs ($RESET_CELL)"
done
lab_assert_alive server A B
lab_pass "$n impaired matrix cells connect within $BOUND s${reset:-}"
