/* np_pmtu: the path MTU search state machine and the in-tunnel probe
 * messages (see np_pmtu.h). */
#include "np_pmtu.h"

#include <errno.h>
#include <string.h>

static void put_sizes(struct np_pmtu *m, uint64_t now)
{
	unsigned span = m->hi - m->lo, k = NP_PMTU_PROBES - 1, last = m->lo;

	m->nprobes = 0;
	/* The base is assumed, not known: prove it in the same round. */
	if (!m->lo_confirmed)
		m->probes[m->nprobes++].size = (uint16_t)m->lo;
	/* lo + 1 first: if lo is the answer, its silence ends the search.
	 * The others spread up to hi, which a healthy path acks at once. */
	m->probes[m->nprobes++].size = (uint16_t)(m->lo + 1);
	last = m->lo + 1;
	if (span - 1 < k)
		k = span - 1;
	for (unsigned i = 1; i <= k; i++) {
		unsigned s = m->lo + 1 + ((span - 1) * i + k - 1) / k;

		if (s <= last)
			continue;
		m->probes[m->nprobes++].size = (uint16_t)s;
		last = s;
	}
	for (unsigned i = 0; i < m->nprobes; i++) {
		m->probes[i].id = m->next_id++;
		m->probes[i].acked = 0;
	}
	m->resent = 0;
	m->round_end_ms = now + m->round_ms;
}

static void finish(struct np_pmtu *m, uint64_t now)
{
	m->state = NP_PMTU_DONE;
	m->optimistic = 0;
	m->nprobes = 0;
	m->confirming = 0;
	m->confirm_fails = 0;
	m->confirm_at_ms = now + m->confirm_ms;
	m->raise_at_ms = now + m->raise_ms;
}

static void search(struct np_pmtu *m, unsigned lo, int lo_confirmed, unsigned hi, uint64_t now)
{
	m->state = NP_PMTU_SEARCH;
	m->lo = lo;
	m->lo_confirmed = lo_confirmed;
	m->hi = hi;
	m->silent_rounds = 0;
	m->confirming = 0;
	m->searches++;
	if (m->hi <= m->lo) {
		m->hi = m->lo;
		finish(m, now);
		return;
	}
	m->nprobes = 0;
	m->round_end_ms = now; /* the first round goes out at the next poll */
}

void np_pmtu_start(struct np_pmtu *m, unsigned base, unsigned max, uint32_t id_seed, uint64_t now_ms)
{
	uint64_t round = m->round_ms, confirm = m->confirm_ms, raise = m->raise_ms;
	unsigned searches = m->searches;

	memset(m, 0, sizeof(*m));
	m->round_ms = round ? round : NP_PMTU_ROUND_MS;
	m->confirm_ms = confirm ? confirm : NP_PMTU_CONFIRM_MS;
	m->raise_ms = raise ? raise : NP_PMTU_RAISE_MS;
	m->searches = searches;
	m->next_id = id_seed;
	m->base = base < max ? base : max;
	m->max = max;
	m->optimistic = 1;
	search(m, m->base, 0, max, now_ms);
}

void np_pmtu_stop(struct np_pmtu *m)
{
	m->state = NP_PMTU_OFF;
	m->nprobes = 0;
	m->confirming = 0;
}

/* The round in flight is over: move the window. Each probe went out
 * twice, so a silent size is too big unless the whole round was silent
 * (then the path may just have been down: NP_PMTU_FAILS such rounds). */
static void end_round(struct np_pmtu *m, uint64_t now)
{
	unsigned best = 0, smallest_silent = 0;

	for (unsigned i = 0; i < m->nprobes; i++) {
		if (m->probes[i].acked) {
			if (m->probes[i].size > best)
				best = m->probes[i].size;
		}
	}
	for (unsigned i = 0; i < m->nprobes; i++) {
		unsigned sz = m->probes[i].size;

		if (!m->probes[i].acked && sz > m->lo && sz > best && (!smallest_silent || sz < smallest_silent))
			smallest_silent = sz;
	}
	m->optimistic = 0;
	if (best >= m->lo)
		m->lo_confirmed = 1;
	if (best > m->lo)
		m->lo = best;
	if (best) {
		m->silent_rounds = 0;
		if (smallest_silent)
			m->hi = smallest_silent - 1;
	} else if (++m->silent_rounds >= NP_PMTU_FAILS && smallest_silent) {
		m->hi = smallest_silent - 1;
		m->silent_rounds = 0;
	}
	if (m->hi < m->lo)
		m->hi = m->lo;
	if (m->hi - m->lo < NP_PMTU_GRANULARITY) {
		finish(m, now);
		return;
	}
	put_sizes(m, now);
}

