/* np_pmtud: path MTU discovery for one tunnel. Runs the np_pmtu search on
 * a libev timer, sends its padded probes and answers the peer's through
 * the tunnel (authenticated like data), and tells the data path how big an
 * inner packet may be (dp.inner_max); np_datapath.c answers or fragments
 * what is bigger (np_icmp). See "Path MTU" in core/DESIGN.md. */
#include "np_peer_int.h"

#define NP_LOG_COMPONENT "pmtu"
#include "np_log.h"
#include "np_time.h"
#include "np_udp.h"
#include "np_wire.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

unsigned np_pmtud_overhead(const struct np_peer *p)
{
	unsigned ip = p->path_peer.family == 6 ? 40 : 20;

	return ip + 8 + (p->secure ? NP_SESSION_OVERHEAD : NP_DATA_HDR_LEN);
}

/* Seals one in-tunnel message of plen bytes (padding included) and sends
 * it to `to` on socket sock_id (the relay when `to` is the peer's relayed
 * address). */
int np_pmtud_send_to(struct np_peer *p, int sock_id, const np_addr_t *to, int type, uint32_t id, uint16_t size,
		     size_t plen)
{
	uint8_t *buf = p->dp.scratch;
	size_t cap = p->dp.slot, out_len;
	int rc;

	if (!buf || !to->family || (!p->socks[sock_id] && !np_relay_is_peer(p, to)))
		return -ENOTCONN;
	if (p->secure) {
		if (NP_TRANSPORT_HDR_LEN + plen + NP_TRANSPORT_TAG_LEN > cap)
			return -EMSGSIZE;
		np_pmtu_msg_encode(buf + NP_TRANSPORT_HDR_LEN, plen, type, id, size);
		rc = np_session_encrypt(&p->sess, np_mono_ms(), buf, plen, cap, &out_len);
		if (rc < 0)
			return rc;
	} else {
		if (NP_DATA_HDR_LEN + plen > cap)
			return -EMSGSIZE;
		buf[0] = NP_WIRE_VERSION;
		buf[1] = NP_MSG_DATA;
		buf[2] = buf[3] = 0;
		np_pmtu_msg_encode(buf + NP_DATA_HDR_LEN, plen, type, id, size);
		out_len = NP_DATA_HDR_LEN + plen;
	}
	rc = np_sock_send(p, sock_id, to, buf, out_len, 0);
	if (rc == 0 && np_addr_equal(to, &p->path_peer))
		p->last_tx = ev_now(p->loop);
	return rc;
}

/* One in-tunnel message on the path. */
static int send_msg(struct np_peer *p, int type, uint32_t id, uint16_t size, size_t plen)
{
	if (!p->socks[p->path_sock] || !p->path_peer.family)
		return -ENOTCONN;
	return np_pmtud_send_to(p, p->path_sock, &p->path_peer, type, id, size, plen);
}

/* The data path follows the search's current size. */
static void apply(struct np_peer *p)
{
	unsigned cur = np_pmtu_current(&p->pmtu), ovh = np_pmtud_overhead(p);

	p->dp.inner_max = cur > ovh ? cur - ovh : SIZE_MAX;
	if (p->pmtu.state == NP_PMTU_DONE && cur != p->pmtu_reported) {
		p->pmtu_reported = cur;
		np_info("path MTU %u (%s): inner packets up to %u bytes%s", cur, np_pmtu_state_name(&p->pmtu),
			cur - ovh, cur - ovh < (unsigned)p->cfg->mtu ? "; larger ones get ICMP or are fragmented" : "");
	}
}

static void run(struct np_peer *p)
{
	struct np_pmtu_probe pr[NP_PMTU_PROBES + 1];
	uint64_t next = 0;
	unsigned n = 0, ovh = np_pmtud_overhead(p);

	ev_timer_stop(p->loop, &p->pmtu_timer);
	if (p->st != NP_ST_UP)
		return;
	if (np_relay_on_path(p)) {
		/* A relayed path: TURN's framing and transport are not ours to probe. */
		np_pmtud_stop(p);
		return;
	}
	/* A restart inside poll asks to be polled again at once. */
	for (int i = 0; i < 4 && p->pmtu.state != NP_PMTU_OFF; i++) {
		next = np_pmtu_poll(&p->pmtu, np_mono_ms(), pr, &n);
		for (unsigned j = 0; j < n; j++) {
			size_t plen = pr[j].size > ovh + NP_PMTU_MSG_LEN ? pr[j].size - ovh : NP_PMTU_MSG_LEN;
			int rc = send_msg(p, NP_PMTU_MSG_PROBE, pr[j].id, pr[j].size, plen);

			if (rc == 0)
				p->pmtu_probes_sent++;
			else
				np_debug_e(rc, "path MTU probe of %u bytes not sent", pr[j].size);
		}
		if (next)
			break;
	}
	apply(p);
	if (p->pmtu.state != NP_PMTU_OFF && next) {
		ev_timer_set(&p->pmtu_timer, (double)next / 1000.0, 0.);
		ev_timer_start(p->loop, &p->pmtu_timer);
	}
}

static void on_pmtu_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	run(w->data);
}

void np_pmtud_init(struct np_peer *p)
{
	ev_timer_init(&p->pmtu_timer, on_pmtu_timer, 1., 0.);
	p->pmtu_timer.data = p;
	p->dp.inner_max = SIZE_MAX;
}

void np_pmtud_start(struct np_peer *p, const char *why)
{
	unsigned ovh = np_pmtud_overhead(p), max = (unsigned)p->cfg->mtu + ovh;
	int route, rc;
	uint32_t seed;

	if (p->st != NP_ST_UP || !p->socks[p->path_sock] || !p->path_peer.family || np_relay_on_path(p))
		return;
	route = np_route_mtu(&p->path_peer);
	if (route > 0 && (unsigned)route < max)
		max = (unsigned)route;
	rc = np_udp_set_df_probe(p->socks[p->path_sock]->fd, p->path_peer.family);
	if (rc < 0)
		np_warn_e(-rc, "cannot set DF on the tunnel socket: path MTU probes may pass fragmented");
	randombytes_buf(&seed, sizeof(seed));
	np_pmtu_start(&p->pmtu, NP_PMTU_BASE, max, seed, np_mono_ms());
	p->pmtu_reported = 0;
	np_debug("path MTU search %u..%u (%s)", p->pmtu.base, max, why);
	run(p);
}

void np_pmtud_stop(struct np_peer *p)
{
	ev_timer_stop(p->loop, &p->pmtu_timer);
	np_pmtu_stop(&p->pmtu);
	p->dp.inner_max = SIZE_MAX;
}

void np_pmtud_rx(struct np_peer *p, struct np_sock *s, const np_addr_t *from, const uint8_t *msg, size_t len)
{
	uint32_t id;
	uint16_t size;
	int type;

	if (np_pmtu_msg_parse(msg, len, &type, &id, &size) < 0) {
		p->stats.bad++;
		return;
	}
	if (type == NP_PATH_MSG_PROBE || type == NP_PATH_MSG_ACK) {
		np_switch_msg(p, s, from, type, id);
		return;
	}
	if (type == NP_PMTU_MSG_PROBE) {
		send_msg(p, NP_PMTU_MSG_ACK, id, size, NP_PMTU_MSG_LEN);
		return;
	}
	if (np_pmtu_ack(&p->pmtu, id, size, np_mono_ms())) {
		p->pmtu_probes_acked++;
		run(p);
	}
}
