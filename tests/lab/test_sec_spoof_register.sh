#!/bin/bash
# test_sec_spoof_register: a tokenless server is no packet amplifier, and a
# spoofed registration never makes a peer send to the spoofed address.
#
# Peer A (behind a cone NAT) registers on PORT1 of a server without a token
# and waits for its peer. An internet host X then sends, with the source
# address of a victim host V, REGISTERs for A's session on PORT2 (claiming a
# "random" NAT, which used to make A spray hundreds of probes at the
# claimed endpoint), half of them with a made-up cookie, and padded
# NAT_PROBEs. V captures everything it receives. Verdicts: nothing from A's
# public address reaches V; what the server sent V is at most as many bytes
# as X sent in V's name, and not nothing (the forged datagrams did reach
# the server); A is never paired and its log never says "peer found"; the
# server counted cookies and registered only A.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

INJ=$NP_BUILD_DIR/tests/lab/np_labinject
SESSION=spoofme

lab_init
command -v tcpdump >/dev/null || lab_fail "tcpdump is missing (Debian: apt-get install tcpdump)"
[ -x "$INJ" ] || lab_fail "$INJ is missing (build the tests first)"
lab_keys A B
lab_server
lab_site A cone
lab_host X
lab_host V
lab_start_server
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 --session "$SESSION"
lab_wait 15 grep -q "waiting for the peer" "$LAB_LOG_A" || lab_fail "A did not register"

cap=$LAB_DIR/victim.pcap
caplog=$LAB_DIR/logs/tcpdump-V.log
cpid=$(lab_bg V "$caplog" tcpdump -Z root -U --immediate-mode -n -i eth0 -w "$cap" udp)
lab_wait 10 grep -q "listening on" "$caplog" || lab_fail "tcpdump on V did not start"

# bytes_of OUTPUT: the B of np_labinject's "sent N bytes B".
bytes_of() { sed -n 's/^sent [0-9]* bytes \([0-9]*\)$/\1/p' <<<"$1"; }
out1=$(lab_exec X "$INJ" --spoof "$LAB_IP_V:40000" --count 200 --gap-us 5000 register "$SERVER_IP" "$LAB_PORT2" "$SESSION") ||
	lab_fail "np_labinject register failed"
out2=$(lab_exec X "$INJ" --spoof "$LAB_IP_V:40001" --count 100 --gap-us 2000 natprobe "$SERVER_IP" "$LAB_PORT1") ||
	lab_fail "np_labinject natprobe failed"
sent=$(($(bytes_of "$out1") + $(bytes_of "$out2")))
echo "X sent $sent bytes in V's name ($out1; $out2)"
# Long enough for a paired A to spray at V (it used to within 2 s).
sleep 3
lab_kill "$cpid"

from_srv=$(tcpdump -r "$cap" -n "udp and src net 203.0.113.0/24" 2>/dev/null | sed -n 's/.*length \([0-9]*\)$/\1/p' |
	awk '{ s += $1 } END { print s + 0 }')
n_srv=$(tcpdump -r "$cap" -n "udp and src net 203.0.113.0/24" 2>/dev/null | wc -l)
n_a=$(tcpdump -r "$cap" -n "udp and src host $LAB_PUB_IP_A" 2>/dev/null | wc -l)
n_all=$(tcpdump -r "$cap" -n 2>/dev/null | wc -l)
echo "V received: $n_all datagrams; $n_srv from the server ($from_srv bytes), $n_a from A's public address"

lab_check "nothing from peer A reaches the victim" test "$n_a" = 0
lab_check "the server answered the forged datagrams (the spoof reached it)" test "$n_srv" -gt 0
lab_check "the server sent the victim at most what was sent in its name ($from_srv <= $sent bytes)" \
	test "$from_srv" -le "$sent"
lab_check "only the server and A's NAT could have sent to V: nothing else arrived" test "$n_all" = "$n_srv"
lab_check "A was never paired" sh -c "! grep -q 'peer found' '$LAB_LOG_A'"
lab_check "A still waits for its peer" test "$(lab_status A state)" = WAIT_PEER
lab_assert_alive server A
lab_stop server
lab_check "the server counted cookies and registered nothing but A" \
	grep -Eq "registers=[1-9][0-9]* pairs=0 nat_probes=[0-9]+ cookies=[1-9]" "$LAB_LOG_server"
lab_finish "a spoofed registration draws one small cookie per datagram and no peer traffic"
