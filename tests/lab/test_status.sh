#!/bin/bash
# test_status: `natpunch status` reads a running tunnel's control socket:
# state, endpoints, strategy, cipher, data path and counters, as text and as
# JSON; bad arguments and a missing daemon get one clear line.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_two_sites
lab_two_peers_up
lab_ping_both A B || lab_fail "ping failed"

np=$NP_BUILD_DIR/natpunch
out=$("$np" status --control "$LAB_CTL_A") || lab_fail "natpunch status failed"
echo "$out"
for want in "interface: np0" "state: UP" "strategy: simple" "path: direct" "security: Noise IK" "nat_self: cone"; do
	grep -qxF "$want" <<<"$out" || lab_fail "status lacks '$want'"
done
peer=$(lab_status A peer_endpoint)
grep -qxF "peer_endpoint: $peer" <<<"$out" || lab_fail "status peer_endpoint is not $peer"
grep -qE '^cipher: (ChaChaPoly|AESGCM)$' <<<"$out" || lab_fail "status shows no cipher"
grep -qE '^data_path: .+' <<<"$out" || lab_fail "status shows no data path"
rx=$(sed -n 's/^rx_packets: //p' <<<"$out")
tx=$(sed -n 's/^tx_packets: //p' <<<"$out")
[ "${rx:-0}" -ge 3 ] && [ "${tx:-0}" -ge 3 ] || lab_fail "counters too low after pings: rx=$rx tx=$tx"

json=$("$np" status --control "$LAB_CTL_B" --json) || lab_fail "natpunch status --json failed"
echo "$json"
[[ $json == "{"*"}" ]] || lab_fail "status --json is not one JSON object"
grep -qF '"state":"UP"' <<<"$json" || lab_fail "JSON lacks \"state\":\"UP\""
grep -qE '"rx_packets":[0-9]+' <<<"$json" || lab_fail "JSON rx_packets is not a number"

set +e
msg=$("$np" status --control "$LAB_DIR/nope.sock" 2>&1); rc=$?
set -e
[ "$rc" = 1 ] && grep -q "cannot reach" <<<"$msg" || lab_fail "status of a missing socket: rc=$rc '$msg'"
set +e
msg=$("$np" status ../etc 2>&1); rc=$?
set -e
[ "$rc" = 2 ] || lab_fail "status with a bad interface name: rc=$rc '$msg'"

lab_stop A
[ ! -e "$LAB_CTL_A" ] || lab_fail "the control socket outlived the daemon"
lab_pass "natpunch status reports state, endpoints, cipher, data path and counters"
