/* predict: port-delta prediction for NATs that allocate ports in sequence.
 *
 * A sequential NAT (APDM, each new mapping = previous port + step) gives the
 * peer's socket 0 a NEW public port toward us; the server only saw the old
 * one. So we aim at a window of predicted ports: base + k * step for
 * k = 1..W, where base is the newer of the port the server saw and the
 * newest mapping the peer's discovery saw just before it registered
 * (view->peer_mapped: a fixed --port socket's mapping toward the server can
 * be far behind the NAT's counter), with W growing with the noise seen during discovery (8 ports
 * when clean) and with the attempt number (a retry from the same socket
 * finds the NAT further on), never more than PREDICT_MAX_WINDOW. An
 * easy peer (no NAT,
 * cone) is aimed at its observed endpoint only.
 *
 * Timing (all from view->start_at_ms, which both sides share):
 *   t+0          openers (low TTL) to every target, in window order. On a
 *                sequential NAT our k-th new mapping then goes to the
 *                peer's k-th predicted port, and the peer does the same, so
 *                when both sides are sequential the k-th pair lines up.
 *                Openers die before the peer's NAT: nothing is poisoned.
 *   t+PAUSE      normal probes to every target, repeated every CYCLE ms.
 *                They reuse the mappings the openers made.
 *   deadline     fail() with a one-line reason.
 * An authenticated ack means the path works: succeed(). An authenticated
 * probe from a port we did not predict becomes a target too (the core has
 * already acked it, so the peer will succeed on that ack).
 *
 * Bounds: at most PREDICT_MAX_WINDOW + 4 targets, at most one cycle every
 * CYCLE ms, for PREDICT_RUN_MS: well under 2000 probes in the worst case. */
#include <natpunch/strategy.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define PREDICT_MAX_WINDOW 64
#define PREDICT_MIN_WINDOW 8
#define PREDICT_MAX_TARGETS (PREDICT_MAX_WINDOW + 4)
#define PREDICT_PAUSE_MS 400    /* openers first, then this pause */
#define PREDICT_CYCLE_MS 300    /* one round of normal probes this often */
#define PREDICT_BATCH 16        /* probes per timer tick (pacing) */
#define PREDICT_TICK_MS 2
#define PREDICT_RUN_MS 14000    /* fail() after this long */
#define PREDICT_TIMEOUT_MS 15000

enum { T_MAIN = 0, T_DEADLINE = 1 };
enum { PH_WAIT, PH_OPEN, PH_PAUSE, PH_PROBE };

struct predict {
	const np_host_api_t *api;
	void *host;
	np_addr_t targets[PREDICT_MAX_TARGETS];
	unsigned ntargets, next, window, cycles;
	int phase;
	uint64_t start_at, probe_at, cycle_at;
	int16_t step;
	uint16_t base;
};

static int predict_create(const np_host_api_t *api, void *host, void **state)
{
	struct predict *p = calloc(1, sizeof(*p));

	if (!p)
		return -12; /* -ENOMEM */
	p->api = api;
	p->host = host;
	*state = p;
	return 0;
}

static int is_seq(const np_nat_info_t *n)
{
	return n->known && n->allocation == NP_NAT_ALLOC_SEQUENTIAL && n->step != 0;
}

