/* hairpin: two peers behind one hairpinning NAT (a CGNAT), each behind its
 * own home NAT, one of which does not map endpoint-independently (random or
 * sequential ports).
 *
 * spray cannot work there: its hard side opens its mappings with openers,
 * which die at the shared CGNAT before it maps them, and a full-TTL packet
 * would go through the hairpin into the easy side's home NAT and leave the
 * unreplied entry of the conntrack clash (core/DESIGN.md). So the roles
 * turn round:
 *
 * - the easy side sends openers (the core gives them TTL = NAT depth: they
 *   open its home NAT and die at the CGNAT) to the ports around the hard
 *   side's public port (a carrier CGNAT gives each subscriber a block of
 *   ports, RFC 7422), opening its own filter toward each of them;
 * - then the hard side sends full probes to the easy side's public endpoint
 *   from many fresh sockets: each makes a new mapping in the hard side's
 *   home NAT and in the CGNAT, and the CGNAT hairpins it to the easy side's
 *   home NAT, which lets it in if one of the openers went to that port;
 * - a probe that gets in is answered (ack and a probe back): both sides
 *   then hold an acknowledged path. The probes that find no opener leave
 *   entries for ports the easy side never sends to. */
#include <natpunch/strategy.h>

#include <stdlib.h>
#include <string.h>

#define WINDOW 4000          /* openers: ports around the hard side's public port */
#define OPEN_BURST 400       /* openers per tick */
#define OPEN_TICK_MS 10
#define HARD_DELAY_MS 400    /* the hard side probes after the openers are out */
#define ROUNDS 2
#define SOCKS_PER_ROUND 30   /* the core lets ~64 probes go to an unanswered address */
#define ROUND_GAP_MS 1200
#define TIMEOUT_MS 5000

enum { T_MAIN = 0 };

struct hairpin {
	const np_host_api_t *api;
	void *host;
	np_addr_t peer;
	int hard;
	unsigned lo, hi, next; /* easy: the opener window and the next port */
	unsigned round;        /* hard: rounds of probes sent */
	uint64_t start_at;
};

static int hp_create(const np_host_api_t *api, void *host, void **state)
{
	struct hairpin *s = calloc(1, sizeof(*s));

	if (!s)
		return -12; /* -ENOMEM */
	s->api = api;
	s->host = host;
	*state = s;
	return 0;
}

/* Ports we cannot predict: random, or sequential (a new one per destination). */
static int is_hard(const np_nat_info_t *n)
{
	if (!n->known || n->mapping == NP_NAT_MAP_NONE)
		return 0;
	if (n->allocation == NP_NAT_ALLOC_RANDOM || n->allocation == NP_NAT_ALLOC_SEQUENTIAL)
		return 1;
	if (n->mapping == NP_NAT_MAP_APDM || n->mapping == NP_NAT_MAP_ADM)
		return n->allocation != NP_NAT_ALLOC_PRESERVE;
	return 0;
}

static void arm_at(struct hairpin *s, uint64_t at)
{
	uint64_t now = s->api->now_ms(s->host);

	s->api->timer_start(s->host, T_MAIN, at > now ? (uint32_t)(at - now) : 0);
}

static int hp_start(void *state, const np_strategy_view_t *v)
{
	struct hairpin *s = state;
	uint64_t now = s->api->now_ms(s->host);
	int self_hard = is_hard(&v->self_nat), peer_hard = is_hard(&v->peer_nat);

	if (self_hard && peer_hard) {
		s->api->fail(s->host, "hairpin: both home NATs map per destination: no direct path without a relay");
		return 0;
	}
	if (!v->peer_public.family || !v->peer_public.port) {
		s->api->fail(s->host, "hairpin: no peer endpoint");
		return 0;
	}
	s->hard = self_hard || (!peer_hard && v->self_is_high);
	s->peer = v->peer_public;
	s->start_at = v->start_at_ms > now ? v->start_at_ms : now;
	if (s->hard) {
		s->api->log(s->host, 2, "hairpin: hard side, %u rounds of %u fresh sockets probe the peer",
			    ROUNDS, SOCKS_PER_ROUND);
		arm_at(s, s->start_at + HARD_DELAY_MS);
	} else {
		unsigned p = v->peer_public.port;

		s->lo = p > 1024 + WINDOW / 2 ? p - WINDOW / 2 : 1024;
		s->hi = s->lo + WINDOW - 1;
		if (s->hi > 65535) {
			s->hi = 65535;
			s->lo = 65535 - WINDOW + 1;
		}
		s->next = s->lo;
		s->api->log(s->host, 2, "hairpin: easy side, openers to the peer's ports %u-%u", s->lo, s->hi);
		arm_at(s, s->start_at);
	}
	return 0;
}

static void easy_tick(struct hairpin *s)
{
	np_addr_t to = s->peer;
	unsigned n;

	for (n = 0; n < OPEN_BURST && s->next <= s->hi; n++, s->next++) {
		to.port = (uint16_t)s->next;
		if (s->api->send_probe(s->host, 0, &to, NP_PROBE_OPENER) < 0)
			break;
	}
	if (s->next <= s->hi)
		s->api->timer_start(s->host, T_MAIN, OPEN_TICK_MS);
	/* then wait: the hard side's probes come to us */
}

static void hard_tick(struct hairpin *s)
{
	unsigned i;

	for (i = 0; i < SOCKS_PER_ROUND; i++) {
		int id = s->api->open_socket(s->host);

		if (id < 0)
			break;
		s->api->send_probe(s->host, id, &s->peer, 0);
	}
	if (++s->round < ROUNDS)
		s->api->timer_start(s->host, T_MAIN, ROUND_GAP_MS);
}

static void hp_timer(void *state, int id)
{
	struct hairpin *s = state;

	if (id != T_MAIN)
		return;
	if (s->hard)
		hard_tick(s);
	else
		easy_tick(s);
}

static void hp_answer(void *state, int sock, const np_addr_t *from, int is_ack)
{
	struct hairpin *s = state;

	if (!is_ack) {
		/* A probe got through to us on this socket: prove the way back. */
		s->api->send_probe(s->host, sock, from, 0);
		return;
	}
	s->api->succeed(s->host, sock, from);
}

static void hp_destroy(void *state)
{
	free(state);
}

NP_STRATEGY_DECLARE_EX("hairpin", "two peers behind one hairpinning NAT, one home NAT mapping per destination",
		       hp_create, hp_start, hp_timer, hp_answer, hp_destroy, TIMEOUT_MS)
