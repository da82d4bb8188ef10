/* np_rejoin: the decisions that let a restarted peer back into a tunnel
 * that is up (see np_rejoin.h). */
#include "np_rejoin.h"

#include "np_wire.h"

#include <string.h>

void np_rejoin_reset(struct np_rejoin *r)
{
	r->active = 0;
	r->have_init = 0;
	memset(&r->target, 0, sizeof(r->target));
}

void np_rejoin_start(struct np_rejoin *r, const np_addr_t *at, uint64_t now_ms)
{
	r->active = 1;
	r->target = *at;
	r->until_ms = now_ms + NP_RJ_SPAN_MS;
	r->next_probe_ms = now_ms;
	r->opened = 0;
	r->starts++;
}

int np_rejoin_probe_rx(struct np_rejoin *r, const np_addr_t *from, uint64_t now_ms, uint64_t since_up_ms,
		       uint64_t since_rx_ms)
{
	if (since_up_ms < NP_RJ_SETTLE_MS || since_rx_ms < NP_RJ_QUIET_MS)
		return 0;
	if (r->active && now_ms < r->until_ms)
		return 0; /* one at a time; the running one keeps its target */
	np_rejoin_start(r, from, now_ms);
	return 1;
}

int np_rejoin_tick(struct np_rejoin *r, uint64_t now_ms, uint64_t *next_ms)
{
	int what = NP_RJ_PROBE_NOW;

	*next_ms = 0;
	if (!r->active)
		return NP_RJ_NOTHING;
	if (now_ms >= r->until_ms) {
		r->active = 0;
		return NP_RJ_NOTHING;
	}
	if (now_ms < r->next_probe_ms) {
		*next_ms = r->next_probe_ms;
		return NP_RJ_NOTHING;
	}
	if (!r->opened) {
		r->opened = 1;
		what = NP_RJ_OPENERS_NOW;
		r->next_probe_ms = now_ms + NP_RJ_PAUSE_MS;
	} else {
		r->next_probe_ms = now_ms + NP_RJ_PROBE_MS;
		r->probes++;
	}
	*next_ms = r->next_probe_ms < r->until_ms ? r->next_probe_ms : r->until_ms;
	return what;
}

int np_rejoin_ack_rx(struct np_rejoin *r, const np_addr_t *from, uint64_t now_ms, int initiator)
{
	if (!r->active || !initiator || !np_addr_equal(from, &r->target))
		return 0;
	if (r->have_init && now_ms - r->last_init_ms < NP_RJ_INIT_MS)
		return 0;
	r->have_init = 1;
	r->last_init_ms = now_ms;
	r->inits++;
	return 1;
}

void np_rejoin_done(struct np_rejoin *r)
{
	r->active = 0;
}
