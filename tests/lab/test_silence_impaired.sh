#!/bin/bash
# test_silence_impaired: the fast silence rule (np_silence.h) on an impaired
# path raises no false alarm that costs anything. Two cone sites, each 50 ms
# from the internet (+-10 ms jitter, 5 % loss each way: 100 ms and about
# 10 % loss between the peers). A sends UDP one way only (B drops it before
# any port-unreachable goes back), 10 datagrams a second for 25 s: only
# B's passive keepalives (0.5 s after data heard) tell A the path works.
# Then the other way round for 10 s. Throughout: no tunnel down, no new
# tunnel, no endpoint change, no recovery, and at most a few suspicions
# (each a probe the old path answers; measured 0-1 per run); afterwards
# pings both ways.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_two_sites cone cone
lab_impair_site A 50 10 5 120
lab_impair_site B 50 10 5 120
lab_two_peers_up
lab_wait 10 lab_ping A B || lab_fail "no ping A -> B through the impaired tunnel"
lab_wait 10 lab_ping B A || lab_fail "no ping B -> A through the impaired tunnel"

# Drop the one-way stream at the receiver, before any ICMP answer.
for n in A B; do
	printf 'table ip npsilence {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tudp dport 9 drop\n\t}\n}\n' |
		lab_exec "$n" nft -f -
done
# stream FROM TO SECONDS: 10 datagrams a second, bounded.
stream() {
	local dst
	dst=$(lab_get TUN_IP "$2")
	lab_exec "$1" timeout $(($3 + 5)) bash -c "for ((i = 0; i < $3 * 10; i++)); do echo x >/dev/udp/$dst/9; sleep 0.1; done"
}
count() { grep -c "$2" "$(lab_get LOG "$1")" || true; }
ups_a=$(lab_status A tunnel_ups) ups_b=$(lab_status B tunnel_ups)
moved=$(($(count A "peer moved") + $(count B "peer moved")))

stream A B 25
stream B A 10

for n in A B; do
	[ "$(count "$n" "tunnel down")" = 0 ] || lab_fail "$n: the tunnel went down under one-way traffic: $(grep "tunnel down" "$(lab_get LOG "$n")" | head -n 1)"
	[ "$(lab_status "$n" recoveries)" = 0 ] || lab_fail "$n: a recovery (an endpoint change) under one-way traffic"
	[ "$(count "$n" "registering afresh")" = 0 ] || lab_fail "$n: registered afresh under one-way traffic"
done
[ "$(lab_status A tunnel_ups)" = "$ups_a" ] && [ "$(lab_status B tunnel_ups)" = "$ups_b" ] || lab_fail "a new tunnel under one-way traffic"
[ "$(($(count A "peer moved") + $(count B "peer moved")))" = "$moved" ] || lab_fail "an endpoint change under one-way traffic"
sa=$(lab_status A suspicions) sb=$(lab_status B suspicions)
fa=$(lab_status A suspicions_false) fb=$(lab_status B suspicions_false)
echo "ok: one-way traffic 25 s A -> B, 10 s B -> A at 10/s: suspicions A $sa ($fa answered), B $sb ($fb answered)"
# A suspicion still running at the end is answered within a round trip.
[ $((sa + sb)) -le 4 ] || lab_fail "too many suspicions of a working path: A $sa, B $sb"
lab_wait 10 lab_ping A B || lab_fail "no ping A -> B after the one-way traffic"
lab_wait 10 lab_ping B A || lab_fail "no ping B -> A after the one-way traffic"
lab_assert_alive server A B
lab_pass "one-way traffic on a lossy path: no false alarm that costs anything"
