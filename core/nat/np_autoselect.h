/* np_autoselect: pure choice of a traversal strategy from both peers' NAT
 * classifications. No I/O; the core calls it when the peer info arrives and
 * again on each retry with the attempt number counting up. */
#ifndef NP_AUTOSELECT_H
#define NP_AUTOSELECT_H

#include <stddef.h>

#include <natpunch/strategy.h>

/* How hard one side is to reach, as far as the strategies care. */
enum np_nat_hardness {
	NP_NAT_HARD_UNKNOWN = 0, /* no (usable) discovery result */
	NP_NAT_HARD_EASY = 1,    /* no NAT, or a mapping the peer can aim at */
	NP_NAT_HARD_SEQ = 2,     /* new mapping per destination, predictable port */
	NP_NAT_HARD_RANDOM = 3,  /* new mapping per destination, unpredictable port */
};

enum np_nat_hardness np_nat_hardness(const np_nat_info_t *nat);

/* Pick the strategy name for attempt `attempt` (1, 2, ...): "simple",
 * "predict" or "spray", or NULL when no direct path is possible. `why`
 * (may be NULL) receives one line saying why, in both cases.
 *
 * Suitable strategies, in the order retries cycle through them:
 *   unknown on either side          simple
 *   easy    / easy                  simple, predict
 *   easy    / sequential            predict, simple
 *   seq     / sequential            predict
 *   easy    / random                spray
 *   random  / sequential or random  none: NULL
 * Attempt n uses entry (n - 1) modulo the list length. */
const char *np_autoselect(const np_nat_info_t *self, const np_nat_info_t *peer, unsigned attempt,
			  char *why, size_t whylen);

#endif
