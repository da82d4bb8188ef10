/* np_peer_punch: the tunnel's side of the punch. The upcall table that
 * np_punch.c drives (sockets, libev timers, the clock, randomness) and the
 * state transitions it triggers: path found, failed, no path. The punch
 * itself knows nothing of struct np_peer. */
#include "np_peer_int.h"

#define NP_LOG_COMPONENT "peer"
#include "np_log.h"
#include "np_time.h"

#include <errno.h>
#include <sodium.h>

static void up_path_found(void *ctx, int sock_id, const np_addr_t *peer)
{
	struct np_peer *p = ctx;

	if (p->st == NP_ST_UP) { /* a background attempt, while relayed */
		np_switch_punch_found(p, sock_id, peer);
		return;
	}
	/* No more registration refreshes: from a new socket they would start a
	 * new pairing round under our feet. */
	ev_timer_stop(p->loop, &p->reg_timer);
	/* The winning socket becomes the main one; the others close at once. */
	np_sock_promote(p, sock_id);
	p->path_sock = 0;
	p->path_peer = *peer;
	np_peer_path_found(p);
}

static void up_failed(void *ctx, const char *reason)
{
	struct np_peer *p = ctx;

	if (p->st == NP_ST_UP) { /* a background attempt, while relayed */
		np_switch_punch_failed(p, reason);
		return;
	}
	np_peer_fire_hook(p, "punch_failed", reason);
	if (np_relay_fallback(p, reason))
		return;
	/* With --port, the fixed socket's NAT entries may be what failed (the
	 * conntrack clash, a stale sequential mapping): retry from a fresh port,
	 * so the server sees the NAT's newest mapping. */
	if (p->cfg->port)
		p->fresh_port = 1;
	p->stale_peer = p->peer_public, p->stale_local = p->peer_local;
	np_peer_enter_register(p, "retrying with a fresh socket");
}

static void up_no_path(void *ctx, const char *why)
{
	np_peer_no_path(ctx, why);
}

static int up_send(void *ctx, int sock_id, const np_addr_t *to, const void *buf, size_t len, int ttl)
{
	return np_sock_send(ctx, sock_id, to, buf, len, ttl);
}

static int up_open_socket(void *ctx)
{
	struct np_peer *p = ctx;

	for (int i = 1; i <= MAX_EXTRA_SOCKETS; i++)
		if (!p->socks[i])
			return np_sock_open(p, i, 0);
	return -EMFILE;
}

static void up_close_socket(void *ctx, int sock_id)
{
	struct np_peer *p = ctx;

	if (sock_id > 0 && sock_id <= MAX_EXTRA_SOCKETS)
		np_sock_close(p, sock_id);
}

static void up_timer_start(void *ctx, int id, uint32_t after_ms)
{
	struct np_peer *p = ctx;

	if (id < 0 || id >= NP_PUNCH_TIMERS)
		return;
	ev_timer_stop(p->loop, &p->ptimers[id].t);
	ev_timer_set(&p->ptimers[id].t, after_ms / 1000.0, 0.);
	ev_timer_start(p->loop, &p->ptimers[id].t);
}

static void up_timer_stop(void *ctx, int id)
{
	struct np_peer *p = ctx;

	if (id >= 0 && id < NP_PUNCH_TIMERS)
		ev_timer_stop(p->loop, &p->ptimers[id].t);
}

static uint64_t up_now_ms(void *ctx)
{
	return np_mono_ms();
}

static void up_random(void *ctx, void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

static void up_auth_warn(void *ctx, const char *what, const np_addr_t *from)
{
	np_peer_auth_warn(ctx, what, from);
}

static const struct np_punch_upcalls peer_upcalls = {
	.path_found = up_path_found,
	.failed = up_failed,
	.no_path = up_no_path,
	.send = up_send,
	.open_socket = up_open_socket,
	.close_socket = up_close_socket,
	.timer_start = up_timer_start,
	.timer_stop = up_timer_stop,
	.now_ms = up_now_ms,
	.random = up_random,
	.auth_warn = up_auth_warn,
};

static void on_punch_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_punch_timer *t = w->data;

	np_punch_on_timer(&t->p->punch, t->id);
}

int np_peer_punch_init(struct np_peer *p, char *err, size_t errlen)
{
	struct np_punch_cfg cfg = {
		.strategy = p->cfg->strategy,
		.strategy_path = p->cfg->strategy_path,
		.secure = p->secure,
	};

	for (int i = 0; i < NP_PUNCH_TIMERS; i++) {
		p->ptimers[i].id = i;
		p->ptimers[i].p = p;
		ev_timer_init(&p->ptimers[i].t, on_punch_timer, 0., 0.);
		p->ptimers[i].t.data = &p->ptimers[i];
	}
	return np_punch_init(&p->punch, &cfg, &peer_upcalls, p, err, errlen);
}

void np_peer_punch_fini(struct np_peer *p)
{
	np_punch_fini(&p->punch);
	for (int i = 0; i < NP_PUNCH_TIMERS; i++)
		ev_timer_stop(p->loop, &p->ptimers[i].t);
}
