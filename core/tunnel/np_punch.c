/* np_punch: the punch. The sockets of one tunnel, the strategy host (the
 * np_host_api_t a strategy .so drives: probes, extra sockets, timers, time,
 * randomness, logging, success and failure), probe authentication and
 * acknowledgement, and the choice of strategy for --strategy=auto. The
 * state machine around it lives in np_peer.c. */
#include "np_peer_int.h"

#include "np_auth.h"
#include "np_autoselect.h"
#define NP_LOG_COMPONENT "punch"
#include "np_log.h"
#include "np_time.h"
#include "np_udp.h"
#include "np_wire.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROBE_BUDGET 4096
#define DEFAULT_ATTEMPT_MS 10000

static void np_punch_failed(struct np_peer *p, const char *reason);

int np_sock_open(struct np_peer *p, int id, uint16_t port)
{
	struct np_sock *s;
	char err[160];
	int fd;

	fd = np_udp_open(p->server.family, NULL, port, id == 0 ? NP_UDP_BIGBUF : 0, err, sizeof(err));
	if (fd < 0) {
		np_err("%s", err);
		return fd;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->fd = fd;
	s->id = id;
	s->p = p;
	ev_io_init(&s->io, np_dp_on_sock, fd, EV_READ);
	s->io.data = s;
	ev_io_start(p->loop, &s->io);
	p->socks[id] = s;
	return id;
}

void np_sock_close(struct np_peer *p, int id)
{
	struct np_sock *s = p->socks[id];

	if (!s)
		return;
	ev_io_stop(p->loop, &s->io);
	close(s->fd);
	free(s);
	p->socks[id] = NULL;
}

/* Makes socket `id` the main socket (id 0) and closes all the others. */
void np_sock_promote(struct np_peer *p, int id)
{
	if (id != 0 && id <= MAX_EXTRA_SOCKETS && p->socks[id]) {
		struct np_sock *win = p->socks[id];
		p->socks[id] = NULL;
		np_sock_close(p, 0);
		win->id = 0;
		p->socks[0] = win;
	}
	np_sock_close_extra(p, -1);
}

void np_sock_close_extra(struct np_peer *p, int keep)
{
	for (int i = 1; i <= MAX_EXTRA_SOCKETS; i++)
		if (i != keep)
			np_sock_close(p, i);
}

int np_sock_send(struct np_peer *p, int sock_id, const np_addr_t *to, const void *buf, size_t len, int ttl)
{
	int rc;

	if (np_relay_is_peer(p, to)) /* the relayed path */
		return np_relay_send(p, buf, len);
	if (sock_id < 0 || sock_id > MAX_EXTRA_SOCKETS || !p->socks[sock_id])
		return -EBADF;
	rc = np_udp_send(p->socks[sock_id]->fd, to, buf, len, ttl, NULL);
	if (rc < 0) {
		p->stats.send_errors++;
		if (np_log_get_level() >= NP_LOG_DEBUG) {
			char a[NP_ADDR_STRLEN];
			np_debug_e(rc, "send to %s failed", np_astr(to, a));
		}
	}
	return rc;
}

static void strategy_stop_timers(struct np_peer *p)
{
	for (int i = 0; i < NP_HOST_MAX_TIMERS; i++)
		ev_timer_stop(p->loop, &p->stimers[i].t);
}

/* Destroys the strategy instance; never called from inside its callbacks. */
void np_punch_destroy(struct np_peer *p)
{
	strategy_stop_timers(p);
	if (p->strat && p->mod) {
		p->mod->desc.destroy(p->strat);
		p->strat = NULL;
	}
	p->strat_done = 0;
}

/* Ends the attempt from inside a callback: the reap timer destroys it. */
void np_punch_finish(struct np_peer *p)
{
	p->strat_done = 1;
	strategy_stop_timers(p);
	ev_timer_stop(p->loop, &p->attempt_timer);
	ev_timer_set(&p->reap, 0., 0.);
	ev_timer_start(p->loop, &p->reap);
}

static uint64_t probe_nonce(struct np_peer *p, int sock_id, const np_addr_t *to)
{
	uint8_t in[1 + 2 + 16 + 4], out[8];
	uint64_t n;

	in[0] = to->family;
	in[1] = (uint8_t)(to->port >> 8);
	in[2] = (uint8_t)to->port;
	memcpy(in + 3, to->ip, 16);
	memcpy(in + 19, &sock_id, 4);
	crypto_generichash(out, sizeof(out), in, sizeof(in), p->nonce_salt, sizeof(p->nonce_salt));
	memcpy(&n, out, sizeof(n));
	return n;
}

static int send_probe_msg(struct np_peer *p, int sock_id, const np_addr_t *to, uint8_t type, uint64_t nonce,
			  int ttl)
{
	struct np_msg_probe m = { 0 };
	uint8_t buf[NP_PROBE_WIRE_LEN];
	int len;

	m.type = type;
	m.flags = p->high ? NP_PROBE_F_HIGH : 0;
	m.round = p->round;
	m.nonce = nonce;
	len = np_wire_encode_probe(buf, sizeof(buf), &m);
	if (len < 0)
		return len;
	np_auth_mac(p->probe_key, buf, NP_PROBE_MAC_OFFSET, buf + NP_PROBE_MAC_OFFSET);
	return np_sock_send(p, sock_id, to, buf, (size_t)len, ttl);
}

static int h_send_probe(void *host, int sock_id, const np_addr_t *to, unsigned flags)
{
	struct np_peer *p = host;
	int ttl = 0;

	if (!p->strat || p->strat_done || !to || (to->family != 4 && to->family != 6) || !to->port)
		return -EINVAL;
	if (to->family != p->server.family)
		return -EAFNOSUPPORT;
	if (p->probes_this_attempt >= PROBE_BUDGET)
		return -EDQUOT;
	if (flags & NP_PROBE_OPENER) {
		if (p->nat_depth == 0)
			return 0; /* a public host sends no openers: they would poison the peer's NAT */
		ttl = p->nat_depth + 1;
	}
	p->probes_this_attempt++;
	p->stats.probes_sent++;
	return send_probe_msg(p, sock_id, to, NP_MSG_PROBE, probe_nonce(p, sock_id, to), ttl);
}

static int h_open_socket(void *host)
{
	struct np_peer *p = host;

	for (int i = 1; i <= MAX_EXTRA_SOCKETS; i++)
		if (!p->socks[i])
			return np_sock_open(p, i, 0);
	return -EMFILE;
}

static void h_close_socket(void *host, int sock_id)
{
	struct np_peer *p = host;

	if (sock_id > 0 && sock_id <= MAX_EXTRA_SOCKETS)
		np_sock_close(p, sock_id);
}

static int h_timer_start(void *host, int id, uint32_t after_ms)
{
	struct np_peer *p = host;

	if (id < 0 || id >= NP_HOST_MAX_TIMERS || !p->strat || p->strat_done)
		return -EINVAL;
	ev_timer_stop(p->loop, &p->stimers[id].t);
	ev_timer_set(&p->stimers[id].t, after_ms / 1000.0, 0.);
	ev_timer_start(p->loop, &p->stimers[id].t);
	return 0;
}

static void h_timer_stop(void *host, int id)
{
	struct np_peer *p = host;

	if (id >= 0 && id < NP_HOST_MAX_TIMERS)
		ev_timer_stop(p->loop, &p->stimers[id].t);
}

static uint64_t h_now_ms(void *host)
{
	return np_mono_ms();
}

static void h_random(void *host, void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

static void h_log(void *host, int level, const char *fmt, ...)
{
	struct np_peer *p = host;
	char line[512];
	va_list ap;

	if (level > np_log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	np_log(level < 0 ? 0 : level > 3 ? 3 : level, "strategy %s: %s", p->mod->desc.name, line);
}

static void h_succeed(void *host, int sock_id, const np_addr_t *peer)
{
	struct np_peer *p = host;
	char a[NP_ADDR_STRLEN];

	if (!p->strat || p->strat_done || p->st != NP_ST_PUNCH || !peer || sock_id < 0 ||
	    sock_id > MAX_EXTRA_SOCKETS || !p->socks[sock_id])
		return;
	np_punch_finish(p);
	/* No more registration refreshes: from a new socket they would start a
	 * new pairing round under our feet. */
	ev_timer_stop(p->loop, &p->reg_timer);
	/* The winning socket becomes the main one; the others close at once. */
	np_sock_promote(p, sock_id);
	p->path_sock = 0;
	p->path_peer = *peer;
	np_info("punch succeeded: peer %s reached with %s after %u probes (attempt %u)", np_astr(peer, a),
		p->mod->desc.name, p->probes_this_attempt, p->attempts);
	np_peer_path_found(p);
}

static void np_punch_failed(struct np_peer *p, const char *reason)
{
	np_warn("punch failed (attempt %u, strategy %s): %s", p->attempts, np_peer_strat_name(p), reason);
	if (reason != p->fail_reason)
		snprintf(p->fail_reason, sizeof(p->fail_reason), "%s", reason);
	np_peer_fire_hook(p, "punch_failed", reason);
	if (np_relay_fallback(p, reason))
		return;
	/* With --port, the fixed socket's NAT entries may be what failed (the
	 * conntrack clash, a stale sequential mapping): retry from a fresh port,
	 * so the server sees the NAT's newest mapping. */
	if (p->cfg->port)
		p->fresh_port = 1;
	p->stale_peer = p->peer_public;
	np_peer_enter_register(p, "retrying with a fresh socket");
}

static void h_fail(void *host, const char *reason)
{
	struct np_peer *p = host;

	if (!p->strat || p->strat_done || p->st != NP_ST_PUNCH)
		return;
	snprintf(p->fail_reason, sizeof(p->fail_reason), "%s", reason ? reason : "strategy gave up");
	np_punch_finish(p);
	p->strat_done = 2; /* the reap timer reports the failure */
}

static void on_reap(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	int failed = p->strat_done == 2;

	np_punch_destroy(p);
	if (failed && p->st == NP_ST_PUNCH)
		np_punch_failed(p, p->fail_reason);
}

static void on_strat_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_strat_timer *t = w->data;
	struct np_peer *p = t->p;

	if (p->strat && !p->strat_done && p->mod->desc.on_timer)
		p->mod->desc.on_timer(p->strat, t->id);
}

static void on_attempt_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	char why[128];

	if (p->st != NP_ST_PUNCH)
		return;
	snprintf(why, sizeof(why), "no authenticated answer after %u probes", p->probes_this_attempt);
	np_punch_destroy(p);
	np_punch_failed(p, why);
}

/* Sets p->mod for this attempt; with --strategy=auto from both NAT kinds. */
static int select_strategy(struct np_peer *p)
{
	char why[200], err[256];
	const char *name;
	int i;

	if (!p->auto_mode) {
		p->mod = &p->mods[0];
		return 0;
	}
	name = np_autoselect(&p->self_nat, &p->peer_nat, p->attempts, why, sizeof(why));
	if (!name) {
		np_peer_no_path(p, why);
		return -EHOSTUNREACH;
	}
	for (i = 0; i < p->nmods; i++)
		if (strcmp(p->mods[i].desc.name, name) == 0)
			break;
	if (i == p->nmods) {
		if (p->nmods == (int)(sizeof(p->mods) / sizeof(p->mods[0])) ||
		    np_strategy_load(name, p->cfg->strategy_path, &p->mods[i], err, sizeof(err)) < 0) {
			np_err("--strategy=auto: %s", err);
			np_punch_failed(p, "strategy could not be loaded");
			return -ENOENT;
		}
		p->nmods++;
	}
	p->mod = &p->mods[i];
	np_info("--strategy=auto chose %s: %s (attempt %u)", name, why[0] ? why : "-", p->attempts);
	return 0;
}

void np_punch_handle_probe(struct np_peer *p, struct np_sock *s, const uint8_t *buf, size_t len,
			 const np_addr_t *from)
{
	struct np_msg_probe m;

	if (np_wire_parse_probe(buf, len, &m) < 0) {
		p->stats.bad++;
		return;
	}
	if (np_auth_verify(p->probe_key, buf, NP_PROBE_MAC_OFFSET, m.mac) < 0) {
		p->stats.bad_mac++;
		np_peer_auth_warn(p,
			  p->secure ? "probe with a bad MAC (wrong --peer-key or --psk on one side, or a forgery)"
				    : "probe with a bad MAC (different --session, or a forgery)",
			  from);
		return;
	}
	/* Our own probe reflected back to us: ignore. */
	if (!!(m.flags & NP_PROBE_F_HIGH) == !!p->high) {
		p->stats.bad++;
		return;
	}
	if (p->st < NP_ST_PUNCH)
		return;
	p->stats.probes_rx++;
	if (m.type == NP_MSG_PROBE) {
		send_probe_msg(p, s->id, from, NP_MSG_PROBE_ACK, m.nonce, 0);
		if (p->strat && !p->strat_done && p->mod->desc.on_answer)
			p->mod->desc.on_answer(p->strat, s->id, from, 0);
		return;
	}
	if (m.round != p->round || m.nonce != probe_nonce(p, s->id, from)) {
		np_debug("probe-ack that answers no probe of ours: ignored");
		return;
	}
	if (p->strat && !p->strat_done && p->mod->desc.on_answer)
		p->mod->desc.on_answer(p->strat, s->id, from, 1);
}

/* Begins an attempt: picks the strategy, tells it what is known, and arms
 * the attempt timeout. The caller has set the round, both endpoints and
 * both NAT kinds. */
void np_punch_start(struct np_peer *p, uint16_t start_in_ms)
{
	np_strategy_view_t v = { 0 };
	char a[NP_ADDR_STRLEN], b[NP_ADDR_STRLEN];
	int rc;

	randombytes_buf(p->nonce_salt, sizeof(p->nonce_salt));
	p->attempts++;
	p->attempt_start_ms = np_mono_ms();
	p->probes_this_attempt = 0;
	np_peer_set_state(p, NP_ST_PUNCH);
	if (select_strategy(p) < 0)
		return;
	np_info("peer found: public %s, lan %s (round %u); punching with %s, opener TTL %d",
		np_astr(&p->peer_public, a), np_astr(&p->peer_local, b), p->round, p->mod->desc.name,
		p->nat_depth ? p->nat_depth + 1 : 0);

	v.size = sizeof(v);
	v.attempt = p->attempts;
	v.round = p->round;
	v.self_local = p->self_local;
	v.self_public = p->self_public;
	v.peer_local = p->peer_local;
	v.peer_public = p->peer_public;
	v.self_nat = p->self_nat;
	v.self_nat.depth = (uint8_t)p->nat_depth;
	v.peer_nat = p->peer_nat;
	v.start_at_ms = np_mono_ms() + start_in_ms;
	v.self_is_high = p->high;
	rc = p->mod->desc.create(&p->api, p, &p->strat);
	if (rc < 0) {
		p->strat = NULL;
		np_punch_failed(p, "strategy could not be created");
		return;
	}
	p->strat_done = 0;
	rc = p->mod->desc.start(p->strat, &v);
	if (rc < 0 && !p->strat_done) {
		np_punch_destroy(p);
		np_punch_failed(p, "strategy could not start");
		return;
	}
	ev_timer_stop(p->loop, &p->attempt_timer);
	ev_timer_set(&p->attempt_timer,
		     (p->mod->desc.attempt_timeout_ms ? p->mod->desc.attempt_timeout_ms : DEFAULT_ATTEMPT_MS) / 1000.0,
		     0.);
	ev_timer_start(p->loop, &p->attempt_timer);
}

void np_punch_init(struct np_peer *p)
{
	p->api = (np_host_api_t){
		.size = sizeof(np_host_api_t),
		.send_probe = h_send_probe,
		.open_socket = h_open_socket,
		.close_socket = h_close_socket,
		.timer_start = h_timer_start,
		.timer_stop = h_timer_stop,
		.now_ms = h_now_ms,
		.random = h_random,
		.log = h_log,
		.succeed = h_succeed,
		.fail = h_fail,
	};
	for (int i = 0; i < NP_HOST_MAX_TIMERS; i++) {
		p->stimers[i].id = i;
		p->stimers[i].p = p;
		ev_timer_init(&p->stimers[i].t, on_strat_timer, 0., 0.);
		p->stimers[i].t.data = &p->stimers[i];
	}
	ev_timer_init(&p->reap, on_reap, 0., 0.);
	ev_timer_init(&p->attempt_timer, on_attempt_timeout, 1., 0.);
	p->reap.data = p->attempt_timer.data = p;
}
