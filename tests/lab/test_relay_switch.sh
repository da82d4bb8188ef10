#!/bin/bash
# test_relay_switch: a relayed pair moves to direct, once, when a direct
# path appears, and back to the relay when the direct path is blocked.
#   A symmetric-random <-> B symmetric-seq:1: no direct path, relayed at once.
#   A's NAT becomes a cone (lab_set_nat): A's periodic NAT check notices,
#   both run the punch in the background, verify the path with
#   authenticated probes, and switch to direct: exactly one switch each
#   (status --json path_switches), a path_change hook with t.path "direct".
#   UDP between the two sites' public addresses is dropped in the lab
#   internet (the relay stays reachable): both fall back to the relay within
#   seconds, without a new handshake (tunnel_ups stays 1): two switches.
# A ping every 0.2 s runs throughout; its loss stays bounded.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_keys A B
lab_server
lab_site A symmetric-random
lab_site B symmetric-seq:1
lab_start_turn
lab_start_server
relay_args() { # NAME
	local u
	u=$(lab_turn_creds "$1")
	echo "--turn turn:$TURN_IP --turn-user $u --turn-password-file $LAB_DIR/keys/turn-$1.pw"
}
hook=$NP_SOURCE_DIR/examples/hooks/log-events.lua
# shellcheck disable=SC2046
NATPUNCH_EVENT_LOG=$LAB_DIR/events.A lab_start_peer A "$LAB_PORT1" 10.10.0.1 10.10.0.2 --hook "$hook" $(relay_args A)
# shellcheck disable=SC2046
NATPUNCH_EVENT_LOG=$LAB_DIR/events.B lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1 --hook "$hook" $(relay_args B)
lab_wait_tunnel A B 20 || lab_fail "A-B not up within 20 s"
for n in A B; do
	[ "$(lab_status "$n" path)" = relayed ] || lab_fail "$n: not relayed at first"
	[ "$(lab_status "$n" path_switches)" = 0 ] || lab_fail "$n: the first path counted as a switch"
done

# 0.2 s pings for the rest of the test (bounded: at most 90 s).
pinglog=$LAB_DIR/ping.log
ping_pid=$(lab_bg A "$pinglog" ping -n -i 0.2 -W 1 -w 90 10.10.0.2)

t0=$(lab_now_ms)
lab_set_nat A cone
is_path() { [ "$(lab_status "$1" path 2>/dev/null)" = "$2" ]; }
both() { is_path A "$1" && is_path B "$1"; }
lab_wait 40 both direct || lab_fail "not direct within 40 s of the NAT change"
t1=$(lab_now_ms)
echo "relayed -> direct $((t1 - t0)) ms after the NAT change"
sleep 4
for n in A B; do
	is_path "$n" direct || lab_fail "$n: left the direct path again"
	s=$(lab_status "$n" path_switches)
	[ "$s" = 1 ] || lab_fail "$n: $s path switches after the NAT change (want exactly 1)"
	grep -q "answered" <<<"$(lab_status "$n" last_switch_reason)" || lab_fail "$n: switch reason"
done
grep -q "path: switched to direct, peer .*: the direct path answered" "$(lab_get LOG A)" || lab_fail "A: no log line for the switch"
lab_ping_both A B || lab_fail "ping over the direct path"

# loss = replies missing below the last sequence number answered
ping_loss() {
	awk -F'icmp_seq=' '/bytes from/ { split($2, a, " "); n++; last = a[1] }
		END { if (!last) print 100; else printf "%.1f\n", 100 * (last - n) / last }' "$pinglog"
}
# The background attempt and the switch did not disturb the relayed data.
loss=$(ping_loss)
echo "ping loss up to the direct path: $loss %"
awk -v l="$loss" 'BEGIN { exit !(l <= 2) }' || lab_fail "ping lost $loss % before the block (want <= 2 %)"

# Block direct UDP between the sites; the server and the relay stay reachable.
t2=$(lab_now_ms)
lab_exec router nft -f - <<EOT
table ip switchtest {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip saddr $(lab_get PUB_IP A) ip daddr $(lab_get PUB_IP B) meta l4proto udp drop
		ip saddr $(lab_get PUB_IP B) ip daddr $(lab_get PUB_IP A) meta l4proto udp drop
	}
}
EOT
lab_wait 15 both relayed || lab_fail "not back on the relay within 15 s of blocking the direct path"
t3=$(lab_now_ms)
echo "direct -> relayed $((t3 - t2)) ms after the block"
sleep 3
for n in A B; do
	is_path "$n" relayed || lab_fail "$n: left the relay again"
	s=$(lab_status "$n" path_switches)
	[ "$s" = 2 ] || lab_fail "$n: $s path switches after the block (want 2)"
	grep -q "no packet over the direct path" <<<"$(lab_status "$n" last_switch_reason)" ||
		lab_fail "$n: fallback reason"
	[ "$(lab_status "$n" tunnel_ups)" = 1 ] || lab_fail "$n: the tunnel went down and up again"
done
lab_ping_both A B || lab_fail "ping through the relay after the fallback"

lab_kill "$ping_pid" 1 || true
loss=$(ping_loss)
echo "ping loss over both switches: $loss %"
awk -v l="$loss" 'BEGIN { exit !(l <= 25) }' || lab_fail "ping lost $loss % (want <= 25 %)"

# "EVENT PATH" of each hook event (examples/hooks/log-events.lua's lines)
events() { sed -n -E 's/^[^ ]+ event=([a-z_]+) .*path=([a-z]+) .*$/\1 \2/p' "$LAB_DIR/events.$1"; }
for n in A B; do
	lab_wait 5 grep -q "event=path_change .*path=relayed" "$LAB_DIR/events.$n" ||
		lab_fail "$n: no path_change hook to relayed: $(events "$n" | tr '\n' ,)"
	got=$(events "$n" | tr '\n' ,)
	[ "$got" = "up relayed,path_change direct,path_change relayed," ] ||
		lab_fail "$n: hook events '$got' (want up relayed, path_change direct, path_change relayed)"
done
lab_pass "relayed -> direct after the NAT change in $((t1 - t0)) ms (one switch), back to relayed $((t3 - t2)) ms after the block; ping loss $loss %"
