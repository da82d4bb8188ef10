#!/bin/bash
# test_relay_fallback: a pair whose NATs allow a direct path (cone <-> cone)
# but whose direct UDP is dropped in the lab internet (the router drops UDP
# between the two sites; the server and the relay stay reachable). The punch
# attempt fails, and the pair moves to the relay within 5 s of that failure
# (--relay fallback, the default).
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_keys A B
lab_server
lab_site A cone
lab_site B cone
lab_start_turn
# No UDP between site A and site B.
lab_exec router nft -f - <<EOT
table ip relaytest {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip saddr $(lab_get PUB_IP A) ip daddr $(lab_get PUB_IP B) meta l4proto udp drop
		ip saddr $(lab_get PUB_IP B) ip daddr $(lab_get PUB_IP A) meta l4proto udp drop
	}
}
EOT
lab_start_server
# shellcheck disable=SC2046
lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 $(lab_turn_args A)
# shellcheck disable=SC2046
lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 $(lab_turn_args B)
lab_wait_tunnel A B 45 || lab_fail "A-B not up within 45 s"
for n in A B; do
	[ "$(lab_status "$n" path)" = relayed ] || lab_fail "$n: not relayed"
done
# From the first "punch failed" to "path: relayed", on the side that failed.
ms() { # "HH:MM:SS.mmm ..." -> ms of the day
	awk '{ split($1, t, ":"); printf "%d\n", (t[1] * 3600 + t[2] * 60 + t[3]) * 1000 }'
}
for n in A B; do
	log=$(lab_get LOG "$n")
	f=$(grep -m1 "punch failed" "$log" || true)
	# A side whose punch was still running when the peer's handshake came
	# over the relay logs neither line: only the side that failed counts.
	[ -n "$f" ] || continue
	r=$(grep -m1 "path: relayed" "$log") || lab_fail "$n: its punch failed, but it never logged 'path: relayed'"
	d=$(($(ms <<<"$r") - $(ms <<<"$f")))
	echo "$n: punch failed -> relayed in $d ms"
	[ "$d" -le 5000 ] || lab_fail "$n: moved to the relay $d ms after the punch failed (want <= 5000)"
done
grep -q "punch failed" "$(lab_get LOG A)" "$(lab_get LOG B)" || lab_fail "neither side logged a failed punch"
lab_ping_both A B || lab_fail "ping through the relay"
lab_pass "a failed direct attempt moves to the relay within 5 s"
