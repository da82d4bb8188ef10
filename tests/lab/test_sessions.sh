#!/bin/bash
# test_sessions: two tunnels (A-B as session s1, C-D as s2) share one server,
# both come up, each peer is paired with its own partner, and both ping.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_keys A B C D
lab_server
for n in A B C D; do lab_site "$n" cone; done
lab_start_server
lab_start_pair A B 10.10.0 --session s1
lab_start_pair C D 10.20.0 --session s2
lab_wait_tunnel A B 30 || lab_fail "session s1 (A-B): tunnel not up within 30 s"
lab_wait_tunnel C D 30 || lab_fail "session s2 (C-D): tunnel not up within 30 s"

# Each peer must have been paired with its own partner's public address.
for pair in "A B" "B A" "C D" "D C"; do
	set -- $pair
	ep=$(lab_status "$1" peer_endpoint) || lab_fail "$1: its status has no peer_endpoint"
	[ "${ep%:*}" = "$(lab_get PUB_IP "$2")" ] ||
		lab_fail "$1 is paired with $ep, want $2's public address $(lab_get PUB_IP "$2")"
done
lab_ping_both A B || lab_fail "session s1 (A-B): ping failed"
lab_ping_both C D || lab_fail "session s2 (C-D): ping failed"
lab_assert_alive server A B C D
lab_pass "two sessions on one server, both tunnels ping"
