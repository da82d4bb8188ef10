#!/bin/bash
# soak.sh: a tunnel under load and scheduled faults, for a while.
#
#   tests/soak/soak.sh                 10 minutes (as root)
#   NP_SOAK_SECONDS=120 tests/soak/soak.sh   the short version CI runs (ctest -L soak)
#
# Two peers behind cone NATs (keepalive 2 s, dead-after 6 s). For the whole
# run: a ping through the tunnel every second, and UDP iperf3 (10 Mbit/s, in
# 5 s rounds) from A to B. Every NP_SOAK_FAULT_PERIOD seconds (default 20)
# the next fault of this cycle:
#   conntrack   conntrack -F on A's NAT (the mapping is gone)
#   junk        2000 random datagrams each at A, B and both server ports
#   server      stop the rendezvous server, start it again 2 s later
#   peer        stop peer B (SIGTERM) and start it again (a new port)
#   hook        a hook that hangs: A's configuration file changes its
#               hook-timeout (2 s <-> 2.5 s) and A gets SIGHUP, so a new hook
#               helper runs on_up (reload) while NP_SOAK_HANG exists: one hook
#               sleeps past the timeout (abandoned), the next stalls in one C
#               call (the stall alarm kills the hook worker, the helper starts
#               a new one, the daemon logs it). The action ends when A logs
#               the new worker; pings must go on throughout, so this fault
#               has no window (its pings count for availability). natpunch
#               reloads at most 16 times, so from the 17th cycle on (after
#               about 27 minutes) a conntrack flush takes its turn.
# Reported: availability (share of 1 s pings answered outside fault windows;
# a window is the fault plus dead-after + 5 s), the recovery time of each
# fault (from the end of its action to the first ping answered), iperf3
# datagrams and bytes lost, and A's RSS and open file descriptors over time.
# Targets (exit 1 if missed): availability >= 99 %, every recovery within
# dead-after + 5 s, the hung hook's worker restarted within its two timeouts
# + 5 s, A's descriptor count back where it started, A's RSS growth under
# 20 % (and 2 MiB).
# NP_SOAK_SANITIZER=1 (the sanitizer build, NP_BUILD_DIR=build-asan): the
# daemons stop with SIGTERM at the end, and any AddressSanitizer,
# LeakSanitizer or UndefinedBehaviorSanitizer report in their logs fails the
# run.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lab/nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

duration=${NP_SOAK_SECONDS:-600}
period=${NP_SOAK_FAULT_PERIOD:-20}
keepalive=2
dead=6
hook_timeout=2
limit_ms=$(((dead + 5) * 1000))
now_ms() { date +%s%3N; }

lab_init
command -v iperf3 >/dev/null || lab_fail "iperf3 is missing"
[ -x "$LAB_UDP" ] || lab_fail "$LAB_UDP is missing (build the tests first)"
lab_two_sites
lab_host X
lab_start_server
# A reads its hooks from a configuration file, so that SIGHUP can replace
# the hook helper (the hook fault); the hooks hang only while $hang exists.
hang=$LAB_DIR/hang
conf=$LAB_DIR/a.conf
printf 'hook-dir = %s\nhook-timeout = %s\n' "$NP_SOURCE_DIR/tests/soak/hooks" "$hook_timeout" >"$conf"
NP_SOAK_HANG=$hang lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 --config "$conf" \
	--keepalive "$keepalive" --dead-after "$dead"
lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 --keepalive "$keepalive" --dead-after "$dead"
lab_wait_tunnel A B 30 || lab_fail "tunnel not up within 30 s"
pid_a=$(lab_get PID A)
log_a=$(lab_get LOG A)

# ---- load --------------------------------------------------------------------
pinglog=$LAB_DIR/logs/ping.log
iperflog=$LAB_DIR/logs/iperf-rounds.log
lab_bg B "$LAB_DIR/logs/iperf-server.log" iperf3 -s >/dev/null
start_ms=$(now_ms)
end_ms=$((start_ms + duration * 1000))
lab_bg A "$pinglog" ping -D -O -n -i 1 -W 1 -w "$duration" 10.10.0.2 >/dev/null
sleep 1
lab_bg A "$iperflog" bash -c "end=\$(( \$(date +%s) + $duration - 6 ))
	while [ \$(date +%s) -lt \$end ]; do
		timeout 15 iperf3 -c 10.10.0.2 -u -b 10M -l 1200 -t 5 2>&1 | grep -E 'receiver|error' || echo 'round failed'
		sleep 0.5
	done" >/dev/null

