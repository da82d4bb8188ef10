#!/bin/bash
# test_same_lan: two peers behind one NAT connect over their LAN, straight
# to each other's LAN endpoint, not through the NAT (which, as Linux NATs
# do, does not hairpin), and status says so (path_scope lan). Behind a
# cone NAT, and behind a symmetric-random one, where --strategy=auto would
# otherwise find no direct path.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_keys A B C D
lab_server
lab_site A cone
lab_lan_host B A
lab_site C symmetric-random
lab_lan_host D C
lab_start_server
lab_start_peer A "$LAB_PORT1" 10.30.0.1 10.30.0.2 --session sAB
lab_start_peer B "$LAB_PORT2" 10.30.0.2 10.30.0.1 --session sAB
lab_start_peer C "$LAB_PORT1" 10.31.0.1 10.31.0.2 --session sCD
lab_start_peer D "$LAB_PORT2" 10.31.0.2 10.31.0.1 --session sCD
for pr in "A B" "C D"; do
	# shellcheck disable=SC2086
	set -- $pr
	lab_wait_tunnel "$1" "$2" 30 || lab_fail "$1 <-> $2 (one NAT): tunnel not up within 30 s"
	for n in "$1" "$2"; do
		other=$2
		[ "$n" = "$1" ] || other=$1
		ep=$(lab_status "$n" peer_endpoint) sc=$(lab_status "$n" path_scope)
		echo "$n: peer $ep, path_scope $sc, strategy $(lab_status "$n" strategy)"
		[ "$sc" = lan ] || lab_fail "$n: path_scope '$sc', expected lan"
		[ "${ep%:*}" = "$(lab_get LAN_IP "$other")" ] || lab_fail "$n: peer endpoint $ep is not $other's LAN address"
	done
	lab_ping_both "$1" "$2" || lab_fail "$1 <-> $2: ping through the tunnel failed"
done
lab_pass "same NAT: cone and symmetric-random pairs connect over the LAN (path_scope lan)"
