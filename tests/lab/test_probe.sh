#!/bin/bash
# test_probe: `natpunch probe SERVER PORT [--json]` classifies every lab NAT
# kind correctly, in text and in JSON.
#
#   kind              kind line         mapping  filtering ports       depth
#   none              none              none     none      preserved   0
#   cone              cone              EIM      APDF      preserved   1
#   cone-altered      cone-altered      EIM      APDF      stable      1   (public port = local ^ 0x1000)
#   symmetric-seq:D   symmetric-seq:D   APDM     APDF      sequential, step D
#   symmetric-random  symmetric-random  APDM     APDF      random      1
#   double            cone              EIM      APDF      preserved   2
#
# The server runs with --alt-ip (lab_start_server). A second server without
# --alt-ip (other ports) cannot tell EIM from ADM: the mapping must say
# "EIM-or-ADM" and "server alt IP: none". Bad arguments exit 2 with one line on
# stderr; a server that does not answer gives exit 1 with one line.
# The JSON is checked with a tiny parser for flat objects (no python3 needed).
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=nplab.sh
source "$NP_SOURCE_DIR/tests/lab/nplab.sh"

NP=$NP_BUILD_DIR/natpunch
PORT_NOALT1=2100
PORT_NOALT2=2101

lab_init
lab_server
# site name -> NAT kind
declare -A SITE_KIND=(
	[N]=none [C]=cone [CA]=cone-altered [S1]=symmetric-seq:1 [S2]=symmetric-seq:2
	[S4]=symmetric-seq:4 [S7]=symmetric-seq:7 [R]=symmetric-random [D]=double
)
SITES=(N C CA S1 S2 S4 S7 R D)
for s in "${SITES[@]}"; do lab_site "$s" "${SITE_KIND[$s]}"; done
lab_start_server

# A second server on the same host without --alt-ip.
noalt_log=$LAB_DIR/logs/server-noalt.log
noalt_pid=$(lab_bg srv "$noalt_log" "$NP_BUILD_DIR/natpunch-server" --bind "$SERVER_IP" -v "$PORT_NOALT1" "$PORT_NOALT2")
noalt_ready() {
	lab_alive "$noalt_pid" || lab_fail "the server without --alt-ip exited"
	lab_exec srv ss -Hnlu | grep -q ":$PORT_NOALT1\b"
}
lab_wait 5 noalt_ready || lab_fail "the server without --alt-ip did not open UDP $PORT_NOALT1"

# ---- tiny JSON parser: one flat object, string/number/true/false/null values.
# json_parse TEXT: fills JSON[key]=value (strings unquoted); 1 if malformed.
declare -A JSON
json_parse() {
	local s=$1 k v re_str='^"([A-Za-z_][A-Za-z0-9_]*)":"([^"\\]*)"(.*)$'
	local re_lit='^"([A-Za-z_][A-Za-z0-9_]*)":(-?[0-9]+|true|false|null)(.*)$'
	JSON=()
	[[ $s == "{"*"}" ]] || return 1
	s=${s#\{}
	while :; do
		if [[ $s =~ $re_str ]] || [[ $s =~ $re_lit ]]; then
			k=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]}
		else
			return 1
		fi
		[ -z "${JSON[$k]+x}" ] || return 1 # duplicate key
		JSON[$k]=$v
		case $s in
		"}") return 0 ;;
		,*) s=${s#,} ;;
		*) return 1 ;;
		esac
	done
}

NFAIL=0
bad() {
	echo "FAIL: $*"
	NFAIL=$((NFAIL + 1))
}

# TEXT[KEY]: the "  KEY: value" lines of the last text probe; TEXT_FIRST
# its first line, TEXT_LINES how many lines (parsed once, without forks:
# the test checks 28 outputs on a loaded host).
declare -A TEXT
TEXT_FIRST="" TEXT_LINES=0
text_parse() {
	local line k re='^  ([^:]+): *(.*)$'
	TEXT=() TEXT_FIRST="" TEXT_LINES=0
	while IFS= read -r line; do
		TEXT_LINES=$((TEXT_LINES + 1))
		[ "$TEXT_LINES" != 1 ] || TEXT_FIRST=$line
		if [[ $line =~ $re ]]; then
			k=${BASH_REMATCH[1]}
			TEXT[$k]=${BASH_REMATCH[2]}
		fi
	done <<<"$1"
}

