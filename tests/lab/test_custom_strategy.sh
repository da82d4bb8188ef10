#!/bin/bash
# test_custom_strategy: `cmake --install` into a temporary prefix puts the
# programs, the strategies, the public header and the pkg-config file in
# place; the example strategy in examples/strategy/ builds out of tree against
# them with pkg-config alone, the installed natpunch loads it, and a
# cone<->cone tunnel comes up with --strategy=/path/to/lanfirst.so.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

lab_init
prefix=$LAB_DIR/prefix
cmake --install "$NP_BUILD_DIR" --prefix "$prefix" >"$LAB_DIR/install.log" 2>&1 ||
	lab_fail "cmake --install failed: $(tail -3 "$LAB_DIR/install.log")"
for f in bin/natpunch bin/natpunch-server include/natpunch/strategy.h; do
	[ -e "$prefix/$f" ] || lab_fail "cmake --install did not install $f"
done
libdir=$(dirname "$(find "$prefix" -name natpunch-strategy.pc | head -1)")/..
[ -e "$libdir/pkgconfig/natpunch-strategy.pc" ] || lab_fail "no natpunch-strategy.pc installed"
for s in simple predict spray; do
	[ -e "$libdir/natpunch/strategies/$s.so" ] || lab_fail "strategy $s.so not installed under lib/natpunch/strategies"
done

# Out of tree: a copy of the example, built with nothing but pkg-config.
cp -r "$NP_SOURCE_DIR/examples/strategy" "$LAB_DIR/strategy"
PKG_CONFIG_PATH=$libdir/pkgconfig make -C "$LAB_DIR/strategy" >"$LAB_DIR/make.log" 2>&1 ||
	lab_fail "the example strategy does not build against the installed header: $(tail -5 "$LAB_DIR/make.log")"
so=$LAB_DIR/strategy/lanfirst.so
nm -D --defined-only "$so" | grep -q ' np_strategy_entry$' || lab_fail "lanfirst.so does not export np_strategy_entry"
[ "$(nm -D --defined-only "$so" | grep -c ' T ')" = 1 ] || lab_fail "lanfirst.so exports more than its entry"
"$prefix/bin/natpunch" check-strategy "$so" | grep -q "strategy 'lanfirst', ABI 1.1" ||
	lab_fail "the installed natpunch does not accept lanfirst.so"

lab_keys A B
lab_server
lab_site A cone
lab_site B cone
lab_pair A B
lab_start_server
lab_start_pair A B 10.10.0 --strategy="$so"
lab_wait_tunnel A B 20 || lab_fail "no tunnel with the custom strategy"
[ "$(lab_status A strategy)" = lanfirst ] || lab_fail "A did not use lanfirst: $(lab_status A strategy)"
lab_ping_both A B || lab_fail "ping through the tunnel failed"
lab_pass "installed tree complete; out-of-tree strategy builds with pkg-config and carries a tunnel"
