#!/bin/bash
# test_man_help: the man pages and --help list the same options.
#   natpunch --help          == the option terms of natpunch(8)
#   natpunch-server --help   == the option terms of natpunch-server(8)
#   natpunch --help options that a file may set, plus the positional keys
#                            == the keys natpunch.conf(5) lists for natpunch
#   the same for natpunch-server's keys
# --help is generated from the option table (np_opts), so this is the table
# against the pages. Also checks that CMake built every page with scdoc.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NP_BUILD_DIR=${NP_BUILD_DIR:-$NP_SOURCE_DIR/build}
man=$NP_SOURCE_DIR/dist/man
fail() { echo "FAIL: $*" >&2; exit 1; }
# Options only the command line has (no file key).
cli_only="check-config check-hooks config help version"

help_opts() { "$1" --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' | sed 's/^--//' | sort -u; }
help_pos() { "$1" --help | grep -oE '^  [A-Z0-9_]+ \([a-z0-9-]+\)' | grep -oE '\([a-z0-9-]+\)' | tr -d '()' | sort -u; }
# Definition terms of the OPTIONS section: lines "*--name* ..." or "*-x*, *--name* ...".
man_opts() { sed -n '/^# OPTIONS/,/^# [A-Z]/p' "$1" | grep -oE '^\*(-[a-zA-Z]\*, \*)?--[a-z][a-z0-9-]*\*' |
	grep -oE -- '--[a-z][a-z0-9-]*' | sed 's/^--//' | sort -u; }
# Every *key* named in a section of natpunch.conf(5), up to "Their meaning"/": see".
conf_keys() { sed -n "/^# $1\$/,/^# [A-Z]/p" "$man/natpunch.conf.5.scd" | sed '/^Their meaning/,$d; s/: see.*//' |
	grep -E '^\*' | grep -oE '\*[a-z][a-z0-9-]*\*' | tr -d '*' | sort -u; }
compare() { # WHAT A B
	if [ "$2" != "$3" ]; then
		echo "$1 differ:" >&2
		diff <(echo "$2") <(echo "$3") >&2 || true
		fail "$1"
	fi
	echo "$1: $(echo "$2" | wc -l) agree"
}

np=$NP_BUILD_DIR/natpunch
srv=$NP_BUILD_DIR/natpunch-server
compare "natpunch --help vs natpunch(8)" "$(help_opts "$np")" "$(man_opts "$man/natpunch.8.scd")"
compare "natpunch-server --help vs natpunch-server(8)" "$(help_opts "$srv")" "$(man_opts "$man/natpunch-server.8.scd")"
file_keys() { { help_opts "$1" | grep -vxF -f <(tr ' ' '\n' <<<"$cli_only"); help_pos "$1"; } | sort -u; }
compare "natpunch keys vs natpunch.conf(5)" "$(file_keys "$np")" "$(conf_keys "KEYS OF NATPUNCH")"
compare "natpunch-server keys vs natpunch.conf(5)" "$(file_keys "$srv")" "$(conf_keys "KEYS OF NATPUNCH-SERVER")"
# The pages' positional names are the ones --help shows.
for k in $(help_pos "$np"); do grep -q "\*$k\*" "$man/natpunch.8.scd" || fail "natpunch(8) does not name the key $k"; done

# The test bites: an option missing from a page is caught.
sed '/^\*--keepalive\*/d' "$man/natpunch.8.scd" >"${TMPDIR:-/tmp}/np-man.$$"
[ "$(help_opts "$np")" != "$(man_opts "${TMPDIR:-/tmp}/np-man.$$")" ] || fail "a missing --keepalive went unnoticed"
rm -f "${TMPDIR:-/tmp}/np-man.$$"

# CMake built every page.
for src in "$man"/*.scd; do
	page=$(basename "$src" .scd)
	[ -s "$NP_BUILD_DIR/dist/man/$page" ] || fail "$page was not built (scdoc)"
	grep -q '^\.TH' "$NP_BUILD_DIR/dist/man/$page" || fail "$page is not roff"
done
echo "PASS: --help and the man pages agree"
