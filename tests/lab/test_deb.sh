#!/bin/bash
# test_deb: the Debian package, end to end. Builds natpunch for /usr in
# $NP_BUILD_DIR/deb, makes the .deb with `cpack -G DEB`, checks its control
# data (dependencies, maintainer scripts), installs it with `dpkg -i`, runs a
# demo tunnel between two NATed lab peers with the INSTALLED programs
# (/usr/bin/natpunch, /usr/bin/natpunch-server, strategies and Lua library
# from /usr; peer A from a configuration file, as the natpunch user, with a
# firewall hook), then purges it and checks that nothing is left: no file of the
# package, no natpunch user or group, no /etc/natpunch, no /var/lib/natpunch.
#
# This test changes the system, so it refuses to run when natpunch is
# already installed or a natpunch user exists that it did not make, and its
# EXIT trap purges the package whatever happened.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
for t in dpkg dpkg-deb cpack useradd; do command -v "$t" >/dev/null || lab_fail "$t is missing"; done
if dpkg-query -W -f='${Status}' natpunch 2>/dev/null | grep -q "installed"; then
	lab_fail "a natpunch package is installed already; this test will not touch it"
fi
getent passwd natpunch >/dev/null && lab_fail "a natpunch user exists already; this test will not touch it"
[ ! -e /etc/natpunch ] || lab_fail "/etc/natpunch exists already; this test will not touch it"

purge_on_exit() {
	if dpkg-query -W -f='${Status}' natpunch 2>/dev/null | grep -qv "not-installed"; then
		dpkg --purge natpunch >/dev/null 2>&1 || echo "test_deb: WARNING: dpkg --purge natpunch failed" >&2
	fi
}
lab_at_exit purge_on_exit

# ---- build the package ----------------------------------------------------
real_build=$NP_BUILD_DIR
debdir=$real_build/deb
log=$LAB_DIR/logs/deb-build.log
{
	cmake -S "$NP_SOURCE_DIR" -B "$debdir" -DCMAKE_INSTALL_PREFIX=/usr -DNP_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		cmake --build "$debdir" -j2 &&
		rm -f "$debdir"/natpunch_*.deb &&
		(cd "$debdir" && cpack -G DEB)
} >"$log" 2>&1 || { tail -30 "$log"; lab_fail "building the .deb failed"; }
deb=$(ls "$debdir"/natpunch_*.deb)
info=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $info"
for dep in libev4 liblua5.4-0 libsodium23 libinih1 libsystemd0 libc6 passwd; do
	grep -qE "(^|, )$dep( |,|$)" <<<"$info" || lab_fail "the package does not depend on $dep"
done
files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\.||')
for f in /usr/bin/natpunch /usr/bin/natpunch-server /usr/lib/systemd/system/natpunch@.service \
	/usr/lib/systemd/system/natpunch-server.service /usr/share/man/man8/natpunch.8 /usr/share/man/man5/natpunch.conf.5 \
	/usr/share/man/man7/natpunch-hooks.7 /usr/share/man/man3/natpunch-strategy.3 /usr/share/man/man8/natpunch-server.8 \
	/usr/include/natpunch/strategy.h /usr/share/natpunch/lua/natpunch/firewall.lua; do
	grep -qxF "$f" <<<"$files" || lab_fail "the package lacks $f"
done
grep -qE '^/usr/lib/.*/natpunch/strategies/simple\.so$' <<<"$files" || lab_fail "the package lacks the strategies"
grep -qE '^/usr/lib/.*/pkgconfig/natpunch-strategy\.pc$' <<<"$files" || lab_fail "the package lacks the .pc file"
# Files (not directories) the package owns: none of them may exist yet, all must after dpkg -i.
owned=$(grep -v '/$' <<<"$files")
while read -r f; do [ ! -e "$f" ] || lab_fail "$f exists before the install"; done <<<"$owned"

