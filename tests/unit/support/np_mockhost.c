/* np_mockhost: the two-peer virtual world that drives real strategy .so files
 * through simulated NATs (see np_mockhost.h for what is modelled). */
#include "np_mockhost.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np_natclass.h"

#define MOCK_SERVER_IP 0xC0000201u /* 192.0.2.1 */
#define MOCK_SERVER_ALT 0xC0000202u /* 192.0.2.2 */
#define MOCK_P1 3478
#define MOCK_P2 3479
#define MOCK_START_IN_MS 300
#define MOCK_PROBE_BUDGET 8192
#define MOCK_DEFAULT_TIMEOUT 10000
#define MOCK_HS_INTERVAL 100

enum { PKT_PROBE, PKT_ACK, PKT_HANDSHAKE };
enum { DIR_OUT, DIR_IN };

struct mock_pkt {
	struct np_sim_ep src, dst;
	uint8_t ttl, type;
};

struct mock_ev {
	uint64_t t, seq;
	struct mock_pkt p;
	int8_t side, dir, level;
};

struct mock_world;

struct mock_side {
	struct mock_world *w;
	int idx;
	unsigned n_nats;
	np_natsim_t *nat[2];
	uint32_t host_ip, public_ip;
	uint16_t sock_port[NP_HOST_MAX_SOCKETS + 1];
	uint8_t sock_open[NP_HOST_MAX_SOCKETS + 1];
	uint64_t timer_at[NP_HOST_MAX_TIMERS];
	uint8_t timer_on[NP_HOST_MAX_TIMERS];
	const np_strategy_t *strat;
	void *st;
	int st_live;
	int done;
	int win_sock;
	struct np_sim_ep win_peer;
	uint64_t deadline, t_end, hs_next;
	int full_ttl_openers;
	uint64_t rng;
	unsigned probes, sockets;
	int succeeded, failed;
	char reason[160];
};

struct mock_world {
	uint64_t now, seq, start_at;
	struct mock_ev *heap;
	size_t nheap, capheap;
	struct mock_side s[2];
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

int np_mock_side_by_kind(struct np_mock_side_cfg *cfg, const char *kind, uint64_t seed)
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

/* ---- strategy loading --------------------------------------------------- */

const np_strategy_t *np_mock_load_strategy(const char *name)
{
	static struct {
		char name[64];
		const np_strategy_t *s;
	} cache[16];
	static unsigned ncache;
	const char *dir = getenv("NP_STRATEGY_BUILD_DIR");
	np_strategy_entry_fn entry;
	const np_strategy_t *s;
	char path[1024];
	void *h;
	unsigned i;

	for (i = 0; i < ncache; i++)
		if (!strcmp(cache[i].name, name))
			return cache[i].s;
	if (!dir)
		dir = ".";
	snprintf(path, sizeof(path), "%s/%s.so", dir, name);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "mockhost: %s\n", dlerror());
		return NULL;
	}
	*(void **)&entry = dlsym(h, NP_STRATEGY_ENTRY_SYMBOL);
	if (!entry) {
		fprintf(stderr, "mockhost: %s: no %s\n", path, NP_STRATEGY_ENTRY_SYMBOL);
		return NULL;
	}
	s = entry();
	if (!s || s->abi_major != NP_STRATEGY_ABI_MAJOR || s->abi_minor > NP_STRATEGY_ABI_MINOR) {
		fprintf(stderr, "mockhost: %s: ABI mismatch\n", path);
		return NULL;
	}
	if (ncache < sizeof(cache) / sizeof(cache[0])) {
		snprintf(cache[ncache].name, sizeof(cache[ncache].name), "%s", name);
		cache[ncache++].s = s;
	}
	return s;
}

/* ---- event heap --------------------------------------------------------- */

