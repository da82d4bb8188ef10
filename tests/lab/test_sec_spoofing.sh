#!/bin/bash
# test_sec_spoofing: nothing injected by a third party comes out of a peer's tun.
#
# cone/cone tunnel A-B. Real TRANSPORT datagrams A -> B are captured on NAT B's
# public interface. Then an internet host X sends crafted datagrams to B's
# public endpoint, once from its own address (NAT B should filter them) and
# once forged as A's public endpoint through a raw socket (so they pass NAT B
# and reach the daemon): bare IP packets and insecure-DATA-framed IP packets
# (the pre-encryption format) carrying a marker, replays of the captured
# ciphertext, PROBE/PROBE_ACK with random MACs, and truncated or garbage
# handshakes. A capture on B's tun must hold none of the markers nor the
# replayed ping payloads; a ping A -> B running meanwhile must keep working;
# B's endpoint for A must not move; afterwards both directions still ping.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

INJ=$NP_BUILD_DIR/tests/lab/np_labinject
MARK_RAW=NPLABSPOOFRAW
MARK_DATA=NPLABSPOOFDATA
PAT_REPLAY=5eed0001   # ping -p pattern of the captured (then replayed) flow
PAT_LIVE=600d0002     # ping -p pattern of the ping that runs during the attack

lab_init
command -v tcpdump >/dev/null || lab_fail "tcpdump is missing (Debian: apt-get install tcpdump)"
[ -x "$INJ" ] || lab_fail "$INJ is missing (build the tests first)"
lab_two_sites
lab_host X
lab_two_peers_up

ep_b=$(lab_status A peer_endpoint) || lab_fail "A's status has no peer_endpoint"
ep_a=$(lab_status B peer_endpoint) || lab_fail "B's status has no peer_endpoint"
echo "public endpoints: A $ep_a, B $ep_b"

hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# start_capture NAME IFACE FILE FILTER...: tcpdump in NAME's namespace; prints its PID.
start_capture() {
	local ns=$1 ifc=$2 file=$3 log pid
	shift 3
	log=$LAB_DIR/logs/tcpdump-$ns-$ifc.log
	pid=$(lab_bg "$ns" "$log" tcpdump -Z root -U --immediate-mode -n -s 4096 -i "$ifc" -w "$file" "$@")
	lab_wait 10 grep -q "listening on" "$log" || lab_fail "tcpdump on $ns/$ifc did not start"
	echo "$pid"
}

# ---- 1. capture real ciphertext A -> B on NAT B's public side -------------
cap=$LAB_DIR/transport.pcap
pid=$(start_capture nat-B wan "$cap" udp and src host "${ep_a%:*}" and src port "${ep_a##*:}" and dst port "${ep_b##*:}")
lab_exec A ping -n -q -c 10 -i 0.2 -W 1 -p "$PAT_REPLAY" "$LAB_TUN_IP_B" >/dev/null ||
	lab_fail "ping A -> B failed while capturing the ciphertext to replay"
sleep 0.5
lab_kill "$pid"
ncap=$(tcpdump -r "$cap" -n 2>/dev/null | wc -l)
[ "$ncap" -ge 5 ] || lab_fail "captured only $ncap datagrams A -> B on NAT B (want >= 5)"
# The capture is ciphertext: the ping pattern must not appear in it.
[ "$("$INJ" grep "$cap" "$PAT_REPLAY$PAT_REPLAY")" = 0 ] || lab_fail "the ping payload is visible on the wire: not encrypted"
echo "captured $ncap encrypted datagrams A -> B"

# ---- 2. capture B's tun, keep a ping running, attack ----------------------
tuncap=$LAB_DIR/tun-B.pcap
tunpid=$(start_capture B "$LAB_TUN_DEV" "$tuncap")
livelog=$LAB_DIR/logs/live-ping.log
livepid=$(lab_bg A "$livelog" ping -n -c 40 -i 0.25 -W 1 -p "$PAT_LIVE" "$LAB_TUN_IP_B")

