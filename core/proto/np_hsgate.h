/* np_hsgate: which HANDSHAKE_INITs a responder spends Diffie-Hellman on.
 *
 * In this order, cheapest first, and before any rate accounting:
 *   1. exact length and header, else NP_HSG_BAD;
 *   2. mac1 (keyed with our public key), else NP_HSG_BAD_MAC1;
 *   3. not under load (the global bucket of NP_HSG_RATE initiations per
 *      second has a token): take it, NP_HSG_PROCESS;
 *   4. under load: a valid mac2 (the sender proved it receives at its
 *      address) passes a small per-source bucket, NP_HSG_PROCESS or
 *      NP_HSG_LIMITED; without one, NP_HSG_COOKIE: answer with a cookie
 *      reply (smaller than the initiation), nothing else.
 * So junk never spends the bucket, and under a flood of well-formed
 * initiations the real initiator gets through after one cookie round trip.
 * Pure: the caller passes the clock. */
#ifndef NP_HSGATE_H
#define NP_HSGATE_H

#include <stddef.h>
#include <stdint.h>

#include "np_ratelimit.h"
#include "np_session.h"

#define NP_HSG_RATE 50.0      /* initiations per second looked at without a cookie */
#define NP_HSG_SRC_RATE 5.0   /* per proven source, under load */

enum np_hsgate_verdict {
	NP_HSG_BAD = 0,       /* wrong length or header: drop */
	NP_HSG_BAD_MAC1,      /* not made with our public key: drop */
	NP_HSG_COOKIE,        /* under load, no valid mac2: send a cookie reply */
	NP_HSG_LIMITED,       /* under load, proven source over its own limit: drop */
	NP_HSG_PROCESS,       /* run the handshake */
};

struct np_hsgate {
	double tokens;
	uint64_t at_ms;
	struct np_ratelimit src;
	uint64_t n[NP_HSG_PROCESS + 1]; /* verdict counters */
};

int np_hsgate_init(struct np_hsgate *g);
void np_hsgate_free(struct np_hsgate *g);
enum np_hsgate_verdict np_hsgate_check(struct np_hsgate *g, struct np_session *sess, const uint8_t *pkt,
				       size_t len, const np_addr_t *from, uint64_t now_ms);

#endif
