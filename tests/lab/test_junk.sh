#!/bin/bash
# test_junk: junk datagrams (every type byte with garbage bodies, truncated
# headers, wrong versions, random bytes) from an internet host, to both
# server ports and the server's alternate address, and to both peers' public
# endpoints: once from the host's own address (the NATs filter most of it)
# and once forged as the other peer's endpoint, so it passes the NAT and
# reaches the daemon. All three daemons must live on and the tunnel must ping.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
[ -x "$LAB_UDP" ] || lab_fail "$LAB_UDP is missing (build the tests first)"
lab_two_sites
lab_host X
lab_two_peers_up

# Public endpoints, as each side saw the other.
ep_b=$(lab_status A peer_endpoint) || lab_fail "A's status has no peer_endpoint"
ep_a=$(lab_status B peer_endpoint) || lab_fail "B's status has no peer_endpoint"
echo "public endpoints: A $ep_a, B $ep_b"

junk() { # seed [--spoof SRC] DST_IP DST_PORT
	local seed=$1
	shift
	lab_exec X "$LAB_UDP" junk --count 2000 --seed "$seed" --max-seconds 10 "$@" >/dev/null ||
		lab_fail "np_labudp junk $* failed"
}
seed=1
for dst in "$SERVER_IP $LAB_PORT1" "$SERVER_IP $LAB_PORT2" "$SERVER_ALT_IP $LAB_PORT1" "$SERVER_ALT_IP $LAB_PORT2"; do
	junk $((seed++)) $dst
done
junk $((seed++)) "${ep_a%:*}" "${ep_a##*:}"
junk $((seed++)) "${ep_b%:*}" "${ep_b##*:}"
junk $((seed++)) --spoof "$ep_b" "${ep_a%:*}" "${ep_a##*:}"
junk $((seed++)) --spoof "$ep_a" "${ep_b%:*}" "${ep_b##*:}"
echo "sent $(((seed - 1) * 2000)) junk datagrams"

sleep 1
lab_assert_alive server A B
lab_wait 10 lab_ping A B || lab_fail "the tunnel no longer pings after the junk"
lab_ping_both A B || lab_fail "ping failed after the junk"
lab_assert_alive server A B
lab_pass "three daemons survive junk; the tunnel still pings"
