# shellcheck shell=bash
# nplab.sh: the natpunch NAT lab. Real Linux NATs (nftables) in network
# namespaces, joined by a routed "internet". Source it; do not run it.
#
#                          +------------------------------+
#                          | srv   203.0.113.10 (SERVER_IP)|
#                          |       203.0.113.11 (ALT_IP)   |
#                          +---------------+--------------+
#                                          | 203.0.113.0/24   (router .1)
#  +--------+ 192.168.1/24 +--------+ 198.51.100.16/28 +--------+ 198.51.100.32/28 +--------+ 192.168.2/24 +--------+
#  | peer A |--------------| nat-A  |------------------| router |------------------| nat-B  |--------------| peer B |
#  +--------+ .2        .1 +--------+ .18          .17 +--------+ .33          .34 +--------+ .1        .2 +--------+
#   eth0             lan / wan                    s-A /  |  \ s-B                wan / lan            eth0
#                                                  h-X /   \ s-C, s-D ... (one /28 each, 198.51.100.16*i)
#                                   192.0.2.16/28  /
#                                     +-----------+
#                                     | host X    | 192.0.2.18 (lab_host: spoofer, junk sender)
#                                     +-----------+
#
#  double:  peer (192.168.i.2) - home-A (192.168.i.1 | 100.64.i.2) - nat-A (100.64.i.1 | 198.51.100.16i+2) - router
#  none:    peer A itself sits on s-A with 198.51.100.16i+2 (no NAT namespace).
#  cgnat home (lab_cgnat_home C A): a second subscriber of double site A's CGNAT,
#           on its own point-to-point link c-C (nat-A has no route between
#           subscribers except through its own public address):
#     peer C (192.168.j.2) - home-C (192.168.j.1 | 100.64.i.k) - c-C - nat-A (100.64.i.1 | 198.51.100.16i+2) - router
#     peer A (192.168.i.2) - home-A (192.168.i.1 | 100.64.i.2) - lan -'
#
# Site i (the i-th distinct lab_site name, 1..15) owns 198.51.100.(16*i)/28,
# 192.168.i.0/24 and, for double, 100.64.i.0/24. Host j owns 192.0.2.(16*j)/28.
# The router only knows TEST-NET routes, so private and CGNAT addresses never
# leave their site. Between any two NATs there is exactly one routed hop (the
# router): a probe with TTL = NAT depth + 1 dies at the router.
#
# NAT kinds (see core/DESIGN.md, "NAT lab"); every NAT also has a
# home-router forward filter (inbound only when established or related):
#   none              the peer is on the internet itself
#   cone              masquerade (keeps the port unless that would clash)
#   cone-altered      UDP: snat to PUB : udp sport ^ LAB_ALTER_XOR (0x1000): the
#                     port always changes, but the same local port maps to the
#                     same public port for every destination; others: masquerade
#   symmetric-seq:D   UDP: snat to PUB : numgen inc mod N map {0:P0, 1:P0+D, ...}
#                     (P0 = LAB_SEQ_P0 = 20000): every new mapping takes the next
#                     port, D apart; ICMP and TCP: masquerade
#   symmetric-random  masquerade fully-random
#   double            home masquerade behind a CGNAT masquerade (100.64.i.0/24);
#                     after lab_cgnat_home or lab_cgnat_hairpin the CGNAT is a
#                     carrier CGNAT (below)
#
# The carrier CGNAT (RFC 6888 / RFC 7422 deterministic port blocks). Subscriber
# 100.64.i.(s+2) (s = 0: the site's own home NAT, 1, 2, ...: the cgnat homes)
# owns public UDP ports (s+1)*4096 .. (s+1)*4096+4095: its UDP port p leaves as
# PUB : (s+1)*4096 + (p & 0xfff), whatever the destination (endpoint-independent
# mapping). A real CGNAT picks a free port of the block when that one is taken;
# this stateless rule cannot, so the peers behind a carrier CGNAT get ephemeral
# ports from one 4096-port window (ip_local_port_range LAB_CGN_PORTS,
# 40960-45055): their home NATs keep them, and the mapping is one to one. Two
# ports equal in their low 12 bits would share a public port, and a flow to the
# same destination would clash and be dropped. Each mapping (public port -> subscriber
# address . port) goes into the nft map "hp" (2 min, refreshed by outbound
# packets): the CGNAT's mapping table. ICMP and TCP: masquerade. Hairpin on: a
# UDP packet from inside to PUB : port is DNATed to the subscriber the map names
# and SNATed to PUB : (its sender's block port), so both ways go through the
# CGNAT and each side sees the other's public endpoint (endpoint-independent
# filtering at the CGNAT; the home NATs still filter); one to a public port
# no mapping names is dropped (before conntrack keeps an entry for it). Hairpin
# off (the default, as a Linux masquerade): such a packet is delivered to the
# CGNAT itself and goes no further.
#
# API. Tests call only these (functions starting with _lab_ are private).
# Every function is `set -eu -o pipefail` safe. NAME is a lab host: a site,
# a lab_host, a lab_netns; lab_exec and lab_bg also take srv, router,
# nat-NAME (a site's outer NAT) and home-NAME (the inner NAT of a double or
# of a cgnat home).
#
# Setup and teardown
#   lab_init                 root check (not root: exit 77; missing tool: exit 1),
#                            per-run prefix, temp dir, trap cleanup EXIT, router
#   lab_server               server ns "srv": SERVER_IP, SERVER_ALT_IP
#   lab_site NAME KIND       peer host NAME behind a NAT of KIND
#   lab_site_del NAME        kill our processes in NAME's namespaces, delete them
#                            (then lab_site NAME KIND again gives fresh NATs)
#   lab_host NAME            a plain host on the internet (192.0.2.x)
#   lab_lan_host NAME SITE   another peer host on SITE's LAN, behind the same
#                            NAT (double: behind the same home NAT): the inner
#                            NAT's lan becomes a bridge; NAME gets 192.168.i.3,
#                            .4, ... (LAB_LAN_IP_<N>; LAB_KIND_<N> is lan,
#                            LAB_SITE_OF_<N> is SITE; NAT knobs on NAME act on
#                            SITE's NATs)
#   lab_cgnat_home NAME SITE [KIND [same-lan]]   another peer host NAME behind
#                            its own home NAT of KIND (default cone; a single
#                            NAT kind), a subscriber of double site SITE's
#                            CGNAT: its own LAN 192.168.j.0/24 (j: a new site
#                            index, counts to the 15; same-lan: SITE's subnet
#                            192.168.i.0/24 again, and NAME SITE's very address
#                            192.168.i.2, as two routers with factory settings
#                            give), the home NAT's wan 100.64.i.k (k = 3, 4,
#                            ...; LAB_CGN_IP_<N>) on a link of its own to the
#                            CGNAT. Makes SITE's CGNAT a carrier CGNAT (hairpin
#                            off unless lab_cgnat_hairpin said on): call it
#                            before starting peers of SITE. LAB_KIND_<N> is
#                            cgnat, LAB_SITE_OF_<N> is SITE, LAB_PUB_IP_<N> is
#                            SITE's, LAB_NAT_DEPTH_<N> 2; nat-NAME is SITE's
#                            CGNAT, home-NAME NAME's own home NAT
#   lab_cgnat_hairpin SITE on|off   double site SITE's CGNAT (a carrier CGNAT
#                            from now on) hairpins, or does not (see "The carrier
#                            CGNAT" above); can be switched at any time
#   lab_netns NAME           a bare namespace (lo up; no address, no route)
#   lab_link N1 IF1 ADDR1 N2 IF2 ADDR2   veth IF1 in N1 <-> IF2 in N2 (N1 = N2
#                            allowed), ADDR = a.b.c.d/len or "" for none; up
#   lab_valid_kind KIND      0 if KIND is a NAT kind lab_site knows (else says so)
#   lab_describe             one line per host: how to enter it, its addresses
#   lab_at_exit CMD...       run CMD at exit, before lab_cleanup (lab_init owns
#                            the EXIT trap: do not replace it)
#   lab_cleanup              kill recorded PIDs, delete exactly our namespaces
#                            (lab_init's trap does this; rarely called by hand)
# Running things (each one is traced, see "the transcript" below)
#   lab_exec NAME cmd...     run in NAME's netns
#   lab_run cmd...           run on the host itself
#   lab_bg NAME LOG cmd...   background process in NAME's ns; prints its PID
#   lab_kill PID [GRACE_S]   TERM, KILL after GRACE_S (3), wait for it
#   lab_alive PID / lab_ended PID   that lab_bg process still runs / has ended
#   lab_exit_status PID [T]  exit status of a lab_bg process once it ended
#   lab_wait TIMEOUT_S cmd...   poll cmd every 0.2 s; 1 on timeout
#   lab_ns NAME / lab_nat_ns NAME   real netns of host NAME / of its outer NAT
#   lab_get FIELD NAME       the variable LAB_FIELD_NAME (lab_get LOG A, lab_get
#                            PID A, lab_get PUB_IP B; see Variables)
#   lab_now_ms               wall clock in ms
# NAT knobs
#   lab_udp_timeout NAME S   nf_conntrack_udp_timeout(_stream) in NAME's NAT ns(es)
#   lab_conntrack_flush NAME conntrack -F in NAME's NAT ns(es)
#   lab_renumber NAME        NAME's outer NAT gets a new public address (the other
#                            of .16i+2 / .16i+3 in its /28), as a DHCP renewal or
#                            an LTE reattach does; the NAT's conntrack entries of
#                            the old address go, as a real NAT's would. Sets
#                            LAB_PUB_IP_NAME. Not for none/double sites.
#   lab_set_nat NAME KIND    NAME's outer NAT changes its kind in place (its
#                            nftables rules are replaced in one transaction;
#                            same address; the conntrack entries it has keep
#                            their mappings, new ones follow KIND). Sets
#                            LAB_KIND_NAME. Not for none/double sites, nor to
#                            none/double.
#   lab_site_move NAME KIND  NAME moves to another network: its NAT namespace is
#                            replaced by (for a none site: it moves behind) a
#                            fresh NAT of KIND (not none/double)
#                            with the other public address; NAME's own namespace
#                            and processes stay (its link goes down and up)
#   lab_link_mtu NAME MTU    MTU of NAME's internet link (both ends: router
#                            s-NAME and the site's wan), GSO/TSO off on both
#   lab_drop_too_big NAME    the router and NAME's NATs drop ICMP "fragmentation
#                            needed" / ICMPv6 "packet too big" (a PMTU black hole)
#   lab_block_udp NAME / lab_unblock_udp NAME   drop / pass again the UDP that
#                            NAME's peer sends out (at its inner NAT, before it
#                            gets a mapping): lets the other side speak first
#   lab_impair NAME IFACE DELAY_MS JITTER_MS LOSS_PCT [SECONDS]
#                            impair the packets that cross IFACE of namespace NAME
#                            (as lab_exec), both ways: each way gets DELAY_MS
#                            +- JITTER_MS (uniform, may reorder) and loses
#                            LOSS_PCT %. iptables NFQUEUE rules (mangle
#                            PREROUTING -i, POSTROUTING -o, --queue-bypass) feed
#                            np_impair (tests/lab/tools), which runs for SECONDS
#                            (default 600) and then lets everything pass again.
#                            Calling it again for the same NAME IFACE replaces it.
#   lab_impair_site NAME DELAY_MS JITTER_MS LOSS_PCT [SECONDS]
#                            the same on site NAME's link to the lab internet
#                            (router, s-NAME): NAME is DELAY_MS one way from the
#                            internet core, so from the server (whose link is
#                            clean) and, added to the other site's, from the peer
#   lab_unimpair NAME IFACE  remove that impairment (rules and process)
# IPv6 internet (2001:db8::/32; no NAT, stateful firewalls at the sites)
#   lab_ipv6_server          the server also on SERVER_IP6 (2001:db8::10/64,
#                            router 2001:db8::1); peers are then started with
#                            the server "SERVER_IP,SERVER_IP6" (LAB_SERVER_HOST)
#   lab_ipv6_site NAME [dual|only]   give site NAME IPv6: its link to the router
#                            2001:db8:i::/64, its LAN 2001:db8:i:1::/64 (the
#                            peer LAB_IP6_<N>, a kind none peer sits on the link
#                            itself); the site's NAT namespace routes it (no NAT)
#                            with a stateful firewall: outbound allowed, inbound
#                            only established/related. only: the peer also loses
#                            its IPv4 default route (an IPv6-only site). Not for
#                            double sites.
# Verdicts and logs
#   lab_fail MSG / lab_pass MSG   one-line verdict (fail dumps the logs), exit
#   lab_check DESC cmd...    run cmd, print "ok: DESC" or "not ok: DESC", go on
#   lab_finish MSG           after lab_check: pass if every check held, else fail
#   lab_log MSG              "nplab: MSG" on stderr
#   lab_trace MSG            one line of the transcript
#   lab_dump_logs            print every log of this run (tail)
# natpunch
#   lab_keys [NAME...]       keys for NAME (default A B) + one PSK, mode 0600:
#                            LAB_KEY_<N> (file), LAB_PUBKEY_<N> (base64), LAB_PSK
#   lab_pair A B             A and B are each other's peer (A-B, C-D preset)
#   lab_start_server [args]  natpunch-server --alt-ip SERVER_ALT_IP in srv on
#                            LAB_PORT1 LAB_PORT2 (waits until both are open)
#   lab_start_peer NAME PORT LOCAL REMOTE [args]   natpunch in NAME (tun np0,
#                            MTU LAB_MTU), keys from lab_keys unless --insecure
#   lab_start_pair A B NET [args]   A on LAB_PORT1 as NET.1, B on LAB_PORT2 as NET.2
#   lab_two_sites [KA [KB]]  lab_keys A B, lab_server, sites A and B (cone)
#   lab_two_peers_up [args]  server, pair A B on 10.10.0, tunnel up within 30 s
#   lab_stop NAME [GRACE_S]  lab_kill the daemon of NAME ("server" too)
#   lab_assert_alive NAME... every named daemon still runs (else lab_fail)
#   lab_ping FROM TO [N]     ping TO's tunnel address from FROM (quiet)
#   lab_ping_both A B        ping -c 3 -W 1 each way through the tunnel
#   lab_wait_tunnel A B T    both report state UP and a ping each way works
#   LAB_WRAP="valgrind ..."  prefix for the daemon command (word-split)
# natpunch status: what tests assert on (not the log text)
#   lab_status_json NAME     `natpunch status --json` of NAME's daemon
#   lab_status NAME KEY      one key of it: state, peer_endpoint, strategy,
#                            cipher, attempt, time_to_up_ms, tunnel_ups,
#                            tunnel_downs, last_failure, rx_packets, data_path...
#   lab_json_field JSON KEY  one key of a flat JSON object (strings unquoted)
#   lab_tunnel_is_up NAME    NAME's daemon reports state UP now
#   lab_tunnel_was_up NAME   NAME's tunnel came up at least once (tunnel_ups)
# Hooks without a tunnel
#   lab_hookrun NAME args... np_hookrun (tests/lab/tools/np_hookrun.c) in NAME
#                            with the shipped Lua library on its path
# TURN relay (coturn, Debian's /usr/bin/turnserver):
#   lab_start_turn [--tls]   coturn in srv on TURN_IP (UDP+TCP 3478; with --tls
#                            also TLS 5349 with a CA made for this run:
#                            LAB_TURN_CA), use-auth-secret with a random
#                            static-auth-secret (LAB_TURN_SECRET_FILE), no-cli,
#                            listening only on TURN_IP; config, db, log in
#                            LAB_DIR/turn; waits until it listens. Again after
#                            lab_stop turn: a relay restart (allocations lost).
#   lab_turn_creds NAME      TURN REST credentials valid 1 h: prints the user
#                            name, writes the password to LAB_DIR/keys/turn-NAME.pw
#   lab_turn_args NAME [URI] natpunch options for a relay of its own with fresh
#                            lab_turn_creds: --turn URI (default turn:TURN_IP)
#                            --turn-user ... --turn-password-file ...
#
# Variables:
#   LAB_PREFIX, LAB_DIR (temp dir: logs/, keys/), LAB_UDP (np_labudp path),
#   LAB_HOOKRUN (np_hookrun path), LAB_IMPAIR (np_impair path),
#   LAB_TUN_DEV (np0), LAB_MTU (1400)
#   SERVER_IP, SERVER_ALT_IP, LAB_PORT1=2000, LAB_PORT2=2001, SERVER_IP6,
#   LAB_SERVER_HOST (what peers are given as the server: SERVER_IP, or
#   "SERVER_IP,SERVER_IP6" after lab_ipv6_server)
#   after lab_site NAME:  LAB_KIND_<N>, LAB_LAN_IP_<N> (the peer's address),
#     LAB_PUB_IP_<N> (outer NAT public address; = LAN IP for none),
#     LAB_NAT_DEPTH_<N> (0, 1, 2), LAB_GW_IP_<N> (router address of the site),
#     LAB_CGN_IP_<N> (double, cgnat: the home NAT's 100.64 address)
#   after lab_host NAME:  LAB_IP_<N> (= LAB_LAN_IP_<N> = LAB_PUB_IP_<N>)
#   after lab_start_peer NAME: LAB_PID_<N>, LAB_LOG_<N>, LAB_TUN_IP_<N>,
#     LAB_CTL_<N> (its --control socket), LAB_START_MS_<N>
#   after lab_start_server:    LAB_PID_server, LAB_LOG_server
#   NP_LAB_BUDGET=S (ctest sets it a little below the test's TIMEOUT): the
#   watchdog that lab_init starts stops a test still running after S
#   seconds: it fails with "over its time budget", and its EXIT trap deletes
#   its namespaces and ends its processes, which a hard kill by ctest (on
#   TIMEOUT, SIGKILL) would leave behind. Unset or 0: no watchdog.
#   NP_LAB_VERBOSE=1 traces the topology commands too; NP_LAB_TRACE=0 turns
#   the transcript off (the demo does); NP_LAB_KEEP=1 keeps
#   LAB_DIR; NP_LAB_EXTRA_ARGS="--no-offload" adds options to every peer.
#
# The transcript: on failure a test's output reads as the commands it ran
# (as WireGuard's netns.sh prints them), interleaved with what they printed
# and followed by the daemons' logs. See "the transcript" below.

NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NP_BUILD_DIR=${NP_BUILD_DIR:-$NP_SOURCE_DIR/build}
LAB_UDP=${LAB_UDP:-$NP_BUILD_DIR/tests/lab/np_labudp}
LAB_HOOKRUN=${LAB_HOOKRUN:-$NP_BUILD_DIR/tests/lab/np_hookrun}
LAB_IMPAIR=${LAB_IMPAIR:-$NP_BUILD_DIR/tests/lab/np_impair}

SERVER_IP=203.0.113.10
SERVER_ALT_IP=203.0.113.11
SERVER_IP6=2001:db8::10
LAB_SERVER_HOST=${LAB_SERVER_HOST:-$SERVER_IP}
LAB_PORT1=2000
LAB_PORT2=2001
LAB_MTU=${LAB_MTU:-1400}
LAB_TUN_DEV=${LAB_TUN_DEV:-np0}
LAB_ALTER_XOR=0x1000
LAB_SEQ_P0=20000
TURN_IP=203.0.113.12
LAB_TURN_PORT=3478
LAB_TURN_TLS_PORT=5349
LAB_TOOLS="ip nft conntrack ping sysctl ss timeout stat mktemp"
LAB_CGN_PORTS="40960 45055" # ephemeral ports behind a carrier CGNAT: one block's worth

LAB_NSITES=0
LAB_NHOSTS=0
LAB_LOGS_DUMPED=0
LAB_HAVE_SERVER=0
LAB_SITES=()
LAB_HOSTS=()
LAB_NETNS=()
LAB_AT_EXIT=()
LAB_NQUEUE=0
declare -gA LAB_IMPAIR_PID=() LAB_IMPAIR_Q=()

# ---- small helpers --------------------------------------------------------

lab_log() { echo "nplab: $*" >&2; }

lab_now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# ---- the transcript ---------------------------------------------------------
# Every helper that acts (lab_exec, lab_bg, lab_kill, lab_start_*, lab_stop,
# lab_wait, lab_run, the NAT knobs) writes the command it runs to stderr
# first, with a UTC time that matches the daemons' log lines:
#   14:02:11.532 + A: ping -n -c 3 10.10.0.2
# Paths are shortened to $B (NP_BUILD_DIR), $S (NP_SOURCE_DIR) and $D
# (LAB_DIR). The trace goes to the stderr the test started with, so a
# command substitution that captures 2>&1 does not capture it. Polls inside
# lab_wait are not traced; lab_wait says once what it waited for and how
# long. NP_LAB_VERBOSE=1 also traces every command that builds the topology.
LAB_TRACE_FD=2
LAB_QUIET=0
[ "${NP_LAB_TRACE:-1}" != 0 ] || LAB_QUIET=1 # NP_LAB_TRACE=0: no transcript

