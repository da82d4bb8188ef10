/* np_probeguard: per-attempt probe bounds and ack-gated success (see
 * np_probeguard.h). An open-addressed table of addresses. */
#include "np_probeguard.h"

#include "np_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int np_probeguard_init(struct np_probeguard *g)
{
	memset(g, 0, sizeof(*g));
	g->tab = calloc(NP_PG_SLOTS, sizeof(*g->tab));
	return g->tab ? 0 : -ENOMEM;
}

void np_probeguard_free(struct np_probeguard *g)
{
	free(g->tab);
	g->tab = NULL;
}

int np_probeguard_lan_ok(const np_addr_t *lan)
{
	return (lan->family == 4 || lan->family == 6) && lan->port && np_addr_is_private(lan);
}

void np_probeguard_reset(struct np_probeguard *g, const np_addr_t *peer_public, const np_addr_t *peer_local)
{
	if (g->tab && g->used)
		memset(g->tab, 0, NP_PG_SLOTS * sizeof(*g->tab));
	g->used = 0;
	g->npaths = 0;
	g->peer_public = peer_public ? *peer_public : (np_addr_t){ 0 };
	g->peer_local = peer_local && np_probeguard_lan_ok(peer_local) ? *peer_local : (np_addr_t){ 0 };
}

static uint32_t hash(const np_addr_t *a)
{
	uint32_t h = 2166136261u;

	h = (h ^ a->family) * 16777619u;
	h = (h ^ (a->port >> 8)) * 16777619u;
	h = (h ^ (a->port & 0xff)) * 16777619u;
	for (int i = 0; i < (a->family == 4 ? 4 : 16); i++)
		h = (h ^ a->ip[i]) * 16777619u;
	return h;
}

/* The entry of a, created if `create` (NULL when absent or the table is full). */
static struct np_pg_entry *find(struct np_probeguard *g, const np_addr_t *a, int create)
{
	uint32_t i = hash(a) & (NP_PG_SLOTS - 1);

	if (!g->tab)
		return NULL;
	for (unsigned n = 0; n < NP_PG_SLOTS; n++, i = (i + 1) & (NP_PG_SLOTS - 1)) {
		struct np_pg_entry *e = &g->tab[i];

		if (!e->used) {
			/* Keep the table at most 3/4 full so probing stays short. */
			if (!create || g->used >= NP_PG_SLOTS / 4 * 3)
				return NULL;
			e->used = 1;
			e->a = *a;
			g->used++;
			return e;
		}
		if (np_addr_equal(&e->a, a))
			return e;
	}
	return NULL;
}

/* How many probes an unanswered address may get this attempt. */
static unsigned allowance(const struct np_probeguard *g, const struct np_pg_entry *e)
{
	unsigned base = 0;

	if ((g->peer_public.family && np_addr_same_ip(&e->a, &g->peer_public)) ||
	    (g->peer_local.family && np_addr_same_ip(&e->a, &g->peer_local)))
		base = NP_PG_UNANSWERED_MAX;
	return base + e->credit;
}

int np_probeguard_send(struct np_probeguard *g, const np_addr_t *to, int opener)
{
	struct np_pg_entry *e;

	/* A low-TTL opener to a public address dies before the peer's NAT. */
	if (opener && !np_addr_is_private(to))
		return 1;
	e = find(g, to, 1);
	if (!e) {
		g->refused_sends++;
		return 0;
	}
	if (e->answered)
		return 1;
	if (e->sent >= allowance(g, e)) {
		g->refused_sends++;
		return 0;
	}
	e->sent++;
	return 1;
}

void np_probeguard_probe_rx(struct np_probeguard *g, const np_addr_t *from)
{
	struct np_pg_entry *e = find(g, from, 1);

	if (e && e->credit < UINT16_MAX)
		e->credit++;
}

void np_probeguard_ack_rx(struct np_probeguard *g, int sock, const np_addr_t *from)
{
	struct np_pg_entry *e = find(g, from, 1);

	if (e)
		e->answered = 1;
	for (int i = 0; i < g->npaths; i++)
		if (g->paths[i].sock == sock && np_addr_equal(&g->paths[i].a, from))
			return;
	if (g->npaths < NP_PG_PATHS) {
		g->paths[g->npaths].sock = sock;
		g->paths[g->npaths].a = *from;
		g->npaths++;
	}
}

int np_probeguard_has_path(const struct np_probeguard *g, int sock, const np_addr_t *peer)
{
	for (int i = 0; i < g->npaths; i++)
		if (g->paths[i].sock == sock && np_addr_equal(&g->paths[i].a, peer))
			return 1;
	return 0;
}

int np_probeguard_may_succeed(struct np_probeguard *g, int sock, const np_addr_t *peer)
{
	if (np_probeguard_has_path(g, sock, peer))
		return 1;
	g->refused_succeed++;
	return 0;
}
