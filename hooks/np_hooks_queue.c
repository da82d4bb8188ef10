/* np_hooks_queue: hook events in order, with pairing, a cap and coalescing.
 * See np_hooks_queue.h. */
#include "np_hooks_queue.h"
#define NP_LOG_COMPONENT "hooks"
#include "np_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const np_hook_events[] = { "up", "down", "endpoint_change", "punch_failed", "path_change" };

static const size_t np_hook_str_fields[] = {
	offsetof(np_hook_event_t, event), offsetof(np_hook_event_t, reason),
	offsetof(np_hook_event_t, ifname), offsetof(np_hook_event_t, local_ip),
	offsetof(np_hook_event_t, remote_ip), offsetof(np_hook_event_t, peer_ip),
	offsetof(np_hook_event_t, public_ip), offsetof(np_hook_event_t, nat_self),
	offsetof(np_hook_event_t, nat_peer), offsetof(np_hook_event_t, strategy),
	offsetof(np_hook_event_t, session), offsetof(np_hook_event_t, path),
};

#define NP_NFIELDS (sizeof(np_hook_str_fields) / sizeof(np_hook_str_fields[0]))
#define NP_FIELD(ev, i) ((const char **)(void *)((char *)(ev) + np_hook_str_fields[i]))

int np_hookq_known_event(const char *name)
{
	if (!name)
		return 0;
	for (size_t i = 0; i < sizeof(np_hook_events) / sizeof(np_hook_events[0]); i++)
		if (!strcmp(name, np_hook_events[i]))
			return 1;
	return 0;
}

void np_hookq_ev_free(struct np_hookq_ev *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < NP_NFIELDS; i++)
		free((char *)*NP_FIELD(&e->ev, i));
	free(e);
}

/* Copy ev; fill what it leaves out from base (may be NULL). */
static struct np_hookq_ev *np_copy(const np_hook_event_t *ev, const np_hook_event_t *base)
{
	struct np_hookq_ev *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->ev = *ev;
	if (base) {
		if (q->ev.mtu <= 0)
			q->ev.mtu = base->mtu;
		if (q->ev.peer_port <= 0)
			q->ev.peer_port = base->peer_port;
		if (q->ev.public_port <= 0)
			q->ev.public_port = base->public_port;
	}
	for (size_t i = 0; i < NP_NFIELDS; i++) {
		const char *s = *NP_FIELD(ev, i);

		if (!s && base)
			s = *NP_FIELD(base, i);
		*NP_FIELD(&q->ev, i) = NULL;
		if (s && !(*NP_FIELD(&q->ev, i) = strdup(s))) {
			np_hookq_ev_free(q);
			return NULL;
		}
	}
	return q;
}

static void np_append(struct np_hookq *q, struct np_hookq_ev *e)
{
	e->next = NULL;
	if (q->tail)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	q->len++;
}

/* Remove the tail (the queue is a singly linked list: walk to it). */
static void np_drop_tail(struct np_hookq *q)
{
	struct np_hookq_ev *e = q->head, *prev = NULL;

	while (e && e != q->tail) {
		prev = e;
		e = e->next;
	}
	if (!e)
		return;
	if (prev)
		prev->next = NULL;
	else
		q->head = NULL;
	q->tail = prev;
	q->len--;
	np_hookq_ev_free(e);
}

static int np_tail_is(const struct np_hookq *q, const char *name)
{
	return q->tail && !strcmp(q->tail->ev.event, name);
}

static int np_push_down(struct np_hookq *q, const np_hook_event_t *ev)
{
	struct np_hookq_ev *e;

	if (!q->up_active) {
		q->dropped++;
		np_debug("down (%s) without an active up: dropped", ev->reason ? ev->reason : "-");
		return 0;
	}
	if (q->len >= NP_HOOKQ_MAX && np_tail_is(q, "up")) {
		/* The up never started: cancel both. */
		np_drop_tail(q);
		q->overflow += 2;
	} else {
		e = np_copy(ev, &q->last_up->ev);
		if (!e)
			return -ENOMEM;
		np_append(q, e);
	}
	q->up_active = 0;
	np_hookq_ev_free(q->last_up);
	q->last_up = NULL;
	return 0;
}

static int np_push_up(struct np_hookq *q, const np_hook_event_t *ev)
{
	struct np_hookq_ev *e, *keep, *down = NULL;
	np_hook_event_t tmp;
	int cancel = q->up_active && q->len >= NP_HOOKQ_MAX && np_tail_is(q, "up");

	e = np_copy(ev, NULL);
	keep = np_copy(ev, NULL);
	if (!e || !keep)
		goto nomem;
	if (q->up_active && !cancel) {
		memset(&tmp, 0, sizeof(tmp));
		tmp.event = "down";
		tmp.reason = "re-handshake";
		down = np_copy(&tmp, &q->last_up->ev);
		if (!down)
			goto nomem;
	}
	if (cancel) {
		np_drop_tail(q);        /* the queued up that never started */
		q->overflow++;
	}
	if (down)
		np_append(q, down);
	np_append(q, e);
	np_hookq_ev_free(q->last_up);
	q->last_up = keep;
	q->up_active = 1;
	return 0;
nomem:
	np_hookq_ev_free(e);
	np_hookq_ev_free(keep);
	return -ENOMEM;
}

int np_hookq_push(struct np_hookq *q, const np_hook_event_t *ev)
{
	struct np_hookq_ev *e;

	if (!np_hookq_known_event(ev->event))
		return -EINVAL;
	if (!strcmp(ev->event, "down"))
		return np_push_down(q, ev);
	if (!strcmp(ev->event, "up"))
		return np_push_up(q, ev);
	if (!strcmp(ev->event, "endpoint_change") && np_tail_is(q, "endpoint_change")) {
		e = np_copy(ev, NULL);
		if (!e)
			return -ENOMEM;
		np_drop_tail(q);
		np_append(q, e);
		q->coalesced++;
		return 0;
	}
	if (q->len >= NP_HOOKQ_MAX) {
		q->overflow++;
		np_debug("queue full (%d events): %s dropped", NP_HOOKQ_MAX, ev->event);
		return 0;
	}
	e = np_copy(ev, NULL);
	if (!e)
		return -ENOMEM;
	np_append(q, e);
	return 0;
}

int np_hookq_restore_up(struct np_hookq *q, const np_hook_event_t *up)
{
	struct np_hookq_ev *keep = np_copy(up, NULL);

	if (!keep)
		return -ENOMEM;
	np_hookq_ev_free(q->last_up);
	q->last_up = keep;
	q->up_active = 1;
	return 0;
}

struct np_hookq_ev *np_hookq_pop(struct np_hookq *q)
{
	struct np_hookq_ev *e = q->head;

	if (!e)
		return NULL;
	q->head = e->next;
	if (!q->head)
		q->tail = NULL;
	q->len--;
	e->next = NULL;
	return e;
}

void np_hookq_clear(struct np_hookq *q)
{
	struct np_hookq_ev *e;

	while ((e = np_hookq_pop(q)))
		np_hookq_ev_free(e);
	np_hookq_ev_free(q->last_up);
	q->last_up = NULL;
	q->up_active = 0;
}
