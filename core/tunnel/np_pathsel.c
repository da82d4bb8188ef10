/* np_pathsel: the direct/relayed path choice with hysteresis (see
 * np_pathsel.h for the rules). Pure state machine on caller-given times. */
#include "np_pathsel.h"

#include <stdio.h>
#include <string.h>

void np_pathsel_default_cfg(struct np_pathsel_cfg *cfg)
{
	*cfg = (struct np_pathsel_cfg){
		.probe_ms = 500,
		.ack_timeout_ms = 1000,
		.good_acks = 5,
		.good_ms = 2000,
		.cand_lost = 8,
		.idle_probe_ms = 1500,
		.silence_ms = 4000,
		.hold_ms = 10000,
		.hold_max_ms = 300000,
		.stable_ms = 600000,
		.retry_ms = 30000,
		.retry_max_ms = 300000,
	};
}

/* The next background attempt, with the backoff doubling up to its cap. */
static void schedule_try(struct np_pathsel *ps, uint64_t now)
{
	ps->next_try = now + ps->retry;
	ps->retry = ps->retry * 2 < ps->cfg.retry_max_ms ? ps->retry * 2 : ps->cfg.retry_max_ms;
}

void np_pathsel_init(struct np_pathsel *ps, const struct np_pathsel_cfg *cfg, enum np_path path, uint64_t now)
{
	memset(ps, 0, sizeof(*ps));
	if (cfg)
		ps->cfg = *cfg;
	else
		np_pathsel_default_cfg(&ps->cfg);
	ps->path = path;
	ps->have_cand = path == NP_PATH_DIRECT;
	ps->direct_since = now;
	ps->retry = ps->cfg.retry_ms;
	schedule_try(ps, now);
}

const char *np_pathsel_name(enum np_path path)
{
	return path == NP_PATH_DIRECT ? "direct" : "relayed";
}

static void reset_run(struct np_pathsel *ps)
{
	ps->good = 0;
	ps->lost = 0;
	ps->probe_pending = 0;
}

void np_pathsel_candidate(struct np_pathsel *ps, uint64_t now)
{
	(void)now;
	ps->trying = 0;
	if (ps->path != NP_PATH_RELAYED || ps->have_cand)
		return;
	ps->have_cand = 1;
	reset_run(ps);
}

void np_pathsel_try_failed(struct np_pathsel *ps, uint64_t now)
{
	(void)now;
	ps->trying = 0;
}

void np_pathsel_hint(struct np_pathsel *ps, uint64_t now)
{
	ps->retry = ps->cfg.retry_ms;
	ps->next_try = now;
	ps->trying = 0;
}

void np_pathsel_ack(struct np_pathsel *ps, uint32_t id, uint64_t now)
{
	(void)now;
	if (!ps->have_cand || !ps->probe_pending || id != ps->probe_id)
		return;
	ps->probe_pending = 0;
	ps->lost = 0;
	if (ps->good++ == 0)
		ps->good_since = ps->probe_at;
}

static void due(uint64_t *next, uint64_t now, uint64_t at)
{
	if (at > now && at - now < *next)
		*next = at - now;
}

static void send_probe(struct np_pathsel *ps, uint64_t now, struct np_pathsel_out *out)
{
	ps->probe_id = ++ps->next_id;
	ps->probe_pending = 1;
	ps->probe_at = ps->last_probe_at = now;
	out->act |= NP_PS_PROBE;
	out->probe_id = ps->probe_id;
}

static uint64_t poll_direct(struct np_pathsel *ps, uint64_t now, uint64_t last_rx, int relay_ok,
			    struct np_pathsel_out *out)
{
	const struct np_pathsel_cfg *c = &ps->cfg;
	uint64_t next = UINT64_MAX, last = last_rx > ps->direct_since ? last_rx : ps->direct_since;

