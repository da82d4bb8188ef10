#!/bin/bash
# test_sec_allowed_ips: --allowed-ips, WireGuard's inner source filter.
#
# cone/cone tunnel A-B (10.10.0.1 <-> 10.10.0.2). B gives itself a second
# address 10.77.0.5 and pings A from it through the tunnel: the packets
# authenticate, but their inner source is not B's tunnel address, so A
# drops them (dropped_inner_source counts them) and no reply comes back,
# while a ping from B's tunnel address works. Then A restarts with
# --allowed-ips 10.10.0.2/32,10.77.0.0/24 (a routed subnet behind B) and a
# route to it: the same ping is answered.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_two_sites
lab_two_peers_up
lab_exec B ip addr add 10.77.0.5/32 dev lo

lab_check "A's default allowed_ips is B's tunnel address" test "$(lab_status A allowed_ips)" = "10.10.0.2/32"
lab_check "a ping from B's tunnel address works" lab_exec B ping -n -q -c 2 -W 1 "$LAB_TUN_IP_A"
lab_check "a ping from a foreign inner source gets no answer" \
	sh -c "! ip netns exec '$(lab_ns B)' ping -n -q -c 3 -W 1 -I 10.77.0.5 '$LAB_TUN_IP_A' >/dev/null"
n=$(lab_status A dropped_inner_source)
lab_check "A dropped and counted them ($n)" test "$n" -ge 3

lab_stop A
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 --allowed-ips 10.10.0.2/32,10.77.0.0/24
lab_wait_tunnel A B 30 || lab_fail "the tunnel did not come up again"
lab_exec A ip route replace 10.77.0.0/24 dev "$LAB_TUN_DEV"
lab_check "widened: the routed subnet's ping is answered" \
	lab_exec B ping -n -q -c 3 -W 1 -I 10.77.0.5 "$LAB_TUN_IP_A"
lab_check "A reports the widened list" test "$(lab_status A allowed_ips)" = "10.10.0.2/32,10.77.0.0/24"
lab_assert_alive server A B
lab_finish "authenticated packets from sources outside --allowed-ips never reach the tun"
