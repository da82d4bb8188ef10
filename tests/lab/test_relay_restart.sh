#!/bin/bash
# test_relay_restart: coturn restarts under a relayed tunnel (random <->
# random). Both allocations are gone; each peer notices (its periodic
# Refresh is refused or unanswered, or the tunnel goes silent), allocates
# again, tells the server its new relayed address, and the tunnel carries
# traffic again without restarting natpunch (same PIDs, a second allocation).
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_keys A B
lab_server
lab_site A symmetric-random
lab_site B symmetric-random
lab_start_turn
lab_start_server
# shellcheck disable=SC2046
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 $(lab_turn_args A)
# shellcheck disable=SC2046
lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 $(lab_turn_args B)
lab_wait_tunnel A B 20 || lab_fail "relayed tunnel not up within 20 s"
[ "$(lab_status A path)" = relayed ] || lab_fail "A: not relayed"
pa=$(lab_get PID A)
pb=$(lab_get PID B)

lab_stop turn
sleep 2
t0=$(lab_now_ms)
lab_start_turn
lab_wait 60 lab_ping A B || lab_fail "no traffic A -> B within 60 s of the relay restart"
lab_wait 20 lab_ping B A || lab_fail "no traffic B -> A after the relay restart"
echo "tunnel carries traffic again $(($(lab_now_ms) - t0)) ms after coturn came back"
[ "$(lab_get PID A)" = "$pa" ] && [ "$(lab_get PID B)" = "$pb" ] || lab_fail "natpunch was restarted"
lab_assert_alive A B
for n in A B; do
	a=$(lab_status "$n" relay_allocations)
	[ "$a" -ge 2 ] || lab_fail "$n: relay_allocations is $a after the restart (want >= 2)"
	[ "$(lab_status "$n" path)" = relayed ] || lab_fail "$n: not relayed after the restart"
done
lab_pass "coturn restart under a relayed tunnel: recovered without restarting natpunch"