# _lab_quote VAR ARGS...: ARGS as one line, quoted only where needed, into
# VAR (no subshell: the lab forks enough as it is).
_lab_quote() {
	local -n _q_out=$1
	local a out=""
	shift
	for a in "$@"; do
		if [[ $a =~ ^[][A-Za-z0-9_./:=,@%+^{}-]+$ ]]; then
			out="$out $a"
		else
			out="$out '${a//\'/\'\\\'\'}'"
		fi
	done
	out=${out# }
	[ -z "${LAB_DIR:-}" ] || out=${out//"$LAB_DIR"/'$D'}
	out=${out//"$NP_BUILD_DIR"/'$B'}
	out=${out//"$NP_SOURCE_DIR"/'$S'}
	_q_out=$out
}

# lab_trace TEXT...: one line of the transcript (also for tests' own steps),
# stamped with the UTC time of day (as the daemons' lines are).
lab_trace() {
	[ "$LAB_QUIET" = 0 ] || return 0
	local us=${EPOCHREALTIME/./} s
	s=$((us / 1000000 % 86400))
	printf '%02d:%02d:%02d.%03d + %s\n' $((s / 3600)) $((s / 60 % 60)) $((s % 60)) $((us / 1000 % 1000)) "$*" \
		>&"$LAB_TRACE_FD"
}

# _lab_trace_cmd PREFIX CMD...: trace "PREFIXCMD" (CMD quoted), if tracing.
_lab_trace_cmd() {
	[ "$LAB_QUIET" = 0 ] || return 0
	local line
	_lab_quote line "${@:2}"
	lab_trace "$1$line"
}

# lab_run CMD...: run a command on the host (outside the lab), traced.
lab_run() {
	_lab_trace_cmd "" "$@"
	"$@"
}

# Topology commands: traced only with NP_LAB_VERBOSE=1.
_lab_setup() {
	if [ "${NP_LAB_VERBOSE:-0}" = 1 ]; then _lab_trace_cmd "" "$@"; fi
	"$@"
}

# lab_wait TIMEOUT_S CMD...: poll CMD every 0.2 s until it succeeds (0) or
# TIMEOUT_S pass (1). The polls are not traced; one line says the outcome.
lab_wait() {
	local timeout=$1 end t0 now rc=1 what=""
	shift
	[ "$LAB_QUIET" != 0 ] || _lab_quote what "$@"
	t0=${EPOCHREALTIME/./}
	t0=$((t0 / 1000))
	end=$((t0 + timeout * 1000))
	LAB_QUIET=$((LAB_QUIET + 1))
	while :; do
		if "$@"; then rc=0; break; fi
		now=${EPOCHREALTIME/./}
		if [ $((now / 1000)) -ge "$end" ]; then break; fi
		_lab_sleep 0.2
	done
	LAB_QUIET=$((LAB_QUIET - 1))
	[ "$LAB_QUIET" = 0 ] || return "$rc"
	end=${EPOCHREALTIME/./}
	t0=$((end / 1000 - t0))
	if [ "$rc" = 0 ]; then
		lab_trace "wait $what: ok after $((t0 / 1000)).$((t0 / 100 % 10)) s"
	else
		lab_trace "wait $what: gave up after ${timeout} s"
	fi
	return "$rc"
}

# _lab_sleep S: sleep S seconds (fractions allowed) without a fork: a read
# that times out on a FIFO nobody writes to (lab_init opens it). Polls
# (lab_wait) sleep this way: a fork of sleep costs tens of ms on a loaded
# host, as much as what is polled.
LAB_SLEEP_FD=""
_lab_sleep() {
	if [ -n "$LAB_SLEEP_FD" ]; then
		read -r -t "$1" -u "$LAB_SLEEP_FD" _ || true
	else
		sleep "$1"
	fi
}

# lab_get FIELD NAME: the lab variable LAB_FIELD_NAME, e.g. lab_get LOG A
# (A's daemon log), lab_get PID A, lab_get PUB_IP B, lab_get KIND A.
lab_get() { _lab_var "LAB_$1_$2"; }

_lab_check_name() {
	if ! [[ $1 =~ ^[A-Za-z][A-Za-z0-9_]{0,11}$ ]] || [ "$1" = srv ] || [ "$1" = router ] || [ "$1" = server ]; then
		lab_log "bad host name '$1' (letters, digits, _; at most 12; not srv/router/server)"
		exit 1
	fi
}

_lab_var() { eval "printf '%s' \"\${$1:-}\""; }

_lab_set() { printf -v "$1" '%s' "$2"; }

# ---- init and cleanup -----------------------------------------------------

lab_init() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: the NAT lab needs root (network namespaces)"
		exit 77
	fi
	local t missing=""
	for t in $LAB_TOOLS; do
		command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
	done
	if [ -n "$missing" ]; then
		echo "FAIL: the NAT lab needs these tools:$missing (Debian: iproute2 nftables conntrack iputils-ping procps coreutils)"
		exit 1
	fi
	LAB_PREFIX="npl$$-"
	if ip netns list | grep -q "^$LAB_PREFIX"; then
		LAB_PREFIX="npl$$r$RANDOM-"
	fi
	LAB_DIR=$(mktemp -d "/tmp/nplab.$$.XXXXXX")
	exec {LAB_TRACE_FD}>&2
	lab_trace "lab_init: B=$NP_BUILD_DIR S=$NP_SOURCE_DIR D=$LAB_DIR, namespaces ${LAB_PREFIX}*"
	mkdir -p "$LAB_DIR/logs" "$LAB_DIR/run"
	mkdir -m 0700 "$LAB_DIR/keys"
	: >"$LAB_DIR/run/pids"
	: >"$LAB_DIR/run/netns"
	mkfifo "$LAB_DIR/run/sleep"
	exec {LAB_SLEEP_FD}<>"$LAB_DIR/run/sleep"
	trap '_lab_on_exit' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	_lab_watchdog_start
	lab_pair A B
	lab_pair C D
	_lab_netns_add router
	_lab_sysctl router net.ipv4.ip_forward=1
	_lab_sysctl router net.ipv4.conf.all.rp_filter=0
	_lab_sysctl router net.ipv4.conf.default.rp_filter=0
}

_lab_on_exit() {
	local rc=$?
	set +e
	_lab_watchdog_stop
	if [ -f "${LAB_DIR:-/nonexistent}/run/overrun" ]; then
		[ "$rc" != 0 ] || rc=1
		echo "FAIL: over its time budget of $(cat "$LAB_DIR/run/overrun") s (NP_LAB_BUDGET): stopped, cleaning up"
	fi
	LAB_QUIET=0
	local cmd
	for cmd in "${LAB_AT_EXIT[@]}"; do
		eval "$cmd"
	done
	if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ "$LAB_LOGS_DUMPED" = 0 ]; then
		lab_dump_logs
	fi
	lab_cleanup
	if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -d "${LAB_DIR:-}" ]; then
		echo "nplab: logs kept in $LAB_DIR" >&2
	elif [ -d "${LAB_DIR:-}" ] && [ "${NP_LAB_KEEP:-0}" = 1 ]; then
		echo "nplab: NP_LAB_KEEP=1: logs kept in $LAB_DIR" >&2
	elif [ -d "${LAB_DIR:-}" ]; then
		rm -rf "$LAB_DIR"
	fi
	exit "$rc"
}

# ---- the watchdog -------------------------------------------------------------
# ctest ends a test that overruns its TIMEOUT with SIGKILL, so its EXIT trap
# never runs: its namespaces and daemons would stay. With NP_LAB_BUDGET=S
# (set by tests/CMakeLists.txt below the TIMEOUT), a background subshell
# waits S seconds; then it leaves a mark and sends SIGTERM to the test (whose
# TERM trap exits, and the EXIT trap cleans up) and to the test's direct
# children (bash runs a trap only once the foreground command has ended: a
# long sleep, iperf3 or wait). The subshell holds no pipe of ctest's open
# while it waits (sleep's output goes to /dev/null), and the EXIT trap ends
# it, so it never outlives the test.
LAB_WATCHDOG_PID=""

_lab_watchdog_start() {
	local budget=${NP_LAB_BUDGET:-0} main=$$
	[[ $budget =~ ^[0-9]+$ ]] || { lab_log "NP_LAB_BUDGET must be whole seconds, not '$budget'"; exit 1; }
	[ "$budget" -gt 0 ] || return 0
	(
		trap 'kill -TERM "${sp:-}" 2>/dev/null; exit 0' TERM
		sleep "$budget" >/dev/null 2>&1 &
		sp=$!
		wait "$sp" || exit 0
		echo "$budget" >"$LAB_DIR/run/overrun"
		echo "nplab: watchdog: still running after the ${budget} s budget: stopping the test" >&2
		kill -TERM "$main" 2>/dev/null || exit 0
		# Not the subshells of lab_bg (parents of recorded PIDs): they
		# reap the daemons, which the cleanup ends in order.
		local c p keep=" $BASHPID " kids=""
		while read -r p _; do
			keep="$keep$(_lab_ppid "$p") "
		done <"$LAB_DIR/run/pids"
		if [ -r "/proc/$main/task/$main/children" ]; then
			kids=$(cat "/proc/$main/task/$main/children")
		else
			for c in /proc/[0-9]*/stat; do
				c=${c#/proc/}
				c=${c%/stat}
				[ "$(_lab_ppid "$c")" != "$main" ] || kids="$kids $c"
			done
		fi
		for c in $kids; do
			[[ $keep == *" $c "* ]] || kill -TERM "$c" 2>/dev/null
		done
		exit 0
	) &
	LAB_WATCHDOG_PID=$!
	lab_trace "lab_init: watchdog pid $LAB_WATCHDOG_PID, budget $budget s"
}

_lab_ppid() {
	local f
	_lab_stat_v f "$1" || return 1
	echo "${f[1]}"
}

_lab_watchdog_stop() {
	[ -n "$LAB_WATCHDOG_PID" ] || return 0
	kill -TERM "$LAB_WATCHDOG_PID" 2>/dev/null
	wait "$LAB_WATCHDOG_PID" 2>/dev/null
	LAB_WATCHDOG_PID=""
	return 0
}

lab_at_exit() {
	LAB_AT_EXIT+=("$(printf '%q ' "$@")")
}

lab_cleanup() {
	local errexit=0
	[[ $- != *e* ]] || errexit=1
	set +e
	_lab_cleanup_all
	[ "$errexit" = 0 ] || set -e
	return 0
}

_lab_cleanup_all() {
	[ -n "${LAB_DIR:-}" ] && [ -f "$LAB_DIR/run/pids" ] || return 0
	local pid st LAB_QUIET=1
	# TERM everything still alive, give it 3 s together, then KILL.
	while read -r pid st; do
		_lab_pid_is_ours "$pid" "$st" && kill -TERM "$pid" 2>/dev/null
	done <"$LAB_DIR/run/pids"
	lab_wait 3 _lab_none_alive >/dev/null 2>&1
	while read -r pid st; do
		_lab_pid_is_ours "$pid" "$st" && kill -KILL "$pid" 2>/dev/null
	done <"$LAB_DIR/run/pids"
	lab_wait 3 _lab_none_alive >/dev/null 2>&1
	: >"$LAB_DIR/run/pids"
	local ns
	if [ -f "$LAB_DIR/run/netns" ]; then
		tac "$LAB_DIR/run/netns" | while read -r ns; do
			[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
		done
		: >"$LAB_DIR/run/netns"
	fi
	return 0
}

# _lab_stat_v ARRAY PID: ARRAY = the fields of /proc/PID/stat after
# "pid (comm)": [0] state, [1] ppid, ..., [19] start time. No fork. 1 if
# there is no such process.
_lab_stat_v() {
	local -n _st_out=$1
	local _st_line
	read -r _st_line 2>/dev/null <"/proc/$2/stat" || return 1
	read -r -a _st_out <<<"${_st_line##*) }"
}

_lab_starttime() {
	local f
	_lab_stat_v f "$1" || return 1
	echo "${f[19]}"
}

# True if PID still runs (a zombie does not) and is the process we started
# (same start time).
_lab_pid_is_ours() {
	local f
	_lab_stat_v f "$1" || return 1
	[ "${f[0]}" != Z ] && [ "${f[19]}" = "$2" ]
}

_lab_none_alive() {
	local pid st
	while read -r pid st; do
		if _lab_pid_is_ours "$pid" "$st" && [ ! -f "$LAB_DIR/run/rc.$pid" ]; then return 1; fi
	done <"$LAB_DIR/run/pids"
	return 0
}

# ---- namespaces -----------------------------------------------------------

_lab_netns_add() { # LOGICAL_NS [nolo: the caller brings lo up]
	local ns=$LAB_PREFIX$1
	_lab_setup ip netns add "$ns"
	echo "$ns" >>"$LAB_DIR/run/netns"
	[ "${2:-}" = nolo ] || _lab_setup ip -n "$ns" link set lo up
}

_lab_netns_del() {
	local ns=$LAB_PREFIX$1 l keep=()
	[ -e "/run/netns/$ns" ] || return 0
	_lab_setup ip netns del "$ns"
	while read -r l; do
		[ "$l" = "$ns" ] || keep+=("$l")
	done <"$LAB_DIR/run/netns"
	printf '%s\n' ${keep[@]+"${keep[@]}"} >"$LAB_DIR/run/netns"
}

_lab_sysctl() { _lab_setup ip netns exec "$LAB_PREFIX$1" sysctl -qw "$2" >/dev/null; }

# _lab_link NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth between two lab namespaces.
_lab_link() {
	local n1=$LAB_PREFIX$1 n2=$LAB_PREFIX$4
	_lab_setup ip -n "$n1" link add "$2" type veth peer name "$5" netns "$n2"
	[ -z "$3" ] || _lab_setup ip -n "$n1" addr add "$3" dev "$2"
	[ -z "$6" ] || _lab_setup ip -n "$n2" addr add "$6" dev "$5"
	_lab_setup ip -n "$n1" link set "$2" up
	_lab_setup ip -n "$n2" link set "$5" up
}

# _lab_get VAR NAME: VAR = the value of the variable NAME ("" if unset),
# without the subshell of $(_lab_var NAME) (every fork counts: a lab test
# makes thousands of these, and a fork costs tens of ms on a loaded host).
_lab_get() {
	local -n _g_out=$1
	local _g_name=$2
	_g_out=${!_g_name:-}
}

# _lab_resolve_v VAR NAME: VAR = the real netns name behind a logical name
# (no subshell); 1 (and a message) if there is none.
_lab_resolve_v() {
	local -n _r_out=$1
	local _r_k
	case $2 in
	srv | router) _r_out=$LAB_PREFIX$2 ;;
	nat-*)
		_lab_get _r_k "LAB_KIND_${2#nat-}"
		case $_r_k in
		"" | none | host | netns) lab_log "host '${2#nat-}' has no NAT"; return 1 ;;
		lan | cgnat) _lab_get _r_k "LAB_SITE_OF_${2#nat-}"; _lab_resolve_v "$1" "nat-$_r_k" ;;
		*) _r_out=${LAB_PREFIX}nat-${2#nat-} ;;
		esac
		;;
	home-*)
		_lab_get _r_k "LAB_KIND_${2#home-}"
		[ "$_r_k" = double ] || [ "$_r_k" = cgnat ] || { lab_log "no home NAT for ${2#home-}"; return 1; }
		_r_out=${LAB_PREFIX}home-${2#home-}
		;;
	*)
		_lab_get _r_k "LAB_KIND_$2"
		[ -n "$_r_k" ] || { lab_log "unknown lab host '$2'"; return 1; }
		_r_out=$LAB_PREFIX$2
		;;
	esac
}

# The real netns name behind a logical name.
_lab_resolve() {
	local ns
	_lab_resolve_v ns "$1" || return 1
	echo "$ns"
}

lab_ns() {
	case $1 in
	srv | router | nat-* | home-*) lab_log "unknown lab host '$1'"; return 1 ;;
	esac
	_lab_resolve "$1"
}

lab_nat_ns() { _lab_resolve "nat-$1"; }

# Every NAT namespace of a site, outer first.
_lab_nat_list() {
	local kind
	kind=$(_lab_var "LAB_KIND_$1")
	case $kind in
	double) echo "${LAB_PREFIX}nat-$1 ${LAB_PREFIX}home-$1" ;;
	cgnat) echo "${LAB_PREFIX}nat-$(_lab_var "LAB_SITE_OF_$1") ${LAB_PREFIX}home-$1" ;;
	lan) _lab_nat_list "$(_lab_var "LAB_SITE_OF_$1")" ;;
	"" | none | host | netns) lab_log "host '$1' has no NAT"; return 1 ;;
	*) echo "${LAB_PREFIX}nat-$1" ;;
	esac
}

lab_exec() {
	local ns
	_lab_resolve_v ns "$1" || return 1
	_lab_trace_cmd "$1: " "${@:2}"
	shift
	ip netns exec "$ns" "$@"
}

