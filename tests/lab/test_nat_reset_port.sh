#!/bin/bash
# test_nat_reset_port: both NATs "reboot" (conntrack -F on both) under a live
# tunnel between peers started with --port (fixed local ports, where the
# conntrack clash bites hardest: the fixed-port sockets keep refreshing the
# entries that made the NATs pick other ports).
#   phase 1: the server is up: back (ping both ways) within 20 s.
#   phase 2: the server is stopped (cone NATs preserve ports, so both peers
#            still know where the other is): back within 20 s, under the same
#            session keys (status: recoveries + 1, tunnel_ups unchanged).
# NP_RESET_ARGS replaces "--port 4500" (test_nat_reset runs without --port).
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"
# shellcheck disable=SC2206
ARGS=(${NP_RESET_ARGS---port 4500})

lab_init
lab_two_sites cone cone
lab_two_peers_up "${ARGS[@]}"
lab_ping_both A B || lab_fail "tunnel up but ping failed before the reset"

both_ways() { lab_ping A B && lab_ping B A; }
reset_and_wait() { # WHAT
	lab_conntrack_flush A
	lab_conntrack_flush B
	local t0
	t0=$(lab_now_ms)
	lab_wait 20 both_ways || lab_fail "$1: no ping both ways within 20 s of flushing both NATs"
	echo "ok: $1: pings again $(($(lab_now_ms) - t0)) ms after the flush"
	lab_ping_both A B || lab_fail "$1: ping failed after the recovery"
}

reset_and_wait "server up (${ARGS[*]:-no options})"
lab_stop server
ups=$(lab_status A tunnel_ups) || lab_fail "no status from A"
rec=$(lab_status A recoveries) || lab_fail "no status from A"
reset_and_wait "server stopped (${ARGS[*]:-no options})"
# Without a server there is no new registration: the same session carried on.
[ "$(lab_status A tunnel_ups)" = "$ups" ] || lab_fail "server stopped: A counted a new 'tunnel up' (a new handshake?)"
[ "$(lab_status A recoveries)" -gt "$rec" ] || lab_fail "server stopped: A's status counts no recovery"
lab_assert_alive A B
lab_pass "after a reset of both NATs the tunnel is back within 20 s, with and without the server (${ARGS[*]:-no options})"