static int same_ep(const np_addr_t *a, const np_addr_t *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

static void add_target(struct predict *p, const np_addr_t *a)
{
	unsigned i;

	if (!a->family || !a->port || p->ntargets >= PREDICT_MAX_TARGETS)
		return;
	for (i = 0; i < p->ntargets; i++)
		if (same_ep(&p->targets[i], a))
			return;
	p->targets[p->ntargets++] = *a;
}

static unsigned window_for(const np_nat_info_t *n)
{
	unsigned step = (unsigned)abs(n->step), slots, w;

	if (!step)
		return PREDICT_MIN_WINDOW;
	slots = (n->noise + step - 1) / step; /* how many steps the noise spans */
	w = PREDICT_MIN_WINDOW + 4 * slots;
	return w > PREDICT_MAX_WINDOW ? PREDICT_MAX_WINDOW : w;
}

/* The port to predict from: peer_mapped when it is the same address and
 * ahead of peer_public along the step (less than half the port space). */
static uint16_t predict_base(const np_strategy_view_t *v, int16_t step)
{
	const np_addr_t *m = &v->peer_mapped;
	int d;

	if (!NP_VIEW_HAS(v, peer_mapped) || m->family != v->peer_public.family || !m->port ||
	    memcmp(m->ip, v->peer_public.ip, m->family == 4 ? 4 : 16) != 0)
		return v->peer_public.port;
	d = (int)m->port - (int)v->peer_public.port;
	if (d > 32767)
		d -= 65536;
	else if (d < -32768)
		d += 65536;
	if (step < 0)
		d = -d;
	return d > 0 ? m->port : v->peer_public.port;
}

static void arm(struct predict *p, uint64_t at)
{
	uint64_t now = p->api->now_ms(p->host);

	p->api->timer_start(p->host, T_MAIN, at > now ? (uint32_t)(at - now) : 0);
}

static int predict_start(void *state, const np_strategy_view_t *v)
{
	struct predict *p = state;
	uint64_t now = p->api->now_ms(p->host);
	unsigned k;

	p->start_at = v->start_at_ms > now ? v->start_at_ms : now;
	if (is_seq(&v->peer_nat)) {
		np_addr_t a = v->peer_public;
		uint16_t base;

		p->step = v->peer_nat.step;
		base = predict_base(v, p->step);
		p->window = window_for(&v->peer_nat);
		/* A retry from the same socket: the peer's NAT has spent ports on
		 * the earlier attempts, so look further ahead. */
		if (v->attempt > 1)
			p->window *= v->attempt > 4 ? 4 : v->attempt;
		if (p->window > PREDICT_MAX_WINDOW)
			p->window = PREDICT_MAX_WINDOW;
		for (k = 1; k <= p->window; k++) {
			int port = (int)base + (int)k * p->step;

			while (port > 65535)
				port -= 64512;
			while (port < 1024)
				port += 64512;
			a.port = (uint16_t)port;
			add_target(p, &a);
		}
		/* The observed port too: it is right if the NAT reused it. */
		add_target(p, &v->peer_public);
		p->base = base;
	} else {
		p->window = 1;
		p->base = v->peer_public.port;
		add_target(p, &v->peer_public);
	}
	if (!p->ntargets) {
		p->api->fail(p->host, "predict: no peer endpoint to aim at");
		return 0;
	}
	p->api->log(p->host, 2, "predict: %u targets (peer step %d, window %u, from port %u%s), self %s",
		    p->ntargets, p->step, p->window, p->base,
		    p->step && p->base != v->peer_public.port ? ", the peer's newest mapping" : "",
		    is_seq(&v->self_nat) ? "sequential" : "not sequential");
	p->phase = PH_WAIT;
	arm(p, p->start_at);
	return p->api->timer_start(p->host, T_DEADLINE,
				   (uint32_t)(p->start_at - now) + PREDICT_RUN_MS);
}

/* Send up to one batch; returns 1 when the list is done. */
static int send_batch(struct predict *p, unsigned flags)
{
	unsigned n = 0;

	while (p->next < p->ntargets && n < PREDICT_BATCH) {
		p->api->send_probe(p->host, 0, &p->targets[p->next], flags);
		p->next++;
		n++;
	}
	return p->next >= p->ntargets;
}

static void predict_timer(void *state, int id)
{
	struct predict *p = state;
	uint64_t now = p->api->now_ms(p->host);

	if (id == T_DEADLINE) {
		p->api->log(p->host, 2, "predict: %u targets, %u cycles, no answer", p->ntargets,
			    p->cycles);
		p->api->fail(p->host, "predict: no predicted port answered in time");
		return;
	}
	switch (p->phase) {
	case PH_WAIT:
		p->phase = PH_OPEN;
		p->next = 0;
		/* fall through */
	case PH_OPEN:
		if (!send_batch(p, NP_PROBE_OPENER)) {
			p->api->timer_start(p->host, T_MAIN, PREDICT_TICK_MS);
			return;
		}
		p->phase = PH_PAUSE;
		arm(p, p->start_at + PREDICT_PAUSE_MS);
		return;
	case PH_PAUSE:
		p->phase = PH_PROBE;
		p->next = 0;
		p->cycle_at = now;
		/* fall through */
	default:
		if (p->next >= p->ntargets) {
			p->next = 0;
			p->cycle_at = now;
		}
		if (!send_batch(p, 0)) {
			p->api->timer_start(p->host, T_MAIN, PREDICT_TICK_MS);
			return;
		}
		p->cycles++;
		arm(p, p->cycle_at + PREDICT_CYCLE_MS);
		return;
	}
}

static void predict_answer(void *state, int sock, const np_addr_t *from, int is_ack)
{
	struct predict *p = state;
	unsigned before = p->ntargets;

	if (is_ack) {
		p->api->succeed(p->host, sock, from);
		return;
	}
	/* A probe from a port we did not predict: aim there as well. */
	add_target(p, from);
	if (p->ntargets > before)
		p->api->send_probe(p->host, sock, from, 0);
}

static void predict_destroy(void *state)
{
	free(state);
}

NP_STRATEGY_DECLARE_EX("predict", "port-delta prediction for sequential NATs", predict_create,
		       predict_start, predict_timer, predict_answer, predict_destroy,
		       PREDICT_TIMEOUT_MS)