# ---- topology -------------------------------------------------------------

lab_server() {
	_lab_netns_add srv
	_lab_link router r-srv 203.0.113.1/24 srv eth0 "$SERVER_IP/24"
	_lab_setup ip -n "${LAB_PREFIX}srv" addr add "$SERVER_ALT_IP/24" dev eth0
	_lab_setup ip -n "${LAB_PREFIX}srv" route add default via 203.0.113.1
	LAB_HAVE_SERVER=1
	lab_trace "lab_server: srv $SERVER_IP, alt $SERVER_ALT_IP"
}

# The nftables ruleset of one NAT namespace: KIND PUBLIC_IP
_lab_nat_ruleset() {
	local kind=$1 pub=$2 udp_rule="" i n d elems=""
	case $kind in
	cone | masq) ;;
	symmetric-random) ;;
	cone-altered)
		udp_rule="oifname \"wan\" meta l4proto udp snat ip to $pub : udp sport ^ $LAB_ALTER_XOR"
		;;
	symmetric-seq:*)
		d=${kind#symmetric-seq:}
		n=$(((65535 - LAB_SEQ_P0) / d + 1))
		[ "$n" -le 256 ] || n=256
		for ((i = 0; i < n; i++)); do
			elems="$elems${elems:+, }$i : $((LAB_SEQ_P0 + i * d))"
		done
		udp_rule="oifname \"wan\" meta l4proto udp snat ip to $pub : numgen inc mod $n map { $elems }"
		;;
	*) lab_log "unknown NAT kind '$kind'"; return 1 ;;
	esac
	local masq="oifname \"wan\" masquerade"
	[ "$kind" != symmetric-random ] || masq="oifname \"wan\" masquerade fully-random"
	cat <<EOF
table ip nplab {
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" drop
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		$udp_rule
		$masq
	}
}
EOF
}

_lab_nat_setup() { # LOGICAL_NS KIND PUBLIC_IP
	local ns=$LAB_PREFIX$1 rules
	rules=$(_lab_nat_ruleset "$2" "$3") || return 1
	if [ "${NP_LAB_VERBOSE:-0}" = 1 ]; then
		lab_trace "$1: sysctl -qw net.ipv4.ip_forward=1; nft -f - <<<'$rules'"
	fi
	# One namespace entry for both (each costs a fork and a /sys remount).
	ip netns exec "$ns" sh -c 'sysctl -qw net.ipv4.ip_forward=1 >/dev/null && exec nft -f -' <<<"$rules"
}

# _lab_uplink SITE LOGICAL_NS IF GW: the router's veth s-SITE (GW/28, up),
# its other end IF in LOGICAL_NS (down, no address yet).
_lab_uplink() {
	_lab_ipb router <<EOF
link add s-$1 type veth peer name $3 netns $LAB_PREFIX$2
addr add $4/28 dev s-$1
link set s-$1 up
EOF
}

# _lab_leaf_v VAR IF ADDR GW: VAR = the ip -batch commands that bring up
# lo and IF with ADDR and a default route via GW.
_lab_leaf_v() {
	printf -v "$1" '%s\n' "link set lo up" "addr add $3 dev $2" "link set $2 up" "route add default via $4"
}

# _lab_lan_leaf NAT HOST LAN UPLINK: after the ip commands UPLINK (the NAT's
# own uplink, may be empty), NAT gets its LAN (lan, LAN.1/24) with HOST's
# eth0 (LAN.2/24, default route via LAN.1) at the other end.
_lab_lan_leaf() {
	local cmds
	_lab_ipb "$1" <<EOF
$4
link add lan type veth peer name eth0 netns $LAB_PREFIX$2
addr add $3.1/24 dev lan
link set lan up
EOF
	_lab_leaf_v cmds eth0 "$3.2/24" "$3.1"
	_lab_ipb "$2" <<<"$cmds"
}

# _lab_ipb LOGICAL_NS < COMMANDS: `ip -batch` in a lab namespace: one
# process (and one namespace entry) for the many ip commands that build a
# site, where one `ip -n` each cost tens of ms. Stops at the first error.
_lab_ipb() {
	local cmds
	IFS= read -r -d '' cmds || true
	if [ "${NP_LAB_VERBOSE:-0}" = 1 ]; then
		local l
		while read -r l; do lab_trace "$1: ip $l"; done <<<"$cmds"
	fi
	ip -n "$LAB_PREFIX$1" -batch - <<<"$cmds"
}

lab_valid_kind() {
	case $1 in
	none | cone | cone-altered | symmetric-random | double) return 0 ;;
	symmetric-seq:*)
		local d=${1#symmetric-seq:}
		[[ $d =~ ^[0-9]+$ ]] && [ "$d" -ge 1 ] && [ "$d" -le 1000 ] && return 0
		;;
	esac
	lab_log "unknown NAT kind '$1' (none|cone|cone-altered|symmetric-seq:D|symmetric-random|double)"
	return 1
}

lab_site() {
	local name=$1 kind=$2 i sub lan k cmds
	_lab_check_name "$name"
	lab_valid_kind "$kind" || exit 1
	_lab_get i "LAB_IDX_$name"
	_lab_get k "LAB_KIND_$name"
	if [ -z "$i" ]; then
		LAB_NSITES=$((LAB_NSITES + 1))
		i=$LAB_NSITES
		if [ "$i" -gt 15 ]; then lab_log "at most 15 sites"; exit 1; fi
		_lab_set "LAB_IDX_$name" "$i"
		LAB_SITES+=("$name")
	elif [ -n "$k" ]; then
		lab_log "site $name exists (lab_site_del it first)"
		exit 1
	fi
	sub=198.51.100.$((16 * i))
	local gw=${sub%.*}.$((16 * i + 1)) wan=${sub%.*}.$((16 * i + 2))
	lan=192.168.$i
	_lab_set "LAB_GW_IP_$name" "$gw"
	_lab_set "LAB_PUB_IP_$name" "$wan"
	case $kind in
	none)
		_lab_netns_add "$name" nolo
		_lab_uplink "$name" "$name" eth0 "$gw"
		_lab_leaf_v cmds eth0 "$wan/28" "$gw"
		_lab_ipb "$name" <<<"$cmds"
		_lab_set "LAB_LAN_IP_$name" "$wan"
		_lab_set "LAB_NAT_DEPTH_$name" 0
		;;
	double)
		_lab_netns_add "$name"
		_lab_netns_add "nat-$name"
		_lab_netns_add "home-$name"
		_lab_link router "s-$name" "$gw/28" "nat-$name" wan "$wan/28"
		_lab_setup ip -n "${LAB_PREFIX}nat-$name" route add default via "$gw"
		_lab_link "nat-$name" lan "100.64.$i.1/24" "home-$name" wan "100.64.$i.2/24"
		_lab_setup ip -n "${LAB_PREFIX}home-$name" route add default via "100.64.$i.1"
		_lab_link "home-$name" lan "$lan.1/24" "$name" eth0 "$lan.2/24"
		_lab_setup ip -n "$LAB_PREFIX$name" route add default via "$lan.1"
		_lab_nat_setup "nat-$name" cone "$wan"
		_lab_nat_setup "home-$name" cone "100.64.$i.2"
		_lab_set "LAB_CGN_IP_$name" "100.64.$i.2"
		_lab_set "LAB_LAN_IP_$name" "$lan.2"
		_lab_set "LAB_NAT_DEPTH_$name" 2
		;;
	*)
		_lab_netns_add "$name" nolo
		_lab_netns_add "nat-$name" nolo
		_lab_uplink "$name" "nat-$name" wan "$gw"
		_lab_leaf_v cmds wan "$wan/28" "$gw"
		_lab_lan_leaf "nat-$name" "$name" "$lan" "$cmds"
		_lab_nat_setup "nat-$name" "$kind" "$wan"
		_lab_set "LAB_LAN_IP_$name" "$lan.2"
		_lab_set "LAB_NAT_DEPTH_$name" 1
		;;
	esac
	_lab_set "LAB_KIND_$name" "$kind"
	local lip depth
	_lab_get lip "LAB_LAN_IP_$name"
	_lab_get depth "LAB_NAT_DEPTH_$name"
	lab_trace "lab_site $name $kind: $name $lip, public $wan, NAT depth $depth"
}

# Kill our processes inside NAME's namespaces, then delete those namespaces.
lab_site_del() {
	local name=$1 l ns inode pid st
	[ -n "$(_lab_var "LAB_KIND_$name")" ] || return 0
	if [ "$(_lab_var "LAB_KIND_$name")" = double ]; then
		# Its CGNAT's other subscribers go first (their link is to it).
		for l in "${LAB_SITES[@]}"; do
			[ "$(_lab_var "LAB_KIND_$l")" != cgnat ] || [ "$(_lab_var "LAB_SITE_OF_$l")" != "$name" ] ||
				lab_site_del "$l"
		done
		_lab_set "LAB_CGN_HP_$name" ""
		_lab_set "LAB_CGN_N_$name" ""
	fi
	lab_trace "lab_site_del $name"
	# All of them at once (TERM, then KILL after 3 s), then wait once.
	local pids=()
	for l in "$name" "nat-$name" "home-$name"; do
		ns=$LAB_PREFIX$l
		[ -e "/run/netns/$ns" ] || continue
		while read -r pid st; do
			_lab_pid_is_ours "$pid" "$st" || continue
			[ "/proc/$pid/ns/net" -ef "/run/netns/$ns" ] || continue
			pids+=("$pid")
		done <"$LAB_DIR/run/pids"
	done
	if [ "${#pids[@]}" -gt 0 ]; then
		lab_trace "kill -TERM ${pids[*]}"
		kill -TERM "${pids[@]}" 2>/dev/null || true
		LAB_QUIET=$((LAB_QUIET + 1))
		if ! lab_wait 3 _lab_all_ended "${pids[@]}"; then
			lab_log "pids ${pids[*]} ignored SIGTERM for 3s: SIGKILL"
			kill -KILL "${pids[@]}" 2>/dev/null || true
		fi
		lab_wait 5 _lab_all_reaped "${pids[@]}" || true
		LAB_QUIET=$((LAB_QUIET - 1))
	fi
	ip -n "${LAB_PREFIX}router" link del "s-$name" 2>/dev/null || true
	for l in "$name" "nat-$name" "home-$name"; do
		_lab_netns_del "$l"
	done
	_lab_set "LAB_KIND_$name" ""
}

lab_host() {
	local name=$1 j sub
	_lab_check_name "$name"
	[ -z "$(_lab_var "LAB_KIND_$name")" ] || { lab_log "host $name exists"; exit 1; }
	LAB_NHOSTS=$((LAB_NHOSTS + 1))
	j=$LAB_NHOSTS
	if [ "$j" -gt 15 ]; then lab_log "at most 15 hosts"; exit 1; fi
	sub=192.0.2.$((16 * j))
	local gw=192.0.2.$((16 * j + 1)) ip=192.0.2.$((16 * j + 2))
	_lab_netns_add "$name"
	_lab_link router "h-$name" "$gw/28" "$name" eth0 "$ip/28"
	_lab_setup ip -n "$LAB_PREFIX$name" route add default via "$gw"
	_lab_sysctl "$name" net.ipv4.conf.all.rp_filter=0
	_lab_set "LAB_IP_$name" "$ip"
	_lab_set "LAB_LAN_IP_$name" "$ip"
	_lab_set "LAB_PUB_IP_$name" "$ip"
	_lab_set "LAB_GW_IP_$name" "$gw"
	_lab_set "LAB_NAT_DEPTH_$name" 0
	_lab_set "LAB_KIND_$name" host
	LAB_HOSTS+=("$name")
	lab_trace "lab_host $name: $ip"
}