# ---- install --------------------------------------------------------------
dpkg -i "$deb" >"$LAB_DIR/logs/dpkg-i.log" 2>&1 || { cat "$LAB_DIR/logs/dpkg-i.log"; lab_fail "dpkg -i failed"; }
while read -r f; do [ -e "$f" ] || lab_fail "$f is missing after dpkg -i"; done <<<"$owned"
pw=$(getent passwd natpunch) || lab_fail "dpkg -i made no natpunch user"
uid=$(cut -d: -f3 <<<"$pw")
[ "$uid" -lt 1000 ] || lab_fail "the natpunch user is not a system user (uid $uid)"
grep -q ":/usr/sbin/nologin$" <<<"$pw" || lab_fail "the natpunch user can log in: $pw"
[ "$(stat -c %U:%G:%a /etc/natpunch)" = "root:natpunch:750" ] || lab_fail "/etc/natpunch is $(stat -c %U:%G:%a /etc/natpunch)"
/usr/bin/natpunch --version | grep -q "^natpunch " || lab_fail "/usr/bin/natpunch does not run"
/usr/bin/natpunch check-strategy spray >/dev/null || lab_fail "/usr/bin/natpunch does not find its strategies"
# The installed units, with their real paths.
for u in natpunch@tun0.service natpunch-server.service; do
	out=$(cd /usr/lib/systemd/system && systemd-analyze verify --man=no "$u" 2>&1) || lab_fail "verify $u: $out"
	[ -z "$out" ] || lab_fail "systemd-analyze verify $u warns: $out"
done

# ---- demo tunnel with the installed programs ------------------------------
inst=$LAB_DIR/installed
mkdir -p "$inst"
ln -s /usr/bin/natpunch "$inst/natpunch"
ln -s /usr/bin/natpunch-server "$inst/natpunch-server"
NP_BUILD_DIR=$inst # the lab now starts /usr/bin/natpunch*; no --strategy-path dir exists there
lab_two_sites
lab_start_server
# A uses a configuration file, as natpunch@.service would, with a hook from the installed Lua library.
conf=$LAB_DIR/np0.conf
cat >"$conf" <<CONF
server = $SERVER_IP
server-port = $LAB_PORT1
tun = $LAB_TUN_DEV
local-ip = 10.10.0.1
remote-ip = 10.10.0.2
mtu = $LAB_MTU
key = $LAB_KEY_A
peer-key = $LAB_PUBKEY_B
control = $LAB_DIR/ctl-A.sock
hook = $NP_SOURCE_DIR/tests/lab/hooks/fw-allow-5201.lua
# the system user the package made; the hooks keep root in their helper
user = natpunch
CONF
/usr/bin/natpunch --check-config "$conf" >/dev/null || lab_fail "the installed natpunch rejects $conf"
LAB_LOG_A=$LAB_DIR/logs/A.1.log
LAB_PID_A=$(lab_bg A "$LAB_LOG_A" /usr/bin/natpunch --config "$conf" -v)
LAB_TUN_IP_A=10.10.0.1
LAB_CTL_A=$LAB_DIR/ctl-A.sock
lab_start_peer B "$LAB_PORT2" 10.10.0.2 10.10.0.1
lab_wait_tunnel A B 30 || lab_fail "the installed natpunch brought no tunnel up within 30 s"
lab_ping_both A B || lab_fail "ping through the installed natpunch failed"
grep -q "np-test: firewall up on" "$LAB_LOG_A" || lab_fail "the hook did not load natpunch.firewall from /usr/share/natpunch/lua"
[ "$(awk '/^Uid:/ {print $2}' "/proc/$LAB_PID_A/status")" = "$uid" ] ||
	lab_fail "the installed natpunch does not run as the natpunch user ($(grep '^Uid:' "/proc/$LAB_PID_A/status"))"
lab_stop A 10
lab_stop B
lab_stop server

# ---- purge ----------------------------------------------------------------
dpkg --purge natpunch >"$LAB_DIR/logs/dpkg-purge.log" 2>&1 || { cat "$LAB_DIR/logs/dpkg-purge.log"; lab_fail "dpkg --purge failed"; }
if dpkg-query -W -f='${Status}' natpunch 2>/dev/null | grep -qv "not-installed"; then
	lab_fail "dpkg still knows natpunch after the purge"
fi
while read -r f; do [ ! -e "$f" ] || lab_fail "$f is left after the purge"; done <<<"$owned"
for d in /etc/natpunch /var/lib/natpunch /usr/lib/x86_64-linux-gnu/natpunch /usr/share/natpunch /usr/share/doc/natpunch /usr/include/natpunch; do
	[ ! -e "$d" ] || lab_fail "$d is left after the purge"
done
getent passwd natpunch >/dev/null && lab_fail "the natpunch user is left after the purge"
getent group natpunch >/dev/null && lab_fail "the natpunch group is left after the purge"
lab_pass "cpack .deb: dependencies, dpkg -i (user, units), a tunnel with /usr/bin/natpunch, dpkg --purge leaves nothing"
