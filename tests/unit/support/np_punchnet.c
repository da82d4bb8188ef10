/* np_punchnet: the two-peer virtual network around two real punches
 * (see np_punchnet.h for what is modelled). */
#include "np_punchnet.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np_log.h"
#include "np_natclass.h"
#include "np_wire.h"

#define NET_SERVER_IP 0xC0000201u /* 192.0.2.1 */
#define NET_SERVER_ALT 0xC0000202u /* 192.0.2.2 */
#define NET_P1 3478
#define NET_P2 3479
#define NET_START_IN_MS 300
#define NET_HS_INTERVAL 100

enum { DIR_OUT, DIR_IN };

/* A datagram: the punch's bytes, or a handshake stand-in (len 0). */
struct net_pkt {
	struct np_sim_ep src, dst;
	uint8_t ttl, len;
	uint8_t data[NP_PROBE_WIRE_LEN];
};

struct net_ev {
	uint64_t t, seq;
	struct net_pkt p;
	int8_t side, dir, level;
};

struct net_world;

struct net_side {
	struct net_world *w;
	int idx;
	unsigned n_nats;
	np_natsim_t *nat[2];
	uint32_t host_ip, public_ip;
	uint16_t sock_port[NP_HOST_MAX_SOCKETS + 1];
	uint8_t sock_open[NP_HOST_MAX_SOCKETS + 1];
	uint64_t timer_at[NP_PUNCH_TIMERS];
	uint8_t timer_on[NP_PUNCH_TIMERS];
	struct np_punch punch;
	int punch_live;
	int done;
	int win_sock;
	struct np_sim_ep win_peer;
	uint64_t t_end, hs_next;
	int full_ttl_openers;
	uint64_t rng;
	unsigned sockets;
	int succeeded, failed;
	int hs_rx;                  /* a handshake arrived on our path */
	unsigned followed;
	char reason[160];
};

struct net_world {
	uint64_t now, seq, start_at;
	uint64_t rng;               /* the router's losses */
	int initiator, no_confirm, no_follow; /* run->... */
	unsigned loss_pct, drop_probes[2];
	struct net_ev *heap;
	size_t nheap, capheap;
	struct net_side s[2];
	int verbose;
};

/* ---- addresses ---------------------------------------------------------- */

static void ep_to_addr(const struct np_sim_ep *ep, np_addr_t *a)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	a->port = ep->port;
	a->ip[0] = (uint8_t)(ep->ip >> 24);
	a->ip[1] = (uint8_t)(ep->ip >> 16);
	a->ip[2] = (uint8_t)(ep->ip >> 8);
	a->ip[3] = (uint8_t)ep->ip;
}

static int addr_to_ep(const np_addr_t *a, struct np_sim_ep *ep)
{
	if (!a || a->family != 4)
		return -EAFNOSUPPORT;
	ep->ip = (uint32_t)a->ip[0] << 24 | (uint32_t)a->ip[1] << 16 | (uint32_t)a->ip[2] << 8 |
		 a->ip[3];
	ep->port = a->port;
	return 0;
}

/* ---- side configurations ------------------------------------------------ */