static int ev_less(const struct mock_ev *a, const struct mock_ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static int heap_push(struct mock_world *w, const struct mock_ev *ev)
{
	size_t i;

	if (w->nheap == w->capheap) {
		size_t cap = w->capheap ? w->capheap * 2 : 256;
		struct mock_ev *h = realloc(w->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		w->heap = h;
		w->capheap = cap;
	}
	i = w->nheap++;
	w->heap[i] = *ev;
	w->heap[i].seq = w->seq++;
	while (i > 0 && ev_less(&w->heap[i], &w->heap[(i - 1) / 2])) {
		struct mock_ev tmp = w->heap[i];

		w->heap[i] = w->heap[(i - 1) / 2];
		w->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
	return 0;
}

static void heap_pop(struct mock_world *w, struct mock_ev *out)
{
	size_t i = 0;

	*out = w->heap[0];
	w->heap[0] = w->heap[--w->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct mock_ev tmp;

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

static int path_out_now(struct mock_side *s, uint64_t now, struct np_sim_ep *src,
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

static int path_in_now(struct mock_side *s, uint64_t now, const struct np_sim_ep *src,
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
static void server_ask(struct mock_side *s, uint16_t lport, uint32_t sip, uint16_t sport,
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

static int side_discover(struct mock_side *s, np_nat_info_t *out)
{
	struct np_sim_ep local = { s->host_ip, 45000 };
	struct np_nat_obs obs;
	np_addr_t seen;
	unsigned k;
	int ok;

	memset(&obs, 0, sizeof(obs));
	ep_to_addr(&local, &obs.local);
	server_ask(s, 45000, MOCK_SERVER_IP, MOCK_P1, MOCK_SERVER_IP, MOCK_P1, &obs.mapped_p1, NULL);
	server_ask(s, 45000, MOCK_SERVER_IP, MOCK_P2, MOCK_SERVER_IP, MOCK_P2, &obs.mapped_p2, NULL);
	server_ask(s, 45000, MOCK_SERVER_ALT, MOCK_P1, MOCK_SERVER_ALT, MOCK_P1, &obs.mapped_alt,
		   NULL);
	obs.have_alt = 1;
	server_ask(s, 45001, MOCK_SERVER_IP, MOCK_P1, MOCK_SERVER_IP, MOCK_P2, NULL, &ok);
	obs.change_port_reply = (uint8_t)ok;
	server_ask(s, 45002, MOCK_SERVER_IP, MOCK_P1, MOCK_SERVER_ALT, MOCK_P2, NULL, &ok);
	obs.change_ip_reply = (uint8_t)ok;
	obs.n_fresh = 5;
	for (k = 0; k < obs.n_fresh; k++) {
		uint16_t lp = (uint16_t)(45010 + 7 * k);

		server_ask(s, lp, MOCK_SERVER_IP, MOCK_P1, MOCK_SERVER_IP, MOCK_P1, &seen, NULL);
		obs.fresh_local[k] = lp;
		obs.fresh_public[k] = seen.family ? seen.port : 0;
	}
	obs.depth = (uint8_t)s->n_nats;
	return np_natclass_classify(&obs, out);
}

/* ---- sides -------------------------------------------------------------- */

static int side_init(struct mock_side *s, struct mock_world *w, int idx,
		     const struct np_mock_side_cfg *cfg, uint64_t seed)
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

static void side_free(struct mock_side *s)
{
	unsigned i;

	if (s->st_live && s->strat->destroy)
		s->strat->destroy(s->st);
	s->st_live = 0;
	for (i = 0; i < 2; i++)
		np_natsim_free(s->nat[i]);
}

/* Truth, for runs without discovery. */
static void side_truth(const struct np_mock_side_cfg *cfg, np_nat_info_t *out)
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

/* ---- host API ----------------------------------------------------------- */

static void mock_log(void *host, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void mock_log(void *host, int level, const char *fmt, ...)
{
	struct mock_side *s = host;
	va_list ap;

	if (!s->w->verbose && level > 0)
		return;
	if (s->w->verbose < 2 && level > 2)
		return;
	fprintf(stderr, "[%6llu %c] ", (unsigned long long)s->w->now, 'A' + s->idx);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int send_pkt(struct mock_side *s, int sock, const struct np_sim_ep *to, uint8_t ttl,
		    uint8_t type)
{
	struct mock_ev ev;

	memset(&ev, 0, sizeof(ev));
	ev.t = s->w->now + 1;
	ev.p.src.ip = s->host_ip;
	ev.p.src.port = s->sock_port[sock];
	ev.p.dst = *to;
	ev.p.ttl = ttl;
	ev.p.type = type;
	ev.side = (int8_t)s->idx;
	ev.dir = DIR_OUT;
	ev.level = 0;
	return heap_push(s->w, &ev);
}

static int mock_send_probe(void *host, int sock_id, const np_addr_t *to, unsigned flags)
{
	struct mock_side *s = host;
	struct np_sim_ep dst;

	if (s->done)
		return -ECANCELED;
	if (sock_id < 0 || sock_id > NP_HOST_MAX_SOCKETS || !s->sock_open[sock_id])
		return -EBADF;
	if (addr_to_ep(to, &dst) < 0)
		return -EAFNOSUPPORT;
	if ((flags & NP_PROBE_OPENER) && s->n_nats == 0)
		return 0;
	if (s->probes >= MOCK_PROBE_BUDGET)
		return -EDQUOT;
	s->probes++;
	return send_pkt(s, sock_id, &dst,
			(flags & NP_PROBE_OPENER) && !s->full_ttl_openers ? (uint8_t)(s->n_nats + 1)
									  : 64,
			PKT_PROBE);
}

static int mock_open_socket(void *host)
{
	struct mock_side *s = host;
	int id, j;

	if (s->done)
		return -ECANCELED;
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

static void mock_close_socket(void *host, int sock_id)
{
	struct mock_side *s = host;

	if (sock_id > 0 && sock_id <= NP_HOST_MAX_SOCKETS)
		s->sock_open[sock_id] = 0;
}

static int mock_timer_start(void *host, int id, uint32_t after_ms)
{
	struct mock_side *s = host;

	if (id < 0 || id >= NP_HOST_MAX_TIMERS)
		return -EINVAL;
	s->timer_on[id] = 1;
	s->timer_at[id] = s->w->now + after_ms;
	return 0;
}

static void mock_timer_stop(void *host, int id)
{
	struct mock_side *s = host;

	if (id >= 0 && id < NP_HOST_MAX_TIMERS)
		s->timer_on[id] = 0;
}

static uint64_t mock_now_ms(void *host)
{
	struct mock_side *s = host;

	return s->w->now;
}

static void mock_random(void *host, void *buf, size_t len)
{
	struct mock_side *s = host;
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)np_sim_rand(&s->rng);
}

static void mock_succeed(void *host, int sock_id, const np_addr_t *peer)
{
	struct mock_side *s = host;

	if (s->done)
		return;
	s->done = 1;
	s->succeeded = 1;
	s->win_sock = sock_id;
	addr_to_ep(peer, &s->win_peer);
	s->t_end = s->w->now;
	s->hs_next = s->w->now;
	mock_log(s, 2, "succeed on socket %d", sock_id);
}

static void mock_fail(void *host, const char *reason)
{
	struct mock_side *s = host;

	if (s->done)
		return;
	s->done = 1;
	s->failed = 1;
	snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
	s->t_end = s->w->now;
	mock_log(s, 2, "fail: %s", s->reason);
}

static const np_host_api_t mock_api = {
	.size = sizeof(np_host_api_t),
	.send_probe = mock_send_probe,
	.open_socket = mock_open_socket,
	.close_socket = mock_close_socket,
	.timer_start = mock_timer_start,
	.timer_stop = mock_timer_stop,
	.now_ms = mock_now_ms,
	.random = mock_random,
	.log = mock_log,
	.succeed = mock_succeed,
	.fail = mock_fail,
};

/* ---- the world ---------------------------------------------------------- */

/* After a side ended: destroy its strategy, keep only the winning socket. */
static void reap(struct mock_side *s)
{
	int i;

	if (!s->done || !s->st_live)
		return;
	s->strat->destroy(s->st);
	s->st_live = 0;
	for (i = 1; i <= NP_HOST_MAX_SOCKETS; i++)
		if (i != s->win_sock)
			s->sock_open[i] = 0;
	memset(s->timer_on, 0, sizeof(s->timer_on));
}

static void deliver(struct mock_world *w, struct mock_side *s, const struct mock_pkt *p)
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
	switch (p->type) {
	case PKT_PROBE:
		send_pkt(s, i, &p->src, 64, PKT_ACK); /* the core acks by itself */
		if (s->st_live && !s->done && s->strat->on_answer)
			s->strat->on_answer(s->st, i, &from, 0);
		break;
	case PKT_ACK:
		if (s->st_live && !s->done && s->strat->on_answer)
			s->strat->on_answer(s->st, i, &from, 1);
		break;
	default:
		if (!s->done) {
			s->done = 1;
			s->succeeded = 2;
			s->win_sock = i;
			s->win_peer = p->src;
			s->t_end = w->now;
			mock_log(s, 2, "adopted the peer's handshake on socket %d", i);
		}
		break;
	}
}

static void step_packet(struct mock_world *w, struct mock_ev *ev)
{
	struct mock_side *s = &w->s[(int)ev->side];
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

/* The earliest thing to happen: 0 packet, 1 timer, 2 deadline, 3 handshake. */
static int next_thing(struct mock_world *w, uint64_t *t, int *side, int *timer)
{
	int kind = -1, i, j;

	*t = UINT64_MAX;
	for (i = 0; i < 2; i++) {
		struct mock_side *s = &w->s[i];

		if (s->st_live && !s->done) {
			for (j = 0; j < NP_HOST_MAX_TIMERS; j++)
				if (s->timer_on[j] && s->timer_at[j] < *t)
					*t = s->timer_at[j], kind = 1, *side = i, *timer = j;
			if (s->deadline < *t)
				*t = s->deadline, kind = 2, *side = i;
		}
		if (s->succeeded == 1 && !w->s[!i].done && s->hs_next < *t)
			*t = s->hs_next, kind = 3, *side = i;
	}
	if (w->nheap && w->heap[0].t < *t)
		*t = w->heap[0].t, kind = 0;
	return kind;
}

static void run_loop(struct mock_world *w, uint64_t end)
{
	struct mock_ev ev;
	int kind, side = 0, timer = 0, i;
	uint64_t t;

	while (!(w->s[0].done && w->s[1].done)) {
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
			if (w->s[side].strat->on_timer)
				w->s[side].strat->on_timer(w->s[side].st, timer);
			break;
		case 2:
			w->s[side].done = 1;
			w->s[side].failed = 2;
			w->s[side].t_end = w->now;
			snprintf(w->s[side].reason, sizeof(w->s[side].reason), "attempt timeout");
			break;
		default:
			send_pkt(&w->s[side], w->s[side].win_sock, &w->s[side].win_peer, 64,
				 PKT_HANDSHAKE);
			w->s[side].hs_next = w->now + MOCK_HS_INTERVAL;
			break;
		}
		for (i = 0; i < 2; i++)
			reap(&w->s[i]);
	}
}

int np_mock_discover(const struct np_mock_side_cfg *side, uint64_t seed, np_nat_info_t *out)
{
	struct mock_world *w = calloc(1, sizeof(*w));
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

int np_mock_run(const struct np_mock_side_cfg *a, const struct np_mock_side_cfg *b,
		const struct np_mock_run_cfg *run, struct np_mock_result *res)
{
	const struct np_mock_side_cfg *cfg[2] = { a, b };
	struct np_strategy_view view[2];
	np_addr_t pub[2], loc[2];
	struct mock_world *w;
	int ret = 0, i;

	memset(res, 0, sizeof(*res));
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->verbose = getenv("NP_MOCK_VERBOSE") ? atoi(getenv("NP_MOCK_VERBOSE")) : 0;
	for (i = 0; i < 2; i++) {
		struct np_sim_ep ep;

		ret = side_init(&w->s[i], w, i, cfg[i], run->seed);
		if (ret < 0)
			goto out;
		w->s[i].strat = np_mock_load_strategy(run->strategy[i]);
		if (!w->s[i].strat) {
			ret = -ENOENT;
			goto out;
		}
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
		server_ask(&w->s[i], ep.port, MOCK_SERVER_IP, MOCK_P1, MOCK_SERVER_IP, MOCK_P1, &pub[i],
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
	}
	w->now = 10;
	w->start_at = w->now + MOCK_START_IN_MS;
	for (i = 0; i < 2; i++) {
		struct mock_side *s = &w->s[i];
		uint32_t tmo = s->strat->attempt_timeout_ms ? s->strat->attempt_timeout_ms
							    : MOCK_DEFAULT_TIMEOUT;

		memset(&view[i], 0, sizeof(view[i]));
		view[i].size = sizeof(view[i]);
		view[i].attempt = run->attempt ? run->attempt : 1;
		view[i].round = 1;
		view[i].self_local = loc[i];
		view[i].self_public = pub[i];
		view[i].peer_local = loc[!i];
		view[i].peer_public = pub[!i];
		view[i].self_nat = res->nat[i];
		view[i].peer_nat = res->nat[!i];
		view[i].start_at_ms = w->start_at + (i == 1 ? run->start_skew_ms : 0);
		s->full_ttl_openers = run->full_ttl_openers;
		view[i].self_is_high = i == 0;
		s->deadline = view[i].start_at_ms + tmo;
		ret = s->strat->create(&mock_api, s, &s->st);
		if (ret < 0) {
			s->done = 1;
			s->failed = 1;
			snprintf(s->reason, sizeof(s->reason), "create: %d", ret);
			ret = 0;
			continue;
		}
		s->st_live = 1;
	}
	for (i = 0; i < 2; i++) {
		struct mock_side *s = &w->s[i];

		if (!s->st_live)
			continue;
		ret = s->strat->start(s->st, &view[i]);
		if (ret < 0 && !s->done) {
			s->done = 1;
			s->failed = 1;
			snprintf(s->reason, sizeof(s->reason), "start: %d", ret);
		}
		ret = 0;
		reap(s);
	}
	run_loop(w, w->start_at + run->bound_ms);
	for (i = 0; i < 2; i++) {
		struct mock_side *s = &w->s[i];

		res->probes[i] = s->probes;
		res->sockets[i] = s->sockets;
		res->succeeded[i] = s->succeeded;
		res->failed[i] = s->failed;
		snprintf(res->reason[i], sizeof(res->reason[i]), "%s", s->reason);
	}
	res->ok = w->s[0].succeeded && w->s[1].succeeded;
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