	if (ps->hold && now - ps->direct_since >= c->stable_ms)
		ps->hold = 0; /* direct held long enough: the hold-down starts over */
	if (relay_ok && now - last >= c->silence_ms) {
		ps->hold = ps->hold ? (ps->hold * 2 < c->hold_max_ms ? ps->hold * 2 : c->hold_max_ms) : c->hold_ms;
		ps->path = NP_PATH_RELAYED;
		ps->switches++;
		ps->fallbacks++;
		reset_run(ps);
		ps->retry = c->retry_ms;
		schedule_try(ps, now);
		snprintf(ps->why, sizeof(ps->why),
			 "no packet over the direct path for %.1f s (back to direct only after %.0f s healthy)",
			 (double)(now - last) / 1000.0, (double)ps->hold / 1000.0);
		snprintf(out->why, sizeof(out->why), "%s", ps->why);
		out->act |= NP_PS_TO_RELAYED;
		return 1;
	}
	if (now - last >= c->idle_probe_ms && !ps->probe_pending && now - ps->last_probe_at >= c->probe_ms)
		send_probe(ps, now, out);
	due(&next, now, last + c->idle_probe_ms);
	if (relay_ok)
		due(&next, now, last + c->silence_ms);
	if (ps->probe_pending)
		due(&next, now, ps->probe_at + c->ack_timeout_ms);
	else if (now - last >= c->idle_probe_ms)
		due(&next, now, ps->last_probe_at + c->probe_ms);
	if (ps->hold)
		due(&next, now, ps->direct_since + c->stable_ms);
	return next == UINT64_MAX ? c->idle_probe_ms : next;
}

static uint64_t poll_relayed(struct np_pathsel *ps, uint64_t now, struct np_pathsel_out *out)
{
	const struct np_pathsel_cfg *c = &ps->cfg;
	uint64_t next = UINT64_MAX, need = ps->hold > c->good_ms ? ps->hold : c->good_ms;

	if (!ps->have_cand) {
		if (now >= ps->next_try) {
			out->act |= NP_PS_TRY;
			ps->trying = 1;
			ps->tries++;
			schedule_try(ps, now);
		}
		due(&next, now, ps->next_try);
		return next == UINT64_MAX ? c->retry_ms : next;
	}
	if (ps->good >= c->good_acks && now - ps->good_since >= need) {
		ps->path = NP_PATH_DIRECT;
		ps->direct_since = now;
		ps->switches++;
		snprintf(ps->why, sizeof(ps->why), "the direct path answered %u probes in a row over %.1f s",
			 ps->good, (double)(now - ps->good_since) / 1000.0);
		snprintf(out->why, sizeof(out->why), "%s", ps->why);
		reset_run(ps);
		ps->retry = c->retry_ms;
		out->act |= NP_PS_TO_DIRECT;
		return c->idle_probe_ms;
	}
	if (!ps->probe_pending && now - ps->last_probe_at >= c->probe_ms)
		send_probe(ps, now, out);
	if (ps->probe_pending)
		due(&next, now, ps->probe_at + c->ack_timeout_ms);
	due(&next, now, ps->last_probe_at + c->probe_ms);
	if (ps->good >= c->good_acks)
		due(&next, now, ps->good_since + need);
	return next == UINT64_MAX ? c->probe_ms : next;
}

uint64_t np_pathsel_poll(struct np_pathsel *ps, uint64_t now, uint64_t last_direct_rx, int relay_ok,
			 struct np_pathsel_out *out)
{
	memset(out, 0, sizeof(*out));
	/* The outstanding probe went unanswered: the run starts over. */
	if (ps->probe_pending && now - ps->probe_at >= ps->cfg.ack_timeout_ms) {
		ps->probe_pending = 0;
		ps->good = 0;
		ps->lost++;
		if (ps->path == NP_PATH_RELAYED && ps->have_cand && ps->lost >= ps->cfg.cand_lost) {
			ps->have_cand = 0;
			ps->lost = 0;
			ps->trying = 0;
			if (ps->next_try < now)
				ps->next_try = now + ps->retry;
			out->act |= NP_PS_CAND_DROPPED;
		}
	}
	if (ps->path == NP_PATH_DIRECT)
		return poll_direct(ps, now, last_direct_rx, relay_ok, out);
	return poll_relayed(ps, now, out);
}
