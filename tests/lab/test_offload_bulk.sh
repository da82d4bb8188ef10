#!/bin/bash
# test_offload_bulk: correctness of the data path at line rate (issue 6),
# between two cone NATs, encrypted:
#   1. 1 GiB each way through the tunnel (np_labtcp), sha256 equal at both ends;
#   2. ping, iperf3 TCP and iperf3 UDP (bounded rate) at the same time;
#   3. packets of exactly the MTU pass (ping -M do); MTU + 1 is refused
#      locally with "message too long" and the tunnel lives on;
#   4. a second tunnel with IPv6 inner addresses (fd00::1, fd00::2): iperf3 -6
#      TCP (tun TSO6) and a checksummed 256 MiB transfer.
# NP_OFFLOAD_MODE=off runs the same with --no-offload (test_offload_off.sh);
# by default it also checks that the log names the offload path.
#
#   peer A --- nat-A --- router --- nat-B --- peer B     tunnel 10.10.0.1 <-> .2
#   peer C --- nat-C --- router --- nat-D --- peer D     tunnel fd00::1 <-> fd00::2
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

MODE=${NP_OFFLOAD_MODE:-on}
BULK=${NP_OFFLOAD_BULK:-1G}
LAB_TCP=$NP_BUILD_DIR/tests/lab/np_labtcp
extra=()
want_path="data path: tun TSO + UDP GSO/GRO"
if [ "$MODE" = off ]; then
	extra=(--no-offload)
	want_path="data path: batched sendmmsg/recvmmsg"
fi

lab_init
[ -x "$LAB_TCP" ] || lab_fail "$LAB_TCP is missing (build the tests first)"
command -v iperf3 >/dev/null || lab_fail "iperf3 is missing (apt-get install iperf3)"
lab_keys A B C D
lab_server
for n in A B C D; do lab_site "$n" cone; done
lab_start_server
lab_start_pair A B 10.10.0 "${extra[@]}"
lab_start_peer C "$LAB_PORT1" fd00::1 fd00::2 --session s6 "${extra[@]}"
lab_start_peer D "$LAB_PORT2" fd00::2 fd00::1 --session s6 "${extra[@]}"
lab_wait_tunnel A B 30 || lab_fail "tunnel A-B not up within 30 s"
lab_wait_tunnel C D 30 || lab_fail "tunnel C-D (IPv6 inside) not up within 30 s"
for n in A B C D; do
	grep -q "$want_path" "$(lab_get LOG "$n")" || lab_fail "$n did not log '$want_path'"
done
echo "$want_path (all four peers)"

# bulk FROM TO PORT BYTES: checksummed transfer to TO's tunnel address.
bulk() {
	local from=$1 to=$2 port=$3 bytes=$4 rlog pid sent got t0 t1
	rlog=$LAB_DIR/logs/labtcp.$to.$port.log
	pid=$(lab_bg "$to" "$rlog" "$LAB_TCP" recv --max-seconds 200 "$port")
	lab_wait 5 grep -q listening "$rlog" || lab_fail "np_labtcp recv did not start in $to"
	t0=$(lab_now_ms)
	sent=$(lab_exec "$from" "$LAB_TCP" send --max-seconds 180 --seed "$port" \
		"$(lab_get TUN_IP "$to")" "$port" "$bytes") || lab_fail "np_labtcp send $from -> $to failed"
	t1=$(lab_now_ms)
	lab_wait 20 grep -q sha256 "$rlog" || lab_fail "receiver in $to printed no checksum"
	got=$(grep sha256 "$rlog")
	[ "$sent" = "$got" ] || lab_fail "$from -> $to: sent '$sent', received '$got'"
	lab_exit_status "$pid" >/dev/null || true
	echo "$from -> $to $bytes intact in $((t1 - t0)) ms ($got)"
}

# 1. bulk, both ways
bulk A B 7001 "$BULK"
bulk B A 7002 "$BULK"

