/* np_replay: RFC 6479 sliding replay window (see np_replay.h). */
#include <errno.h>
#include <string.h>

#include "np_replay.h"

#define WORD_MASK (NP_REPLAY_WORDS - 1)

void np_replay_init(struct np_replay *w)
{
	memset(w, 0, sizeof(*w));
}

int np_replay_check(const struct np_replay *w, uint64_t counter)
{
	uint64_t word;

	if (!w->started || counter > w->last)
		return 0;
	if (w->last - counter >= NP_REPLAY_WINDOW)
		return -EALREADY;
	word = w->bitmap[(counter / 64) & WORD_MASK];
	if (word & (1ull << (counter % 64)))
		return -EALREADY;
	return 0;
}

int np_replay_update(struct np_replay *w, uint64_t counter)
{
	uint64_t idx = counter / 64;

	if (np_replay_check(w, counter) < 0)
		return -EALREADY;
	if (!w->started) {
		memset(w->bitmap, 0, sizeof(w->bitmap));
		w->started = 1;
		w->last = counter;
	} else if (counter > w->last) {
		uint64_t last_idx = w->last / 64;
		uint64_t diff = idx - last_idx;

		if (diff > NP_REPLAY_WORDS)
			diff = NP_REPLAY_WORDS;
		for (uint64_t i = 1; i <= diff; i++)
			w->bitmap[(last_idx + i) & WORD_MASK] = 0;
		w->last = counter;
	}
	w->bitmap[idx & WORD_MASK] |= 1ull << (counter % 64);
	return 0;
}

int np_replay_check_and_update(struct np_replay *w, uint64_t counter)
{
	return np_replay_update(w, counter);
}
