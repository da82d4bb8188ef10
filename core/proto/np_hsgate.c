/* np_hsgate: the admission order for handshake initiations (np_hsgate.h). */
#include "np_hsgate.h"

#include <errno.h>

int np_hsgate_init(struct np_hsgate *g)
{
	g->tokens = NP_HSG_RATE;
	g->at_ms = 0;
	for (size_t i = 0; i < sizeof(g->n) / sizeof(g->n[0]); i++)
		g->n[i] = 0;
	return np_ratelimit_init_slots(&g->src, NP_HSG_SRC_RATE, 2 * NP_HSG_SRC_RATE, 64);
}

void np_hsgate_free(struct np_hsgate *g)
{
	np_ratelimit_free(&g->src);
}

static enum np_hsgate_verdict decide(struct np_hsgate *g, struct np_session *sess, const uint8_t *pkt,
				     size_t len, const np_addr_t *from, uint64_t now_ms)
{
	int rc = np_session_init_precheck(sess, pkt, len);

	if (rc == -EACCES)
		return NP_HSG_BAD_MAC1;
	if (rc < 0)
		return NP_HSG_BAD;
	if (now_ms > g->at_ms) {
		g->tokens += (double)(now_ms - g->at_ms) * NP_HSG_RATE / 1000.0;
		if (g->tokens > NP_HSG_RATE)
			g->tokens = NP_HSG_RATE;
		g->at_ms = now_ms;
	}
	if (g->tokens >= 1.0) {
		g->tokens -= 1.0;
		return NP_HSG_PROCESS;
	}
	if (np_session_check_mac2(sess, now_ms, pkt, len, from) < 0)
		return NP_HSG_COOKIE;
	return np_ratelimit_allow(&g->src, from, now_ms) ? NP_HSG_PROCESS : NP_HSG_LIMITED;
}

enum np_hsgate_verdict np_hsgate_check(struct np_hsgate *g, struct np_session *sess, const uint8_t *pkt,
				       size_t len, const np_addr_t *from, uint64_t now_ms)
{
	enum np_hsgate_verdict v = decide(g, sess, pkt, len, from, now_ms);

	g->n[v]++;
	return v;
}
