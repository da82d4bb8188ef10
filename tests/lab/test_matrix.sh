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
# can pair with this one).
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
lab_keys A B
lab_server
lab_start_server

NCELL=0
NFAIL=0
FAILED=()
declare -A RESULT

# Stop the daemons of the last cell, give A and B fresh NATs of these kinds.
fresh_sites() {
	lab_stop A 2
	lab_stop B 2
	unset LAB_PID_A LAB_PID_B
	lab_site_del A
	lab_site_del B
	lab_site A "$1"
	lab_site B "$2"
}

DEAD=""
cell_ready() {
	local n
	for n in A B; do
		if ! lab_alive "$(lab_get PID "$n")"; then
			DEAD=$n
			return 0
		fi
	done
	lab_tunnel_is_up A && lab_tunnel_is_up B && lab_ping A B && lab_ping B A
}

no_path() { [[ $(lab_status "$1" last_failure 2>/dev/null) == "no direct path possible"* ]]; }
both_no_path() { no_path A && no_path B; }

either_up() { lab_tunnel_was_up A || lab_tunnel_was_up B; }

cell_logs() {
	local n
	for n in A B; do
		echo "----- $n ($(lab_get KIND "$n")): $(lab_get LOG "$n") (last 40 lines) -----"
		tail -n 40 "$(lab_get LOG "$n")" || true
	done
	echo "----- server (last 20 lines) -----"
	tail -n 20 "$LAB_LOG_server" || true
}

# cell_fail ROW COL WHAT
cell_fail() {
	NFAIL=$((NFAIL + 1))
	FAILED+=("$1 x $2: $3")
	echo "cell $1 x $2: FAIL: $3"
	cell_logs
}

max_time_ms() {
	local a b
	a=$(lab_status A time_to_up_ms || echo 0)
	b=$(lab_status B time_to_up_ms || echo 0)
	[ "$a" -ge "$b" ] && echo "$a" || echo "$b"
}

run_cell() {
	local row=$1 col=$2 b want t0 wall strat tms exp
	b=$(bound "$row" "$col")
	exp=$(expected_strategy "$row" "$col")
	NCELL=$((NCELL + 1))
	fresh_sites "$row" "$col"
	DEAD=""
	t0=$(lab_now_ms)
	lab_start_pair A B 10.10.0 --session "mx$NCELL"
	if [ "$b" = fail ]; then
		want="clean failure in 10 s"
		if ! lab_wait 10 both_no_path; then
			cell_fail "$row" "$col" "no 'no direct path possible' as last_failure in both statuses within 10 s"
			RESULT[$row,$col]="FAIL"
			return 0
		fi
		wall=$(($(lab_now_ms) - t0))
		sleep 0.5 # anything that would still come up in error would say so now
		if either_up; then
			cell_fail "$row" "$col" "a tunnel came up (status tunnel_ups) although no direct path is possible"
			RESULT[$row,$col]="FAIL"
			return 0
		fi
		if ! lab_alive "$LAB_PID_A" || ! lab_alive "$LAB_PID_B"; then
			cell_fail "$row" "$col" "a daemon exited after 'no direct path' (A alive: $(lab_alive "$LAB_PID_A" && echo yes || echo no), B alive: $(lab_alive "$LAB_PID_B" && echo yes || echo no))"
			RESULT[$row,$col]="FAIL"
			return 0
		fi
		printf 'cell %-16s x %-16s strategy=%-7s time_ms=%-5s wall_ms=%-5s result=ok (%s)\n' \
			"$row" "$col" none - "$wall" "$want"
		RESULT[$row,$col]="no path ${wall}ms"
		return 0
	fi
	want="tunnel + ping both ways in $b s"
	if ! lab_wait "$b" cell_ready || [ -n "$DEAD" ]; then
		if [ -n "$DEAD" ]; then
			cell_fail "$row" "$col" "daemon $DEAD exited (status $(lab_exit_status "$(lab_get PID "$DEAD")" 2 || true))"
		else
			local st=""
			for n in A B; do lab_tunnel_is_up "$n" && st="$st $n:up" || st="$st $n:no-tunnel-up"; done
			cell_fail "$row" "$col" "no tunnel with ping both ways within $b s ($st)"
		fi
		RESULT[$row,$col]="FAIL"
		return 0
	fi
	wall=$(($(lab_now_ms) - t0))
	strat=$(lab_status A strategy || echo "?")
	tms=$(max_time_ms)
	if [ "$wall" -gt $((b * 1000)) ]; then
		cell_fail "$row" "$col" "tunnel and pings took $wall ms, over the $b s bound"
		RESULT[$row,$col]="FAIL"
		return 0
	fi
	if ! lab_ping_both A B; then
		cell_fail "$row" "$col" "3 pings each way after the tunnel came up failed"
		RESULT[$row,$col]="FAIL"
		return 0
	fi
	local note=""
	[ "$strat" = "$exp" ] || note=" (note: auto's first choice would be $exp)"
	printf 'cell %-16s x %-16s strategy=%-7s time_ms=%-5s wall_ms=%-5s result=ok (%s)%s\n' \
		"$row" "$col" "$strat" "$tms" "$wall" "$want" "$note"
	RESULT[$row,$col]="$strat ${tms}ms"
}

started=$(lab_now_ms)
for row in "${ROWS[@]}"; do
	for col in "${COLS[@]}"; do
		if [ -n "${NP_MATRIX_CELLS:-}" ] && [[ " $NP_MATRIX_CELLS " != *" $row:$col "* ]]; then
			RESULT[$row,$col]="-"
			continue
		fi
		run_cell "$row" "$col"
	done
done

# --strategy=simple against a symmetric NAT: a clean failure that says why.
simple_check() {
	local n json strat reason
	fresh_sites cone symmetric-random
	lab_start_pair A B 10.10.0 --session mx-simple --strategy=simple
	if lab_wait 15 either_up; then
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
