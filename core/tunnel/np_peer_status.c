/* np_peer_status: the status report of one tunnel, one "key: value" line
 * per fact, served by np_control.c to `natpunch status`. */
#include "np_peer_int.h"

#include "np_natclass.h"
#include "np_wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Where the tunnel's path goes: "relay" (through TURN), "lan" (straight
 * to the peer's LAN endpoint: one NAT in front of both, and the path does
 * not go through it), "hairpin" (to the peer's public endpoint on our own
 * public address: one NAT or CGNAT in front of both hands our packets back
 * inside), "internet" (across the internet to the peer's NAT). */
static const char *path_scope(const struct np_peer *p)
{
	if (np_relay_on_path(p))
		return "relay";
	if (p->peer_local.family && np_addr_same_ip(&p->path_peer, &p->peer_local) &&
	    np_addr_is_private(&p->path_peer))
		return "lan";
	if (p->self_public.family && np_addr_same_ip(&p->path_peer, &p->self_public))
		return "hairpin";
	return "internet";
}

void np_status_add(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*n >= cap)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *n, cap - *n, fmt, ap);
	va_end(ap);
	*n += w > 0 ? (size_t)w : 0;
}

#define REPORT(...) np_status_add(buf, cap, &n, __VA_ARGS__)

void np_peer_status_summary(const struct np_peer *p, char *buf, size_t cap)
{
	char a[NP_ADDR_STRLEN];

	switch (p->st) {
	case NP_ST_REGISTER:
		snprintf(buf, cap, "registering with %s", np_astr(&p->server, a));
		break;
	case NP_ST_WAIT_PEER:
		snprintf(buf, cap, "waiting for peer");
		break;
	case NP_ST_PUNCH:
		snprintf(buf, cap, "punching via %s", np_punch_strategy_name(&p->punch));
		break;
	case NP_ST_HANDSHAKE:
		snprintf(buf, cap, "handshake with %s", np_astr(&p->path_peer, a));
		break;
	case NP_ST_UP:
		if (np_relay_on_path(p))
			snprintf(buf, cap, "up, relayed, peer %s", np_astr(&p->path_peer, a));
		else
			snprintf(buf, cap, "up, direct via %s, peer %s", np_punch_strategy_name(&p->punch),
				 np_astr(&p->path_peer, a));
		break;
	default:
		snprintf(buf, cap, "%s", np_peer_state_name(p->st));
	}
}