lab_lan_host() {
	local name=$1 site=$2 kind i inner k
	_lab_check_name "$name"
	[ -z "$(_lab_var "LAB_KIND_$name")" ] || { lab_log "host $name exists"; exit 1; }
	kind=$(_lab_var "LAB_KIND_$site")
	i=$(_lab_var "LAB_IDX_$site")
	case $kind in
	double | cgnat) inner=home-$site ;;
	"" | none | host | netns | lan) lab_log "lab_lan_host: '$site' is not a site with a NAT"; exit 1 ;;
	*) inner=nat-$site ;;
	esac
	if [ -z "$(_lab_var "LAB_LANN_$site")" ]; then
		# The LAN becomes a bridge so that more hosts can join it.
		lab_run ip -n "$LAB_PREFIX$inner" link add br0 type bridge
		lab_run ip -n "$LAB_PREFIX$inner" link set br0 up
		lab_run ip -n "$LAB_PREFIX$inner" addr del "192.168.$i.1/24" dev lan
		lab_run ip -n "$LAB_PREFIX$inner" link set lan master br0
		lab_run ip -n "$LAB_PREFIX$inner" addr add "192.168.$i.1/24" dev br0
		_lab_set "LAB_LANN_$site" 2
	fi
	k=$(($(_lab_var "LAB_LANN_$site") + 1))
	[ "$k" -le 250 ] || { lab_log "lab_lan_host: LAN of $site is full"; exit 1; }
	_lab_set "LAB_LANN_$site" "$k"
	_lab_netns_add "$name"
	_lab_link "$inner" "l-$name" "" "$name" eth0 "192.168.$i.$k/24"
	lab_run ip -n "$LAB_PREFIX$inner" link set "l-$name" master br0
	lab_run ip -n "$LAB_PREFIX$name" route add default via "192.168.$i.1"
	_lab_set "LAB_SITE_OF_$name" "$site"
	_lab_set "LAB_LAN_IP_$name" "192.168.$i.$k"
	_lab_set "LAB_PUB_IP_$name" "$(_lab_var "LAB_PUB_IP_$site")"
	_lab_set "LAB_NAT_DEPTH_$name" "$(_lab_var "LAB_NAT_DEPTH_$site")"
	_lab_set "LAB_GW_IP_$name" "$(_lab_var "LAB_GW_IP_$site")"
	_lab_set "LAB_KIND_$name" lan
}

# ---- one CGNAT, several subscribers ------------------------------------------

# _lab_cgnat_ruleset PUB I: the carrier CGNAT of site index I (see "The
# carrier CGNAT" in the header). Subscriber 100.64.I.(s+2) owns the public
# UDP ports (s+1)*4096 + (0..4095); the map hp is the mapping table the
# hairpin chain (empty: no hairpin) looks public ports up in. The mapping
# chain records what the subscriber chain did (after NAT, saddr is PUB).
_lab_cgnat_ruleset() {
	local pub=$1 i=$2 s subs=""
	for ((s = 0; s < 15; s++)); do
		subs="$subs		ip saddr 100.64.$i.$((s + 2)) meta l4proto udp snat ip to $pub : udp sport & 0x0fff ^ $(((s + 1) * 4096))
"
	done
	cat <<EOF
table ip nplab {
	map hp {
		type inet_service : ipv4_addr . inet_service
		flags dynamic, timeout
		timeout 2m
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" drop
	}
	chain hairpin {
	}
	chain hairpin_in {
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname != "wan" ip daddr $pub meta l4proto udp jump hairpin_in
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname != "wan" ip daddr $pub meta l4proto udp jump hairpin
	}
	chain subscriber {
$subs	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" meta l4proto udp jump subscriber
		oifname != "wan" ct status dnat meta l4proto udp jump subscriber
		oifname "wan" masquerade
	}
	chain mapping {
		type filter hook postrouting priority srcnat + 10; policy accept;
		meta l4proto udp ct direction original ct status snat ip saddr $pub update @hp { udp sport : ct original ip saddr . ct original proto-src }
	}
}
EOF
}

# _lab_cgnat_carrier SITE: SITE's CGNAT becomes a carrier CGNAT (once; one
# nft transaction, its conntrack entries keep their mappings).
_lab_cgnat_carrier() {
	local site=$1 i rules
	[ -z "$(_lab_var "LAB_CGN_HP_$site")" ] || return 0
	_lab_get i "LAB_IDX_$site"
	rules=$(_lab_cgnat_ruleset "$(_lab_var "LAB_PUB_IP_$site")" "$i")
	lab_trace "nat-$site: carrier CGNAT: UDP of subscriber 100.64.$i.(s+2) port p leaves as $(_lab_var "LAB_PUB_IP_$site"):(s+1)*4096+(p&0xfff), mapping table @hp, hairpin off"
	ip netns exec "${LAB_PREFIX}nat-$site" nft -f - <<<"delete table ip nplab
$rules" || lab_fail "nat-$site: the carrier CGNAT's rules failed"
	_lab_sysctl "$site" "net.ipv4.ip_local_port_range=$LAB_CGN_PORTS"
	_lab_set "LAB_CGN_HP_$site" off
}

_lab_cgnat_site() { # CALLER SITE: SITE must be a double site
	[ "$(_lab_var "LAB_KIND_$2")" = double ] || lab_fail "$1: '$2' is not a double site (kind '$(_lab_var "LAB_KIND_$2")')"
}

lab_cgnat_hairpin() {
	local site=$1 mode=${2:-} ns
	_lab_cgnat_site lab_cgnat_hairpin "$site"
	case $mode in on | off) ;; *) lab_fail "lab_cgnat_hairpin: on or off, not '$mode'" ;; esac
	_lab_cgnat_carrier "$site"
	ns=${LAB_PREFIX}nat-$site
	lab_trace "lab_cgnat_hairpin $site $mode"
	if [ "$mode" = on ]; then
		ip netns exec "$ns" nft -f - <<<"flush chain ip nplab hairpin
add rule ip nplab hairpin dnat ip to udp dport map @hp
flush chain ip nplab hairpin_in
add rule ip nplab hairpin_in drop" || lab_fail "nat-$site: the hairpin rules failed"
	else
		ip netns exec "$ns" nft -f - <<<"flush chain ip nplab hairpin
flush chain ip nplab hairpin_in" || lab_fail "nat-$site: flushing the hairpin chains failed"
	fi
	_lab_set "LAB_CGN_HP_$site" "$mode"
}

lab_cgnat_home() {
	local name=$1 site=$2 kind=${3:-cone} same=${4:-} i j k cgn lan cmds
	_lab_check_name "$name"
	[ -z "$(_lab_var "LAB_KIND_$name")" ] || { lab_log "host $name exists"; exit 1; }
	_lab_cgnat_site lab_cgnat_home "$site"
	lab_valid_kind "$kind" || exit 1
	case $kind in none | double) lab_fail "lab_cgnat_home: home NAT kind '$kind' is not a single NAT" ;; esac
	_lab_get i "LAB_IDX_$site"
	_lab_get k "LAB_CGN_N_$site"
	k=$((${k:-2} + 1))
	[ "$k" -le 16 ] || lab_fail "lab_cgnat_home: the CGNAT of $site has 15 subscribers already"
	_lab_get j "LAB_IDX_$name"
	if [ -z "$j" ]; then
		LAB_NSITES=$((LAB_NSITES + 1))
		j=$LAB_NSITES
		[ "$j" -le 15 ] || { lab_log "at most 15 sites"; exit 1; }
		_lab_set "LAB_IDX_$name" "$j"
		LAB_SITES+=("$name")
	fi
	_lab_cgnat_carrier "$site"
	_lab_set "LAB_CGN_N_$site" "$k"
	cgn=100.64.$i.$k
	lan=192.168.$j
	case $same in
	"") ;;
	same-lan) lan=192.168.$i ;;
	*) lab_fail "lab_cgnat_home: the 4th argument is same-lan or nothing, not '$same'" ;;
	esac
	_lab_netns_add "$name" nolo
	_lab_netns_add "home-$name" nolo
	# The subscriber's own link: the CGNAT's end has 100.64.i.1/32 and a
	# host route to the subscriber (no subnet shared with the others).
	_lab_ipb "nat-$site" <<EOF
link add c-$name type veth peer name wan netns ${LAB_PREFIX}home-$name
addr add 100.64.$i.1/32 dev c-$name
link set c-$name up
route add $cgn/32 dev c-$name
EOF
	_lab_leaf_v cmds wan "$cgn/24" "100.64.$i.1"
	_lab_lan_leaf "home-$name" "$name" "$lan" "$cmds"
	_lab_sysctl "$name" "net.ipv4.ip_local_port_range=$LAB_CGN_PORTS"
	_lab_nat_setup "home-$name" "$kind" "$cgn"
	_lab_set "LAB_SITE_OF_$name" "$site"
	_lab_set "LAB_CGN_IP_$name" "$cgn"
	_lab_set "LAB_LAN_IP_$name" "$lan.2"
	_lab_set "LAB_PUB_IP_$name" "$(_lab_var "LAB_PUB_IP_$site")"
	_lab_set "LAB_GW_IP_$name" "$(_lab_var "LAB_GW_IP_$site")"
	_lab_set "LAB_NAT_DEPTH_$name" 2
	_lab_set "LAB_KIND_$name" cgnat
	lab_trace "lab_cgnat_home $name $site $kind: $name $lan.2, home NAT $cgn, public $(_lab_var "LAB_PUB_IP_$site") (CGNAT of $site, hairpin $(_lab_var "LAB_CGN_HP_$site"))"
}

lab_describe() {
	local n kind
	echo "router   ip netns exec ${LAB_PREFIX}router bash    (the internet: 203.0.113.1, 198.51.100.16i+1, 192.0.2.16j+1)"
	if [ "$LAB_HAVE_SERVER" = 1 ]; then
		echo "srv      ip netns exec ${LAB_PREFIX}srv bash    $SERVER_IP, alt $SERVER_ALT_IP"
	fi
	for n in "${LAB_SITES[@]}"; do
		kind=$(_lab_var "LAB_KIND_$n")
		[ -n "$kind" ] || continue
		printf '%-8s ip netns exec %s bash    %s (%s), public %s\n' "$n" "$LAB_PREFIX$n" \
			"$(_lab_var "LAB_LAN_IP_$n")" "$kind" "$(_lab_var "LAB_PUB_IP_$n")"
		case $kind in
		none) ;;
		double)
			printf '%-8s ip netns exec %s bash    home NAT lan %s wan %s\n' "home-$n" "${LAB_PREFIX}home-$n" \
				"192.168.$(_lab_var "LAB_IDX_$n").1" "$(_lab_var "LAB_CGN_IP_$n")"
			printf '%-8s ip netns exec %s bash    CGNAT lan 100.64.%s.1 wan %s\n' "nat-$n" "${LAB_PREFIX}nat-$n" \
				"$(_lab_var "LAB_IDX_$n")" "$(_lab_var "LAB_PUB_IP_$n")"
			[ -z "$(_lab_var "LAB_CGN_HP_$n")" ] || printf '%-8s carrier CGNAT, hairpin %s\n' "" "$(_lab_var "LAB_CGN_HP_$n")"
			;;
		cgnat)
			printf '%-8s ip netns exec %s bash    home NAT lan %s wan %s, subscriber of CGNAT nat-%s\n' "home-$n" \
				"${LAB_PREFIX}home-$n" "192.168.$(_lab_var "LAB_IDX_$n").1" "$(_lab_var "LAB_CGN_IP_$n")" \
				"$(_lab_var "LAB_SITE_OF_$n")"
			;;
		*)
			printf '%-8s ip netns exec %s bash    NAT lan 192.168.%s.1 wan %s\n' "nat-$n" "${LAB_PREFIX}nat-$n" \
				"$(_lab_var "LAB_IDX_$n")" "$(_lab_var "LAB_PUB_IP_$n")"
			;;
		esac
	done
	for n in "${LAB_HOSTS[@]}"; do
		printf '%-8s ip netns exec %s bash    %s (internet host)\n' "$n" "$LAB_PREFIX$n" "$(_lab_var "LAB_IP_$n")"
	done
	for n in "${LAB_NETNS[@]}"; do
		printf '%-8s ip netns exec %s bash    (bare namespace)\n' "$n" "$LAB_PREFIX$n"
	done
}

lab_udp_timeout() {
	local ns
	lab_trace "lab_udp_timeout $1 $2: nf_conntrack_udp_timeout(_stream)=$2 in $(_lab_nat_list "$1" | sed "s/$LAB_PREFIX//g")"
	for ns in $(_lab_nat_list "$1"); do
		ip netns exec "$ns" sysctl -qw "net.netfilter.nf_conntrack_udp_timeout=$2" \
			"net.netfilter.nf_conntrack_udp_timeout_stream=$2" >/dev/null
	done
}

lab_conntrack_flush() {
	local ns
	lab_trace "lab_conntrack_flush $1: conntrack -F in $(_lab_nat_list "$1" | sed "s/$LAB_PREFIX//g")"
	for ns in $(_lab_nat_list "$1"); do
		ip netns exec "$ns" conntrack -F >/dev/null 2>&1
	done
}

# The other public address of site NAME's /28 (.16i+2 <-> .16i+3).
_lab_other_pub() {
	local i old
	i=$(_lab_var "LAB_IDX_$1")
	old=$(_lab_var "LAB_PUB_IP_$1")
	if [ "$old" = "198.51.100.$((16 * i + 2))" ]; then
		echo "198.51.100.$((16 * i + 3))"
	else
		echo "198.51.100.$((16 * i + 2))"
	fi
}