inject() { # [--spoof EP] [--count N] MODE [ARGS...] -> to B's public endpoint
	local opts=()
	while [ "${1#--}" != "$1" ]; do opts+=("$1" "$2"); shift 2; done
	local mode=$1
	shift
	lab_exec X "$INJ" "${opts[@]}" "$mode" "${ep_b%:*}" "${ep_b##*:}" "$@" >/dev/null ||
		lab_fail "np_labinject ${opts[*]} $mode failed"
}
bad_before=$(lab_status B dropped_unauthenticated)
replay_before=$(lab_status B dropped_replayed)
for round in 1 2; do
	for from in own spoofed; do
		spoof=()
		[ "$from" = own ] || spoof=(--spoof "$ep_a")
		inject "${spoof[@]}" rawip "$LAB_TUN_IP_A" "$LAB_TUN_IP_B" "$MARK_RAW"
		inject "${spoof[@]}" data "$LAB_TUN_IP_A" "$LAB_TUN_IP_B" "$MARK_DATA"
		inject "${spoof[@]}" --count 3 replay "$cap"
		inject "${spoof[@]}" --count 50 probe
		inject "${spoof[@]}" --count 2 handshake
	done
	echo "attack round $round sent"
	sleep 1
done

lab_wait 20 test -f "$LAB_DIR/run/rc.$livepid" || lab_fail "the live ping did not finish"
lab_kill "$livepid"
sleep 0.5
lab_kill "$tunpid"
lab_assert_alive server A B

# ---- 3. verdicts ------------------------------------------------------------
for m in "$MARK_RAW" "$MARK_DATA"; do
	n=$("$INJ" grep "$tuncap" "$(hex "$m")") || lab_fail "cannot read the tun capture"
	[ "$n" = 0 ] || lab_fail "$n injected packets with marker $m came out of B's tun"
done
n=$("$INJ" grep "$tuncap" "$PAT_REPLAY$PAT_REPLAY") || lab_fail "cannot read the tun capture"
[ "$n" = 0 ] || lab_fail "$n replayed ciphertext packets came out of B's tun"
live_seen=$("$INJ" grep "$tuncap" "$PAT_LIVE$PAT_LIVE")
[ "$live_seen" -ge 20 ] || lab_fail "the tun capture holds only $live_seen of the live pings (capture broken?)"

received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$livelog")
[ -n "$received" ] && [ "$received" -ge 38 ] ||
	lab_fail "the tunnel stumbled during the attack: ${received:-?} of 40 pings answered"

# The forged datagrams did reach B's daemon (else this test proves nothing):
# its status counts them as dropped.
json=$(lab_status_json B) || lab_fail "B's status does not answer"
replay_after=$(lab_json_field "$json" dropped_replayed)
bad_after=$(lab_json_field "$json" dropped_unauthenticated)
[ "$replay_after" -gt "$replay_before" ] ||
	lab_fail "B never dropped the replayed ciphertext (dropped_replayed $replay_before -> $replay_after)"
[ "$bad_after" -gt "$bad_before" ] ||
	lab_fail "B dropped no forged datagram as unauthenticated (dropped_unauthenticated $bad_before -> $bad_after)"
echo "ok: B dropped $((replay_after - replay_before)) replayed and $((bad_after - bad_before)) unauthenticated datagrams"
# The forged probes carry rounds of no current pairing: dropped before their MAC.
[ "$(lab_json_field "$json" dropped_other_pairing)" -gt 0 ] ||
	lab_fail "B counted none of the forged probes as of another pairing (dropped_other_pairing)"
[ "$(lab_json_field "$json" peer_endpoint)" = "$ep_a" ] ||
	lab_fail "a forged packet moved B's endpoint for A to $(lab_json_field "$json" peer_endpoint)"
for n in A B; do
	[ "$(lab_status "$n" tunnel_downs)" = 0 ] || lab_fail "$n's tunnel went down during the attack"
done

lab_ping_both A B || lab_fail "ping failed after the attack"
lab_assert_alive server A B
lab_pass "no injected, replayed or forged datagram came out of B's tun ($received/40 live pings answered)"
