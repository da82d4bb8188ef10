#!/bin/bash
# test_systemd_notify: natpunch under a fake systemd. Peer A runs from a
# --config file with NOTIFY_SOCKET pointing at np_notifyrecv (a unix datagram
# socket this test reads). READY=1 must come once the tun device and the
# control socket exist; STATUS= follows the tunnel ("waiting for peer", then
# "up, direct via simple"); SIGHUP re-reads the file (RELOADING=1, READY=1),
# applies a new hook at once (it sees "up", reason "reload") and says that a
# changed keepalive needs a restart; SIGTERM sends STOPPING=1 and the new
# hook sees "down".
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
lab_two_sites
lab_start_server

recv=$NP_BUILD_DIR/tests/lab/np_notifyrecv
[ -x "$recv" ] || lab_fail "missing $recv (build the lab tools)"
sock=$LAB_DIR/notify.sock
ctl=$LAB_DIR/ctl-A.sock
conf=$LAB_DIR/A.conf
marker=$LAB_DIR/marker
notes=$LAB_DIR/logs/notify.log
cat >"$conf" <<CONF
# peer A of test_systemd_notify, all in the file
server = $SERVER_IP
server-port = $LAB_PORT1
tun = $LAB_TUN_DEV
local-ip = 10.10.0.1
remote-ip = 10.10.0.2
mtu = $LAB_MTU
key = $LAB_KEY_A
peer-key = $LAB_PUBKEY_B
strategy-path = $NP_BUILD_DIR/strategies
control = $ctl
log-level = info
CONF
"$NP_BUILD_DIR/natpunch" --check-config "$conf" >/dev/null || lab_fail "--check-config rejects $conf"

lab_bg A "$notes" "$recv" "$sock" 60 "$LAB_TUN_DEV" "$ctl" >/dev/null
lab_wait 5 grep -q listening "$notes" || lab_fail "np_notifyrecv did not start"
LAB_LOG_A=$LAB_DIR/logs/A.1.log
LAB_PID_A=$(lab_bg A "$LAB_LOG_A" env NOTIFY_SOCKET="$sock" NP_TEST_MARKER="$marker" \
	"$NP_BUILD_DIR/natpunch" --config "$conf" ${NP_LAB_EXTRA_ARGS:-})
LAB_TUN_IP_A=10.10.0.1
LAB_CTL_A=$LAB_DIR/ctl-A.sock

lab_wait 10 grep -q "READY=1" "$notes" || lab_fail "no READY=1 within 10 s"
grep -q "READY=1 tun=yes ctl=yes" "$notes" || lab_fail "READY=1 before the tun and control socket existed: $(grep READY "$notes")"
lab_wait 10 grep -q "STATUS=waiting for peer" "$notes" || lab_fail "no STATUS=waiting for peer"
# Nothing says "up" before there is a peer.
! grep -q "STATUS=up" "$notes" || lab_fail "STATUS=up without a peer"

lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1
lab_wait_tunnel A B 30 || lab_fail "tunnel not up within 30 s"
lab_wait 5 grep -q "STATUS=up, direct via simple" "$notes" || lab_fail "no STATUS=up, direct via simple"
order=$(grep -oE "READY=1|STATUS=(waiting for peer|up, direct via simple)" "$notes" | head -3 | tr '\n' '|')
[ "$order" = "READY=1|STATUS=waiting for peer|STATUS=up, direct via simple|" ] ||
	[[ $order == "READY=1|STATUS=registering"* ]] || lab_fail "unexpected order: $order"

# SIGHUP: a new hook (applied now) and a new keepalive (needs a restart).
cat >>"$conf" <<CONF
hook = $NP_SOURCE_DIR/tests/lab/hooks/marker.lua
keepalive = 4
CONF
kill -HUP "$LAB_PID_A"
lab_wait 10 grep -q "reload: done" "$LAB_LOG_A" || lab_fail "no 'reload: done' after SIGHUP"
grep -q "'keepalive' changed; it takes effect at the next restart" "$LAB_LOG_A" ||
	lab_fail "SIGHUP did not say that keepalive needs a restart"
lab_wait 10 grep -qx "up reload" "$marker" || lab_fail "the hook added by SIGHUP did not see 'up reload'"
lab_wait 5 grep -q "RELOADING=1" "$notes" || lab_fail "no RELOADING=1"
[ "$(grep -c "READY=1" "$notes")" -ge 2 ] || lab_fail "no READY=1 after the reload"
lab_ping_both A B || lab_fail "ping failed after the reload"

# A broken file on SIGHUP keeps the running configuration.
echo "bogus = 1" >>"$conf"
kill -HUP "$LAB_PID_A"
lab_wait 10 grep -q "unknown key 'bogus'; keeping the running configuration" "$LAB_LOG_A" ||
	lab_fail "a bad file on SIGHUP was not reported"
lab_assert_alive A
lab_ping_both A B || lab_fail "ping failed after a bad reload"

lab_stop A 10
lab_wait 5 grep -q "STOPPING=1" "$notes" || lab_fail "no STOPPING=1 on SIGTERM"
grep -qx "down shutdown" "$marker" || lab_fail "the reloaded hook did not see 'down shutdown': $(cat "$marker")"
cat "$notes"
lab_pass "READY=1 after tun and control socket, STATUS= follows the tunnel, SIGHUP reloads hooks, STOPPING=1"