_lab_single_nat() { # NAME WHAT
	case $(_lab_var "LAB_KIND_$1") in
	"" | none | host | double | cgnat) lab_fail "$2: site '$1' has no single NAT (kind '$(_lab_var "LAB_KIND_$1")')" ;;
	esac
}

lab_renumber() {
	local name=$1 ns old new gw
	_lab_single_nat "$name" lab_renumber
	ns=${LAB_PREFIX}nat-$name
	old=$(_lab_var "LAB_PUB_IP_$name")
	new=$(_lab_other_pub "$name")
	gw=$(_lab_var "LAB_GW_IP_$name")
	lab_trace "lab_renumber $name: $old -> $new"
	_lab_setup ip netns exec "$ns" sysctl -qw net.ipv4.conf.wan.promote_secondaries=1 >/dev/null
	_lab_setup ip -n "$ns" addr add "$new/28" dev wan
	_lab_setup ip -n "$ns" addr del "$old/28" dev wan
	_lab_setup ip -n "$ns" route replace default via "$gw"
	# Explicit snat rules name the address: write them again.
	_lab_setup ip netns exec "$ns" nft delete table ip nplab
	_lab_nat_setup "nat-$name" "$(_lab_var "LAB_KIND_$name")" "$new"
	ip netns exec "$ns" conntrack -D -q "$old" >/dev/null 2>&1 || true
	ip netns exec "$ns" conntrack -D -d "$old" >/dev/null 2>&1 || true
	_lab_set "LAB_PUB_IP_$name" "$new"
}

lab_set_nat() {
	local name=$1 kind=$2 ns rules
	_lab_single_nat "$name" lab_set_nat
	lab_valid_kind "$kind" || exit 1
	case $kind in none | double) lab_fail "lab_set_nat: kind '$kind' is not a single NAT" ;; esac
	ns=${LAB_PREFIX}nat-$name
	lab_trace "lab_set_nat $name: $(_lab_var "LAB_KIND_$name") -> $kind"
	rules=$(_lab_nat_ruleset "$kind" "$(_lab_var "LAB_PUB_IP_$name")") || return 1
	# One nft transaction: no moment without the NAT's rules.
	ip netns exec "$ns" nft -f - <<<"delete table ip nplab
$rules"
	_lab_set "LAB_KIND_$name" "$kind"
}

lab_site_move() {
	local name=$1 kind=$2 i lan gw wan ns inode pid st
	[ "$(_lab_var "LAB_KIND_$name")" = none ] || _lab_single_nat "$name" lab_site_move
	lab_valid_kind "$kind" || exit 1
	case $kind in none | double) lab_fail "lab_site_move: kind '$kind' is not a single NAT" ;; esac
	i=$(_lab_var "LAB_IDX_$name")
	lan=192.168.$i
	gw=$(_lab_var "LAB_GW_IP_$name")
	wan=$(_lab_other_pub "$name")
	lab_trace "lab_site_move $name: $(_lab_var "LAB_KIND_$name") -> $kind, public $wan"
	ns=${LAB_PREFIX}nat-$name
	if [ -e "/run/netns/$ns" ]; then
		inode=$(stat -L -c %i "/run/netns/$ns")
		while read -r pid st; do
			_lab_pid_is_ours "$pid" "$st" || continue
			[ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = "$inode" ] || continue
			lab_kill "$pid"
		done <"$LAB_DIR/run/pids"
	fi
	ip -n "${LAB_PREFIX}router" link del "s-$name" 2>/dev/null || true
	_lab_netns_del "nat-$name"
	_lab_netns_add "nat-$name"
	_lab_link router "s-$name" "$gw/28" "nat-$name" wan "$wan/28"
	_lab_setup ip -n "${LAB_PREFIX}nat-$name" route add default via "$gw"
	_lab_link "nat-$name" lan "$lan.1/24" "$name" eth0 "$lan.2/24"
	_lab_setup ip -n "$LAB_PREFIX$name" route replace default via "$lan.1"
	_lab_nat_setup "nat-$name" "$kind" "$wan"
	_lab_set "LAB_PUB_IP_$name" "$wan"
	_lab_set "LAB_LAN_IP_$name" "$lan.2"
	_lab_set "LAB_NAT_DEPTH_$name" 1
	_lab_set "LAB_KIND_$name" "$kind"
}

# The inner-most NAT of a site (the one the peer's LAN is attached to).
_lab_inner_nat() {
	case $(_lab_var "LAB_KIND_$1") in
	double | cgnat) echo "${LAB_PREFIX}home-$1" ;;
	lan) _lab_inner_nat "$(_lab_var "LAB_SITE_OF_$1")" ;;
	*) lab_nat_ns "$1" ;;
	esac
}

# The site's end of its internet link: NAME's outer NAT (wan), or NAME (eth0).
_lab_wan_end() {
	case $(_lab_var "LAB_KIND_$1") in
	none) echo "$LAB_PREFIX$1 eth0" ;;
	host) echo "$LAB_PREFIX$1 eth0" ;;
	*) echo "$(lab_nat_ns "$1") wan" ;;
	esac
}

lab_link_mtu() {
	local name=$1 mtu=$2 r end ns dev
	if [ "$(_lab_var "LAB_KIND_$name")" = host ]; then r=h-$name; else r=s-$name; fi
	end=$(_lab_wan_end "$name") || return 1
	read -r ns dev <<<"$end"
	lab_run ip -n "${LAB_PREFIX}router" link set dev "$r" mtu "$mtu"
	lab_run ip -n "$ns" link set dev "$dev" mtu "$mtu"
	# veth hands GSO super-packets over whatever the MTU; one segment per
	# skb makes the link behave like a real NIC (no ethtool needed).
	ip -n "${LAB_PREFIX}router" link set dev "$r" gso_max_segs 1 gso_max_size 1 2>/dev/null || true
	ip -n "$ns" link set dev "$dev" gso_max_segs 1 gso_max_size 1 2>/dev/null || true
}

lab_drop_too_big() {
	local ns rules='table inet nplab_too_big {
	chain output {
		type filter hook output priority filter; policy accept;
		icmp type destination-unreachable icmp code frag-needed drop
		icmpv6 type packet-too-big drop
	}
	chain forward {
		type filter hook forward priority filter - 5; policy accept;
		icmp type destination-unreachable icmp code frag-needed drop
		icmpv6 type packet-too-big drop
	}
}'
	for ns in "${LAB_PREFIX}router" $(_lab_nat_list "$1" 2>/dev/null); do
		lab_run ip netns exec "$ns" nft -f - <<<"$rules"
	done
}

lab_block_udp() {
	local ns
	ns=$(_lab_inner_nat "$1") || return 1
	lab_trace "lab_block_udp $1: ${ns#"$LAB_PREFIX"}: drop UDP from the LAN (table ip nplab_block)"
	ip netns exec "$ns" nft -f - <<<'table ip nplab_block {
	chain forward {
		type filter hook forward priority filter - 10; policy accept;
		iifname "lan" meta l4proto udp drop
	}
}'
}

lab_unblock_udp() {
	local ns
	ns=$(_lab_inner_nat "$1") || return 1
	lab_trace "lab_unblock_udp $1: ${ns#"$LAB_PREFIX"}: nft delete table ip nplab_block"
	ip netns exec "$ns" nft delete table ip nplab_block
}

# ---- impairment (delay, jitter, loss) ---------------------------------------

_lab_impair_rules() { # ACTION(-A|-D) NS IFACE QUEUE
	local ns=$2 dev=$3 q=$4
	lab_trace "${ns#"$LAB_PREFIX"}: iptables -w -t mangle $1 PREROUTING -i $dev -j NFQUEUE --queue-num $q --queue-bypass (and POSTROUTING -o $dev)"
	ip netns exec "$ns" iptables -w -t mangle "$1" PREROUTING -i "$dev" \
		-j NFQUEUE --queue-num "$q" --queue-bypass &&
		ip netns exec "$ns" iptables -w -t mangle "$1" POSTROUTING -o "$dev" \
			-j NFQUEUE --queue-num "$q" --queue-bypass
}

lab_unimpair() {
	local ns key q pid
	ns=$(_lab_resolve "$1") || return 1
	key="$ns/$2"
	q=${LAB_IMPAIR_Q[$key]:-}
	[ -n "$q" ] || return 0
	_lab_impair_rules -D "$ns" "$2" "$q" 2>/dev/null || true
	pid=${LAB_IMPAIR_PID[$key]:-}
	[ -z "$pid" ] || lab_kill "$pid" 2 || true
	unset "LAB_IMPAIR_Q[$key]" "LAB_IMPAIR_PID[$key]"
}

_lab_impair_ready() { grep -q "np_impair: queue" "$1"; }

lab_impair() {
	local name=$1 dev=$2 delay=$3 jitter=$4 loss=$5 secs=${6:-600} ns key q log
	[ -x "$LAB_IMPAIR" ] || lab_fail "$LAB_IMPAIR is missing (needs libnetfilter-queue-dev at build time)"
	command -v iptables >/dev/null || lab_fail "lab_impair needs iptables (Debian: iptables)"
	[[ $delay =~ ^[0-9]+$ && $jitter =~ ^[0-9]+$ && $loss =~ ^[0-9]+(\.[0-9]+)?$ && $secs =~ ^[0-9]+$ ]] ||
		lab_fail "lab_impair: bad numbers '$delay' '$jitter' '$loss' '$secs' (DELAY_MS JITTER_MS LOSS_PCT [SECONDS])"
	ns=$(_lab_resolve "$name") || return 1
	lab_unimpair "$name" "$dev"
	key="$ns/$dev"
	LAB_NQUEUE=$((LAB_NQUEUE + 1))
	q=$LAB_NQUEUE
	log=$(_lab_next_log "impair-$name-$dev")
	_lab_spawn "$name" "$log" "$LAB_IMPAIR" -q "$q" -d "$delay" -j "$jitter" -l "$loss" -t "$secs"
	LAB_IMPAIR_PID[$key]=$LAB_BG_PID
	LAB_IMPAIR_Q[$key]=$q
	lab_wait 5 _lab_impair_ready "$log" || lab_fail "np_impair did not start in $name: $(tail -n 3 "$log")"
	_lab_impair_rules -A "$ns" "$dev" "$q" || lab_fail "lab_impair: iptables NFQUEUE rules failed in $name"
}

lab_impair_site() {
	local name=$1
	shift
	[ -n "$(_lab_var "LAB_KIND_$name")" ] || lab_fail "lab_impair_site: unknown site '$name'"
	[ "$(_lab_var "LAB_KIND_$name")" != host ] || lab_fail "lab_impair_site: '$name' is a host, not a site"
	lab_impair router "s-$name" "$@"
}

# ---- IPv6 internet -----------------------------------------------------------

_lab_v6_router() {
	[ "${LAB_V6_ROUTER:-0}" = 1 ] && return 0
	_lab_sysctl router net.ipv6.conf.all.forwarding=1
	LAB_V6_ROUTER=1
}

lab_ipv6_server() {
	_lab_v6_router
	lab_run ip -n "${LAB_PREFIX}router" addr add 2001:db8::1/64 dev r-srv nodad
	lab_run ip -n "${LAB_PREFIX}srv" addr add "$SERVER_IP6/64" dev eth0 nodad
	lab_run ip -n "${LAB_PREFIX}srv" -6 route add default via 2001:db8::1
	LAB_SERVER_HOST="$SERVER_IP,$SERVER_IP6"
}

# The stateful IPv6 firewall of a site's router: no NAT.
_lab_v6_firewall() {
	cat <<'EOF6'
table ip6 nplab6 {
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" drop
	}
}
EOF6
}

lab_ipv6_site() {
	local name=$1 mode=${2:-dual} i kind p nat
	kind=$(_lab_var "LAB_KIND_$name")
	i=$(_lab_var "LAB_IDX_$name")
	[ -n "$kind" ] && [ -n "$i" ] || { lab_log "lab_ipv6_site: no site '$name'"; return 1; }
	case $mode in dual | only) ;; *) lab_log "lab_ipv6_site: mode dual or only, not '$mode'"; return 1 ;; esac
	_lab_v6_router
	p=2001:db8:$i
	lab_run ip -n "${LAB_PREFIX}router" addr add "$p::1/64" dev "s-$name" nodad
	case $kind in
	none)
		lab_run ip -n "$LAB_PREFIX$name" addr add "$p::2/64" dev eth0 nodad
		lab_run ip -n "$LAB_PREFIX$name" -6 route add default via "$p::1"
		_lab_set "LAB_IP6_$name" "$p::2"
		;;
	double | cgnat) lab_log "lab_ipv6_site: double and cgnat sites have no IPv6"; return 1 ;;
	*)
		nat=${LAB_PREFIX}nat-$name
		_lab_sysctl "nat-$name" net.ipv6.conf.all.forwarding=1
		lab_run ip -n "$nat" addr add "$p::2/64" dev wan nodad
		lab_run ip -n "$nat" addr add "$p:1::1/64" dev lan nodad
		lab_run ip -n "$nat" -6 route add default via "$p::1"
		lab_run ip -n "$LAB_PREFIX$name" addr add "$p:1::2/64" dev eth0 nodad
		lab_run ip -n "$LAB_PREFIX$name" -6 route add default via "$p:1::1"
		lab_run ip -n "${LAB_PREFIX}router" -6 route add "$p:1::/64" via "$p::2"
		_lab_v6_firewall | lab_run ip netns exec "$nat" nft -f -
		_lab_set "LAB_IP6_$name" "$p:1::2"
		;;
	esac
	if [ "$mode" = only ]; then
		lab_run ip -n "$LAB_PREFIX$name" -4 route del default
	fi
}