# ---- faults and samples --------------------------------------------------------
samples=$LAB_DIR/logs/samples.log
faults=$LAB_DIR/logs/faults.log
: >"$samples"
: >"$faults"
sample() {
	local rss fds
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid_a/status" 2>/dev/null || echo 0)
	fds=$(find "/proc/$pid_a/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	echo "$(($(now_ms) - start_ms)) $rss $fds" >>"$samples"
}
junk() { # DST_IP DST_PORT SEED
	lab_exec X "$LAB_UDP" junk --count 2000 --seed "$3" --max-seconds 5 "$1" "$2" >/dev/null 2>&1 || true
}
fault() { # NAME
	case $1 in
	conntrack) lab_conntrack_flush A ;;
	junk)
		local ep_a ep_b
		ep_a=$(lab_status B peer_endpoint 2>/dev/null || echo "")
		ep_b=$(lab_status A peer_endpoint 2>/dev/null || echo "")
		[ -z "$ep_a" ] || junk "${ep_a%:*}" "${ep_a##*:}" $RANDOM
		[ -z "$ep_b" ] || junk "${ep_b%:*}" "${ep_b##*:}" $RANDOM
		junk "$SERVER_IP" "$LAB_PORT1" $RANDOM
		junk "$SERVER_IP" "$LAB_PORT2" $RANDOM
		;;
	server)
		lab_stop server
		sleep 2
		lab_start_server
		;;
	peer)
		lab_stop B 10
		lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 --keepalive "$keepalive" --dead-after "$dead"
		;;
	hook)
		local before t now
		before=$(grep -c "the hook helper started a new worker" "$log_a" || true)
		# Another hook-timeout makes the reload start a new hook helper.
		t=$(awk -F' = ' '/^hook-timeout/ { print ($2 == 2) ? 2.5 : 2 }' "$conf")
		sed -i "s/^hook-timeout = .*/hook-timeout = $t/" "$conf"
		touch "$hang"
		lab_trace "kill -HUP $pid_a (hook-timeout $t, hooks hang)"
		kill -HUP "$pid_a"
		now=$(now_ms)
		hook_restart_ms=-1
		while [ $(($(now_ms) - now)) -lt $((2 * 3000 + 5000)) ]; do
			if [ "$(grep -c "the hook helper started a new worker" "$log_a" || true)" -gt "$before" ]; then
				hook_restart_ms=$(($(now_ms) - now))
				break
			fi
			sleep 0.2
		done
		rm -f "$hang"
		;;
	esac
}
hook_restart_ms=-1
hook_restarts=""
kinds=(conntrack junk server peer hook)
n=0
next=$((start_ms + period * 1000))
sample
while [ $(($(now_ms) + (dead + 10) * 1000)) -lt "$end_ms" ]; do
	while [ "$(now_ms)" -lt "$next" ]; do
		sample
		sleep 2
	done
	kind=${kinds[$((n % ${#kinds[@]}))]}
	n=$((n + 1))
	if [ "$kind" = hook ] && [ "$n" -gt $((16 * ${#kinds[@]})) ]; then
		kind=conntrack
	fi
	t0=$(now_ms)
	fault "$kind"
	t1=$(now_ms)
	# Recovery: from the end of the fault's action (the junk sent, the
	# daemon started again) to the first ping answered through the tunnel.
	rec=-1
	while [ $(($(now_ms) - t1)) -lt $((limit_ms + 10000)) ]; do
		if lab_exec A ping -n -c 1 -W 1 10.10.0.2 >/dev/null 2>&1; then
			rec=$(($(now_ms) - t1))
			break
		fi
		sleep 0.2
	done
	windowed=1
	if [ "$kind" = hook ]; then
		windowed=0
		hook_restarts="$hook_restarts $hook_restart_ms"
	fi
	echo "$((t0 - start_ms)) $kind $rec $((t1 - t0)) $windowed" >>"$faults"
	echo "soak: $(((t0 - start_ms) / 1000)) s: fault $kind took $((t1 - t0)) ms, recovered ${rec} ms after it"
	next=$((t0 + period * 1000))
	sample
done
while [ "$(now_ms)" -lt "$end_ms" ]; do
	sample
	sleep 2
done
sleep 2
lab_assert_alive A server

# ---- report ------------------------------------------------------------------
# Ping lines carry their own time stamp: "[EPOCH.us] 64 bytes from ... icmp_seq=N"
# or "[EPOCH.us] no answer yet for icmp_seq=N".
report=$(awk -v start="$start_ms" -v win="$limit_ms" -v faultfile="$faults" '
	BEGIN { while ((getline line < faultfile) > 0) { split(line, f, " "); if (f[5]) fs[++nf] = f[1] } }
	/icmp_seq=/ {
		ts = substr($1, 2, length($1) - 2) * 1000 - start
		match($0, /icmp_seq=[0-9]+/); seq = substr($0, RSTART + 9, RLENGTH - 9) + 0
		infault = 0
		for (i = 1; i <= nf; i++) if (ts >= fs[i] - 1000 && ts <= fs[i] + win) infault = 1
		if (/bytes from/) { ok[seq] = 1 }
		if (!(seq in when)) { when[seq] = ts; inw[seq] = infault }
	}
	END {
		for (s in when) { if (inw[s]) { fin++; if (ok[s]) fok++ } else { out++; if (ok[s]) ook++ } }
		printf "%d %d %d %d\n", out, ook, fin, fok
	}' "$pinglog")
read -r out ook fin fok <<<"$report"
[ "${out:-0}" -gt 0 ] || lab_fail "no pings outside fault windows (ping log: $(tail -3 "$pinglog"))"
avail=$(awk -v a="$ook" -v b="$out" 'BEGIN { printf "%.2f", 100 * a / b }')
lost=$(grep -oE '[0-9]+/[0-9]+ \(' "$iperflog" | tr -d ' (' | awk -F/ '{l += $1; t += $2} END {printf "%d %d", l, t}')
read -r lost_pk total_pk <<<"$lost"
lost_bytes=$((${lost_pk:-0} * 1200))
rounds=$(grep -c receiver "$iperflog" || true)
failed_rounds=$(grep -c "round failed\|error" "$iperflog" || true)
read -r _ rss0 fd0 <<<"$(head -1 "$samples")"
read -r _ rss1 fd1 <<<"$(tail -1 "$samples")"
rssmax=$(awk '$2 > m {m = $2} END {print m}' "$samples")
fdmax=$(awk '$3 > m {m = $3} END {print m}' "$samples")

echo "==== soak report: $duration s, a fault every $period s, dead-after $dead s ===="
echo "pings outside fault windows : $ook/$out answered = $avail %"
echo "pings inside fault windows  : $fok/$fin answered"
echo "faults (start s, kind, action ms, recovery ms after it; limit $limit_ms):"
awk '{printf "  %6.1f  %-10s %6d %6d%s\n", $1 / 1000, $2, $4, $3, $5 ? "" : "  (no window: pings count)"}' "$faults"
echo "hook helper restarts        : ${hook_restarts:- none} ms after SIGHUP (two timeouts of ${hook_timeout}-2.5 s)"
echo "iperf3 UDP 10 Mbit/s        : $rounds rounds ($failed_rounds failed), $lost_pk of $total_pk datagrams lost ($lost_bytes bytes)"
echo "peer A RSS (kB)             : start $rss0, end $rss1, max $rssmax"
echo "peer A open descriptors     : start $fd0, end $fd1, max $fdmax"
echo "peer A over time (s rss_kB fds), every ~30 s:"
awk 'BEGIN { last = -30000 } $1 - last >= 30000 { printf "  %5.0f %6d %3d\n", $1 / 1000, $2, $3; last = $1 }' "$samples"
echo "samples (ms rss_kB fds)     : $samples"

bad=""
awk -v a="$avail" 'BEGIN { exit !(a >= 99) }' || bad="$bad availability $avail % < 99 %;"
while read -r _ kind rec _; do
	{ [ "$rec" -ge 0 ] && [ "$rec" -le "$limit_ms" ]; } || bad="$bad $kind recovery ${rec} ms > $limit_ms ms;"
done <"$faults"
for h in $hook_restarts; do
	{ [ "$h" -ge 0 ] && [ "$h" -le $((2 * 2500 + 5000)) ]; } || bad="$bad hook helper restart ${h} ms after SIGHUP;"
done
grep -q "np-soak: the .* on_up was not" "$log_a" && bad="$bad a hung hook was not stopped;"
[ "$fd1" -le "$fd0" ] || bad="$bad descriptors $fd0 -> $fd1;"
[ "$rss1" -le $((rss0 + rss0 / 5 + 2048)) ] || bad="$bad RSS $rss0 -> $rss1 kB;"
[ "$(wc -l <"$faults")" -ge 1 ] || bad="$bad no fault was injected (NP_SOAK_SECONDS too short);"
if [ "${NP_SOAK_SANITIZER:-0}" = 1 ]; then
	# Leaks are reported at exit: stop the daemons the normal way first.
	lab_stop A 10
	lab_stop B 10
	lab_stop server 10
	san=$(grep -lE "ERROR: AddressSanitizer|ERROR: LeakSanitizer|Sanitizer has encountered|runtime error:|SUMMARY: (Address|Undefined|Leak)" \
		"$LAB_DIR"/logs/*.log 2>/dev/null || true)
	if [ -n "$san" ]; then
		for f in $san; do
			echo "---- sanitizer report in $f:"
			grep -E -A25 "ERROR: |runtime error:|Sanitizer has" "$f" | head -60
		done
		bad="$bad sanitizer reports in $(echo "$san" | xargs -n1 basename | tr '\n' ' ');"
	else
		echo "sanitizers                  : no report in $(ls "$LAB_DIR"/logs/*.log | wc -l) logs"
	fi
fi
[ -z "$bad" ] || lab_fail "soak targets missed:$bad"
lab_pass "soak: $avail % available outside faults, $(wc -l <"$faults") faults recovered within $limit_ms ms, FDs $fd0 -> $fd1, RSS $rss0 -> $rss1 kB"
