# shellcheck shell=bash
# bench_lib.sh: shared by tests/bench/throughput and tests/bench/peers.
# Source it after setting BENCH_PACKAGES (extra Debian packages). It installs
# what is missing, builds natpunch (NP_BUILD_DIR, default build/), sources the
# NAT lab and builds this topology (per-run namespaces, removed on exit):
#
#   peer A 192.168.1.2 - nat-A 198.51.100.18 - router - nat-B 198.51.100.34 - peer B 192.168.2.2
#                                                        (bench port forwards to B)
#
# "Raw path" everywhere means: A -> nat-B's public address, forwarded by a
# DNAT rule in nat-B to B. That is the same two NATs and router hop that the
# tunnels' UDP takes, without any tunnel.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=../lib/np_bootstrap.sh
source "$NP_SOURCE_DIR/tests/lib/np_bootstrap.sh"
if [ "$(id -u)" != 0 ]; then
	echo "the benchmarks need root (network namespaces)" >&2
	exit 77
fi
np_ensure_packages iperf3 ${BENCH_PACKAGES:-} || exit 1
if [ -z "${NP_BUILD_DIR:-}" ] || [ ! -x "$NP_BUILD_DIR/natpunch" ]; then
	echo "building natpunch in ${NP_BUILD_DIR:-$NP_SOURCE_DIR/build} ..." >&2
	np_build "${NP_BUILD_DIR:-$NP_SOURCE_DIR/build}" || exit 1
fi
export NP_BUILD_DIR
LAB_DAEMON_VERBOSE=0
# shellcheck source=../lab/nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

BENCH_SECS=${BENCH_SECS:-10}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_PORT=5301
CLK_TCK=$(getconf CLK_TCK)

bench_lab() {
	lab_init
	lab_keys A B
	lab_server
	lab_site A cone
	lab_site B cone
	lab_start_server
	# Port forwards in nat-B for the raw path and the tools without NAT
	# traversal: TCP/UDP 5301 (iperf3), 5400-5499 (competitors), ICMP echo.
	lab_exec nat-B nft -f - <<EOF
table ip nplab {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "wan" tcp dport { $BENCH_PORT, 5400-5499 } dnat to $LAB_LAN_IP_B
		iifname "wan" udp dport 5400-5499 dnat to $LAB_LAN_IP_B
		iifname "wan" icmp type echo-request dnat to $LAB_LAN_IP_B
	}
}
EOF
	lab_exec nat-B nft insert rule ip nplab forward iifname '"wan"' ct status dnat accept
}

# natpunch pair A-B on NET (10.x.y), extra args; waits for the tunnel.
bench_natpunch_up() {
	local net=$1
	shift
	lab_start_pair A B "$net" "$@"
	lab_wait_tunnel A B 30 || lab_fail "natpunch tunnel not up within 30 s"
}

bench_natpunch_down() {
	lab_stop A
	lab_stop B
	unset LAB_PID_A LAB_PID_B
}

# iperf3 TCP from A to DST (an address B answers on), SECS seconds, extra
# client args. Prints the received Mbit/s (integer), or 0 on failure.
bench_iperf() {
	local dst=$1 secs=$2 out srv
	shift 2
	srv=$(lab_bg B "$LAB_DIR/logs/iperf3-srv.$RANDOM.log" timeout $((secs + 20)) iperf3 -s -1 -p "$BENCH_PORT")
	lab_wait 5 lab_exec B sh -c "ss -Hlnt | grep -q ':$BENCH_PORT '" || true
	out=$(lab_exec A timeout $((secs + 15)) iperf3 -c "$dst" -p "$BENCH_PORT" -t "$secs" -J "$@" 2>/dev/null) || out=""
	lab_kill "$srv" 1 >/dev/null 2>&1 || true
	grep -A8 '"sum_received"' <<<"$out" | grep -m1 bits_per_second | tr -dc '0-9.' |
		awk '{ printf "%d\n", $1 / 1e6 }' | grep . || echo 0
}

# Median of BENCH_RUNS runs of bench_iperf DST BENCH_SECS.
bench_iperf_median() {
	local i v=()
	for ((i = 0; i < BENCH_RUNS; i++)); do
		v+=("$(bench_iperf "$1" "$BENCH_SECS")")
	done
	printf '%s\n' "${v[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

# utime + stime of PID, in clock ticks.
bench_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

bench_rss_mib() {
	awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"
}

# CPU (% of one core) of PID_A and PID_B while A sends TCP at 500 Mbit/s to
# DST for BENCH_SECS. Prints "cpuA cpuB mbits".
bench_cpu_at_500() {
	local dst=$1 pa=$2 pb=$3 a0 b0 a1 b1 mb
	a0=$(bench_ticks "$pa")
	b0=$(bench_ticks "$pb")
	mb=$(bench_iperf "$dst" "$BENCH_SECS" -b 500M)
	a1=$(bench_ticks "$pa")
	b1=$(bench_ticks "$pb")
	# Divided by the iperf3 run time, not the wall time of the call (which
	# adds iperf3's idle setup): this errs on the high side.
	awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v ms=$((BENCH_SECS * 1000)) -v hz="$CLK_TCK" -v mb="$mb" \
		'BEGIN { s = ms / 1000; printf "%.1f %.1f %d\n", 100 * a / hz / s, 100 * b / hz / s, mb }'
}

# Average ping RTT in ms from A to DST (40 pings, 50 ms apart).
bench_rtt() {
	lab_exec A ping -n -q -c 40 -i 0.05 -W 1 "$1" 2>/dev/null | awk -F/ '/^rtt|^round-trip/ { print $5 }' | grep . ||
		echo "?"
}
