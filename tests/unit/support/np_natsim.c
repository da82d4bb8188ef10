/* np_natsim: flow table, port allocation and filtering of the simulated NAT.
 * Tables are plain arrays searched linearly: tests stay in the low
 * thousands of flows, and plain code is easier to trust than a fast one. */
#include "np_natsim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <natpunch/strategy.h>

#define NP_SIM_PORT_MIN 1024u
#define NP_SIM_PORT_SPAN (65536u - NP_SIM_PORT_MIN)

struct np_sim_flow {
	struct np_sim_ep o_src, o_dst; /* original direction */
	struct np_sim_ep r_src, r_dst; /* expected reply */
	uint8_t inbound;               /* unreplied inbound entry (no translation) */
	uint64_t last;
};

struct np_sim_binding {
	struct np_sim_ep in;
	uint32_t dst_ip; /* ADM only */
	uint16_t pub_port;
};

struct np_natsim {
	struct np_natsim_cfg cfg;
	struct np_sim_flow *flows;
	size_t nflows, capflows;
	struct np_sim_binding *binds;
	size_t nbinds, capbinds;
	uint64_t rng;
	uint16_t seq_last;
	struct np_natsim_stats stats;
};

uint64_t np_sim_rand(uint64_t *s)
{
	/* splitmix64: good enough, tiny, and deterministic. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int ep_eq(const struct np_sim_ep *a, const struct np_sim_ep *b)
{
	return a->ip == b->ip && a->port == b->port;
}

np_natsim_t *np_natsim_new(const struct np_natsim_cfg *cfg)
{
	np_natsim_t *nat = calloc(1, sizeof(*nat));

	if (!nat)
		return NULL;
	nat->cfg = *cfg;
	if (!nat->cfg.timeout_ms)
		nat->cfg.timeout_ms = 30000;
	if (!nat->cfg.seq_start)
		nat->cfg.seq_start = 20000;
	nat->rng = cfg->seed ^ 0x5eed;
	nat->seq_last = (uint16_t)(nat->cfg.seq_start - nat->cfg.step);
	return nat;
}

void np_natsim_free(np_natsim_t *nat)
{
	if (!nat)
		return;
	free(nat->flows);
	free(nat->binds);
	free(nat);
}

uint32_t np_natsim_public_ip(const np_natsim_t *nat)
{
	return nat->cfg.public_ip;
}

const struct np_natsim_stats *np_natsim_stats(const np_natsim_t *nat)
{
	return &nat->stats;
}

static void expire(np_natsim_t *nat, uint64_t now)
{
	size_t i, j = 0;

	for (i = 0; i < nat->nflows; i++)
		if (now - nat->flows[i].last <= nat->cfg.timeout_ms)
			nat->flows[j++] = nat->flows[i];
	nat->nflows = j;
	nat->stats.flows = (unsigned)j;
}

static struct np_sim_flow *add_flow(np_natsim_t *nat)
{
	if (nat->nflows == nat->capflows) {
		size_t cap = nat->capflows ? nat->capflows * 2 : 64;
		struct np_sim_flow *f = realloc(nat->flows, cap * sizeof(*f));

		if (!f)
			return NULL;
		nat->flows = f;
		nat->capflows = cap;
	}
	memset(&nat->flows[nat->nflows], 0, sizeof(nat->flows[0]));
	nat->stats.flows = (unsigned)nat->nflows + 1;
	return &nat->flows[nat->nflows++];
}

/* Is the tuple ext -> pub:port already taken, by a flow's reply tuple or by
 * an unreplied inbound entry? This is Linux's nf_nat_used_tuple in spirit. */
static int tuple_used(const np_natsim_t *nat, const struct np_sim_ep *ext, uint16_t port)
{
	struct np_sim_ep pub = { nat->cfg.public_ip, port };
	size_t i;

	for (i = 0; i < nat->nflows; i++) {
		const struct np_sim_flow *f = &nat->flows[i];

		if (f->inbound) {
			if (ep_eq(&f->o_src, ext) && ep_eq(&f->o_dst, &pub))
				return 1;
		} else if (ep_eq(&f->r_src, ext) && ep_eq(&f->r_dst, &pub)) {
			return 1;
		}
	}
	return 0;
}

/* Is the public port bound (EIM/ADM) to another inside endpoint? */
static int port_bound_elsewhere(const np_natsim_t *nat, const struct np_sim_ep *in, uint16_t port)
{
	size_t i;

	for (i = 0; i < nat->nbinds; i++)
		if (nat->binds[i].pub_port == port && !ep_eq(&nat->binds[i].in, in))
			return 1;
	return 0;
}

static uint16_t random_port(np_natsim_t *nat)
{
	return (uint16_t)(NP_SIM_PORT_MIN + np_sim_rand(&nat->rng) % NP_SIM_PORT_SPAN);
}

static uint16_t seq_next(np_natsim_t *nat)
{
	int p = (int)nat->seq_last + nat->cfg.step;

	while (p >= 65536)
		p -= (int)NP_SIM_PORT_SPAN;
	while (p < (int)NP_SIM_PORT_MIN)
		p += (int)NP_SIM_PORT_SPAN;
	nat->seq_last = (uint16_t)p;
	return nat->seq_last;
}

void np_natsim_burn(np_natsim_t *nat, unsigned n)
{
	while (n-- > 0)
		if (nat->cfg.alloc == NP_SIM_ALLOC_SEQ)
			seq_next(nat);
}

static struct np_sim_binding *find_binding(np_natsim_t *nat, const struct np_sim_ep *in,
					   uint32_t dst_ip)
{
	size_t i;

	for (i = 0; i < nat->nbinds; i++) {
		struct np_sim_binding *b = &nat->binds[i];

		if (ep_eq(&b->in, in) &&
		    (nat->cfg.mapping != NP_NAT_MAP_ADM || b->dst_ip == dst_ip))
			return b;
	}
	return NULL;
}

static uint16_t fresh_port(np_natsim_t *nat, const struct np_sim_ep *in)
{
	switch (nat->cfg.alloc) {
	case NP_SIM_ALLOC_PRESERVE:
		return in->port;
	case NP_SIM_ALLOC_ALTERED: {
		unsigned p = in->port + nat->cfg.alter_offset;

		if (p >= 65536)
			p = NP_SIM_PORT_MIN + (p - 65536) % NP_SIM_PORT_SPAN;
		return (uint16_t)p;
	}
	case NP_SIM_ALLOC_SEQ:
		return seq_next(nat);
	default:
		return random_port(nat);
	}
}

static int new_flow(np_natsim_t *nat, uint64_t now, const struct np_sim_ep *in,
		    const struct np_sim_ep *dst, uint16_t *out_port)
{
	struct np_sim_binding *b = NULL;
	struct np_sim_flow *f;
	uint16_t port;
	unsigned tries;

	if (nat->cfg.mapping == NP_NAT_MAP_EIM || nat->cfg.mapping == NP_NAT_MAP_ADM)
		b = find_binding(nat, in, dst->ip);
	if (b) {
		port = b->pub_port;
	} else {
		port = fresh_port(nat, in);
		for (tries = 0; tries < 64 && port_bound_elsewhere(nat, in, port); tries++)
			port = nat->cfg.alloc == NP_SIM_ALLOC_SEQ ? seq_next(nat) : random_port(nat);
	}
	if (tuple_used(nat, dst, port)) {
		/* The clash: a sequential allocator just takes its next port,
		 * everything else (Linux masquerade) a random one. */
		nat->stats.clashes++;
		for (tries = 0; tries < 256 && tuple_used(nat, dst, port); tries++)
			port = nat->cfg.alloc == NP_SIM_ALLOC_SEQ ? seq_next(nat) : random_port(nat);
	}
	if (!b && (nat->cfg.mapping == NP_NAT_MAP_EIM || nat->cfg.mapping == NP_NAT_MAP_ADM)) {
		if (nat->nbinds == nat->capbinds) {
			size_t cap = nat->capbinds ? nat->capbinds * 2 : 16;
			struct np_sim_binding *nb = realloc(nat->binds, cap * sizeof(*nb));

			if (!nb)
				return -ENOMEM;
			nat->binds = nb;
			nat->capbinds = cap;
		}
		b = &nat->binds[nat->nbinds++];
		b->in = *in;
		b->dst_ip = dst->ip;
		b->pub_port = port;
	}
	f = add_flow(nat);
	if (!f)
		return -ENOMEM;
	f->o_src = *in;
	f->o_dst = *dst;
	f->r_src = *dst;
	f->r_dst.ip = nat->cfg.public_ip;
	f->r_dst.port = port;
	f->last = now;
	nat->stats.out_new++;
	*out_port = port;
	return 0;
}

int np_natsim_outbound(np_natsim_t *nat, uint64_t now, struct np_sim_ep *src,
		       const struct np_sim_ep *dst, uint8_t *ttl)
{
	uint16_t port;
	size_t i;
	int ret;

	if (*ttl <= 1) {
		nat->stats.ttl_drop++;
		return -ETIMEDOUT;
	}
	(*ttl)--;
	expire(nat, now);
	for (i = 0; i < nat->nflows; i++) {
		struct np_sim_flow *f = &nat->flows[i];

		if (!f->inbound && ep_eq(&f->o_src, src) && ep_eq(&f->o_dst, dst)) {
			f->last = now;
			*src = f->r_dst;
			nat->stats.out_pass++;
			return 0;
		}
	}
	ret = new_flow(nat, now, src, dst, &port);
	if (ret < 0)
		return ret;
	src->ip = nat->cfg.public_ip;
	src->port = port;
	return 0;
}

/* EIF/ADF: is there a binding for this public port that the filter admits? */
static struct np_sim_binding *filter_admits(np_natsim_t *nat, const struct np_sim_ep *src,
					    uint16_t port)
{
	size_t i, j;

	if (nat->cfg.filtering != NP_NAT_FILTER_EIF && nat->cfg.filtering != NP_NAT_FILTER_ADF)
		return NULL;
	for (i = 0; i < nat->nbinds; i++) {
		struct np_sim_binding *b = &nat->binds[i];

		if (b->pub_port != port)
			continue;
		if (nat->cfg.filtering == NP_NAT_FILTER_EIF)
			return b;
		for (j = 0; j < nat->nflows; j++)
			if (!nat->flows[j].inbound && ep_eq(&nat->flows[j].o_src, &b->in) &&
			    nat->flows[j].o_dst.ip == src->ip)
				return b;
	}
	return NULL;
}

int np_natsim_inbound(np_natsim_t *nat, uint64_t now, const struct np_sim_ep *src,
		      struct np_sim_ep *dst, uint8_t *ttl)
{
	struct np_sim_binding *b;
	struct np_sim_flow *f;
	size_t i;

	if (*ttl <= 1) {
		nat->stats.ttl_drop++;
		return -ETIMEDOUT;
	}
	(*ttl)--;
	expire(nat, now);
	for (i = 0; i < nat->nflows; i++) {
		f = &nat->flows[i];
		if (!f->inbound && ep_eq(&f->r_src, src) && ep_eq(&f->r_dst, dst)) {
			f->last = now;
			*dst = f->o_src;
			nat->stats.in_pass++;
			return 0;
		}
	}
	for (i = 0; i < nat->nflows; i++) {
		f = &nat->flows[i];
		if (f->inbound && ep_eq(&f->o_src, src) && ep_eq(&f->o_dst, dst)) {
			f->last = now; /* the peer keeps refreshing the poison */
			nat->stats.in_drop++;
			return -EACCES;
		}
	}
	b = filter_admits(nat, src, dst->port);
	f = add_flow(nat);
	if (!f)
		return -ENOMEM;
	f->last = now;
	if (b) {
		/* Admitted by a looser filter: from now on a normal flow. */
		f->o_src = b->in;
		f->o_dst = *src;
		f->r_src = *src;
		f->r_dst = *dst;
		*dst = b->in;
		nat->stats.in_pass++;
		return 0;
	}
	f->inbound = 1;
	f->o_src = *src;
	f->o_dst = *dst;
	f->r_src = *dst;
	f->r_dst = *src;
	nat->stats.in_drop++;
	return -EACCES;
}
