/* spray: birthday spraying for one NAT that allocates ports unpredictably.
 *
 * Sides: a side is "hard" when its NAT gives every destination a new
 * mapping at a port we cannot predict (allocation RANDOM, or mapping
 * APDM/ADM without preserved ports). With both sides hard there is no direct
 * path: fail() at once. With neither hard, the self_is_high side plays hard.
 *
 * Hard side: opens SPRAY_SOCKETS extra sockets (default 256, at most
 * NP_HOST_MAX_SOCKETS) and from each sends OPENERS to the easy side's public
 * endpoint. Openers carry a TTL that dies before the easy side's NAT, so
 * they create one random public port per socket on our NAT without leaving
 * an unreplied entry at the peer (the conntrack clash, core/DESIGN.md). They are
 * repeated every SPRAY_REFRESH_MS to keep the mappings. The hard side never
 * sends a normal probe before a path is known.
 *
 * Easy side: from socket 0, after SPRAY_EASY_DELAY_MS (so the openers are
 * out), sends normal probes to distinct random ports 1024..65535 of the hard
 * side's public address: SPRAY_BURST probes every SPRAY_TICK_MS, i.e. 320/s,
 * at most SPRAY_PROBES (default 2048, ~6.4 s). With 256 hard sockets each
 * probe hits with p ~ 256/64512, so 2048 probes miss all with ~3e-4; with
 * ~10 % loss per round trip a hit is seen with p ~ 0.8 of that (~1/320 per
 * probe). The time to the first hit is geometric, so its p95 is three times
 * its mean: at 160/s that was ~6 s of spraying, at 320/s it is ~3 s. The
 * rate is ~25 kB/s of small datagrams; the count (the NAT entries made at
 * our NAT and probes at the peer's) is what the SPRAY_PROBES bound keeps.
 *
 * Either side: the first authenticated ack on socket i from address a means
 * the path (i, a) works: succeed(i, a) (the core honours succeed() only for
 * such a path). The core acks probes itself, so the side that sent the
 * probe succeeds on that ack; the side that received it probes back from
 * the same socket (one probe per probe received, which the core allows)
 * and succeeds on the ack of that.
 *
 * Tuning (bounded): NATPUNCH_SPRAY_SOCKETS (1..256), NATPUNCH_SPRAY_PROBES
 * (1..8192). */
#include <natpunch/strategy.h>

#include <stdlib.h>
#include <string.h>

#define SPRAY_SOCKETS 256
#define SPRAY_PROBES 2048
#define SPRAY_PROBES_MAX 8192
#define SPRAY_TICK_MS 25
#define SPRAY_BURST 8
#define SPRAY_OPEN_BURST 32      /* openers per tick on the hard side */
#define SPRAY_OPEN_TICK_MS 4
#define SPRAY_REFRESH_MS 10000
#define SPRAY_EASY_DELAY_MS 300
#define SPRAY_LINGER_MS 2000     /* after the last probe, wait for late answers */
#define SPRAY_HARD_RUN_MS 19000  /* the hard side gives up after this */
#define SPRAY_TIMEOUT_MS 20000

enum { T_MAIN = 0, T_DEADLINE = 1 };

struct spray {
	const np_host_api_t *api;
	void *host;
	int hard;
	np_addr_t peer;             /* hard: the easy public endpoint; easy: hard IP */
	int socks[NP_HOST_MAX_SOCKETS];
	unsigned nsocks, want_socks, next_sock;
	unsigned sent, max_probes;
	uint64_t start_at, cycle_at;
	uint8_t used[65536 / 8];    /* ports already tried (easy side) */
};

static unsigned env_uint(const char *name, unsigned def, unsigned lo, unsigned hi)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return def;
	v = strtoul(s, &end, 10);
	if (*end || v < lo || v > hi)
		return def;
	return (unsigned)v;
}

static int spray_create(const np_host_api_t *api, void *host, void **state)
{
	struct spray *s = calloc(1, sizeof(*s));

	if (!s)
		return -12; /* -ENOMEM */
	s->api = api;
	s->host = host;
	*state = s;
	return 0;
}

static int is_hard(const np_nat_info_t *n)
{
	if (!n->known || n->mapping == NP_NAT_MAP_NONE)
		return 0;
	if (n->allocation == NP_NAT_ALLOC_RANDOM)
		return 1;
	if (n->mapping == NP_NAT_MAP_APDM || n->mapping == NP_NAT_MAP_ADM)
		return n->allocation != NP_NAT_ALLOC_PRESERVE;
	return 0;
}

static void arm_at(struct spray *s, int id, uint64_t at)
{
	uint64_t now = s->api->now_ms(s->host);

	s->api->timer_start(s->host, id, at > now ? (uint32_t)(at - now) : 0);
}

