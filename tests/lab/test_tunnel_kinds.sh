#!/bin/bash
# test_tunnel_kinds: the tunnel comes up across real NATs, every time.
#
# cone <-> cone 20 times, each time with fresh NAT namespaces (clean
# conntrack state: the Linux conntrack clash is the hard part) and fresh
# peers, and a fresh server for every batch. The rounds run in batches of
# PAIRS pairs at once (A-B, C-D, ...: separate sites, separate sessions), so
# the test takes a fifth of the time it took one round after the other.
# Every round must come up within UP_TIMEOUT and ping both ways through its
# tunnel. (The other NAT kinds against cone, once each, are cells of
# test_matrix.)
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

CONE_ROUNDS=${CONE_ROUNDS:-20}
UP_TIMEOUT=${UP_TIMEOUT:-20}
PAIRS=${PAIRS:-4}
NAMES=(A B C D E F G H I J K L M N)
[ "$PAIRS" -ge 1 ] && [ "$PAIRS" -le $((${#NAMES[@]} / 2)) ] || { echo "PAIRS must be 1..$((${#NAMES[@]} / 2))"; exit 1; }

lab_init
lab_keys "${NAMES[@]:0:$((2 * PAIRS))}"
for ((p = 0; p < PAIRS; p++)); do
	lab_pair "${NAMES[2 * p]}" "${NAMES[2 * p + 1]}"
done
lab_server

# batch FIRST COUNT: rounds FIRST.. FIRST+COUNT-1 at once, one pair each.
batch() {
	local first=$1 count=$2 p a b t0 ms round
	local -a starts=()
	for ((p = 0; p < count; p++)); do
		lab_site "${NAMES[2 * p]}" cone
		lab_site "${NAMES[2 * p + 1]}" cone
	done
	lab_start_server
	for ((p = 0; p < count; p++)); do
		a=${NAMES[2 * p]} b=${NAMES[2 * p + 1]}
		starts[p]=$(lab_now_ms)
		lab_start_pair "$a" "$b" 10.10.0 --session "tk$((first + p))"
	done
	for ((p = 0; p < count; p++)); do
		a=${NAMES[2 * p]} b=${NAMES[2 * p + 1]} round="round $((first + p))/$CONE_ROUNDS ($a-$b)"
		# Each round's bound counts from its own start.
		t0=${starts[p]}
		ms=$(($(lab_now_ms) - t0))
		lab_wait_tunnel "$a" "$b" $((UP_TIMEOUT - ms / 1000)) ||
			lab_fail "$round cone <-> cone: tunnel not up within ${UP_TIMEOUT}s"
		ms=$(($(lab_now_ms) - t0))
		lab_ping_both "$a" "$b" || lab_fail "$round cone <-> cone: tunnel up but ping failed"
		echo "ok: $round cone <-> cone up in ${ms} ms (daemon time_to_up_ms $(lab_status "$a" time_to_up_ms || echo '?')/$(lab_status "$b" time_to_up_ms || echo '?')), strategy $(lab_status "$a" strategy || echo '?')/$(lab_status "$b" strategy || echo '?')"
	done
	lab_stop server
	for ((p = 0; p < 2 * count; p++)); do
		lab_site_del "${NAMES[p]}"
	done
}

for ((i = 1; i <= CONE_ROUNDS; i += PAIRS)); do
	n=$PAIRS
	[ $((i + n - 1)) -le "$CONE_ROUNDS" ] || n=$((CONE_ROUNDS - i + 1))
	batch "$i" "$n"
done

lab_pass "cone<->cone $CONE_ROUNDS/$CONE_ROUNDS (fresh NATs each, $PAIRS pairs at a time)"