uint64_t np_pmtu_poll(struct np_pmtu *m, uint64_t now_ms, struct np_pmtu_probe *out, unsigned *n)
{
	*n = 0;
	switch (m->state) {
	case NP_PMTU_OFF:
		return 0;
	case NP_PMTU_SEARCH:
		if (m->nprobes && now_ms < m->round_end_ms) {
			uint64_t half = m->round_end_ms - m->round_ms / 2;

			if (!m->resent && now_ms >= half) {
				/* Half time: once more what is still unanswered. */
				m->resent = 1;
				for (unsigned i = 0; i < m->nprobes; i++)
					if (!m->probes[i].acked)
						out[(*n)++] = m->probes[i];
				return m->round_end_ms - now_ms;
			}
			return (m->resent ? m->round_end_ms : half) - now_ms;
		}
		if (m->nprobes)
			end_round(m, now_ms);
		else
			put_sizes(m, now_ms);
		if (m->state == NP_PMTU_SEARCH) {
			memcpy(out, m->probes, m->nprobes * sizeof(*out));
			*n = m->nprobes;
			return m->round_ms / 2;
		}
		break;
	case NP_PMTU_DONE:
		break;
	}
	/* DONE: confirmations and the periodic raise. */
	if (m->confirming && now_ms >= m->round_end_ms) {
		m->confirming = 0;
		if (m->probes[0].acked) {
			m->confirm_fails = 0;
		} else if (++m->confirm_fails >= NP_PMTU_CONFIRM_FAILS) {
			/* A black hole opened: what passed no longer does. */
			unsigned old = m->lo;
			search(m, m->base, 0, old > m->base ? old - 1 : m->base, now_ms);
			return m->state == NP_PMTU_SEARCH ? 0 : m->confirm_ms;
		}
	}
	if (!m->confirming && now_ms >= m->raise_at_ms && m->lo < m->max) {
		search(m, m->lo, m->lo_confirmed, m->max, now_ms);
		return 0;
	}
	if (!m->confirming && now_ms >= m->confirm_at_ms) {
		m->probes[0].id = m->next_id++;
		m->probes[0].size = (uint16_t)m->lo;
		m->probes[0].acked = 0;
		m->nprobes = 1;
		m->confirming = 1;
		m->round_end_ms = now_ms + m->round_ms;
		m->confirm_at_ms = now_ms + m->confirm_ms;
		out[0] = m->probes[0];
		*n = 1;
	}
	{
		uint64_t next = m->confirm_at_ms;

		if (m->confirming && m->round_end_ms < next)
			next = m->round_end_ms;
		if (m->lo < m->max && m->raise_at_ms < next)
			next = m->raise_at_ms;
		return next > now_ms ? next - now_ms : 1;
	}
}

int np_pmtu_ack(struct np_pmtu *m, uint32_t id, unsigned size, uint64_t now_ms)
{
	for (unsigned i = 0; i < m->nprobes; i++) {
		struct np_pmtu_probe *pr = &m->probes[i];

		if (pr->id != id || pr->size != size || pr->acked)
			continue;
		pr->acked = 1;
		if (m->state == NP_PMTU_DONE) {
			if (m->confirming && size == m->lo)
				m->lo_confirmed = 1;
			return 1;
		}
		if (m->state != NP_PMTU_SEARCH)
			return 0;
		if (size >= m->hi) {
			/* The top of the window passes: done without waiting. */
			m->lo = m->hi;
			m->lo_confirmed = 1;
			finish(m, now_ms);
		}
		return 1;
	}
	return 0;
}

unsigned np_pmtu_current(const struct np_pmtu *m)
{
	if (m->state == NP_PMTU_OFF)
		return 0;
	if (m->state == NP_PMTU_SEARCH && m->optimistic)
		return m->max;
	return m->lo;
}

const char *np_pmtu_state_name(const struct np_pmtu *m)
{
	switch (m->state) {
	case NP_PMTU_SEARCH:
		return "searching";
	case NP_PMTU_DONE:
		return m->lo_confirmed ? "confirmed" : "assumed";
	default:
		return "off";
	}
}

int np_pmtu_msg_encode(uint8_t *out, size_t len, int type, uint32_t id, uint16_t size)
{
	if (len < NP_PMTU_MSG_LEN)
		return -ENOSPC;
	memset(out, 0, len);
	out[1] = (uint8_t)type;
	out[4] = (uint8_t)(id >> 24);
	out[5] = (uint8_t)(id >> 16);
	out[6] = (uint8_t)(id >> 8);
	out[7] = (uint8_t)id;
	out[8] = (uint8_t)(size >> 8);
	out[9] = (uint8_t)size;
	return (int)len;
}

int np_pmtu_msg_parse(const uint8_t *in, size_t len, int *type, uint32_t *id, uint16_t *size)
{
	if (len < NP_PMTU_MSG_LEN || in[0] != 0 || in[2] != 0 || in[3] != 0)
		return -EBADMSG;
	if (in[1] < NP_PMTU_MSG_PROBE || in[1] > NP_PATH_MSG_ACK)
		return -EBADMSG;
	*type = in[1];
	*id = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 | (uint32_t)in[6] << 8 | in[7];
	*size = (uint16_t)((uint16_t)in[8] << 8 | in[9]);
	return 0;
}
