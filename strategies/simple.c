/* simple: classic UDP hole punching between endpoint-independent NATs.
 *
 * Both sides first send low-TTL openers to the peer's public endpoint (they
 * open our own NAT without creating an unreplied entry in the peer's NAT:
 * see "the Linux conntrack clash" in core/DESIGN.md), pause, then probe the peer's
 * public endpoint, and its LAN endpoint when it differs, every 200 ms until a
 * probe is answered. An authenticated probe from an unexpected address is
 * probed back, which catches NATs that rewrite the port. */
#include <natpunch/strategy.h>

#include <stdlib.h>
#include <string.h>

#define OPENER_COUNT 2
#define PAUSE_MS 150
#define INTERVAL_MS 200
#define MAX_TARGETS 4

enum { TIMER_TICK = 0 };

struct simple {
	const np_host_api_t *api;
	void *host;
	np_addr_t targets[MAX_TARGETS];
	int ntargets;
	unsigned ticks;
	int done;
};

static void add_target(struct simple *s, const np_addr_t *a)
{
	if (!a->family || !a->port)
		return;
	for (int i = 0; i < s->ntargets; i++)
		if (s->targets[i].family == a->family && s->targets[i].port == a->port &&
		    memcmp(s->targets[i].ip, a->ip, 16) == 0)
			return;
	if (s->ntargets < MAX_TARGETS)
		s->targets[s->ntargets++] = *a;
}

static int simple_create(const np_host_api_t *api, void *host, void **state)
{
	struct simple *s = calloc(1, sizeof(*s));

	if (!s)
		return -12; /* -ENOMEM */
	s->api = api;
	s->host = host;
	*state = s;
	return 0;
}

static int simple_start(void *state, const np_strategy_view_t *v)
{
	struct simple *s = state;
	uint64_t now = s->api->now_ms(s->host);
	uint32_t delay = v->start_at_ms > now ? (uint32_t)(v->start_at_ms - now) : 0;

	s->ntargets = 0;
	s->ticks = 0;
	s->done = 0;
	add_target(s, &v->peer_public);
	/* The LAN endpoint helps peers behind the same NAT; skip it if it is the public one. */
	add_target(s, &v->peer_local);
	return s->api->timer_start(s->host, TIMER_TICK, delay);
}

static void simple_timer(void *state, int id)
{
	struct simple *s = state;

	if (s->done)
		return;
	if (s->ticks == 0) {
		for (int k = 0; k < OPENER_COUNT; k++)
			s->api->send_probe(s->host, 0, &s->targets[0], NP_PROBE_OPENER);
		s->ticks++;
		s->api->timer_start(s->host, TIMER_TICK, PAUSE_MS);
		return;
	}
	for (int i = 0; i < s->ntargets; i++)
		s->api->send_probe(s->host, 0, &s->targets[i], 0);
	s->ticks++;
	s->api->timer_start(s->host, TIMER_TICK, INTERVAL_MS);
}

static void simple_answer(void *state, int sock, const np_addr_t *from, int is_ack)
{
	struct simple *s = state;

	if (s->done)
		return;
	if (is_ack) {
		s->done = 1;
		s->api->timer_stop(s->host, TIMER_TICK);
		s->api->succeed(s->host, sock, from);
		return;
	}
	/* The peer reached us from here: aim our probes there too. */
	add_target(s, from);
}

static void simple_destroy(void *state)
{
	free(state);
}

NP_STRATEGY_DECLARE_EX("simple", "probe the peer's public and LAN endpoints (endpoint-independent NATs)",
		       simple_create, simple_start, simple_timer, simple_answer, simple_destroy, 10000)
