#!/bin/bash
# test_matrix: the NAT traversal matrix of issue 4, with the default strategy
# (auto), in the lab.
#
#   A \ B            | none | cone | cone-altered | seq:1 | seq:4 | random
#   cone             | 5 s  | 5 s  | 5 s          | 10 s  | 10 s  | 30 s
#   symmetric-seq:2  | 30 s | 30 s | 30 s         | 20 s  | 20 s  | clean failure
#   symmetric-random | 30 s | 30 s | 30 s         | clean failure (x3)
#   double           | 30 s | 30 s | 30 s         | 30 s  | 30 s  | 30 s
#
# One server for the whole run; every cell gets fresh sites (lab_site_del, then
# lab_site: new NAT namespaces, so no conntrack state survives from one cell to
# the next) and its own --session name (so no registration of an earlier cell
# can pair with this one). Cells run three at a time (NP_MATRIX_PAIRS), on
# sites A-B, C-D and E-F, polled together: each cell's wall time counts from
# its own start.
# Every verdict reads `natpunch status --json` (lab_status), not the logs.
#   tunnel cell: both report state UP and a ping works each way within the
#     bound, measured from starting the daemons (the bound includes NAT
#     discovery), then 3 pings each way more.
#   clean failure: both report last_failure "no direct path possible ..."
#     within 10 s, neither ever had a tunnel up (tunnel_ups 0), both still run.
# Then --strategy=simple between cone and symmetric-random must fail cleanly:
# no tunnel within 15 s, both report strategy simple and a last_failure (the
# reason the attempt failed), both alive.
#
# Prints one line per cell and a table. NP_MATRIX_CELLS="ROW:COL ..." runs
# only those cells (for debugging; ROW and COL are kinds as above).
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

ROWS=(cone symmetric-seq:2 symmetric-random double)
COLS=(none cone cone-altered symmetric-seq:1 symmetric-seq:4 symmetric-random)

# bound ROW COL: seconds for a tunnel cell, "fail" for a clean-failure cell.
bound() {
	case "$1 $2" in
	"cone none" | "cone cone" | "cone cone-altered") echo 5 ;;
	"cone symmetric-seq:"*) echo 10 ;;
	"symmetric-seq:2 symmetric-seq:"*) echo 20 ;;
	"symmetric-seq:2 symmetric-random") echo fail ;;
	"symmetric-random symmetric-"*) echo fail ;;
	*) echo 30 ;; # the unbounded checkmarks, and the 30 s ones
	esac
}

# What auto should pick first (np_autoselect.c); a mismatch is only noted.
hardness() {
	case $1 in
	symmetric-seq:*) echo seq ;;
	symmetric-random) echo random ;;
	*) echo easy ;;
	esac
}
expected_strategy() {
	case "$(hardness "$1") $(hardness "$2")" in
	"easy easy") echo simple ;;
	"seq easy" | "easy seq" | "seq seq") echo predict ;;
	"random easy" | "easy random") echo spray ;;
	*) echo none ;;
	esac
}

lab_init
# Cells run PAIRS at a time, one pair of sites each (A-B, C-D, E-F), polled
# together, so each cell's time is its own (not the time the test took to
# get to it).
PAIRS=${NP_MATRIX_PAIRS:-3}
PNAMES=(A B C D E F)
[ "$PAIRS" -ge 1 ] && [ "$PAIRS" -le 3 ] || { echo "NP_MATRIX_PAIRS must be 1..3"; exit 1; }
lab_keys "${PNAMES[@]:0:$((2 * PAIRS))}"
lab_pair E F
lab_server
lab_start_server

NCELL=0
NFAIL=0
FAILED=()
declare -A RESULT

# fresh_sites A B KIND_A KIND_B: stop the daemons of A and B's last cell,
# give them fresh NATs of these kinds.
fresh_sites() {
	lab_stop "$1" 2
	lab_stop "$2" 2
	unset "LAB_PID_$1" "LAB_PID_$2"
	lab_site_del "$1"
	lab_site_del "$2"
	lab_site "$1" "$3"
	lab_site "$2" "$4"
}

DEAD=""
cell_ready() { # A B
	local n
	for n in "$1" "$2"; do
		if ! lab_alive "$(lab_get PID "$n")"; then
			DEAD=$n
			return 0
		fi
	done
	lab_tunnel_is_up "$1" && lab_tunnel_is_up "$2" && lab_ping "$1" "$2" && lab_ping "$2" "$1"
}

no_path() { [[ $(lab_status "$1" last_failure 2>/dev/null) == "no direct path possible"* ]]; }
both_no_path() { no_path "$1" && no_path "$2"; }

either_up() { lab_tunnel_was_up "$1" || lab_tunnel_was_up "$2"; }

cell_logs() { # A B
	local n
	for n in "$1" "$2"; do
		echo "----- $n ($(lab_get KIND "$n")): $(lab_get LOG "$n") (last 40 lines) -----"
		tail -n 40 "$(lab_get LOG "$n")" || true
	done
	echo "----- server (last 20 lines) -----"
	tail -n 20 "$LAB_LOG_server" || true
}

