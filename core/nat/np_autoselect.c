/* np_autoselect: the strategy choice table (see np_autoselect.h). */
#include "np_autoselect.h"

#include <stdio.h>

enum np_nat_hardness np_nat_hardness(const np_nat_info_t *nat)
{
	if (!nat->known)
		return NP_NAT_HARD_UNKNOWN;
	if (nat->mapping == NP_NAT_MAP_NONE)
		return NP_NAT_HARD_EASY;
	switch (nat->allocation) {
	case NP_NAT_ALLOC_PRESERVE:
	case NP_NAT_ALLOC_STABLE:
		return NP_NAT_HARD_EASY;
	case NP_NAT_ALLOC_SEQUENTIAL:
		return NP_NAT_HARD_SEQ;
	case NP_NAT_ALLOC_RANDOM:
		return NP_NAT_HARD_RANDOM;
	default:
		break;
	}
	/* Allocation unknown: a per-destination mapping is as hard as random;
	 * anything else we cannot judge. */
	if (nat->mapping == NP_NAT_MAP_APDM || nat->mapping == NP_NAT_MAP_ADM)
		return NP_NAT_HARD_RANDOM;
	if (nat->mapping == NP_NAT_MAP_EIM || nat->mapping == NP_NAT_MAP_EIM_OR_ADM)
		return NP_NAT_HARD_EASY;
	return NP_NAT_HARD_UNKNOWN;
}

static const char *np_hardness_str(enum np_nat_hardness h)
{
	switch (h) {
	case NP_NAT_HARD_EASY:
		return "easy";
	case NP_NAT_HARD_SEQ:
		return "sequential";
	case NP_NAT_HARD_RANDOM:
		return "random";
	default:
		return "unknown";
	}
}

const char *np_autoselect(const np_nat_info_t *self, const np_nat_info_t *peer, unsigned attempt,
			  char *why, size_t whylen)
{
	static const char *const l_simple[] = { "simple" };
	static const char *const l_easy[] = { "simple", "predict" };
	/* predict twice before simple: a failed predict is usually a lost
	 * PEER_INFO or a start skew (a retry predicts from fresh facts);
	 * simple is there for a NAT classified sequential by mistake. */
	static const char *const l_seq_easy[] = { "predict", "predict", "simple" };
	static const char *const l_seq[] = { "predict" };
	static const char *const l_spray[] = { "spray" };
	enum np_nat_hardness a = np_nat_hardness(self), b = np_nat_hardness(peer), lo, hi;
	const char *const *list;
	const char *reason;
	size_t n;

	lo = a < b ? a : b;
	hi = a < b ? b : a;
	if (lo == NP_NAT_HARD_UNKNOWN) {
		list = l_simple, n = 1;
		reason = "NAT kind unknown on at least one side";
	} else if (hi == NP_NAT_HARD_EASY) {
		list = l_easy, n = 2;
		reason = "both NATs keep one public port per socket";
	} else if (hi == NP_NAT_HARD_SEQ && lo == NP_NAT_HARD_EASY) {
		list = l_seq_easy, n = 3;
		reason = "one NAT allocates ports in sequence";
	} else if (hi == NP_NAT_HARD_SEQ) {
		list = l_seq, n = 1;
		reason = "both NATs allocate ports in sequence";
	} else if (lo == NP_NAT_HARD_EASY) {
		list = l_spray, n = 1;
		reason = "one NAT allocates ports randomly, the other keeps its port";
	} else {
		if (why && whylen)
			snprintf(why, whylen,
				 "no direct path possible between these NATs: %s",
				 lo == NP_NAT_HARD_RANDOM
					 ? "both allocate ports randomly"
					 : "one allocates ports randomly, the other in sequence");
		return NULL;
	}
	if (!attempt)
		attempt = 1;
	if (why && whylen)
		snprintf(why, whylen, "%s (self %s, peer %s; attempt %u of cycle %zu)", reason,
			 np_hardness_str(a), np_hardness_str(b), attempt, n);
	return list[(attempt - 1) % n];
}
