#!/bin/bash
# test_pmtu_blackhole: site A's internet link has MTU 1280 (both ends, GSO
# off) and every ICMP "fragmentation needed" on the way is dropped: a path
# MTU black hole under a 1400-byte tunnel. natpunch's own probes find the
# 1280 path MTU (status shows it), and then pings of every size up to the
# tun MTU, 1300-byte UDP datagrams and a TCP transfer all get through: DF
# packets are answered with ICMP written into the tun, others fragmented.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_two_sites
lab_link_mtu A 1280
lab_drop_too_big A
# The hole is real: a 1300-byte DF packet from A dies silently at its NAT.
if lab_exec A ping -n -q -c 1 -W 1 -M do -s 1272 "$SERVER_IP" >/dev/null 2>&1; then
	lab_fail "a 1300-byte DF packet crossed the 1280 link"
fi
lab_two_peers_up

_pmtu_found() { # NAME
	case $(lab_status "$1" path_mtu_state 2>/dev/null) in confirmed | assumed) return 0 ;; esac
	return 1
}
for n in A B; do
	lab_wait 20 _pmtu_found "$n" || lab_fail "$n: path MTU search did not finish in 20 s"
	pm=$(lab_status "$n" path_mtu) tm=$(lab_status "$n" tunnel_mtu)
	echo "$n: path_mtu $pm ($(lab_status "$n" path_mtu_state)), tunnel_mtu $tm"
	[ "$pm" = 1280 ] || lab_fail "$n: status shows path_mtu '$pm', not 1280"
	[ "$tm" = 1220 ] || lab_fail "$n: status shows tunnel_mtu '$tm', not 1220"
done
# Pings of every size up to the tun MTU (1400 - 28 bytes of headers), each
# way. The first one too big teaches the kernel the tunnel's MTU (our ICMP)
# and is lost; np_labping tries each size twice, as a user would.
LAB_PING=$NP_BUILD_DIR/tests/lab/np_labping
out=$(lab_exec A "$LAB_PING" --min 0 --max 1372 "$LAB_TUN_IP_B") || lab_fail "pings A->B: $out"
echo "A->B: $out"
out=$(lab_exec B "$LAB_PING" --min 0 --max 1372 "$LAB_TUN_IP_A") || lab_fail "pings B->A: $out"
echo "B->A: $out"
icmp=$(lab_status A too_big_icmp)
[ "${icmp:-0}" -ge 1 ] || lab_fail "A wrote no ICMP 'fragmentation needed' into its tun"

# 1300-byte UDP datagrams, B -> A, each answered by A's echo.
lab_bg A "$LAB_DIR/logs/echo.log" "$LAB_UDP" echo --max-seconds 30 7000 >/dev/null
sleep 0.3
data=$(printf 'u%.0s' $(seq 1300))
got=$(lab_exec B "$LAB_UDP" send --count 40 --wait-ms 500 --data "$data" "$LAB_TUN_IP_A" 7000 | grep -c . || true)
echo "1300-byte UDP datagrams answered: $got of 40"
[ "$got" -ge 39 ] || lab_fail "only $got of 40 1300-byte UDP datagrams got through"

# TCP both ways (the sender's MSS follows our ICMP).
lab_bg B "$LAB_DIR/logs/tcprecv.log" "$NP_BUILD_DIR/tests/lab/np_labtcp" recv --max-seconds 40 7001 >/dev/null
sleep 0.3
sent=$(lab_exec A timeout 40 "$NP_BUILD_DIR/tests/lab/np_labtcp" send --max-seconds 30 "$LAB_TUN_IP_B" 7001 8M) ||
	lab_fail "TCP A->B transfer failed"
lab_wait 10 grep -q bytes= "$LAB_DIR/logs/tcprecv.log" || lab_fail "TCP receiver printed nothing"
[ "$sent" = "$(grep bytes= "$LAB_DIR/logs/tcprecv.log")" ] || lab_fail "TCP A->B: sent '$sent', got '$(cat "$LAB_DIR/logs/tcprecv.log")'"
lab_bg A "$LAB_DIR/logs/tcprecv2.log" "$NP_BUILD_DIR/tests/lab/np_labtcp" recv --max-seconds 40 7002 >/dev/null
sleep 0.3
sent=$(lab_exec B timeout 40 "$NP_BUILD_DIR/tests/lab/np_labtcp" send --max-seconds 30 "$LAB_TUN_IP_A" 7002 8M) ||
	lab_fail "TCP B->A transfer failed"
lab_wait 10 grep -q bytes= "$LAB_DIR/logs/tcprecv2.log" || lab_fail "TCP receiver printed nothing"
[ "$sent" = "$(grep bytes= "$LAB_DIR/logs/tcprecv2.log")" ] || lab_fail "TCP B->A: sent '$sent', got '$(cat "$LAB_DIR/logs/tcprecv2.log")'"
lab_pass "PMTU black hole: path MTU 1280 found, every ping size, 1300-byte UDP and TCP through a 1400-byte tunnel"
