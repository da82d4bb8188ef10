/* lanfirst: an example natpunch strategy, built out of tree.
 *
 * It tries the peer's LAN endpoint alone for the first second (peers behind
 * the same NAT, or on one LAN, connect without touching the NAT at all), then
 * opens our NAT with low-TTL openers and probes the public endpoint too.
 * Build it against the installed header:
 *
 *     make            (uses pkg-config natpunch-strategy)
 *     natpunch --strategy=$PWD/lanfirst.so ...
 */
#include <natpunch/strategy.h>

#include <stdlib.h>

#define INTERVAL_MS 200
#define LAN_ONLY_TICKS 5

struct lanfirst {
	const np_host_api_t *api;
	void *host;
	np_addr_t lan, pub;
	unsigned ticks;
	int done;
};

static int lf_create(const np_host_api_t *api, void *host, void **state)
{
	struct lanfirst *s = calloc(1, sizeof(*s));

	if (!s)
		return -12; /* -ENOMEM */
	s->api = api;
	s->host = host;
	*state = s;
	return 0;
}

static int lf_start(void *state, const np_strategy_view_t *v)
{
	struct lanfirst *s = state;

	s->lan = v->peer_local;
	s->pub = v->peer_public;
	s->ticks = 0;
	s->done = 0;
	s->api->log(s->host, 2, "lanfirst: LAN %s first, then public", s->lan.family ? "endpoint" : "(none)");
	return s->api->timer_start(s->host, 0, 0);
}

static void lf_timer(void *state, int id)
{
	struct lanfirst *s = state;

	if (s->done)
		return;
	if (s->lan.family)
		s->api->send_probe(s->host, 0, &s->lan, 0);
	if (s->ticks == LAN_ONLY_TICKS)
		s->api->send_probe(s->host, 0, &s->pub, NP_PROBE_OPENER);
	else if (s->ticks > LAN_ONLY_TICKS)
		s->api->send_probe(s->host, 0, &s->pub, 0);
	s->ticks++;
	s->api->timer_start(s->host, id, INTERVAL_MS);
}

static void lf_answer(void *state, int sock, const np_addr_t *from, int is_ack)
{
	struct lanfirst *s = state;

	if (is_ack && !s->done) {
		s->done = 1;
		s->api->succeed(s->host, sock, from);
	}
}

static void lf_destroy(void *state)
{
	free(state);
}

NP_STRATEGY_DECLARE("lanfirst", "the peer's LAN endpoint first, then its public one", lf_create, lf_start,
		    lf_timer, lf_answer, lf_destroy)
