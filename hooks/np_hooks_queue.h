/* np_hooks_queue: the hook event queue with the up/down pairing rule, a cap
 * and coalescing. Used by the hook runner (np_hooks.c) and by the daemon's
 * side of the hook helper (np_hookd.c), so both keep the same rules.
 *
 * Pairing: every "up" that was queued is followed by exactly one "down". A
 * "down" while no "up" is active is dropped; an "up" while an "up" is active
 * first queues an implicit "down" with reason "re-handshake". String fields
 * a "down" leaves NULL are filled from the matching "up".
 *
 * Bounds: an "endpoint_change" directly behind a queued "endpoint_change"
 * replaces it (coalesced). At NP_HOOKQ_MAX queued events, "endpoint_change"
 * and "punch_failed" are dropped, and an "up" or "down" arriving behind a
 * queued "up" that has not started cancels it instead of growing the queue
 * (that "up" never runs, so it needs no "down"). So no sequence of events
 * makes the queue longer than NP_HOOKQ_MAX + 2. */
#ifndef NP_HOOKS_QUEUE_H
#define NP_HOOKS_QUEUE_H

#include "np_hooks.h"

#include <stddef.h>
#include <stdint.h>

#define NP_HOOKQ_MAX 64

struct np_hookq_ev {
	struct np_hookq_ev *next;
	np_hook_event_t ev;     /* strings owned by this copy */
};

struct np_hookq {
	struct np_hookq_ev *head, *tail;
	size_t len;
	struct np_hookq_ev *last_up;    /* copy of the active "up" */
	int up_active;
	uint64_t dropped;       /* "down" without an active "up" */
	uint64_t coalesced;     /* endpoint_change merged into the one queued */
	uint64_t overflow;      /* dropped or cancelled at the cap */
};

/* 1 if name is one of "up", "down", "endpoint_change", "punch_failed", "path_change". */
int np_hookq_known_event(const char *name);

/* Copy ev and queue it under the rules above. -EINVAL on an unknown event
 * name, -ENOMEM (then the queue is unchanged). */
int np_hookq_push(struct np_hookq *q, const np_hook_event_t *ev);

/* Mark "up" active without queueing it (its on_up already ran elsewhere). */
int np_hookq_restore_up(struct np_hookq *q, const np_hook_event_t *up);

/* The oldest event, unlinked, or NULL. Free it with np_hookq_ev_free. */
struct np_hookq_ev *np_hookq_pop(struct np_hookq *q);

void np_hookq_ev_free(struct np_hookq_ev *e);

/* Free every queued event and the active "up"; the queue is empty after. */
void np_hookq_clear(struct np_hookq *q);

#endif
