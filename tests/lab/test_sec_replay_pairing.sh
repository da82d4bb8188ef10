#!/bin/bash
# test_sec_replay_pairing: punch traffic captured in one pairing steers
# nothing in the next one.
#
# A (cone NAT) and B (on the internet, fixed --port) bring a tunnel up while
# B's namespace captures every PROBE and PROBE_ACK. Both daemons then
# restart (a new registration: a new pairing, with a new random identifier
# and so a new probe key), and during the new punch an internet host X
# replays the captured probes and acks, from its own address, at B's port,
# over and over. X captures what comes back. Verdicts: the tunnel comes up
# on the real path (each side's peer endpoint is the other's public
# address, never X); nothing at all answers X (the replays carry the first
# pairing's round and key); B's counters show the replays arrived and were
# dropped.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

INJ=$NP_BUILD_DIR/tests/lab/np_labinject
BPORT=45000

lab_init
command -v tcpdump >/dev/null || lab_fail "tcpdump is missing (Debian: apt-get install tcpdump)"
[ -x "$INJ" ] || lab_fail "$INJ is missing (build the tests first)"
lab_two_sites cone none
lab_host X
lab_start_server

capture() { # NAME FILE FILTER... -> PID
	local ns=$1 file=$2 log pid
	shift 2
	log=$LAB_DIR/logs/tcpdump-$ns-$(basename "$file").log
	pid=$(lab_bg "$ns" "$log" tcpdump -Z root -U --immediate-mode -n -i any -w "$file" "$@")
	lab_wait 10 grep -q "listening on" "$log" || lab_fail "tcpdump in $ns did not start"
	echo "$pid"
}
start_pair() {
	lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2
	lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 --port "$BPORT"
}

# ---- 1. the first pairing, captured at B ---------------------------------------
cap=$LAB_DIR/first.pcap
cpid=$(capture B "$cap" udp port "$BPORT")
start_pair
lab_wait_tunnel A B 30 || lab_fail "the first tunnel did not come up"
sleep 0.3
lab_kill "$cpid"
probes=$LAB_DIR/probes.pcap
# PROBE (0x10) and PROBE_ACK (0x11) of wire version 2, both directions.
tcpdump -r "$cap" -w "$probes" "udp[8] = 2 and (udp[9] = 0x10 or udp[9] = 0x11)" 2>/dev/null
nprobes=$(tcpdump -r "$probes" -n 2>/dev/null | wc -l)
[ "$nprobes" -ge 2 ] || lab_fail "captured only $nprobes probes and acks in the first pairing"
echo "captured $nprobes probes and acks of the first pairing"

# ---- 2. a new pairing, with the replay running ---------------------------------
lab_stop A
lab_stop B
xcap=$LAB_DIR/attacker.pcap
xpid=$(capture X "$xcap" udp and src host "$LAB_PUB_IP_B")
rounds=40
ilog=$LAB_DIR/logs/inject.log
ipid=$(lab_bg X "$ilog" "$INJ" --count "$rounds" --gap-us 15000 replay "$LAB_PUB_IP_B" "$BPORT" "$probes")
start_pair
lab_wait_tunnel A B 30 || lab_fail "the second tunnel did not come up under replay"
lab_wait 60 test -f "$LAB_DIR/run/rc.$ipid" || lab_fail "the replay did not finish"
sleep 0.5
lab_kill "$xpid"
sent=$(sed -n 's/^sent \([0-9]*\) bytes.*/\1/p' "$ilog")
[ -n "$sent" ] && [ "$sent" -gt 0 ] || lab_fail "the replay sent nothing ($(cat "$ilog"))"
answers=$(tcpdump -r "$xcap" -n 2>/dev/null | wc -l)
echo "X replayed $sent datagrams; B answered X $answers times"

ep_ab=$(lab_status A peer_endpoint)
ep_ba=$(lab_status B peer_endpoint)
dropped=$(($(lab_status B dropped_other_pairing) + $(lab_status B dropped_unauthenticated)))
lab_check "A's path is B's real endpoint ($ep_ab)" test "$ep_ab" = "$LAB_PUB_IP_B:$BPORT"
lab_check "B's path is A's public address ($ep_ba)" test "${ep_ba%:*}" = "$LAB_PUB_IP_A"
# Nothing at all: every replayed datagram belongs to the first pairing, whose
# key no daemon holds any more. (B restarts on the same public endpoint, a
# fixed --port with no NAT: the server makes its new registration a new
# pairing all the same, so B is never handed the first pairing's key again;
# before that fix B answered the replayed probes of A with valid acks.)
lab_check "nothing answers the attacker ($answers datagrams from B)" test "$answers" = 0
lab_check "B dropped the replays ($dropped counted)" test "$dropped" -gt 0
lab_check "the tunnel carries traffic" lab_ping_both A B
lab_assert_alive server A B
lab_finish "probes captured in one pairing neither steer the next nor draw any answer"
