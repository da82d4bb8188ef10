/* np_ratelimit: token buckets in an open-addressed table of source addresses. */
#include "np_ratelimit.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_RUN 8

int np_ratelimit_init_slots(struct np_ratelimit *rl, double rate, double burst, size_t nslots)
{
	memset(rl, 0, sizeof(*rl));
	if (nslots < PROBE_RUN)
		nslots = PROBE_RUN;
	rl->rate = rate;
	rl->burst = burst < 1 ? 1 : burst;
	randombytes_buf(rl->key, sizeof(rl->key));
	rl->slots = calloc(nslots, sizeof(*rl->slots));
	rl->nslots = nslots;
	return rl->slots ? 0 : -ENOMEM;
}

int np_ratelimit_init(struct np_ratelimit *rl, double rate, double burst)
{
	return np_ratelimit_init_slots(rl, rate, burst, NP_RATELIMIT_SLOTS);
}

void np_ratelimit_free(struct np_ratelimit *rl)
{
	free(rl->slots);
	rl->slots = NULL;
}

int np_ratelimit_allow(struct np_ratelimit *rl, const np_addr_t *src, uint64_t now_ms)
{
	uint8_t h[crypto_shorthash_BYTES], ip[16];
	struct np_rl_slot *s, *victim = NULL;
	uint64_t idx;

	if (rl->rate <= 0 || !rl->slots)
		return 1;
	/* IPv6: one bucket per /64, the smallest prefix a site is given. */
	memcpy(ip, src->ip, sizeof(ip));
	if (src->family == 6)
		memset(ip + 8, 0, 8);
	else if (src->family == 4)
		memset(ip + 4, 0, 12);
	crypto_shorthash(h, ip, sizeof(ip), rl->key);
	memcpy(&idx, h, sizeof(idx));
	for (int i = 0; i < PROBE_RUN; i++) {
		s = &rl->slots[(idx + (uint64_t)i) % rl->nslots];
		if (s->family == src->family && memcmp(s->ip, ip, 16) == 0)
			goto found;
		if (!victim || s->family == 0 || (victim->family != 0 && s->last_ms < victim->last_ms))
			victim = s;
	}
	s = victim;
	s->family = src->family;
	memcpy(s->ip, ip, 16);
	s->tokens = rl->burst;
	s->last_ms = now_ms;
found:
	if (now_ms > s->last_ms) {
		s->tokens += (double)(now_ms - s->last_ms) * rl->rate / 1000.0;
		if (s->tokens > rl->burst)
			s->tokens = rl->burst;
	}
	if (now_ms > s->last_ms)
		s->last_ms = now_ms;
	if (s->tokens < 1.0)
		return 0;
	s->tokens -= 1.0;
	return 1;
}