int np_punchnet_side_by_kind(struct np_punchnet_side_cfg *cfg, const char *kind, uint64_t seed)
{
	struct np_natsim_cfg cone = {
		.mapping = NP_NAT_MAP_EIM,
		.filtering = NP_NAT_FILTER_APDF,
		.alloc = NP_SIM_ALLOC_PRESERVE,
		.seed = seed,
	};

	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = kind;
	if (!strcmp(kind, "none")) {
		cfg->n_nats = 0;
		return 0;
	}
	cfg->n_nats = 1;
	cfg->nat[0] = cone;
	if (!strcmp(kind, "cone"))
		return 0;
	if (!strcmp(kind, "cone-altered")) {
		cfg->nat[0].alloc = NP_SIM_ALLOC_ALTERED;
		cfg->nat[0].alter_offset = 1111;
		return 0;
	}
	if (!strcmp(kind, "double")) {
		cfg->n_nats = 2;
		cfg->nat[1] = cone;
		cfg->nat[1].seed = seed * 31 + 7;
		return 0;
	}
	if (!strcmp(kind, "symmetric-random")) {
		cfg->nat[0].mapping = NP_NAT_MAP_APDM;
		cfg->nat[0].alloc = NP_SIM_ALLOC_RANDOM;
		return 0;
	}
	if (!strncmp(kind, "symmetric-seq:", 14)) {
		int d = atoi(kind + 14);

		if (d <= 0 || d > 1000)
			return -EINVAL;
		cfg->nat[0].mapping = NP_NAT_MAP_APDM;
		cfg->nat[0].alloc = NP_SIM_ALLOC_SEQ;
		cfg->nat[0].step = d;
		cfg->nat[0].seq_start = (uint16_t)(20000 + (seed % 997) * 13);
		return 0;
	}
	return -EINVAL;
}

/* ---- event heap --------------------------------------------------------- */

