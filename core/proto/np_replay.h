/* np_replay: the sliding anti-replay window of a transport keypair.
 *
 * RFC 6479 style: a ring of 64-bit bitmap words indexed by counter / 64, so
 * advancing the window clears whole words instead of shifting bits. The window
 * accepts any counter within NP_REPLAY_WINDOW of the highest one seen, once.
 *
 * Order of use on receive: np_replay_check() before the AEAD open (cheap
 * early drop), np_replay_update() only after the tag verified, so a forged
 * packet can never move the window. np_replay_check_and_update() does both
 * for callers that have already authenticated the counter. */
#ifndef NP_REPLAY_H
#define NP_REPLAY_H

#include <stdint.h>

#define NP_REPLAY_WORDS 64 /* ring size, a power of two */
#define NP_REPLAY_WINDOW ((NP_REPLAY_WORDS - 1) * 64) /* 4032 packets */

struct np_replay {
	uint64_t last;      /* highest counter accepted */
	int started;        /* 0 until the first counter is accepted */
	uint64_t bitmap[NP_REPLAY_WORDS];
};

void np_replay_init(struct np_replay *w);
/* 0 if counter would be fresh, -EALREADY if duplicate or too old. Read-only. */
int np_replay_check(const struct np_replay *w, uint64_t counter);
/* Record counter: 0 if it was fresh, -EALREADY otherwise (nothing changes). */
int np_replay_update(struct np_replay *w, uint64_t counter);
/* Same as np_replay_update(): check and record in one call. */
int np_replay_check_and_update(struct np_replay *w, uint64_t counter);

#endif