# ---- processes ------------------------------------------------------------

# Start a process in a lab namespace; sets LAB_BG_PID. A watcher subshell
# records the exit status in run/rc.PID when it ends.
_lab_spawn() {
	local ns log pidfile name=$1
	_lab_resolve_v ns "$1" || return 1
	log=$2
	shift 2
	pidfile=$LAB_DIR/run/spawn.$BASHPID.$RANDOM
	(
		ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
		cpid=$!
		# A PID can come back in a long run: forget the exit status of an
		# earlier process that had it, or the new one would look dead.
		rm -f "$LAB_DIR/run/rc.$cpid"
		echo "$cpid" >"$pidfile.tmp"
		mv "$pidfile.tmp" "$pidfile"
		rc=0
		wait "$cpid" || rc=$?
		echo "$rc" >"$LAB_DIR/run/rc.$cpid"
	) >/dev/null 2>&1 </dev/null &
	local i
	for ((i = 0; i < 500; i++)); do
		[ -f "$pidfile" ] && break
		_lab_sleep 0.01
	done
	read -r LAB_BG_PID <"$pidfile"
	rm -f "$pidfile"
	if [ "$LAB_QUIET" = 0 ]; then
		local line
		_lab_quote line "$@"
		lab_trace "$name: $line >${log/#"$LAB_DIR"/'$D'} 2>&1 &   # pid $LAB_BG_PID"
	fi
	local st=gone f
	! _lab_stat_v f "$LAB_BG_PID" || st=${f[19]}
	echo "$LAB_BG_PID $st" >>"$LAB_DIR/run/pids"
}

lab_bg() {
	_lab_spawn "$@"
	echo "$LAB_BG_PID"
}

lab_alive() {
	[ ! -f "$LAB_DIR/run/rc.$1" ] && kill -0 "$1" 2>/dev/null
}

lab_ended() { ! lab_alive "$1"; }

_lab_reaped() { [ -f "$LAB_DIR/run/rc.$1" ] || ! kill -0 "$1" 2>/dev/null; }

_lab_all_ended() {
	local p
	for p in "$@"; do lab_ended "$p" || return 1; done
}

_lab_all_reaped() {
	local p
	for p in "$@"; do _lab_reaped "$p" || return 1; done
}

lab_kill() {
	local pid=$1 grace=${2:-3} st="" p s
	while read -r p s; do
		[ "$p" != "$pid" ] || st=$s
	done <"$LAB_DIR/run/pids"
	if [ -z "$st" ]; then
		lab_log "lab_kill: $pid was not started by this lab"
		return 1
	fi
	if ! _lab_pid_is_ours "$pid" "$st"; then return 0; fi
	lab_trace "kill -TERM $pid"
	kill -TERM "$pid" 2>/dev/null || true
	LAB_QUIET=$((LAB_QUIET + 1))
	if ! lab_wait "$grace" lab_ended "$pid"; then
		lab_log "pid $pid ignored SIGTERM for ${grace}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	lab_wait 5 _lab_reaped "$pid" || true
	LAB_QUIET=$((LAB_QUIET - 1))
}

lab_exit_status() {
	local rc=0
	LAB_QUIET=$((LAB_QUIET + 1))
	lab_wait "${2:-10}" test -f "$LAB_DIR/run/rc.$1" || rc=1
	LAB_QUIET=$((LAB_QUIET - 1))
	[ "$rc" = 0 ] || { echo unknown; return 1; }
	cat "$LAB_DIR/run/rc.$1"
}

# ---- verdicts and logs ----------------------------------------------------

lab_dump_logs() {
	local f
	LAB_LOGS_DUMPED=1
	[ -d "${LAB_DIR:-}/logs" ] || return 0
	for f in "$LAB_DIR"/logs/*; do
		[ -f "$f" ] || continue
		echo "----- ${f##*/} (last 150 lines) -----"
		tail -n 150 "$f"
	done
	echo "----- end of logs -----"
}

lab_fail() {
	echo "FAIL: $*"
	lab_dump_logs
	exit 1
}

lab_pass() {
	echo "PASS: $*"
	exit 0
}

# Checks that do not stop the test: lab_check DESC CMD... runs CMD and
# prints "ok: DESC" or "not ok: DESC"; lab_finish MSG then passes (exit 0)
# if every check held, else fails naming how many did not.
LAB_CHECKS=0
LAB_CHECKS_FAILED=0
lab_check() {
	local desc=$1
	shift
	LAB_CHECKS=$((LAB_CHECKS + 1))
	if "$@"; then
		echo "ok: $desc"
	else
		echo "not ok: $desc"
		LAB_CHECKS_FAILED=$((LAB_CHECKS_FAILED + 1))
	fi
	return 0
}

lab_finish() {
	[ "$LAB_CHECKS_FAILED" = 0 ] || lab_fail "$LAB_CHECKS_FAILED of $LAB_CHECKS checks failed (see 'not ok' above)"
	lab_pass "$* ($LAB_CHECKS checks)"
}

# ---- bare namespaces --------------------------------------------------------

# lab_netns NAME: an empty namespace (lo up) for tests that need no NAT and
# no internet; lab_exec, lab_bg and lab_ns work on it; deleted at exit.
lab_netns() {
	_lab_check_name "$1"
	[ -z "$(_lab_var "LAB_KIND_$1")" ] || { lab_log "lab host $1 exists"; exit 1; }
	_lab_netns_add "$1"
	_lab_set "LAB_KIND_$1" netns
	LAB_NETNS+=("$1")
	lab_trace "lab_netns $1"
}

# lab_link NAME1 IF1 ADDR1 NAME2 IF2 ADDR2: a veth pair, IF1 in NAME1 and
# IF2 in NAME2 (the same name twice: both ends in one namespace), with
# ADDR/PREFIX on each end ("" for none), both up.
lab_link() {
	local n1 n2
	n1=$(_lab_resolve "$1") || return 1
	n2=$(_lab_resolve "$4") || return 1
	lab_trace "lab_link $1 $2 ${3:-(no address)} <-> $4 $5 ${6:-(no address)}"
	_lab_link "${n1#"$LAB_PREFIX"}" "$2" "$3" "${n2#"$LAB_PREFIX"}" "$5" "$6"
}

# ---- hooks without a tunnel -------------------------------------------------

# lab_hookrun NAME ARGS...: run np_hookrun (the daemon's hook runner, fed
# events from its command line; see tests/lab/tools/np_hookrun.c) in NAME's
# namespace, with the shipped Lua library on its path. Its exit status is
# np_hookrun's: 0 when every handler succeeded.
lab_hookrun() {
	local name=$1
	shift
	[ -x "$LAB_HOOKRUN" ] || lab_fail "$LAB_HOOKRUN is missing (build natpunch first)"
	lab_exec "$name" "$LAB_HOOKRUN" --lua-path "$NP_SOURCE_DIR/hooks/lua" "$@"
}

# ---- natpunch helpers ------------------------------------------------------

lab_pair() {
	_lab_set "LAB_PEER_OF_$1" "$2"
	_lab_set "LAB_PEER_OF_$2" "$1"
}

_lab_need_bin() {
	[ -x "$NP_BUILD_DIR/$1" ] || lab_fail "$NP_BUILD_DIR/$1 is missing (build natpunch first)"
}

