#!/bin/bash
# test_tunnel_kinds: the tunnel comes up across real NATs.
#
# cone <-> cone 20 times in a row, each time with fresh NAT namespaces (clean
# conntrack state: the Linux conntrack clash is the hard part) and a fresh
# server and peers; then cone-altered, double and none against cone once each.
# Every round must ping both ways through the tunnel.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

CONE_ROUNDS=${CONE_ROUNDS:-20}
UP_TIMEOUT=${UP_TIMEOUT:-20}

lab_init
lab_keys A B
lab_server

# one_round LABEL KIND_A KIND_B: fresh NATs, server and peers; tunnel; ping.
one_round() {
	local label=$1 t0 ms
	lab_site A "$2"
	lab_site B "$3"
	lab_start_server
	t0=$(lab_now_ms)
	lab_start_pair A B 10.10.0
	lab_wait_tunnel A B "$UP_TIMEOUT" || lab_fail "$label ($2 <-> $3): tunnel not up within ${UP_TIMEOUT}s"
	ms=$(($(lab_now_ms) - t0))
	lab_ping_both A B || lab_fail "$label ($2 <-> $3): tunnel up but ping failed"
	echo "ok: $label $2 <-> $3 up in ${ms} ms, strategy $(lab_status A strategy || echo '?')/$(lab_status B strategy || echo '?')"
	lab_stop server
	lab_site_del A
	lab_site_del B
}

for ((i = 1; i <= CONE_ROUNDS; i++)); do
	one_round "round $i/$CONE_ROUNDS" cone cone
done
one_round "altered" cone-altered cone
one_round "double" double cone
one_round "none" none cone

lab_pass "cone<->cone $CONE_ROUNDS/$CONE_ROUNDS; cone-altered, double and none <-> cone"