static int ev_less(const struct net_ev *a, const struct net_ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static int heap_push(struct net_world *w, const struct net_ev *ev)
{
	size_t i;

	if (w->nheap == w->capheap) {
		size_t cap = w->capheap ? w->capheap * 2 : 256;
		struct net_ev *h = realloc(w->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		w->heap = h;
		w->capheap = cap;
	}
	i = w->nheap++;
	w->heap[i] = *ev;
	w->heap[i].seq = w->seq++;
	while (i > 0 && ev_less(&w->heap[i], &w->heap[(i - 1) / 2])) {
		struct net_ev tmp = w->heap[i];

		w->heap[i] = w->heap[(i - 1) / 2];
		w->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
	return 0;
}

static void heap_pop(struct net_world *w, struct net_ev *out)
{
	size_t i = 0;

	*out = w->heap[0];
	w->heap[0] = w->heap[--w->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct net_ev tmp;

		if (l < w->nheap && ev_less(&w->heap[l], &w->heap[m]))
			m = l;
		if (r < w->nheap && ev_less(&w->heap[r], &w->heap[m]))
			m = r;
		if (m == i)
			break;
		tmp = w->heap[i];
		w->heap[i] = w->heap[m];
		w->heap[m] = tmp;
		i = m;
	}
}

/* ---- immediate paths (registration, discovery) -------------------------- */

static int path_out_now(struct net_side *s, uint64_t now, struct np_sim_ep *src,
			const struct np_sim_ep *dst)
{
	uint8_t ttl = 64;
	unsigned i;
	int ret;

	for (i = 0; i < s->n_nats; i++) {
		ret = np_natsim_outbound(s->nat[i], now, src, dst, &ttl);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int path_in_now(struct net_side *s, uint64_t now, const struct np_sim_ep *src,
		       struct np_sim_ep *dst)
{
	uint8_t ttl = 64;
	unsigned i;
	int ret;

	for (i = s->n_nats; i-- > 0;) {
		ret = np_natsim_inbound(s->nat[i], now, src, dst, &ttl);
		if (ret < 0)
			return ret;
	}
	return dst->ip == s->host_ip ? 0 : -EHOSTUNREACH;
}

/* One request/reply with the virtual server: the mapping it saw, or family 0. */
static void server_ask(struct net_side *s, uint16_t lport, uint32_t sip, uint16_t sport,
		       uint32_t rip, uint16_t rport, np_addr_t *seen, int *reply_ok)
{
	struct np_sim_ep src = { s->host_ip, lport }, dst = { sip, sport };
	struct np_sim_ep from = { rip, rport }, to;

	if (seen)
		memset(seen, 0, sizeof(*seen));
	if (reply_ok)
		*reply_ok = 0;
	if (path_out_now(s, 0, &src, &dst) < 0)
		return;
	to = src;
	if (path_in_now(s, 0, &from, &to) < 0 || to.port != lport)
		return;
	if (seen)
		ep_to_addr(&src, seen);
	if (reply_ok)
		*reply_ok = 1;
}

/* The simulated discovery's observations, from local ports base.. (a later
 * discovery uses other ports, as the daemon's fresh sockets do). */
static void side_observe(struct net_side *s, uint16_t base, struct np_nat_obs *obs)
{
	struct np_sim_ep local = { s->host_ip, base };
	np_addr_t seen;
	unsigned k;
	int ok;

	memset(obs, 0, sizeof(*obs));
	ep_to_addr(&local, &obs->local);
	server_ask(s, base, NET_SERVER_IP, NET_P1, NET_SERVER_IP, NET_P1, &obs->mapped_p1, NULL);
	server_ask(s, base, NET_SERVER_IP, NET_P2, NET_SERVER_IP, NET_P2, &obs->mapped_p2, NULL);
	server_ask(s, base, NET_SERVER_ALT, NET_P1, NET_SERVER_ALT, NET_P1, &obs->mapped_alt,
		   NULL);
	obs->have_alt = 1;
	server_ask(s, (uint16_t)(base + 1), NET_SERVER_IP, NET_P1, NET_SERVER_IP, NET_P2, NULL, &ok);
	obs->change_port_reply = (uint8_t)ok;
	server_ask(s, (uint16_t)(base + 2), NET_SERVER_IP, NET_P1, NET_SERVER_ALT, NET_P2, NULL, &ok);
	obs->change_ip_reply = (uint8_t)ok;
	obs->n_fresh = 5;
	for (k = 0; k < obs->n_fresh; k++) {
		uint16_t lp = (uint16_t)(base + 10 + 7 * k);

		server_ask(s, lp, NET_SERVER_IP, NET_P1, NET_SERVER_IP, NET_P1, &seen, NULL);
		obs->fresh_local[k] = lp;
		obs->fresh_public[k] = seen.family ? seen.port : 0;
	}
	/* The daemon's tail question: one more socket, after all the others. */
	server_ask(s, (uint16_t)(base + 60), NET_SERVER_IP, NET_P1, NET_SERVER_IP, NET_P1, &obs->mapped_last, NULL);
	obs->depth = (uint8_t)s->n_nats;
}

static int side_discover(struct net_side *s, np_nat_info_t *out)
{
	struct np_nat_obs obs;

	side_observe(s, 45000, &obs);
	return np_natclass_classify(&obs, out);
}

/* ---- sides -------------------------------------------------------------- */

static int side_init(struct net_side *s, struct net_world *w, int idx,
		     const struct np_punchnet_side_cfg *cfg, uint64_t seed)
{
	static const uint32_t pub[2] = { 0xCB007101u, 0xC6336401u };  /* 203.0.113.1, 198.51.100.1 */
	static const uint32_t lan[2] = { 0xC0A8010Au, 0xC0A8020Au };  /* 192.168.1.10, .2.10 */
	static const uint32_t cgn[2] = { 0x64400002u, 0x64410002u };  /* 100.64.0.2, 100.65.0.2 */
	unsigned i;

	memset(s, 0, sizeof(*s));
	s->w = w;
	s->idx = idx;
	s->n_nats = cfg->n_nats > 2 ? 2 : cfg->n_nats;
	s->rng = seed * 1000003u + (uint64_t)idx * 7919u + 1;
	s->win_sock = -1;
	if (s->n_nats == 0) {
		s->host_ip = pub[idx] + 19; /* a public host */
		s->public_ip = s->host_ip;
	} else {
		s->host_ip = lan[idx];
		for (i = 0; i < s->n_nats; i++) {
			struct np_natsim_cfg nc = cfg->nat[i];

			nc.public_ip = i + 1 == s->n_nats ? pub[idx] : cgn[idx];
			nc.seed ^= seed * 0x9e3779b9u + (uint64_t)idx * 131u + i;
			s->nat[i] = np_natsim_new(&nc);
			if (!s->nat[i])
				return -ENOMEM;
		}
		s->public_ip = pub[idx];
	}
	s->sock_open[0] = 1;
	s->sock_port[0] = (uint16_t)(40000 + idx * 100);
	return 0;
}

static void side_free(struct net_side *s)
{
	unsigned i;

	if (s->punch_live)
		np_punch_fini(&s->punch);
	s->punch_live = 0;
	for (i = 0; i < 2; i++)
		np_natsim_free(s->nat[i]);
}

/* Truth, for runs without discovery. */
static void side_truth(const struct np_punchnet_side_cfg *cfg, np_nat_info_t *out)
{
	const struct np_natsim_cfg *n;
	unsigned i, pick;

	memset(out, 0, sizeof(*out));
	out->known = 1;
	out->depth = (uint8_t)cfg->n_nats;
	if (!cfg->n_nats) {
		out->mapping = NP_NAT_MAP_NONE;
		out->filtering = NP_NAT_FILTER_NONE;
		out->allocation = NP_NAT_ALLOC_PRESERVE;
		return;
	}
	pick = cfg->n_nats - 1;
	for (i = 0; i < cfg->n_nats; i++)
		if (cfg->nat[i].mapping != NP_NAT_MAP_EIM)
			pick = i;
	n = &cfg->nat[pick];
	out->mapping = n->mapping;
	out->filtering = n->filtering;
	switch (n->alloc) {
	case NP_SIM_ALLOC_PRESERVE:
		out->allocation = NP_NAT_ALLOC_PRESERVE;
		break;
	case NP_SIM_ALLOC_ALTERED:
		out->allocation = NP_NAT_ALLOC_STABLE;
		break;
	case NP_SIM_ALLOC_SEQ:
		out->allocation = NP_NAT_ALLOC_SEQUENTIAL;
		out->step = (int16_t)n->step;
		break;
	default:
		out->allocation = NP_NAT_ALLOC_RANDOM;
		break;
	}
}

/* ---- the tunnel around each punch: its upcalls ---------------------------- */

static void net_log(struct net_side *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void net_log(struct net_side *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->w->verbose)
		return;
	fprintf(stderr, "[%6llu %c] ", (unsigned long long)s->w->now, 'A' + s->idx);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int push_pkt(struct net_side *s, int sock, const struct np_sim_ep *to, uint8_t ttl, const void *buf,
		    size_t len)
{
	struct net_ev ev;

	if (len > sizeof(ev.p.data))
		return -EMSGSIZE;
	memset(&ev, 0, sizeof(ev));
	ev.t = s->w->now + 1;
	ev.p.src.ip = s->host_ip;
	ev.p.src.port = s->sock_port[sock];
	ev.p.dst = *to;
	ev.p.ttl = ttl;
	ev.p.len = (uint8_t)len;
	if (len)
		memcpy(ev.p.data, buf, len);
	ev.side = (int8_t)s->idx;
	ev.dir = DIR_OUT;
	ev.level = 0;
	return heap_push(s->w, &ev);
}

/* The tunnel keeps the winning socket and closes the others. */
static void keep_only(struct net_side *s, int sock)
{
	for (int i = 1; i <= NP_HOST_MAX_SOCKETS; i++)
		if (i != sock)
			s->sock_open[i] = 0;
}

static void end_side(struct net_side *s, int succeeded, int failed, const char *reason)
{
	if (s->done)
		return;
	s->done = 1;
	s->succeeded = succeeded;
	s->failed = failed;
	s->t_end = s->w->now;
	if (reason)
		snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

static void up_path_found(void *ctx, int sock_id, const np_addr_t *peer)
{
	struct net_side *s = ctx;

	if (s->done)
		return;
	end_side(s, 1, 0, NULL);
	s->win_sock = sock_id;
	addr_to_ep(peer, &s->win_peer);
	s->hs_next = s->w->now;
	keep_only(s, sock_id);
	net_log(s, "path found on socket %d", sock_id);
	if (s->w->initiator && s->w->initiator != s->idx + 1 && !s->w->no_confirm)
		np_punch_confirm_start(&s->punch, sock_id, peer);
}

static void up_failed(void *ctx, const char *reason)
{
	struct net_side *s = ctx;

	end_side(s, 0, strncmp(reason, "no authenticated answer", 23) == 0 ? 2 : 1, reason);
	net_log(s, "failed: %s", reason);
}

static void up_no_path(void *ctx, const char *why)
{
	struct net_side *s = ctx;

	end_side(s, 0, 1, why);
	net_log(s, "no path: %s", why);
}

static int up_send(void *ctx, int sock_id, const np_addr_t *to, const void *buf, size_t len, int ttl)
{
	struct net_side *s = ctx;
	struct np_sim_ep dst;

	if (sock_id < 0 || sock_id > NP_HOST_MAX_SOCKETS || !s->sock_open[sock_id])
		return -EBADF;
	if (addr_to_ep(to, &dst) < 0)
		return -EAFNOSUPPORT;
	if (ttl <= 0 || s->full_ttl_openers)
		ttl = 64;
	return push_pkt(s, sock_id, &dst, (uint8_t)ttl, buf, len);
}

static int up_open_socket(void *ctx)
{
	struct net_side *s = ctx;
	int id, j;

	for (id = 1; id <= NP_HOST_MAX_SOCKETS; id++)
		if (!s->sock_open[id])
			break;
	if (id > NP_HOST_MAX_SOCKETS)
		return -EMFILE;
	for (;;) {
		uint16_t p = (uint16_t)(32768 + np_sim_rand(&s->rng) % 28232);

		for (j = 0; j <= NP_HOST_MAX_SOCKETS; j++)
			if (s->sock_open[j] && s->sock_port[j] == p)
				break;
		if (j > NP_HOST_MAX_SOCKETS && p != 45000) {
			s->sock_port[id] = p;
			break;
		}
	}
	s->sock_open[id] = 1;
	s->sockets++;
	return id;
}

static void up_close_socket(void *ctx, int sock_id)
{
	struct net_side *s = ctx;

	if (sock_id > 0 && sock_id <= NP_HOST_MAX_SOCKETS)
		s->sock_open[sock_id] = 0;
}

static void up_timer_start(void *ctx, int id, uint32_t after_ms)
{
	struct net_side *s = ctx;

	if (id < 0 || id >= NP_PUNCH_TIMERS)
		return;
	s->timer_on[id] = 1;
	s->timer_at[id] = s->w->now + after_ms;
}

static void up_timer_stop(void *ctx, int id)
{
	struct net_side *s = ctx;

	if (id >= 0 && id < NP_PUNCH_TIMERS)
		s->timer_on[id] = 0;
}

static uint64_t up_now_ms(void *ctx)
{
	struct net_side *s = ctx;

	return s->w->now;
}

static void up_random(void *ctx, void *buf, size_t len)
{
	struct net_side *s = ctx;
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)np_sim_rand(&s->rng);
}

static void up_auth_warn(void *ctx, const char *what, const np_addr_t *from)
{
	net_log(ctx, "%s", what);
}

static const struct np_punch_upcalls net_upcalls = {
	.path_found = up_path_found,
	.failed = up_failed,
	.no_path = up_no_path,
	.send = up_send,
	.open_socket = up_open_socket,
	.close_socket = up_close_socket,
	.timer_start = up_timer_start,
	.timer_stop = up_timer_stop,
	.now_ms = up_now_ms,
	.random = up_random,
	.auth_warn = up_auth_warn,
};

/* ---- the world ---------------------------------------------------------- */

static void deliver(struct net_world *w, struct net_side *s, const struct net_pkt *p)
{
	np_addr_t from;
	int i;

	if (p->dst.ip != s->host_ip)
		return;
	for (i = 0; i <= NP_HOST_MAX_SOCKETS; i++)
		if (s->sock_open[i] && s->sock_port[i] == p->dst.port)
			break;
	if (i > NP_HOST_MAX_SOCKETS)
		return;
	ep_to_addr(&p->src, &from);
	if (p->len) {
		int verdict = np_punch_handle_probe(&s->punch, i, p->data, p->len, &from);
		np_addr_t cur;

		/* The initiator waiting for its handshake to land (np_peer.c). */
		if (w->initiator == s->idx + 1 && s->succeeded && !w->no_follow && i == s->win_sock &&
		    !w->s[!s->idx].hs_rx) {
			ep_to_addr(&s->win_peer, &cur);
			if (np_punch_follow(&s->punch, i, &cur, verdict, &from)) {
				/* As np_peer.c: a copy of the handshake goes there too. */
				push_pkt(s, s->win_sock, &p->src, 64, NULL, 0);
				s->followed++;
				net_log(s, "a copy of the handshake to the peer's other path");
			}
		}
		return;
	}
	/* A handshake on a path the peer found: ours too. */
	if (!s->hs_rx) {
		s->hs_rx = 1;
		if (w->initiator && s->done)
			s->t_end = w->now; /* the responder is through when the handshake lands */
	}
	if (s->done) {
		np_punch_confirmed(&s->punch);
	} else {
		np_punch_end(&s->punch);
		end_side(s, 2, 0, NULL);
		s->win_sock = i;
		s->win_peer = p->src;
		keep_only(s, i);
		net_log(s, "adopted the peer's handshake on socket %d", i);
	}
}

static void step_packet(struct net_world *w, struct net_ev *ev)
{
	struct net_side *s = &w->s[(int)ev->side];
	int d;

	if (ev->dir == DIR_OUT) {
		if ((unsigned)ev->level < s->n_nats) {
			if (np_natsim_outbound(s->nat[(int)ev->level], w->now, &ev->p.src, &ev->p.dst,
					       &ev->p.ttl) < 0)
				return;
			ev->level++;
			ev->t = w->now + ((unsigned)ev->level < s->n_nats ? 2 : 10);
			heap_push(w, ev);
			return;
		}
		/* The internet router. */
		if (ev->p.ttl <= 1)
			return;
		ev->p.ttl--;
		if (ev->p.len && w->drop_probes[(int)ev->side] &&
		    np_wire_type(ev->p.data, ev->p.len) == NP_MSG_PROBE) {
			w->drop_probes[(int)ev->side]--;
			return;
		}
		if (w->loss_pct && np_sim_rand(&w->rng) % 100 < w->loss_pct)
			return;
		for (d = 0; d < 2; d++)
			if (w->s[d].public_ip == ev->p.dst.ip)
				break;
		if (d == 2 || d == ev->side)
			return; /* the server, a private address, or a hairpin */
		ev->side = (int8_t)d;
		ev->dir = DIR_IN;
		ev->level = (int8_t)((int)w->s[d].n_nats - 1);
		ev->t = w->now + 10;
		heap_push(w, ev);
		return;
	}
	if (ev->level >= 0) {
		if (np_natsim_inbound(s->nat[(int)ev->level], w->now, &ev->p.src, &ev->p.dst,
				      &ev->p.ttl) < 0)
			return;
		ev->level--;
		ev->t = w->now + (ev->level >= 0 ? 2 : 1);
		heap_push(w, ev);
		return;
	}
	deliver(w, s, &ev->p);
}

/* The earliest thing to happen: 0 packet, 1 timer, 3 handshake. */
static int next_thing(struct net_world *w, uint64_t *t, int *side, int *timer)
{
	int kind = -1, i, j;

	*t = UINT64_MAX;
	for (i = 0; i < 2; i++) {
		struct net_side *s = &w->s[i];

		for (j = 0; j < NP_PUNCH_TIMERS; j++)
			if (s->timer_on[j] && s->timer_at[j] < *t)
				*t = s->timer_at[j], kind = 1, *side = i, *timer = j;
		if (s->succeeded && (w->initiator ? w->initiator == i + 1 && !w->s[!i].hs_rx && !w->s[!i].failed
						  : s->succeeded == 1 && !w->s[!i].done) &&
		    s->hs_next < *t)
			*t = s->hs_next, kind = 3, *side = i;
	}
	if (w->nheap && w->heap[0].t < *t)
		*t = w->heap[0].t, kind = 0;
	return kind;
}

static void run_loop(struct net_world *w, uint64_t end)
{
	struct net_ev ev;
	int kind, side = 0, timer = 0;
	uint64_t t;

	while (!(w->s[0].done && w->s[1].done &&
		 (!w->initiator || w->s[2 - w->initiator].hs_rx || w->s[2 - w->initiator].failed))) {
		kind = next_thing(w, &t, &side, &timer);
		if (kind < 0 || t > end)
			break;
		if (t > w->now)
			w->now = t;
		switch (kind) {
		case 0:
			heap_pop(w, &ev);
			step_packet(w, &ev);
			break;
		case 1:
			w->s[side].timer_on[timer] = 0;
			np_punch_on_timer(&w->s[side].punch, timer);
			break;
		default:
			push_pkt(&w->s[side], w->s[side].win_sock, &w->s[side].win_peer, 64, NULL, 0);
			w->s[side].hs_next = w->now + NET_HS_INTERVAL;
			break;
		}
	}
}

int np_punchnet_discover(const struct np_punchnet_side_cfg *side, uint64_t seed, np_nat_info_t *out)
{
	struct net_world *w = calloc(1, sizeof(*w));
	int ret;

	if (!w)
		return -ENOMEM;
	ret = side_init(&w->s[0], w, 0, side, seed);
	if (ret == 0)
		ret = side_discover(&w->s[0], out);
	side_free(&w->s[0]);
	free(w);
	return ret;
}

int np_punchnet_run(const struct np_punchnet_side_cfg *a, const struct np_punchnet_side_cfg *b,
		    const struct np_punchnet_run_cfg *run, struct np_punchnet_result *res)
{
	const struct np_punchnet_side_cfg *cfg[2] = { a, b };
	uint8_t key[2][32];
	np_addr_t pub[2], loc[2], mapped[2];
	struct net_world *w;
	int ret = 0, i;

	memset(res, 0, sizeof(*res));
	memset(mapped, 0, sizeof(mapped));
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->verbose = getenv("NP_PUNCHNET_VERBOSE") ? atoi(getenv("NP_PUNCHNET_VERBOSE")) : 0;
	w->rng = run->seed * 2654435761u + 17;
	w->initiator = run->initiator;
	w->no_confirm = run->no_confirm;
	w->no_follow = run->no_follow;
	w->loss_pct = run->loss_pct > 100 ? 100 : run->loss_pct;
	w->drop_probes[0] = run->drop_probes[0];
	w->drop_probes[1] = run->drop_probes[1];
	np_log_set_level(w->verbose > 1 ? NP_LOG_DEBUG : w->verbose ? NP_LOG_INFO : NP_LOG_ERR);
	memset(key[0], 0x5a, sizeof(key[0]));
	memset(key[1], run->wrong_key ? 0xa5 : 0x5a, sizeof(key[1]));
	for (i = 0; i < 2; i++) {
		struct np_punch_cfg pc = {
			.strategy = run->strategy[i],
			.strategy_path = getenv("NP_STRATEGY_BUILD_DIR"),
			.secure = 1,
		};
		struct np_sim_ep ep;
		char err[256];

		ret = side_init(&w->s[i], w, i, cfg[i], run->seed);
		if (ret < 0)
			goto out;
		ret = np_punch_init(&w->s[i].punch, &pc, &net_upcalls, &w->s[i], err, sizeof(err));
		if (ret < 0) {
			fprintf(stderr, "punchnet: %s\n", err);
			goto out;
		}
		w->s[i].punch_live = 1;
		if (run->discover)
			ret = side_discover(&w->s[i], &res->nat[i]);
		else
			side_truth(cfg[i], &res->nat[i]);
		if (ret < 0)
			goto out;
		/* Registration: socket 0 talks to the server first. */
		ep.ip = w->s[i].host_ip;
		ep.port = w->s[i].sock_port[0];
		ep_to_addr(&ep, &loc[i]);
		server_ask(&w->s[i], ep.port, NET_SERVER_IP, NET_P1, NET_SERVER_IP, NET_P1, &pub[i],
			   NULL);
		if (!pub[i].family) {
			ret = -EHOSTUNREACH;
			goto out;
		}
	}
	for (i = 0; i < 2; i++) {
		unsigned j;

		for (j = 0; j < w->s[i].n_nats; j++)
			np_natsim_burn(w->s[i].nat[j], run->seq_noise);
		/* A discovery after the registration (socket 0's mapping toward
		 * the server is older): its newest mapping goes to the peer. */
		if (run->report_mapped) {
			struct np_nat_obs obs;
			np_nat_info_t nat;

			side_observe(&w->s[i], 46000, &obs);
			if (np_natclass_classify(&obs, &nat) == 0)
				np_natclass_latest(&obs, &nat, &mapped[i]);
		}
	}
	w->now = 10;
	w->start_at = w->now + NET_START_IN_MS;
	for (i = 0; i < 2; i++) {
		struct net_side *s = &w->s[i];
		struct np_punch_attempt at = {
			.attempt = run->attempt ? run->attempt : 1,
			.round = 1,
			.high = i == 0,
			.nat_depth = (int)s->n_nats,
			.family = 4,
			.self_local = loc[i],
			.self_public = pub[i],
			.peer_local = loc[!i],
			.peer_public = pub[!i],
			.self_nat = res->nat[i],
			.peer_nat = res->nat[!i],
			.peer_mapped = mapped[!i],
			.start_in_ms = (uint16_t)(NET_START_IN_MS + (i == 1 ? run->start_skew_ms : 0)),
		};

		memcpy(at.probe_key, key[i], sizeof(at.probe_key));

		s->full_ttl_openers = run->full_ttl_openers;
		np_punch_start(&s->punch, &at);
	}
	run_loop(w, w->start_at + run->bound_ms);
	for (i = 0; i < 2; i++) {
		struct net_side *s = &w->s[i];

		res->probes[i] = s->punch.probes_this_attempt;
		res->sockets[i] = s->sockets;
		res->succeeded[i] = s->succeeded;
		res->failed[i] = s->failed;
		res->hs_rx[i] = s->hs_rx;
		res->followed[i] = s->followed;
		res->stats[i] = s->punch.stats;
		snprintf(res->reason[i], sizeof(res->reason[i]), "%s", s->reason);
	}
	res->ok = w->s[0].succeeded && w->s[1].succeeded && (!w->initiator || w->s[2 - w->initiator].hs_rx);
	res->failed_clean = w->s[0].done && w->s[1].done && (w->s[0].failed || w->s[1].failed);
	if (w->s[0].done && w->s[1].done) {
		uint64_t end = w->s[0].t_end > w->s[1].t_end ? w->s[0].t_end : w->s[1].t_end;

		res->ms = end > w->start_at ? end - w->start_at : 0;
	} else {
		res->ms = w->now > w->start_at ? w->now - w->start_at : 0;
	}
out:
	for (i = 0; i < 2; i++)
		side_free(&w->s[i]);
	free(w->heap);
	free(w);
	return ret;
}