# cell_fail ROW COL WHAT [A B]
cell_fail() {
	NFAIL=$((NFAIL + 1))
	FAILED+=("$1 x $2: $3")
	echo "cell $1 x $2: FAIL: $3"
	cell_logs "${4:-A}" "${5:-B}"
}

max_time_ms() { # A B
	local a b
	a=$(lab_status "$1" time_to_up_ms || echo 0)
	b=$(lab_status "$2" time_to_up_ms || echo 0)
	[ "$a" -ge "$b" ] && echo "$a" || echo "$b"
}

# The cells of one batch, by slot p (pair PNAMES[2p], PNAMES[2p+1]).
declare -a C_ROW C_COL C_B C_T0 C_WALL C_STATE C_DEAD

prep_cell() { # P ROW COL: fresh sites of those kinds for slot P
	local p=$1 a=${PNAMES[2 * $1]} b=${PNAMES[2 * $1 + 1]}
	C_ROW[p]=$2 C_COL[p]=$3 C_B[p]=$(bound "$2" "$3") C_STATE[p]=wait C_DEAD[p]="" C_WALL[p]=""
	fresh_sites "$a" "$b" "$2" "$3"
}

start_cell() { # P: its daemons; its time counts from now
	local p=$1 a=${PNAMES[2 * $1]} b=${PNAMES[2 * $1 + 1]}
	NCELL=$((NCELL + 1))
	C_T0[p]=$(lab_now_ms)
	lab_start_pair "$a" "$b" 10.10.0 --session "mx$NCELL"
}

# One look at every waiting cell: ready (ok), a daemon gone (dead), or past
# its bound (late). 0 when no cell waits any more.
poll_cells() {
	local p a b now limit waiting=0
	for ((p = 0; p < NSLOT; p++)); do
		[ "${C_STATE[p]}" = wait ] || continue
		a=${PNAMES[2 * p]} b=${PNAMES[2 * p + 1]}
		if [ "${C_B[p]}" = fail ]; then
			limit=10
			if both_no_path "$a" "$b"; then
				C_STATE[p]=ok C_WALL[p]=$(($(lab_now_ms) - C_T0[p]))
				continue
			fi
		else
			limit=${C_B[p]}
			DEAD=""
			if cell_ready "$a" "$b"; then
				now=$(lab_now_ms)
				if [ -n "$DEAD" ]; then
					C_STATE[p]=dead C_DEAD[p]=$DEAD
				else
					C_STATE[p]=ok C_WALL[p]=$((now - C_T0[p]))
				fi
				continue
			fi
		fi
		now=$(lab_now_ms)
		if [ $((now - C_T0[p])) -gt $((limit * 1000)) ]; then
			C_STATE[p]=late
		else
			waiting=1
		fi
	done
	[ "$waiting" = 0 ]
}

finish_cell() { # P
	local p=$1 a=${PNAMES[2 * $1]} b=${PNAMES[2 * $1 + 1]} row=${C_ROW[$1]} col=${C_COL[$1]} bnd=${C_B[$1]}
	local wall=${C_WALL[$1]} want strat tms exp n st=""
	exp=$(expected_strategy "$row" "$col")
	if [ "$bnd" = fail ]; then
		want="clean failure in 10 s"
		if [ "${C_STATE[p]}" != ok ]; then
			cell_fail "$row" "$col" "no 'no direct path possible' as last_failure in both statuses within 10 s" "$a" "$b"
			RESULT[$row,$col]="FAIL"
			return 0
		fi
		sleep 0.5 # anything that would still come up in error would say so now
		if either_up "$a" "$b"; then
			cell_fail "$row" "$col" "a tunnel came up (status tunnel_ups) although no direct path is possible" "$a" "$b"
			RESULT[$row,$col]="FAIL"
			return 0
		fi
		if ! lab_alive "$(lab_get PID "$a")" || ! lab_alive "$(lab_get PID "$b")"; then
			cell_fail "$row" "$col" "a daemon exited after 'no direct path' ($a alive: $(lab_alive "$(lab_get PID "$a")" && echo yes || echo no), $b alive: $(lab_alive "$(lab_get PID "$b")" && echo yes || echo no))" "$a" "$b"
			RESULT[$row,$col]="FAIL"
			return 0
		fi
		printf 'cell %-16s x %-16s strategy=%-7s time_ms=%-5s wall_ms=%-5s result=ok (%s)\n' \
			"$row" "$col" none - "$wall" "$want"
		RESULT[$row,$col]="no path ${wall}ms"
		return 0
	fi
	want="tunnel + ping both ways in $bnd s"
	case ${C_STATE[p]} in
	dead)
		n=${C_DEAD[p]}
		cell_fail "$row" "$col" "daemon $n exited (status $(lab_exit_status "$(lab_get PID "$n")" 2 || true))" "$a" "$b"
		RESULT[$row,$col]="FAIL"
		return 0
		;;
	late)
		for n in "$a" "$b"; do lab_tunnel_is_up "$n" && st="$st $n:up" || st="$st $n:no-tunnel-up"; done
		cell_fail "$row" "$col" "no tunnel with ping both ways within $bnd s ($st)" "$a" "$b"
		RESULT[$row,$col]="FAIL"
		return 0
		;;
	esac
	strat=$(lab_status "$a" strategy || echo "?")
	tms=$(max_time_ms "$a" "$b")
	if [ "$wall" -gt $((bnd * 1000)) ]; then
		cell_fail "$row" "$col" "tunnel and pings took $wall ms, over the $bnd s bound" "$a" "$b"
		RESULT[$row,$col]="FAIL"
		return 0
	fi
	if ! lab_ping_both "$a" "$b"; then
		cell_fail "$row" "$col" "3 pings each way after the tunnel came up failed" "$a" "$b"
		RESULT[$row,$col]="FAIL"
		return 0
	fi
	local note=""
	[ "$strat" = "$exp" ] || note=" (note: auto's first choice would be $exp)"
	printf 'cell %-16s x %-16s strategy=%-7s time_ms=%-5s wall_ms=%-5s result=ok (%s)%s\n' \
		"$row" "$col" "$strat" "$tms" "$wall" "$want" "$note"
	RESULT[$row,$col]="$strat ${tms}ms"
}