# 2. mixed traffic at once: iperf3 TCP A->B, iperf3 UDP B->A at 200 Mbit/s, ping A->B
ipb=$LAB_TUN_IP_B
ipa=$LAB_TUN_IP_A
lab_bg B "$LAB_DIR/logs/iperf3-tcp-srv.log" timeout 40 iperf3 -s -1 -B "$ipb" -p 5201 >/dev/null
lab_bg A "$LAB_DIR/logs/iperf3-udp-srv.log" timeout 40 iperf3 -s -1 -B "$ipa" -p 5202 >/dev/null
sleep 0.5
ping_pid=$(lab_bg A "$LAB_DIR/logs/ping-mixed.log" ping -n -c 25 -i 0.2 -W 2 "$ipb")
tcp_pid=$(lab_bg A "$LAB_DIR/logs/iperf3-tcp.log" timeout 30 iperf3 -c "$ipb" -p 5201 -t 5 -J)
udp_pid=$(lab_bg B "$LAB_DIR/logs/iperf3-udp.log" timeout 30 iperf3 -u -b 200M -c "$ipa" -p 5202 -t 5 -J)
for pid in "$tcp_pid" "$udp_pid" "$ping_pid"; do
	st=$(lab_exit_status "$pid" 40) || st=unknown
	[ "$st" = 0 ] || lab_fail "mixed traffic: a client (pid $pid) ended with status $st"
done
tcp_bps=$(grep -A6 '"sum_received"' "$LAB_DIR/logs/iperf3-tcp.log" | grep -m1 bits_per_second | tr -dc '0-9.' | cut -d. -f1)
udp_loss=$(grep -A12 '"sum"' "$LAB_DIR/logs/iperf3-udp.log" | grep -m1 lost_percent | tr -dc '0-9.')
ping_loss=$(grep -o '[0-9.]*% packet loss' "$LAB_DIR/logs/ping-mixed.log" | cut -d% -f1)
echo "mixed: TCP $((tcp_bps / 1000000)) Mbit/s, UDP loss ${udp_loss}%, ping loss ${ping_loss}%"
[ "$((tcp_bps / 1000000))" -gt 10 ] || lab_fail "mixed: TCP only $tcp_bps bit/s"
[ "${ping_loss%.*}" -le 20 ] || lab_fail "mixed: ping lost ${ping_loss}%"
[ "${udp_loss%.*}" -le 20 ] || lab_fail "mixed: UDP lost ${udp_loss}%"

# 3. MTU: MTU - 28 bytes of ICMP payload fill the MTU exactly; one more is refused.
mtu_ok=$((LAB_MTU - 28))
lab_exec A ping -n -c 3 -i 0.2 -W 2 -M do -s "$mtu_ok" "$ipb" >/dev/null ||
	lab_fail "a packet of exactly the MTU ($LAB_MTU) did not pass"
if out=$(lab_exec A ping -n -c 1 -W 2 -M do -s $((mtu_ok + 1)) "$ipb" 2>&1); then
	lab_fail "a packet of MTU + 1 passed with DF set"
fi
grep -qiE "message too long|frag needed|mtu" <<<"$out" || lab_fail "MTU + 1: unexpected error: $out"
echo "MTU $LAB_MTU passes; MTU + 1 refused locally: $(grep -m1 -iE 'too long|frag|mtu' <<<"$out")"
lab_ping_both A B || lab_fail "ping after the MTU checks failed"

# 4. IPv6 inside: iperf3 -6 (TSO6) and a checksummed transfer.
lab_bg D "$LAB_DIR/logs/iperf3-v6-srv.log" timeout 30 iperf3 -6 -s -1 -B fd00::2 -p 5203 >/dev/null
sleep 0.5
lab_exec C timeout 25 iperf3 -6 -c fd00::2 -p 5203 -t 3 -J >"$LAB_DIR/logs/iperf3-v6.log" ||
	lab_fail "iperf3 -6 through the IPv6 tunnel failed"
v6_bps=$(grep -A6 '"sum_received"' "$LAB_DIR/logs/iperf3-v6.log" | grep -m1 bits_per_second | tr -dc '0-9.' | cut -d. -f1)
echo "IPv6 inside: TCP $((v6_bps / 1000000)) Mbit/s"
[ "$((v6_bps / 1000000))" -gt 10 ] || lab_fail "IPv6 TCP only $v6_bps bit/s"
bulk C D 7003 256M
bulk D C 7004 256M

lab_assert_alive server A B C D
lab_pass "offload=$MODE: $BULK each way intact, mixed traffic, MTU edge, IPv6 inside"
