#!/bin/bash
# test_check_config: `natpunch --check-config` and `natpunch-server
# --check-config` as a user runs them: a good file prints its effective
# configuration (with origins) and exits 0; an unreadable key file, a bad
# value and an unknown key are one line naming the file and line, exit 2;
# the command line wins over the file.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NP_BUILD_DIR=${NP_BUILD_DIR:-$NP_SOURCE_DIR/build}
np=$NP_BUILD_DIR/natpunch
srv=$NP_BUILD_DIR/natpunch-server
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d /tmp/np-checkconf.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

(umask 077; "$np" genkey >"$tmp/a.key"; "$np" genkey >"$tmp/b.key"; "$np" genpsk >"$tmp/token")
pub=$("$np" pubkey <"$tmp/b.key")
cat >"$tmp/tun0.conf" <<CONF
# tun0
server = 203.0.113.10
server-port = 2000
tun = tun0
local-ip = 10.10.0.1
remote-ip = 10.10.0.2
mtu = 1400
key = $tmp/a.key
peer-key = $pub
server-token = $tmp/token
keepalive = 7
CONF
out=$("$np" --check-config "$tmp/tun0.conf") || fail "a good file is rejected"
grep -qE "^keepalive = 7 +# line 11$" <<<"$out" || fail "no 'keepalive = 7  # line 11' in: $out"
grep -qE "^dead-after = 15 +# default$" <<<"$out" || fail "defaults are not shown: $out"
out=$("$np" --check-config "$tmp/tun0.conf" --keepalive 3) || fail "command line over the file is rejected"
grep -qE "^keepalive = 3 +# command line$" <<<"$out" || fail "the command line does not win: $out"

expect() { # WANT-RC WANT-TEXT cmd...
	local want_rc=$1 want=$2 out rc=0
	shift 2
	out=$("$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = "$want_rc" ] || fail "$*: exit $rc, want $want_rc ($out)"
	[ "$(wc -l <<<"$out")" = 1 ] || fail "$*: more than one line: $out"
	grep -qF -- "$want" <<<"$out" || fail "$*: '$out' lacks '$want'"
	echo "ok: $out"
}
sed "s|^key = .*|key = $tmp/missing.key|" "$tmp/tun0.conf" >"$tmp/nokey.conf"
expect 2 "$tmp/nokey.conf:8: cannot open key file $tmp/missing.key" "$np" --check-config "$tmp/nokey.conf"
chmod 644 "$tmp/a.key"
expect 2 "$tmp/tun0.conf:8: " "$np" --check-config "$tmp/tun0.conf"
chmod 600 "$tmp/a.key"
sed "s|^peer-key = .*|peer-key = short|" "$tmp/tun0.conf" >"$tmp/badpub.conf"
expect 2 "$tmp/badpub.conf:9: --peer-key is not a base64 public key" "$np" --check-config "$tmp/badpub.conf"
sed "s|^server-token = .*|server-token = $tmp/nope|" "$tmp/tun0.conf" >"$tmp/notoken.conf"
expect 2 "$tmp/notoken.conf:10: " "$np" --check-config "$tmp/notoken.conf"
{ cat "$tmp/tun0.conf"; echo "keepalve = 3"; } >"$tmp/typo.conf"
expect 2 "$tmp/typo.conf:12: unknown key 'keepalve'" "$np" --check-config "$tmp/typo.conf"
expect 2 "$tmp/tun0.conf:11: " "$np" --check-config "$tmp/tun0.conf" --dead-after 5
expect 2 "/nonexistent.conf: cannot open" "$np" --config /nonexistent.conf
# The daemon itself refuses the same file the same way before touching anything.
expect 2 "$tmp/typo.conf:12: unknown key 'keepalve'" "$np" --config "$tmp/typo.conf"

# natpunch-server
printf 'port1 = 2000\nport2 = 2001\ntoken-file = %s\nrate = 5\n' "$tmp/token" >"$tmp/server.conf"
out=$("$srv" --check-config "$tmp/server.conf") || fail "a good server file is rejected"
grep -qE "^rate = 5 +# line 4$" <<<"$out" || fail "server dump lacks rate: $out"
printf 'port1 = 2000\nport2 = 2000\n' >"$tmp/same.conf"
expect 2 "PORT1 and PORT2 must differ" "$srv" --check-config "$tmp/same.conf"
printf 'port1 = 2000\nport2 = 2001\nrate = lots\n' >"$tmp/rate.conf"
expect 2 "$tmp/rate.conf:3: invalid value 'lots' for rate" "$srv" --check-config "$tmp/rate.conf"
printf 'port1 = 2000\nport2 = 2001\ntoken-file = %s/none\n' "$tmp" >"$tmp/tok.conf"
expect 2 "$tmp/tok.conf:3: " "$srv" --check-config "$tmp/tok.conf"
echo "PASS: --check-config prints the effective configuration; bad files are one line with FILE:LINE"