size_t np_peer_status_report(void *arg, char *buf, size_t cap)
{
	struct np_peer *p = arg;
	double now = ev_now(p->loop);
	char a[NP_ADDR_STRLEN], ks[32], text[128];
	size_t n = 0;

	REPORT("interface: %s\n", p->ifname);
	REPORT("state: %s\n", np_peer_state_name(p->st));
	REPORT("session: %s\n", p->cfg->session);
	REPORT("server: %s\n", np_astr(&p->server, a));
	/* "tcp": UDP got no answer, registration runs over TCP (np_regtcp.c) */
	REPORT("server_transport: %s\n", p->regtcp ? (np_regtcp_connected(p) ? "tcp" : "tcp (connecting)") : "udp");
	REPORT("server_families: %s%s%s\n", p->server_fam[0].family ? "IPv4" : "",
	       p->server_fam[0].family && p->server_fam[1].family ? "+" : "", p->server_fam[1].family ? "IPv6" : "");
	REPORT("underlay: %s\n", np_family_name(p->st == NP_ST_UP ? p->path_peer.family : p->server.family));
	REPORT("security: %s\n", p->secure ? (p->keys.has_psk ? "Noise IKpsk2" : "Noise IK") : "INSECURE (plaintext)");
	if (p->secure && p->st == NP_ST_UP)
		REPORT("cipher: %s\n", np_session_cipher_name(&p->sess));
	REPORT("public_endpoint: %s\n", np_astr(&p->self_public, a));
	REPORT("local_endpoint: %s\n", np_astr(&p->self_local, a));
	REPORT("nat_self: %s\n", p->self_nat.known ? np_natclass_kind_str(&p->self_nat, ks, sizeof(ks)) : "unknown");
	if (p->self_nat.known)
		REPORT("nat_self_detail: %s\n", np_natclass_describe(&p->self_nat, text, sizeof(text)));
	REPORT("nat_peer: %s\n", p->peer_nat.known ? np_natclass_kind_str(&p->peer_nat, ks, sizeof(ks)) : "unknown");
	REPORT("nat_depth: %d\n", p->nat_depth);
	REPORT("strategy: %s\n", np_punch_strategy_name(&p->punch));
	if (p->st == NP_ST_UP) {
		REPORT("peer_endpoint: %s\n", np_astr(&p->path_peer, a));
		REPORT("path: %s\n", np_relay_on_path(p) ? "relayed" : "direct");
		REPORT("path_scope: %s\n", path_scope(p));
		REPORT("up_seconds: %.0f\n", now - p->up_since);
		REPORT("attempt: %u\n", p->up_attempt);
		REPORT("time_to_up_ms: %llu\n", (unsigned long long)p->up_ms);
		REPORT("last_handshake_seconds_ago: %.0f\n", now - p->last_handshake);
		REPORT("last_packet_seconds_ago: %.1f\n", now - p->last_rx);
		if (p->hs_rtt_ms > 0)
			REPORT("handshake_rtt_ms: %.0f\n", p->hs_rtt_ms);
		if (np_pmtu_current(&p->pmtu)) {
			unsigned cur = np_pmtu_current(&p->pmtu), ovh = np_pmtud_overhead(p);
			REPORT("path_mtu: %u\n", cur);
			REPORT("path_mtu_state: %s\n", np_pmtu_state_name(&p->pmtu));
			REPORT("tunnel_mtu: %u\n", cur > ovh ? cur - ovh : 0);
		}
	} else {
		REPORT("attempts: %u\n", p->attempts);
		if (p->punch.fail_reason[0])
			REPORT("last_failure: %s\n", p->punch.fail_reason);
	}
	REPORT("tunnel_ups: %u\n", p->ups);
	REPORT("tunnel_downs: %u\n", p->downs);
	REPORT("recovering: %s\n", p->recovering ? "yes" : "no");
	REPORT("recoveries: %u\n", p->recoveries);
	REPORT("suspicions: %u\n", p->suspicions);
	REPORT("suspicions_false: %u\n", p->suspicions_false);
	REPORT("rejoins: %llu\n", (unsigned long long)p->rejoin.starts);
	REPORT("data_path: %s\n", p->dp.path ? p->dp.path : "unknown");
	REPORT("tx_packets: %llu\n", (unsigned long long)p->stats.tx_packets);
	REPORT("tx_bytes: %llu\n", (unsigned long long)p->stats.tx_bytes);
	REPORT("rx_packets: %llu\n", (unsigned long long)p->stats.rx_packets);
	REPORT("rx_bytes: %llu\n", (unsigned long long)p->stats.rx_bytes);
	REPORT("dropped_malformed: %llu\n", (unsigned long long)(p->stats.bad + p->punch.stats.bad));
	REPORT("dropped_unauthenticated: %llu\n", (unsigned long long)(p->stats.bad_mac + p->punch.stats.bad_mac));
	REPORT("dropped_replayed: %llu\n", (unsigned long long)p->stats.replay);
	REPORT("dropped_not_up: %llu\n", (unsigned long long)p->stats.not_up);
	REPORT("dropped_handshake_rate: %llu\n", (unsigned long long)p->stats.hs_limited);
	REPORT("handshake_cookies_sent: %llu\n", (unsigned long long)p->stats.hs_cookies);
	REPORT("dropped_other_pairing: %llu\n",
	       (unsigned long long)(p->stats.other_pairing + p->punch.stats.other_pairing));
	REPORT("probes_refused: %llu\n", (unsigned long long)p->punch.stats.refused_probes);
	REPORT("succeed_refused: %llu\n", (unsigned long long)p->punch.stats.refused_succeed);
	REPORT("dropped_inner_source: %llu\n", (unsigned long long)p->stats.inner_src);
	REPORT("dropped_other_version: %llu\n", (unsigned long long)p->stats.other_version);
	{
		char al[NP_ALLOWEDIPS_MAX * 48];
		REPORT("allowed_ips: %s\n", np_allowedips_str(&p->cfg->allowed, al, sizeof(al)));
	}
	REPORT("probes_sent: %llu\n", (unsigned long long)p->punch.stats.probes_sent);
	REPORT("pmtu_probes_sent: %llu\n", (unsigned long long)p->pmtu_probes_sent);
	REPORT("pmtu_probes_acked: %llu\n", (unsigned long long)p->pmtu_probes_acked);
	REPORT("too_big_icmp: %llu\n", (unsigned long long)p->dp.too_big_icmp);
	REPORT("too_big_fragmented: %llu\n", (unsigned long long)p->dp.too_big_frag);
	REPORT("too_big_dropped: %llu\n", (unsigned long long)p->dp.too_big_drop);
	if (n < cap)
		n += np_relay_status(p, buf + n, cap - n);
	return n < cap ? n : cap - 1;
}