static int spray_start(void *state, const np_strategy_view_t *v)
{
	struct spray *s = state;
	uint64_t now = s->api->now_ms(s->host);
	int self_hard = is_hard(&v->self_nat), peer_hard = is_hard(&v->peer_nat);
	unsigned i;

	if (self_hard && peer_hard) {
		s->api->fail(s->host,
			     "both NATs allocate ports randomly: no direct path possible without a relay");
		return 0;
	}
	if (!v->peer_public.family) {
		s->api->fail(s->host, "spray: no peer endpoint");
		return 0;
	}
	s->hard = self_hard || (!peer_hard && v->self_is_high);
	s->peer = v->peer_public;
	s->start_at = v->start_at_ms > now ? v->start_at_ms : now;
	if (s->hard) {
		s->want_socks = env_uint("NATPUNCH_SPRAY_SOCKETS", SPRAY_SOCKETS, 1,
					 NP_HOST_MAX_SOCKETS);
		for (i = 0; i < s->want_socks; i++) {
			int id = s->api->open_socket(s->host);

			if (id < 0)
				break;
			s->socks[s->nsocks++] = id;
		}
		if (!s->nsocks) {
			s->api->fail(s->host, "spray: could not open any extra socket");
			return 0;
		}
		s->api->log(s->host, 2, "spray: hard side, %u sockets open openers toward the peer",
			    s->nsocks);
		arm_at(s, T_MAIN, s->start_at);
		arm_at(s, T_DEADLINE, s->start_at + SPRAY_HARD_RUN_MS);
	} else {
		s->max_probes = env_uint("NATPUNCH_SPRAY_PROBES", SPRAY_PROBES, 1, SPRAY_PROBES_MAX);
		s->api->log(s->host, 2, "spray: easy side, up to %u probes at the peer's address",
			    s->max_probes);
		arm_at(s, T_MAIN, s->start_at + SPRAY_EASY_DELAY_MS);
	}
	return 0;
}

static uint16_t fresh_port(struct spray *s)
{
	uint16_t r;
	unsigned tries;

	for (tries = 0; tries < 64; tries++) {
		s->api->random(s->host, &r, sizeof(r));
		if (r < 1024 || (s->used[r / 8] & (1u << (r % 8))))
			continue;
		s->used[r / 8] |= (uint8_t)(1u << (r % 8));
		return r;
	}
	return 0; /* extremely unlikely; the caller skips this slot */
}

static void hard_tick(struct spray *s)
{
	unsigned n = 0;

	if (s->next_sock == 0)
		s->cycle_at = s->api->now_ms(s->host);
	while (s->next_sock < s->nsocks && n < SPRAY_OPEN_BURST) {
		s->api->send_probe(s->host, s->socks[s->next_sock], &s->peer, NP_PROBE_OPENER);
		s->next_sock++;
		n++;
	}
	if (s->next_sock < s->nsocks) {
		s->api->timer_start(s->host, T_MAIN, SPRAY_OPEN_TICK_MS);
		return;
	}
	s->next_sock = 0;
	arm_at(s, T_MAIN, s->cycle_at + SPRAY_REFRESH_MS);
}

static void easy_tick(struct spray *s)
{
	np_addr_t to = s->peer;
	unsigned n;

	if (s->sent >= s->max_probes) {
		s->api->log(s->host, 2, "spray: %u probes, no hit", s->sent);
		s->api->fail(s->host, "spray: no port of the peer's NAT answered");
		return;
	}
	for (n = 0; n < SPRAY_BURST && s->sent < s->max_probes; n++) {
		to.port = fresh_port(s);
		s->sent++;
		if (to.port)
			s->api->send_probe(s->host, 0, &to, 0);
	}
	s->api->timer_start(s->host, T_MAIN,
			    s->sent >= s->max_probes ? SPRAY_LINGER_MS : SPRAY_TICK_MS);
}

static void spray_timer(void *state, int id)
{
	struct spray *s = state;

	if (id == T_DEADLINE) {
		s->api->fail(s->host, "spray: the peer hit none of our ports in time");
		return;
	}
	if (s->hard)
		hard_tick(s);
	else
		easy_tick(s);
}

static void spray_answer(void *state, int sock, const np_addr_t *from, int is_ack)
{
	struct spray *s = state;

	if (!is_ack) {
		/* A probe reached us on this socket: its path works one way.
		 * Prove it the other way with a probe of ours. */
		s->api->send_probe(s->host, sock, from, 0);
		return;
	}
	if (!s->hard)
		s->api->log(s->host, 2, "spray: hit after %u probes", s->sent);
	s->api->succeed(s->host, sock, from);
}

static void spray_destroy(void *state)
{
	free(state);
}

NP_STRATEGY_DECLARE_EX("spray", "birthday spraying for one randomly allocating NAT", spray_create,
		       spray_start, spray_timer, spray_answer, spray_destroy, SPRAY_TIMEOUT_MS)
