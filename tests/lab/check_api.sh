#!/bin/bash
# check_api: lab tests, benchmarks and examples call only the public API of
# tests/lab/nplab.sh: no private _lab_* function, no retired name, and every
# lab_* function they call is documented in nplab.sh's header. Needs no root.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$NP_SOURCE_DIR"
lib=tests/lab/nplab.sh
users=$(ls tests/lab/test_*.sh tests/bench/* examples/lab/* 2>/dev/null | grep -v '\.md$' || true)
bad=0
# the header: everything before the first line of code
header=$(sed -n '1,/^NP_SOURCE_DIR=/p' "$lib")
defined=$(grep -o '^lab_[a-z_]*()' "$lib" | tr -d '()' | sort -u)
for f in $users; do
	if grep -nE '(^|[^A-Za-z0-9_])_lab_[a-z_]+' "$f" | grep -v '^[0-9]*:#'; then
		echo "FAIL: $f calls private _lab_* functions (above)"
		bad=1
	fi
	if grep -n '\blab_tunnel_field\b' "$f"; then
		echo "FAIL: $f uses the retired lab_tunnel_field (use lab_status NAME KEY)"
		bad=1
	fi
done
for fn in $(grep -ohE '(^|[^A-Za-z0-9_])lab_[a-z_]+' $users | grep -oE 'lab_[a-z_]+' | sort -u); do
	grep -qx "$fn" <<<"$defined" || continue # a variable or a local helper
	grep -qE "(^|[^A-Za-z0-9_])$fn([^A-Za-z0-9_]|\$)" <<<"$header" || {
		echo "FAIL: $fn is used by tests but not documented in the header of $lib"
		bad=1
	}
done
[ "$bad" = 0 ] && echo "PASS: lab scripts use only the documented public API of nplab.sh"
exit "$bad"