lab_keys() {
	local n names=("$@")
	[ ${#names[@]} -gt 0 ] || names=(A B)
	_lab_need_bin natpunch
	for n in "${names[@]}"; do
		(umask 077 && "$NP_BUILD_DIR/natpunch" genkey >"$LAB_DIR/keys/$n.key") ||
			lab_fail "natpunch genkey failed"
		chmod 0600 "$LAB_DIR/keys/$n.key"
		_lab_set "LAB_KEY_$n" "$LAB_DIR/keys/$n.key"
		_lab_set "LAB_PUBKEY_$n" "$("$NP_BUILD_DIR/natpunch" pubkey <"$LAB_DIR/keys/$n.key")" ||
			lab_fail "natpunch pubkey failed"
		[ -n "$(_lab_var "LAB_PUBKEY_$n")" ] || lab_fail "natpunch pubkey printed nothing"
	done
	if [ -z "${LAB_PSK:-}" ]; then
		(umask 077 && "$NP_BUILD_DIR/natpunch" genpsk >"$LAB_DIR/keys/psk") || lab_fail "natpunch genpsk failed"
		chmod 0600 "$LAB_DIR/keys/psk"
		LAB_PSK=$LAB_DIR/keys/psk
	fi
}

_lab_next_log() { # NAME -> a fresh log path
	local l
	_lab_next_log_v l "$1"
	echo "$l"
}

_lab_next_log_v() { # VAR NAME: VAR = a fresh log path (no subshell)
	local -n _l_out=$1
	local i=1
	while [ -e "$LAB_DIR/logs/$2.$i.log" ]; do i=$((i + 1)); done
	_l_out=$LAB_DIR/logs/$2.$i.log
}

lab_start_server() {
	local log wrap=()
	_lab_need_bin natpunch-server
	_lab_next_log_v log server
	# shellcheck disable=SC2206
	[ -z "${LAB_WRAP:-}" ] || wrap=($LAB_WRAP)
	# No --bind: the server listens on every address of srv, so NAT probes
	# sent to SERVER_ALT_IP are answered too (as a real deployment would be).
	_lab_spawn srv "$log" "${wrap[@]}" "$NP_BUILD_DIR/natpunch-server" \
		--alt-ip "$SERVER_ALT_IP" -v "$@" "$LAB_PORT1" "$LAB_PORT2"
	LAB_PID_server=$LAB_BG_PID
	LAB_LOG_server=$log
	local t=5
	[ -z "${LAB_WRAP:-}" ] || t=60
	lab_wait "$t" _lab_server_ready || lab_fail "natpunch-server did not open UDP $LAB_PORT1/$LAB_PORT2 within ${t}s"
}

_lab_server_ready() {
	lab_alive "$LAB_PID_server" || lab_fail "natpunch-server exited early (status $(lab_exit_status "$LAB_PID_server" 2))"
	local s
	s=$(ip netns exec "${LAB_PREFIX}srv" ss -Hnlu 2>/dev/null) || return 1
	grep -q ":$LAB_PORT1\b" <<<"$s" && grep -q ":$LAB_PORT2\b" <<<"$s"
}

lab_start_peer() {
	local name=$1 port=$2 local_ip=$3 remote_ip=$4 peer log a keyargs=() wrap=() vflag=(-v) key pub
	shift 4
	_lab_need_bin natpunch
	_lab_get peer "LAB_PEER_OF_$name"
	for a in "$@"; do
		[ "$a" != --insecure ] || keyargs=(--insecure)
	done
	if [ ${#keyargs[@]} = 0 ]; then
		[ -n "$peer" ] || lab_fail "no peer for $name (lab_pair)"
		_lab_get key "LAB_KEY_$name"
		_lab_get pub "LAB_PUBKEY_$peer"
		[ -n "$key" ] && [ -n "$pub" ] || lab_fail "no keys for $name/$peer (lab_keys $name $peer)"
		keyargs=(--key "$key" --peer-key "$pub")
	fi
	[ "${LAB_DAEMON_VERBOSE:-1}" = 1 ] || vflag=()
	# shellcheck disable=SC2206
	[ -z "${LAB_WRAP:-}" ] || wrap=($LAB_WRAP)
	_lab_next_log_v log "$name"
	# Each peer gets its own control socket (the default /run/natpunch/np0.sock
	# is shared by all namespaces); NP_LAB_EXTRA_ARGS (e.g. --no-offload)
	# reaches every peer of every lab test.
	# shellcheck disable=SC2206
	local extra=(${NP_LAB_EXTRA_ARGS:-})
	_lab_spawn "$name" "$log" "${wrap[@]}" "$NP_BUILD_DIR/natpunch" "${keyargs[@]}" \
		--strategy-path "$NP_BUILD_DIR/strategies" --control "$LAB_DIR/ctl-$name.sock" "${vflag[@]}" \
		"${extra[@]}" "$@" "$LAB_SERVER_HOST" "$port" "$LAB_TUN_DEV" "$local_ip" "$remote_ip" "$LAB_MTU"
	_lab_set "LAB_CTL_$name" "$LAB_DIR/ctl-$name.sock"
	_lab_set "LAB_PID_$name" "$LAB_BG_PID"
	_lab_set "LAB_LOG_$name" "$log"
	_lab_set "LAB_TUN_IP_$name" "$local_ip"
	local now=${EPOCHREALTIME/./}
	_lab_set "LAB_START_MS_$name" "$((now / 1000))"
}

lab_start_pair() {
	local a=$1 b=$2 net=$3
	shift 3
	lab_start_peer "$a" "$LAB_PORT1" "$net.1" "$net.2" "$@"
	lab_start_peer "$b" "$LAB_PORT2" "$net.2" "$net.1" "$@"
}

# The usual stage of a test: keys for A and B, the server, and sites A and B
# behind NATs of KIND_A and KIND_B (default cone).
lab_two_sites() { # [KIND_A [KIND_B]]
	lab_keys A B
	lab_server
	lab_site A "${1:-cone}"
	lab_site B "${2:-cone}"
}

# Then: the server, peers A (10.10.0.1) and B (10.10.0.2) with extra natpunch
# arguments, and a tunnel up within 30 s.
lab_two_peers_up() { # [natpunch args...]
	lab_start_server
	lab_start_pair A B 10.10.0 "$@"
	lab_wait_tunnel A B 30 || lab_fail "tunnel not up within 30 s"
}

lab_stop() {
	local pid
	pid=$(_lab_var "LAB_PID_$1")
	[ -n "$pid" ] || return 0
	lab_trace "lab_stop $1"
	lab_kill "$pid" "${2:-3}"
}

lab_assert_alive() {
	local n pid
	for n in "$@"; do
		pid=$(_lab_var "LAB_PID_$n")
		[ -n "$pid" ] && lab_alive "$pid" ||
			lab_fail "daemon $n (pid ${pid:-none}) is not running (exit status $(lab_exit_status "$pid" 1 || true))"
	done
}

# ---- natpunch status: what the tests assert on ------------------------------

# lab_status_json NAME: `natpunch status --json` of NAME's daemon (one flat
# JSON object on stdout); 1 if the daemon does not answer.
lab_status_json() {
	local ctl
	_lab_get ctl "LAB_CTL_$1"
	[ -n "$ctl" ] || { lab_log "lab_status_json: no natpunch started for '$1'"; return 1; }
	_lab_trace_cmd "" natpunch status --control "$ctl" --json
	"$NP_BUILD_DIR/natpunch" status --control "$ctl" --json 2>/dev/null
}

# lab_json_field JSON KEY: the value of KEY in a flat JSON object (strings
# unquoted); 1 if there is no such key.
lab_json_field() {
	local v
	_lab_json_field_v v "$1" "$2" || return 1
	printf '%s\n' "$v"
}

# _lab_json_field_v VAR JSON KEY: VAR = lab_json_field JSON KEY (no subshell).
_lab_json_field_v() {
	local -n _j_out=$1
	local re='"'"$3"'":("(([^"\\]|\\.)*)"|([^,}]*))'
	[[ $2 =~ $re ]] || return 1
	if [ "${BASH_REMATCH[1]:0:1}" = '"' ]; then
		_j_out=${BASH_REMATCH[2]}
		_j_out=${_j_out//\\\"/\"}
		_j_out=${_j_out//\\\\/\\}
	else
		_j_out=${BASH_REMATCH[4]}
	fi
}

# lab_status NAME KEY: one fact from NAME's `natpunch status --json`, e.g.
# state (UP, PUNCH, ...), peer_endpoint, strategy, cipher, attempt,
# time_to_up_ms, tunnel_ups, tunnel_downs, rx_packets, data_path; 1 if the
# daemon does not answer or does not report KEY (the up-only keys exist only
# while the tunnel is up).
lab_status() {
	local v
	_lab_status_v v "$1" "$2" || return 1
	printf '%s\n' "$v"
}

# lab_tunnel_is_up NAME: NAME's daemon reports state UP now.
lab_tunnel_is_up() {
	local v=""
	_lab_status_v v "$1" state 2>/dev/null && [ "$v" = UP ]
}

# _lab_status_v VAR NAME KEY: VAR = lab_status NAME KEY, with one fork (the
# status command) where $(lab_status ...) makes three.
_lab_status_v() {
	local -n _s_out=$1
	local ctl json
	_lab_get ctl "LAB_CTL_$2"
	[ -n "$ctl" ] || { lab_log "lab_status_json: no natpunch started for '$2'"; return 1; }
	_lab_trace_cmd "" natpunch status --control "$ctl" --json
	json=$("$NP_BUILD_DIR/natpunch" status --control "$ctl" --json 2>/dev/null) || return 1
	_lab_json_field_v "$1" "$json" "$3"
}

# lab_tunnel_was_up NAME: NAME's daemon had its tunnel up at least once
# (tunnel_ups >= 1), whether or not it is up now.
lab_tunnel_was_up() {
	local n=""
	_lab_status_v n "$1" tunnel_ups 2>/dev/null || return 1
	[ "${n:-0}" -ge 1 ]
}

lab_ping() { # FROM TO [count]: ping TO's tunnel address from FROM
	local dst ns
	_lab_get dst "LAB_TUN_IP_$2"
	_lab_resolve_v ns "$1" || return 1
	ip netns exec "$ns" ping -n -q -c "${3:-1}" -i 0.2 -W 1 "$dst" >/dev/null 2>&1
}

_lab_tunnel_ready() { # A B
	local n pid
	for n in "$1" "$2"; do
		_lab_get pid "LAB_PID_$n"
		lab_alive "$pid" || lab_fail "daemon $n exited while waiting for the tunnel (status $(lab_exit_status "$pid" 2 || true))"
	done
	lab_tunnel_is_up "$1" && lab_tunnel_is_up "$2" && lab_ping "$1" "$2" && lab_ping "$2" "$1"
}

# On timeout, says on stderr which part was missing.
lab_wait_tunnel() {
	lab_wait "${3:-30}" _lab_tunnel_ready "$1" "$2" && return 0
	local n state=""
	for n in "$1" "$2"; do
		state="$state $n: state $(lab_status "$n" state 2>/dev/null || echo "(no answer)");"
	done
	if lab_ping "$1" "$2"; then state="$state ping $1->$2 ok;"; else state="$state ping $1->$2 fails;"; fi
	if lab_ping "$2" "$1"; then state="$state ping $2->$1 ok"; else state="$state ping $2->$1 fails"; fi
	lab_log "lab_wait_tunnel $1 $2 timed out after ${3:-30}s:$state"
	return 1
}

lab_ping_both() {
	local a=$1 b=$2 out pair ns dst
	for pair in "$a $b" "$b $a"; do
		# shellcheck disable=SC2086
		set -- $pair
		_lab_get dst "LAB_TUN_IP_$2"
		_lab_resolve_v ns "$1" || return 1
		_lab_trace_cmd "$1: " ping -n -c 3 -i 0.2 -W 1 "$dst"
		if ! out=$(ip netns exec "$ns" ping -n -c 3 -i 0.2 -W 1 "$dst" 2>&1); then
			echo "nplab: ping $1 -> $2 failed: $(grep -E 'packet loss|rtt' <<<"$out" | tr '\n' ' ')" >&2
			return 1
		fi
	done
}

# ---- TURN relay (coturn) ----------------------------------------------------

_lab_turn_tls_material() {
	local d=$LAB_DIR/turn
	[ -f "$d/ca.pem" ] && return 0
	command -v openssl >/dev/null || lab_fail "openssl is missing (Debian: openssl)"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=nplab test CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1 || lab_fail "cannot make the test CA"
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$TURN_IP" -keyout "$d/turn.key" -out "$d/turn.csr" \
		>/dev/null 2>&1 || lab_fail "cannot make the relay's key"
	printf 'subjectAltName=IP:%s\n' "$TURN_IP" >"$d/san.ext"
	openssl x509 -req -in "$d/turn.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
		-extfile "$d/san.ext" -out "$d/turn.pem" >/dev/null 2>&1 || lab_fail "cannot sign the relay's certificate"
	LAB_TURN_CA=$d/ca.pem
}

_lab_turn_ready() {
	lab_alive "$LAB_PID_turn" || lab_fail "coturn exited early (see $LAB_LOG_turn)"
	local u t
	u=$(ip netns exec "${LAB_PREFIX}srv" ss -Hnlu 2>/dev/null) || return 1
	t=$(ip netns exec "${LAB_PREFIX}srv" ss -Hnlt 2>/dev/null) || return 1
	grep -q "$TURN_IP:$LAB_TURN_PORT\b" <<<"$u" && grep -q "$TURN_IP:$LAB_TURN_PORT\b" <<<"$t" || return 1
	[ "$LAB_TURN_TLS" = 0 ] || grep -q "$TURN_IP:$LAB_TURN_TLS_PORT\b" <<<"$t"
}

lab_start_turn() {
	local d=$LAB_DIR/turn log tls=0
	[ "${1:-}" != --tls ] || tls=1
	[ "$LAB_HAVE_SERVER" = 1 ] || lab_fail "lab_start_turn needs lab_server first"
	[ -x /usr/bin/turnserver ] || lab_fail "/usr/bin/turnserver is missing (Debian: coturn)"
	mkdir -p "$d"
	if ! ip -n "${LAB_PREFIX}srv" addr show dev eth0 | grep -q " $TURN_IP/"; then
		lab_run ip -n "${LAB_PREFIX}srv" addr add "$TURN_IP/24" dev eth0
	fi
	if [ ! -f "$d/secret" ]; then
		(umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$d/secret")
	fi
	LAB_TURN_SECRET_FILE=$d/secret
	LAB_TURN_TLS=$tls
	{
		echo "listening-ip=$TURN_IP"
		echo "relay-ip=$TURN_IP"
		echo "listening-port=$LAB_TURN_PORT"
		echo "min-port=49152"
		echo "max-port=49999"
		echo "use-auth-secret"
		echo "static-auth-secret=$(cat "$d/secret")"
		echo "realm=nplab"
		echo "no-cli"
		echo "no-dtls"
		echo "no-rfc5780"
		echo "no-multicast-peers"
		echo "fingerprint"
		echo "userdb=$d/turndb"
		echo "pidfile=$d/turnserver.pid"
		echo "simple-log"
		if [ "$tls" = 1 ]; then
			_lab_turn_tls_material
			echo "tls-listening-port=$LAB_TURN_TLS_PORT"
			echo "cert=$d/turn.pem"
			echo "pkey=$d/turn.key"
		else
			echo "no-tls"
		fi
	} >"$d/turnserver.conf"
	chmod 0600 "$d/turnserver.conf"
	log=$(_lab_next_log turn)
	_lab_spawn srv "$log" /usr/bin/turnserver -c "$d/turnserver.conf" --log-file stdout
	LAB_PID_turn=$LAB_BG_PID
	LAB_LOG_turn=$log
	lab_wait 10 _lab_turn_ready || lab_fail "coturn did not listen on $TURN_IP:$LAB_TURN_PORT within 10 s"
}

lab_turn_creds() {
	local name=$1 user
	[ -n "${LAB_TURN_SECRET_FILE:-}" ] || lab_fail "lab_turn_creds needs lab_start_turn first"
	user="$(($(date +%s) + 3600)):$name"
	(umask 077 && printf '%s' "$user" | openssl dgst -sha1 -hmac "$(cat "$LAB_TURN_SECRET_FILE")" -binary |
		base64 >"$LAB_DIR/keys/turn-$name.pw")
	echo "$user"
}

lab_turn_args() {
	local u
	u=$(lab_turn_creds "$1") || return 1
	echo "--turn ${2:-turn:$TURN_IP} --turn-user $u --turn-password-file $LAB_DIR/keys/turn-$1.pw"
}

# ---- old names ----------------------------------------------------------------
# Kept only so that branches written before the public API still run; tests
# must use the public names (tests/lab/check_api.sh fails on these).
_lab_now_ms() { lab_now_ms; }
_lab_ended() { lab_ended "$@"; }
_lab_valid_kind() { lab_valid_kind "$@"; }
lab_tunnel_field() { # NAME KEY: the old "tunnel up" keys, now read from status
	case $2 in
	peer) lab_status "$1" peer_endpoint ;;
	time_ms) lab_status "$1" time_to_up_ms ;;
	*) lab_status "$1" "$2" ;;
	esac
}