# run_batch ROW/COL...: those cells at once, one pair of sites each.
run_batch() {
	local p cell
	NSLOT=$#
	p=0
	for cell in "$@"; do
		prep_cell "$p" "${cell%%/*}" "${cell#*/}"
		p=$((p + 1))
	done
	for ((p = 0; p < NSLOT; p++)); do
		start_cell "$p"
	done
	lab_wait 31 poll_cells || true # every cell's bound is at most 30 s
	for ((p = 0; p < NSLOT; p++)); do
		finish_cell "$p"
	done
}

started=$(lab_now_ms)
BATCH=()
for row in "${ROWS[@]}"; do
	for col in "${COLS[@]}"; do
		if [ -n "${NP_MATRIX_CELLS:-}" ] && [[ " $NP_MATRIX_CELLS " != *" $row:$col "* ]]; then
			RESULT[$row,$col]="-"
			continue
		fi
		BATCH+=("$row/$col")
		if [ "${#BATCH[@]}" = "$PAIRS" ]; then
			run_batch "${BATCH[@]}"
			BATCH=()
		fi
	done
done
[ "${#BATCH[@]}" = 0 ] || run_batch "${BATCH[@]}"

# --strategy=simple against a symmetric NAT: a clean failure that says why.
simple_check() {
	local n json strat reason
	for n in "${PNAMES[@]:2:$((2 * PAIRS - 2))}"; do lab_stop "$n" 2; done
	fresh_sites A B cone symmetric-random
	lab_start_pair A B 10.10.0 --session mx-simple --strategy=simple
	if lab_wait 15 either_up A B; then
		cell_fail cone symmetric-random "--strategy=simple: a tunnel came up against symmetric-random"
		return 0
	fi
	for n in A B; do
		lab_alive "$(lab_get PID "$n")" ||
			{ cell_fail cone symmetric-random "--strategy=simple: daemon $n exited"; return 0; }
		json=$(lab_status_json "$n") || { cell_fail cone symmetric-random "--strategy=simple: $n: no status"; return 0; }
		strat=$(lab_json_field "$json" strategy) || strat=""
		reason=$(lab_json_field "$json" last_failure) || reason=""
		if [ "$strat" != simple ] || [ -z "$reason" ]; then
			cell_fail cone symmetric-random "--strategy=simple: $n reports no failed attempt within 15 s (strategy '$strat', last_failure '$reason')"
			return 0
		fi
	done
	echo "simple cone x symmetric-random: result=ok (no tunnel in 15 s, both alive; A: $(lab_json_field "$json" attempts || echo ?) attempt(s), last_failure: $reason)"
}
if [ -z "${NP_MATRIX_CELLS:-}" ] || [[ " $NP_MATRIX_CELLS " == *" simple "* ]]; then
	simple_check
fi
lab_assert_alive server

echo
echo "NAT traversal matrix, --strategy=auto (strategy, daemon time to tunnel incl. discovery; 'no path' = clean failure, time until both statuses said so):"
printf '| %-16s ' 'A \ B'
for col in "${COLS[@]}"; do printf '| %-16s ' "$col"; done
echo '|'
printf '|%s' '------------------'
for col in "${COLS[@]}"; do printf '|%s' '------------------'; done
echo '|'
for row in "${ROWS[@]}"; do
	printf '| %-16s ' "$row"
	for col in "${COLS[@]}"; do printf '| %-16s ' "${RESULT[$row,$col]}"; done
	echo '|'
done
echo "($NCELL cells in $((($(lab_now_ms) - started) / 1000)) s)"

if [ "$NFAIL" -gt 0 ]; then
	LAB_LOGS_DUMPED=1 # the failing cells' logs are above
	echo "FAIL: $NFAIL check(s) failed:"
	printf '  %s\n' "${FAILED[@]}"
	exit 1
fi
lab_pass "every matrix cell behaves as issue 4 requires"