# expect WHAT GOT WANT
expect() {
	if [ "$2" = "$3" ]; then return 0; fi
	bad "$1: got '$2', want '$3'"
	return 1
}

# run_probe SITE PORT [--json]: sets OUT, ERR, RC
# The probes run ahead, all sites at once (each site's own probes one after
# the other, in the order check_site reads them: a site's NAT sees what it
# saw when the whole test ran one probe at a time, and the test takes a
# third of the time). run_probe SITE PORT [--json] then reads the result.
NOALT_SITES=" C CA D S4 N "
declare -A PROBE_PID
mkdir -p "$LAB_DIR/probe"
for s in "${SITES[@]}"; do
	ports="$LAB_PORT1"
	[[ $NOALT_SITES != *" $s "* ]] || ports="$ports $PORT_NOALT1"
	# shellcheck disable=SC2016,SC2086 # $1.. expand in the inner bash; $ports splits
	PROBE_PID[$s]=$(lab_bg "$s" "$LAB_DIR/logs/probes-$s.log" bash -c '
		np=$1 srv=$2 dir=$3 site=$4
		shift 4
		for port in "$@"; do
			for mode in text json; do
				args=()
				[ "$mode" = text ] || args=(--json)
				rc=0
				timeout 20 "$np" probe "$srv" "$port" "${args[@]}" >"$dir/$site.$port.$mode.out" \
					2>"$dir/$site.$port.$mode.err" || rc=$?
				echo "$rc" >"$dir/$site.$port.$mode.rc"
			done
		done' probes "$NP" "$SERVER_IP" "$LAB_DIR/probe" "$s" $ports)
done

run_probe() {
	local site=$1 port=$2 mode=text f
	[ "${3:-}" != --json ] || mode=json
	f=$LAB_DIR/probe/$site.$port.$mode
	lab_wait 60 test -f "$f.rc" || lab_fail "the probe of $site at port $port ($mode) did not finish"
	IFS= read -r RC <"$f.rc" || true
	IFS= read -r -d '' OUT <"$f.out" || true
	OUT=${OUT%$'\n'}
	IFS= read -r -d '' ERR <"$f.err" || true
	ERR=${ERR%$'\n'}
}

# check_site SITE PORT ALT(yes|no)
check_site() {
	local site=$1 port=$2 alt=$3 kind want_kind want_map want_map_long want_filt want_filt_long
	local want_alloc want_alloc_text want_depth want_step=0 pub_ip lan_ip pub loc n0=$NFAIL
	kind=${SITE_KIND[$site]}
	pub_ip=$(lab_get PUB_IP "$site")
	lan_ip=$(lab_get LAN_IP "$site")
	want_filt=APDF want_filt_long="address-and-port-dependent (APDF)"
	if [ "$alt" = yes ]; then
		want_map=EIM want_map_long="endpoint-independent (EIM)"
	else
		want_map=EIM-or-ADM want_map_long="EIM-or-ADM (start the server with --alt-ip to tell them apart)"
	fi
	want_depth=1
	case $kind in
	none)
		want_kind=none want_map=none want_map_long="none (public address)"
		want_filt=none want_filt_long=none want_alloc=preserved want_alloc_text=preserved want_depth=0
		;;
	cone) want_kind=cone want_alloc=preserved want_alloc_text=preserved ;;
	double) want_kind=cone want_alloc=preserved want_alloc_text=preserved want_depth=2 ;;
	cone-altered) want_kind=cone-altered want_alloc=stable want_alloc_text=stable ;;
	symmetric-seq:*)
		want_step=${kind#symmetric-seq:}
		want_kind=$kind want_map=APDM want_map_long="address-and-port-dependent (APDM, symmetric)"
		want_alloc=sequential want_alloc_text="sequential (step $want_step, noise "
		;;
	symmetric-random)
		want_kind=symmetric-random want_map=APDM want_map_long="address-and-port-dependent (APDM, symmetric)"
		want_alloc=random want_alloc_text=random
		;;
	esac
	local tag="$site ($kind, server port $port, alt-ip $alt)"

	# Text.
	run_probe "$site" "$port"
	if [ "$RC" != 0 ]; then
		bad "$tag: probe exited $RC: $ERR"
		return 0
	fi
	text_parse "$OUT"
	expect "$tag: first line" "$TEXT_FIRST" "NAT discovery via $SERVER_IP:$port" || true
	expect "$tag: kind" "${TEXT["kind"]:-}" "$want_kind" || true
	expect "$tag: mapping" "${TEXT["mapping"]:-}" "$want_map_long" || true
	expect "$tag: filtering" "${TEXT["filtering"]:-}" "$want_filt_long" || true
	local alloc
	alloc=${TEXT["port allocation"]:-}
	if [ "$want_alloc" = sequential ]; then
		[[ $alloc =~ ^sequential\ \(step\ $want_step,\ noise\ [0-9]+\)$ ]] ||
			bad "$tag: port allocation: got '$alloc', want '${want_alloc_text}N)'"
	else
		expect "$tag: port allocation" "$alloc" "$want_alloc_text" || true
	fi
	expect "$tag: NAT depth" "${TEXT["NAT depth"]:-}" "$want_depth" || true
	if [ "$alt" = yes ]; then
		[ "${TEXT["server alt IP"]:-}" = "$SERVER_ALT_IP" ] ||
			bad "$tag: server alt IP: got '${TEXT["server alt IP"]:-}', want $SERVER_ALT_IP"
	else
		expect "$tag: server alt IP" "${TEXT["server alt IP"]:-}" none || true
	fi
	pub=${TEXT["public endpoint"]:-}
	loc=${TEXT["local endpoint"]:-}
	expect "$tag: public address" "${pub%:*}" "$pub_ip" || true
	expect "$tag: local address" "${loc%:*}" "$lan_ip" || true
	case $kind in
	none | cone | double) expect "$tag: public port (kept)" "${pub##*:}" "${loc##*:}" || true ;;
	cone-altered) expect "$tag: public port (local ^ $LAB_ALTER_XOR)" "${pub##*:}" "$((${loc##*:} ^ LAB_ALTER_XOR))" || true ;;
	symmetric-seq:*)
		local p=${pub##*:}
		[ "$p" -ge "$LAB_SEQ_P0" ] && [ $(((p - LAB_SEQ_P0) % want_step)) = 0 ] ||
			bad "$tag: public port $p is not $LAB_SEQ_P0 + k * $want_step"
		;;
	esac
	[ "$TEXT_LINES" = 9 ] || bad "$tag: want 9 lines of text, got $TEXT_LINES: $OUT"

	# JSON.
	run_probe "$site" "$port" --json
	if [ "$RC" != 0 ]; then
		bad "$tag: probe --json exited $RC: $ERR"
		return 0
	fi
	if [ "$(wc -l <<<"$OUT")" != 1 ] || ! json_parse "$OUT"; then
		bad "$tag: --json printed no single flat JSON object: $OUT"
		return 0
	fi
	local k
	for k in known kind mapping filtering allocation step noise depth public text; do
		[ -n "${JSON[$k]+x}" ] || bad "$tag: JSON has no \"$k\": $OUT"
	done
	expect "$tag: JSON known" "${JSON[known]:-}" true || true
	expect "$tag: JSON kind" "${JSON[kind]:-}" "$want_kind" || true
	expect "$tag: JSON mapping" "${JSON[mapping]:-}" "$want_map" || true
	expect "$tag: JSON filtering" "${JSON[filtering]:-}" "$want_filt" || true
	expect "$tag: JSON allocation" "${JSON[allocation]:-}" "$want_alloc" || true
	expect "$tag: JSON step" "${JSON[step]:-}" "$want_step" || true
	expect "$tag: JSON depth" "${JSON[depth]:-}" "$want_depth" || true
	[[ ${JSON[noise]:-x} =~ ^[0-9]+$ ]] || bad "$tag: JSON noise '${JSON[noise]:-}' is not a number"
	expect "$tag: JSON public address" "${JSON[public]%:*}" "$pub_ip" || true
	[[ ${JSON[public]##*:} =~ ^[0-9]+$ ]] || bad "$tag: JSON public '${JSON[public]}' has no port"
	[[ ${JSON[text]:-} == "mapping=$want_map filtering=$want_filt ports=$want_alloc "*"depth=$want_depth" ]] ||
		bad "$tag: JSON text '${JSON[text]:-}'"
	if [ "$want_alloc" = sequential ]; then
		[[ ${JSON[text]} == *" step=$want_step noise=${JSON[noise]} "* ]] || bad "$tag: JSON text '${JSON[text]}' lacks step=$want_step"
	fi

	if [ "$NFAIL" = "$n0" ]; then
		printf 'ok: %-40s kind=%s mapping=%s filtering=%s ports=%s%s depth=%s public=%s\n' "$tag" \
			"${JSON[kind]}" "${JSON[mapping]}" "${JSON[filtering]}" "${JSON[allocation]}" \
			"$([ "$want_alloc" = sequential ] && echo " step=${JSON[step]} noise=${JSON[noise]}")" \
			"${JSON[depth]}" "$pub"
	fi
}

for s in "${SITES[@]}"; do check_site "$s" "$LAB_PORT1" yes; done
# Without --alt-ip: EIM and ADM cannot be told apart. Symmetric stays APDM
# (PORT1 and PORT2 already differ) and none stays none.
for s in C CA D S4 N; do check_site "$s" "$PORT_NOALT1" no; done

# Bad arguments: exit 2, one line on stderr, nothing on stdout.
bad_args() { # WHAT ARGS...
	local what=$1 rc=0 out errf=$LAB_DIR/probe.err
	shift
	out=$(lab_exec C timeout 10 "$NP" probe "$@" 2>"$errf") || rc=$?
	if [ "$rc" != 2 ]; then
		bad "natpunch probe $what: exit $rc, want 2 (stderr: $(cat "$errf"))"
	elif [ "$(wc -l <"$errf")" != 1 ] || [ -n "$out" ]; then
		bad "natpunch probe $what: want exactly one line on stderr and nothing on stdout, got stderr '$(cat "$errf")' stdout '$out'"
	else
		echo "ok: natpunch probe $what: exit 2: $(cat "$errf")"
	fi
}
bad_args "(no arguments)"
bad_args "host 0" host 0
bad_args "SERVER 70000" "$SERVER_IP" 70000
bad_args "SERVER (no port)" "$SERVER_IP"
bad_args "SERVER PORT --bogus" "$SERVER_IP" "$LAB_PORT1" --bogus
bad_args "SERVER PORT extra" "$SERVER_IP" "$LAB_PORT1" extra

# Nobody answers on that port: exit 1 with one line, in bounded time.
rc=0
errf=$LAB_DIR/probe.err
out=$(lab_exec C timeout 15 "$NP" probe "$SERVER_IP" 2999 2>"$errf") || rc=$?
if [ "$rc" = 1 ] && [ "$(wc -l <"$errf")" = 1 ] && grep -q "no answer" "$errf" && [ -z "$out" ]; then
	echo "ok: natpunch probe against a silent port: exit 1: $(cat "$errf")"
else
	bad "natpunch probe against a silent port: exit $rc, stderr '$(cat "$errf")', stdout '$out' (want exit 1, one 'no answer' line)"
fi

for s in "${SITES[@]}"; do
	st=$(lab_exit_status "${PROBE_PID[$s]}" 30) || st=unknown
	[ "$st" = 0 ] || bad "the probes of site $s ended with status $st"
done
lab_alive "$noalt_pid" || bad "the server without --alt-ip exited"
lab_assert_alive server
[ "$NFAIL" = 0 ] || lab_fail "$NFAIL probe check(s) failed"
lab_pass "natpunch probe classifies every lab NAT kind (text and JSON, with and without --alt-ip)"
