/* np_peer: the control plane of one tunnel. Registration with the server,
 * the punch (strategy host + authenticated probes), the Noise handshake, the
 * keepalive/dead/rekey timers, and hook events. See np_peer.h. */
#include "np_peer_int.h"

#include "np_auth.h"
#include "np_autoselect.h"
#include "np_control.h"
#include "np_discovery.h"
#include "np_natclass.h"
#include "np_hooks.h"
#include "np_log.h"
#include "np_time.h"
#include "np_tun.h"
#include "np_udp.h"
#include "np_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REGISTER_INTERVAL 1.0
#define PUNCH_REFRESH_INTERVAL 2.0
#define DEFAULT_ATTEMPT_MS 10000
#define HANDSHAKE_TIMEOUT 10.0
#define PROBE_BUDGET 4096
#define MAX_EXTRA_SOCKETS NP_HOST_MAX_SOCKETS

static void enter_register(struct np_peer *p, const char *why);
static void start_discovery(struct np_peer *p);
static void update_local_endpoint(struct np_peer *p);
static void start_punch(struct np_peer *p, const struct np_msg_peer_info *pi);
static void enter_up(struct np_peer *p);

const char *np_peer_state_name(enum np_peer_state st)
{
	static const char *names[] = { "REGISTER", "WAIT_PEER", "PUNCH", "HANDSHAKE", "UP" };
	return (unsigned)st < 5 ? names[st] : "?";
}

static void set_state(struct np_peer *p, enum np_peer_state st)
{
	if (p->st != st)
		np_debug("state %s -> %s", np_peer_state_name(p->st), np_peer_state_name(st));
	p->st = st;
}

static const char *astr(const np_addr_t *a, char *buf)
{
	return np_addr_str(a, buf, NP_ADDR_STRLEN);
}

/* ---- hooks ---------------------------------------------------------------- */

static const char *strat_name(const struct np_peer *p)
{
	return p->mod ? p->mod->desc.name : p->cfg->strategy;
}

static const char *nat_kind(const np_nat_info_t *n, char *buf, size_t cap)
{
	return n->known ? np_natclass_kind_str(n, buf, cap) : NULL;
}

static void fire_hook(struct np_peer *p, const char *event, const char *reason)
{
	char lip[INET6_ADDRSTRLEN], rip[INET6_ADDRSTRLEN], pip[INET6_ADDRSTRLEN], sip[INET6_ADDRSTRLEN];
	char ks[32], kp[32];
	np_hook_event_t ev = { 0 };
	const np_addr_t *peer = p->path_peer.family ? &p->path_peer : &p->peer_public;

	if (!p->hooks)
		return;
	inet_ntop(p->cfg->local_ip.family == 6 ? AF_INET6 : AF_INET, p->cfg->local_ip.ip, lip, sizeof(lip));
	inet_ntop(p->cfg->remote_ip.family == 6 ? AF_INET6 : AF_INET, p->cfg->remote_ip.ip, rip, sizeof(rip));
	ev.event = event;
	ev.reason = reason;
	ev.ifname = p->ifname;
	ev.mtu = p->cfg->mtu;
	ev.local_ip = lip;
	ev.remote_ip = rip;
	if (peer->family && inet_ntop(peer->family == 6 ? AF_INET6 : AF_INET, peer->ip, pip, sizeof(pip))) {
		ev.peer_ip = pip;
		ev.peer_port = peer->port;
	}
	if (p->self_public.family &&
	    inet_ntop(p->self_public.family == 6 ? AF_INET6 : AF_INET, p->self_public.ip, sip, sizeof(sip))) {
		ev.public_ip = sip;
		ev.public_port = p->self_public.port;
	}
	ev.nat_self = nat_kind(&p->self_nat, ks, sizeof(ks));
	ev.nat_peer = nat_kind(&p->peer_nat, kp, sizeof(kp));
	ev.strategy = strat_name(p);
	ev.attempts = (int)p->attempts;
	ev.session = p->cfg->session;
	if (np_hooks_fire(p->hooks, &ev) < 0)
		np_warn("hooks: cannot queue %s event", event);
}

/* ---- sockets ---------------------------------------------------------------- */

static int sock_open(struct np_peer *p, int id, uint16_t port)
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

static void sock_close(struct np_peer *p, int id)
{
	struct np_sock *s = p->socks[id];

	if (!s)
		return;
	ev_io_stop(p->loop, &s->io);
	close(s->fd);
	free(s);
	p->socks[id] = NULL;
}

static void close_extra_sockets(struct np_peer *p, int keep)
{
	for (int i = 1; i <= MAX_EXTRA_SOCKETS; i++)
		if (i != keep)
			sock_close(p, i);
}

static int send_to(struct np_peer *p, int sock_id, const np_addr_t *to, const void *buf, size_t len, int ttl)
{
	int rc;

	if (sock_id < 0 || sock_id > MAX_EXTRA_SOCKETS || !p->socks[sock_id])
		return -EBADF;
	rc = np_udp_send(p->socks[sock_id]->fd, to, buf, len, ttl, NULL);
	if (rc < 0) {
		p->stats.send_errors++;
		if (np_log_get_level() >= NP_LOG_DEBUG) {
			char a[NP_ADDR_STRLEN];
			np_debug("send to %s failed: %s", astr(to, a), strerror(-rc));
		}
	}
	return rc;
}

/* ---- strategy host ----------------------------------------------------------- */

static void strategy_stop_timers(struct np_peer *p)
{
	for (int i = 0; i < NP_HOST_MAX_TIMERS; i++)
		ev_timer_stop(p->loop, &p->stimers[i].t);
}

/* Destroys the strategy instance; never called from inside its callbacks. */
static void strategy_destroy(struct np_peer *p)
{
	strategy_stop_timers(p);
	if (p->strat && p->mod) {
		p->mod->desc.destroy(p->strat);
		p->strat = NULL;
	}
	p->strat_done = 0;
}

/* Ends the attempt from inside a callback: the reap timer destroys it. */
static void strategy_finish(struct np_peer *p)
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
	return send_to(p, sock_id, to, buf, (size_t)len, ttl);
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
			return sock_open(p, i, 0);
	return -EMFILE;
}

static void h_close_socket(void *host, int sock_id)
{
	struct np_peer *p = host;

	if (sock_id > 0 && sock_id <= MAX_EXTRA_SOCKETS)
		sock_close(p, sock_id);
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

static void send_handshake_init(struct np_peer *p)
{
	uint8_t buf[256];
	size_t len;
	int rc;

	rc = np_session_create_init(&p->sess, np_mono_ms(), buf, sizeof(buf), &len);
	if (rc < 0) {
		np_err("cannot create handshake: %s", strerror(-rc));
		return;
	}
	p->last_init_ms = np_mono_ms();
	send_to(p, p->path_sock, &p->path_peer, buf, len, 0);
}

static void h_succeed(void *host, int sock_id, const np_addr_t *peer)
{
	struct np_peer *p = host;
	char a[NP_ADDR_STRLEN];

	if (!p->strat || p->strat_done || p->st != NP_ST_PUNCH || !peer || sock_id < 0 ||
	    sock_id > MAX_EXTRA_SOCKETS || !p->socks[sock_id])
		return;
	strategy_finish(p);
	/* No more registration refreshes: from a new socket they would start a
	 * new pairing round under our feet. */
	ev_timer_stop(p->loop, &p->reg_timer);
	/* The winning socket becomes the main one; the others close at once. */
	if (sock_id != 0) {
		struct np_sock *win = p->socks[sock_id];
		p->socks[sock_id] = NULL;
		sock_close(p, 0);
		win->id = 0;
		p->socks[0] = win;
		sock_id = 0;
	}
	close_extra_sockets(p, -1);
	p->path_sock = sock_id;
	p->path_peer = *peer;
	np_info("punch succeeded: peer %s reached with %s after %u probes (attempt %u)", astr(peer, a),
		p->mod->desc.name, p->probes_this_attempt, p->attempts);
	if (!p->secure) {
		enter_up(p);
		return;
	}
	set_state(p, NP_ST_HANDSHAKE);
	p->hs_tries = 0;
	ev_timer_stop(p->loop, &p->hs_timer);
	if (np_session_is_initiator(&p->sess)) {
		send_handshake_init(p);
		ev_timer_set(&p->hs_timer, 0.5, 0.);
	} else {
		ev_timer_set(&p->hs_timer, HANDSHAKE_TIMEOUT, 0.);
	}
	ev_timer_start(p->loop, &p->hs_timer);
}

static void punch_failed(struct np_peer *p, const char *reason)
{
	np_warn("punch failed (attempt %u, strategy %s): %s", p->attempts, strat_name(p), reason);
	if (reason != p->fail_reason)
		snprintf(p->fail_reason, sizeof(p->fail_reason), "%s", reason);
	fire_hook(p, "punch_failed", reason);
	enter_register(p, "retrying with a fresh socket");
}

static void h_fail(void *host, const char *reason)
{
	struct np_peer *p = host;

	if (!p->strat || p->strat_done || p->st != NP_ST_PUNCH)
		return;
	snprintf(p->fail_reason, sizeof(p->fail_reason), "%s", reason ? reason : "strategy gave up");
	strategy_finish(p);
	p->strat_done = 2; /* the reap timer reports the failure */
}

static void on_reap(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	int failed = p->strat_done == 2;

	strategy_destroy(p);
	if (failed && p->st == NP_ST_PUNCH)
		punch_failed(p, p->fail_reason);
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
	strategy_destroy(p);
	punch_failed(p, why);
}

/* ---- registration ------------------------------------------------------------ */

static void send_register(struct np_peer *p)
{
	struct np_msg_register m = { 0 };
	uint8_t buf[256];
	int len;

	m.flags = p->keys.has_token ? NP_REG_F_MAC : 0;
	m.nonce = p->reg_nonce;
	m.timestamp_ms = np_wall_ms();
	snprintf(m.session, sizeof(m.session), "%s", p->cfg->session);
	m.local = p->self_local;
	m.nat = p->self_nat;
	m.nat.depth = (uint8_t)(p->nat_depth < 0 ? 0 : p->nat_depth);
	len = np_wire_encode_register(buf, sizeof(buf), &m);
	if (len < 0)
		return;
	if (p->keys.has_token)
		np_auth_mac(p->keys.token_key, buf, (size_t)len - NP_MAC_LEN, buf + len - NP_MAC_LEN);
	send_to(p, 0, &p->server, buf, (size_t)len, 0);
}

static void on_reg_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	char a[NP_ADDR_STRLEN];

	if (p->st == NP_ST_REGISTER && !p->server_silent_logged &&
	    np_mono_ms() - p->cycle_start_ms > 5000) {
		np_warn("no answer from server %s yet; still trying (is it running, and is UDP port %u open?)",
			astr(&p->server, a), p->server.port);
		p->server_silent_logged = 1;
	}
	/* The socket could not be opened last time (say, --port still busy). */
	if (!p->socks[0]) {
		if (sock_open(p, 0, p->cfg->port) < 0)
			return;
		update_local_endpoint(p);
	}
	send_register(p);
}

static void update_local_endpoint(struct np_peer *p)
{
	np_addr_t local;

	memset(&p->self_local, 0, sizeof(p->self_local));
	if (np_udp_local(p->socks[0]->fd, &local) == 0 && np_route_source(&p->server, &p->self_local) == 0)
		p->self_local.port = local.port;
}

static void enter_register(struct np_peer *p, const char *why)
{
	char a[NP_ADDR_STRLEN];

	ev_timer_stop(p->loop, &p->attempt_timer);
	ev_timer_stop(p->loop, &p->hs_timer);
	ev_timer_stop(p->loop, &p->keepalive);
	ev_timer_stop(p->loop, &p->dead);
	ev_timer_stop(p->loop, &p->housekeeping);
	ev_timer_stop(p->loop, &p->reap);
	strategy_destroy(p);
	if (p->secure)
		np_session_reset(&p->sess);
	close_extra_sockets(p, -1);
	sock_close(p, 0);
	memset(&p->path_peer, 0, sizeof(p->path_peer));
	p->path_sock = 0;
	p->have_round = 0;
	p->mod = NULL;
	ev_timer_stop(p->loop, &p->reg_timer);
	ev_timer_stop(p->loop, &p->retry_timer);
	randombytes_buf(&p->reg_nonce, sizeof(p->reg_nonce));
	p->cycle_start_ms = np_mono_ms();
	p->server_silent_logged = 0;
	set_state(p, NP_ST_REGISTER);
	np_info("registering with %s as session '%s' (%s)", astr(&p->server, a), p->cfg->session, why);
	start_discovery(p);
}

/* Registration proper: a fresh main socket, then REGISTER every second.
 * It runs after discovery so that, behind a sequential NAT, the port the
 * server sees is the newest one the NAT handed out. */
static void start_registration(struct np_peer *p)
{
	if (sock_open(p, 0, p->cfg->port) < 0)
		np_warn("cannot open the UDP socket; retrying in 1 s");
	else
		update_local_endpoint(p);
	if (p->socks[0])
		send_register(p);
	ev_timer_set(&p->reg_timer, REGISTER_INTERVAL, REGISTER_INTERVAL);
	ev_timer_start(p->loop, &p->reg_timer);
}

static void on_discovery(const struct np_discovery_result *res, void *arg)
{
	struct np_peer *p = arg;
	char kind[32], text[128], ep[NP_ADDR_STRLEN];

	p->disc = NULL;
	if (res->error) {
		np_warn("%s", res->message);
	} else {
		p->self_nat = res->nat;
		np_info("NAT discovery: %s (%s), public endpoint %s", np_natclass_kind_str(&res->nat, kind, sizeof(kind)),
			np_natclass_describe(&res->nat, text, sizeof(text)),
			np_addr_str(&res->public_ep, ep, sizeof(ep)));
	}
	if (p->st == NP_ST_REGISTER && !p->stopping)
		start_registration(p);
}

static void start_discovery(struct np_peer *p)
{
	struct sockaddr_storage ss;
	int sl = np_addr_to_sockaddr(&p->server, &ss), rc;

	if (p->disc) {
		np_discovery_cancel(p->disc);
		p->disc = NULL;
	}
	rc = sl < 0 ? sl : np_discovery_start(p->loop, (struct sockaddr *)&ss, (socklen_t)sl, p->server.port, 0, -1,
					      on_discovery, p, &p->disc);
	if (rc < 0) {
		np_warn("NAT discovery could not start (%s); registering without it", strerror(-rc));
		p->disc = NULL;
		start_registration(p);
	}
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	enter_register(w->data, "retrying");
}

/* The NAT depth decides the opener TTL: configured, else learned. */
static void learn_depth(struct np_peer *p)
{
	if (p->cfg->nat_depth >= 0)
		p->nat_depth = p->cfg->nat_depth;
	else if (p->self_nat.known && (p->self_nat.depth || p->self_nat.mapping == NP_NAT_MAP_NONE))
		p->nat_depth = p->self_nat.depth;
	else if (p->self_public.family && p->self_local.family == p->self_public.family &&
		 memcmp(p->self_public.ip, p->self_local.ip, 16) == 0)
		p->nat_depth = 0;
	else
		p->nat_depth = 1;
}

static int server_msg_ok(struct np_peer *p, const uint8_t *buf, size_t mac_off, const uint8_t *mac, uint8_t flags,
			 uint32_t nonce, const np_addr_t *from)
{
	char a[NP_ADDR_STRLEN];

	if (!np_addr_equal(from, &p->server)) {
		np_debug("server message from %s, not from the server: ignored", astr(from, a));
		return 0;
	}
	if (nonce != p->reg_nonce) {
		np_debug("stale server message (nonce mismatch): ignored");
		return 0;
	}
	if (p->keys.has_token &&
	    (!(flags & NP_REG_F_MAC) || np_auth_verify(p->keys.token_key, buf, mac_off, mac) < 0)) {
		p->stats.bad_mac++;
		np_debug("server message without a valid token MAC: ignored");
		return 0;
	}
	return 1;
}

static void handle_register_ack(struct np_peer *p, const uint8_t *buf, size_t len, const np_addr_t *from)
{
	struct np_msg_register_ack m;
	char a[NP_ADDR_STRLEN];

	if (np_wire_parse_register_ack(buf, len, &m) < 0) {
		p->stats.bad++;
		return;
	}
	if (!server_msg_ok(p, buf, m.mac_offset, m.mac, m.flags, m.nonce, from))
		return;
	if (p->st == NP_ST_REGISTER) {
		p->self_public = m.observed;
		learn_depth(p);
		np_info("registered: public endpoint %s, NAT depth %d; waiting for the peer", astr(&m.observed, a),
			p->nat_depth);
		set_state(p, NP_ST_WAIT_PEER);
	}
}

static void handle_peer_info(struct np_peer *p, const uint8_t *buf, size_t len, const np_addr_t *from)
{
	struct np_msg_peer_info m;

	if (np_wire_parse_peer_info(buf, len, &m) < 0) {
		p->stats.bad++;
		return;
	}
	if (!server_msg_ok(p, buf, m.mac_offset, m.mac, m.flags, m.nonce, from))
		return;
	switch (p->st) {
	case NP_ST_REGISTER:
	case NP_ST_WAIT_PEER:
		start_punch(p, &m);
		break;
	case NP_ST_PUNCH:
	case NP_ST_HANDSHAKE:
		if (!p->have_round || m.round != p->round)
			start_punch(p, &m);
		break;
	case NP_ST_UP:
		break;
	}
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
		np_warn("%s; retrying in 30 s", why);
		fire_hook(p, "punch_failed", why);
		enter_register(p, "no direct path");
		/* Registration waits: the NATs will not change in a second. */
		ev_timer_stop(p->loop, &p->reg_timer);
		if (p->disc) {
			np_discovery_cancel(p->disc);
			p->disc = NULL;
		}
		ev_timer_set(&p->retry_timer, 30., 0.);
		ev_timer_start(p->loop, &p->retry_timer);
		return -EHOSTUNREACH;
	}
	for (i = 0; i < p->nmods; i++)
		if (strcmp(p->mods[i].desc.name, name) == 0)
			break;
	if (i == p->nmods) {
		if (p->nmods == (int)(sizeof(p->mods) / sizeof(p->mods[0])) ||
		    np_strategy_load(name, p->cfg->strategy_path, &p->mods[i], err, sizeof(err)) < 0) {
			np_err("auto: %s", err);
			punch_failed(p, "strategy could not be loaded");
			return -ENOENT;
		}
		p->nmods++;
	}
	p->mod = &p->mods[i];
	np_info("auto: %s (attempt %u)", why[0] ? why : name, p->attempts);
	return 0;
}

static void start_punch(struct np_peer *p, const struct np_msg_peer_info *pi)
{
	np_strategy_view_t v = { 0 };
	char a[NP_ADDR_STRLEN], b[NP_ADDR_STRLEN];
	int rc;

	ev_timer_stop(p->loop, &p->hs_timer);
	if (p->strat)
		strategy_destroy(p);
	close_extra_sockets(p, -1);
	if (p->secure)
		np_session_reset(&p->sess);
	memset(&p->path_peer, 0, sizeof(p->path_peer));
	p->round = pi->round;
	p->have_round = 1;
	p->role = pi->role;
	p->self_public = pi->observed;
	p->peer_public = pi->peer_public;
	p->peer_local = pi->peer_local;
	p->peer_nat = pi->peer_nat;
	learn_depth(p);
	p->high = p->secure ? memcmp(p->sess.s_pub, p->keys.peer_pub, 32) > 0 : pi->role == 1;
	randombytes_buf(p->nonce_salt, sizeof(p->nonce_salt));
	p->attempts++;
	p->attempt_start_ms = np_mono_ms();
	p->probes_this_attempt = 0;
	set_state(p, NP_ST_PUNCH);
	if (select_strategy(p) < 0)
		return;
	np_info("peer found: public %s, lan %s (round %u); punching with %s, opener TTL %d",
		astr(&pi->peer_public, a), astr(&pi->peer_local, b), pi->round, p->mod->desc.name,
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
	v.start_at_ms = np_mono_ms() + pi->start_in_ms;
	v.self_is_high = p->high;
	rc = p->mod->desc.create(&p->api, p, &p->strat);
	if (rc < 0) {
		p->strat = NULL;
		punch_failed(p, "strategy could not be created");
		return;
	}
	p->strat_done = 0;
	rc = p->mod->desc.start(p->strat, &v);
	if (rc < 0 && !p->strat_done) {
		strategy_destroy(p);
		punch_failed(p, "strategy could not start");
		return;
	}
	ev_timer_stop(p->loop, &p->attempt_timer);
	ev_timer_set(&p->attempt_timer,
		     (p->mod->desc.attempt_timeout_ms ? p->mod->desc.attempt_timeout_ms : DEFAULT_ATTEMPT_MS) / 1000.0,
		     0.);
	ev_timer_start(p->loop, &p->attempt_timer);
	ev_timer_set(&p->reg_timer, PUNCH_REFRESH_INTERVAL, PUNCH_REFRESH_INTERVAL);
	ev_timer_again(p->loop, &p->reg_timer);
}

/* ---- up, down, timers ---------------------------------------------------------- */

static void enter_up(struct np_peer *p)
{
	char a[NP_ADDR_STRLEN];

	ev_timer_stop(p->loop, &p->hs_timer);
	ev_timer_stop(p->loop, &p->reg_timer);
	ev_timer_stop(p->loop, &p->attempt_timer);
	set_state(p, NP_ST_UP);
	p->last_rx = p->last_tx = ev_now(p->loop);
	p->up_since = p->last_handshake = ev_now(p->loop);
	np_info("tunnel up peer=%s strategy=%s time_ms=%llu attempt=%u cipher=%s", astr(&p->path_peer, a),
		strat_name(p), (unsigned long long)(np_mono_ms() - p->cycle_start_ms), p->attempts,
		p->secure ? np_session_cipher_name(&p->sess) : "none (insecure)");
	ev_timer_set(&p->keepalive, p->cfg->keepalive_s, 0.);
	ev_timer_start(p->loop, &p->keepalive);
	ev_timer_set(&p->dead, p->cfg->dead_after_s, 0.);
	ev_timer_start(p->loop, &p->dead);
	if (p->secure) {
		ev_timer_set(&p->housekeeping, 1., 1.);
		ev_timer_start(p->loop, &p->housekeeping);
		/* The responder's keys are confirmed by this first packet. */
		np_dp_send_keepalive(p);
	}
	fire_hook(p, "up", p->secure ? "handshake complete" : "punch complete (insecure)");
	p->attempts = 0;
}

static void tunnel_down(struct np_peer *p, const char *reason)
{
	np_info("tunnel down: %s", reason);
	fire_hook(p, "down", reason);
	enter_register(p, "re-handshake");
}

/* Lazy timers ("be smart about timeouts"): the data path only stores times. */
static void on_keepalive(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	double after = p->last_tx + p->cfg->keepalive_s - ev_now(loop);

	if (p->st != NP_ST_UP)
		return;
	if (after <= 0.001) {
		np_dp_send_keepalive(p);
		after = p->cfg->keepalive_s;
	}
	ev_timer_set(w, after, 0.);
	ev_timer_start(loop, w);
}

static void on_dead(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	double after = p->last_rx + p->cfg->dead_after_s - ev_now(loop);
	char why[96];

	if (p->st != NP_ST_UP)
		return;
	if (after > 0.001) {
		ev_timer_set(w, after, 0.);
		ev_timer_start(loop, w);
		return;
	}
	snprintf(why, sizeof(why), "no packet from the peer for %.0f s", p->cfg->dead_after_s);
	tunnel_down(p, why);
}

static void on_housekeeping(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	uint64_t now = np_mono_ms();

	if (p->st != NP_ST_UP || !p->secure)
		return;
	if (np_session_needs_rekey(&p->sess, now) && now - p->last_init_ms >= 1000) {
		np_debug("rekeying");
		send_handshake_init(p);
	}
}

static void on_hs_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	double next;

	if (p->st != NP_ST_HANDSHAKE)
		return;
	if (!np_session_is_initiator(&p->sess) || ++p->hs_tries > 5) {
		char a[NP_ADDR_STRLEN];
		np_warn("handshake with %s timed out: no valid answer (does --peer-key match the peer's key, "
			"and ours the key it was given?)",
			astr(&p->path_peer, a));
		fire_hook(p, "punch_failed", "handshake timed out");
		enter_register(p, "handshake timed out");
		return;
	}
	send_handshake_init(p);
	next = 0.5 * (double)(1u << p->hs_tries); /* backoff: 1, 2, 4, 8 s */
	ev_timer_set(w, next, 0.);
	ev_timer_start(loop, w);
}

static void on_warn(struct ev_loop *loop, ev_timer *w, int revents)
{
	np_warn("INSECURE MODE: this tunnel is neither authenticated nor encrypted; anyone who can reach "
		"its UDP port can read and inject traffic");
}

/* ---- packets from the peer ------------------------------------------------------ */

static void auth_warn(struct np_peer *p, const char *what, const np_addr_t *from)
{
	char a[NP_ADDR_STRLEN];

	if (ev_now(p->loop) - p->last_auth_warn < 5.0) {
		np_debug("%s from %s", what, astr(from, a));
		return;
	}
	p->last_auth_warn = ev_now(p->loop);
	np_warn("%s from %s", what, astr(from, a));
}

static void handle_probe(struct np_peer *p, struct np_sock *s, const uint8_t *buf, size_t len,
			 const np_addr_t *from)
{
	struct np_msg_probe m;

	if (np_wire_parse_probe(buf, len, &m) < 0) {
		p->stats.bad++;
		return;
	}
	if (np_auth_verify(p->probe_key, buf, NP_PROBE_MAC_OFFSET, m.mac) < 0) {
		p->stats.bad_mac++;
		auth_warn(p,
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

static void handle_init(struct np_peer *p, struct np_sock *s, const uint8_t *buf, size_t len, const np_addr_t *from)
{
	uint8_t resp[256];
	size_t rlen;
	int rc;

	if (!p->secure || p->st < NP_ST_PUNCH)
		return;
	if (s->id != 0 && p->st != NP_ST_PUNCH)
		return;
	rc = np_session_handle_init(&p->sess, np_mono_ms(), buf, len, resp, sizeof(resp), &rlen);
	if (rc < 0) {
		if (rc == -EKEYREJECTED)
			auth_warn(p, "handshake rejected: the peer's key does not match --peer-key (or a corrupted packet)",
				  from);
		else if (rc == -EALREADY)
			np_debug("replayed handshake initiation ignored");
		else
			p->stats.bad++;
		return;
	}
	if (p->st == NP_ST_PUNCH) {
		/* The initiator's punch finished first: its handshake is our proof of the path. */
		if (p->strat && !p->strat_done)
			strategy_finish(p);
		ev_timer_stop(p->loop, &p->reg_timer);
		if (s->id != 0) {
			struct np_sock *win = p->socks[s->id];
			p->socks[s->id] = NULL;
			sock_close(p, 0);
			win->id = 0;
			p->socks[0] = win;
			s = win;
		}
		close_extra_sockets(p, -1);
		set_state(p, NP_ST_HANDSHAKE);
		ev_timer_stop(p->loop, &p->hs_timer);
		ev_timer_set(&p->hs_timer, HANDSHAKE_TIMEOUT, 0.);
		ev_timer_start(p->loop, &p->hs_timer);
	}
	p->path_sock = 0;
	p->path_peer = *from;
	if (p->st == NP_ST_UP)
		p->last_handshake = ev_now(p->loop);
	send_to(p, 0, from, resp, rlen, 0);
}

static void handle_resp(struct np_peer *p, struct np_sock *s, const uint8_t *buf, size_t len, const np_addr_t *from)
{
	int rc;

	if (!p->secure || (p->st != NP_ST_HANDSHAKE && p->st != NP_ST_UP) || s->id != 0)
		return;
	rc = np_session_handle_resp(&p->sess, np_mono_ms(), buf, len);
	if (rc < 0) {
		if (rc == -EKEYREJECTED)
			auth_warn(p, "handshake response rejected: the peer's key does not match --peer-key", from);
		else
			p->stats.bad++;
		return;
	}
	p->hs_rtt_ms = (double)(np_mono_ms() - p->last_init_ms);
	if (p->st == NP_ST_HANDSHAKE) {
		p->path_peer = *from;
		enter_up(p);
	} else {
		p->last_handshake = ev_now(p->loop);
		np_debug("rekeyed");
		np_dp_send_keepalive(p);
	}
}

void np_peer_authenticated_rx(struct np_peer *p, struct np_sock *s, const np_addr_t *from)
{
	char a[NP_ADDR_STRLEN], b[NP_ADDR_STRLEN];

	p->last_rx = ev_now(p->loop);
	if (p->st == NP_ST_HANDSHAKE && p->secure) {
		p->path_peer = *from;
		enter_up(p);
		return;
	}
	if (p->secure && !np_addr_equal(from, &p->path_peer)) {
		np_info("peer moved from %s to %s", astr(&p->path_peer, a), astr(from, b));
		p->path_peer = *from;
		fire_hook(p, "endpoint_change", "peer roamed");
	}
}

void np_peer_control(struct np_peer *p, struct np_sock *s, uint8_t *buf, size_t len, const np_addr_t *from)
{
	int type = np_wire_type(buf, len);

	switch (type) {
	case NP_MSG_REGISTER_ACK:
		handle_register_ack(p, buf, len, from);
		break;
	case NP_MSG_PEER_INFO:
		handle_peer_info(p, buf, len, from);
		break;
	case NP_MSG_PROBE:
	case NP_MSG_PROBE_ACK:
		handle_probe(p, s, buf, len, from);
		break;
	case NP_MSG_HANDSHAKE_INIT:
		handle_init(p, s, buf, len, from);
		break;
	case NP_MSG_HANDSHAKE_RESP:
		handle_resp(p, s, buf, len, from);
		break;
	default:
		p->stats.bad++;
		if (np_log_get_level() >= NP_LOG_DEBUG) {
			char a[NP_ADDR_STRLEN];
			np_debug("dropped datagram type %d (%zu bytes) from %s (%llu bad so far)", type, len,
				 astr(from, a), (unsigned long long)p->stats.bad);
		}
	}
}

/* ---- status ------------------------------------------------------------------------ */

#define REPORT(...)                                                             \
	do {                                                                    \
		if (n < cap) {                                                  \
			int w_ = snprintf(buf + n, cap - n, __VA_ARGS__);       \
			n += w_ > 0 ? (size_t)w_ : 0;                           \
		}                                                               \
	} while (0)

/* One "key: value" line per fact, for natpunch status (np_control.c). */
static size_t status_report(void *arg, char *buf, size_t cap)
{
	struct np_peer *p = arg;
	double now = ev_now(p->loop);
	char a[NP_ADDR_STRLEN], ks[32], text[128];
	size_t n = 0;

	REPORT("interface: %s\n", p->ifname);
	REPORT("state: %s\n", np_peer_state_name(p->st));
	REPORT("session: %s\n", p->cfg->session);
	REPORT("server: %s\n", astr(&p->server, a));
	REPORT("security: %s\n", p->secure ? (p->keys.has_psk ? "Noise IKpsk2" : "Noise IK") : "INSECURE (plaintext)");
	if (p->secure && p->st == NP_ST_UP)
		REPORT("cipher: %s\n", np_session_cipher_name(&p->sess));
	REPORT("public_endpoint: %s\n", astr(&p->self_public, a));
	REPORT("local_endpoint: %s\n", astr(&p->self_local, a));
	REPORT("nat_self: %s\n", p->self_nat.known ? np_natclass_kind_str(&p->self_nat, ks, sizeof(ks)) : "unknown");
	if (p->self_nat.known)
		REPORT("nat_self_detail: %s\n", np_natclass_describe(&p->self_nat, text, sizeof(text)));
	REPORT("nat_peer: %s\n", p->peer_nat.known ? np_natclass_kind_str(&p->peer_nat, ks, sizeof(ks)) : "unknown");
	REPORT("nat_depth: %d\n", p->nat_depth);
	REPORT("strategy: %s\n", strat_name(p));
	if (p->st == NP_ST_UP) {
		REPORT("peer_endpoint: %s\n", astr(&p->path_peer, a));
		REPORT("path: direct\n");
		REPORT("up_seconds: %.0f\n", now - p->up_since);
		REPORT("last_handshake_seconds_ago: %.0f\n", now - p->last_handshake);
		REPORT("last_packet_seconds_ago: %.1f\n", now - p->last_rx);
		if (p->hs_rtt_ms > 0)
			REPORT("handshake_rtt_ms: %.0f\n", p->hs_rtt_ms);
	} else {
		REPORT("attempts: %u\n", p->attempts);
		if (p->fail_reason[0])
			REPORT("last_failure: %s\n", p->fail_reason);
	}
	REPORT("data_path: %s\n", p->dp.path ? p->dp.path : "unknown");
	REPORT("tx_packets: %llu\n", (unsigned long long)p->stats.tx_packets);
	REPORT("tx_bytes: %llu\n", (unsigned long long)p->stats.tx_bytes);
	REPORT("rx_packets: %llu\n", (unsigned long long)p->stats.rx_packets);
	REPORT("rx_bytes: %llu\n", (unsigned long long)p->stats.rx_bytes);
	REPORT("dropped_malformed: %llu\n", (unsigned long long)p->stats.bad);
	REPORT("dropped_unauthenticated: %llu\n", (unsigned long long)p->stats.bad_mac);
	REPORT("dropped_replayed: %llu\n", (unsigned long long)p->stats.replay);
	REPORT("dropped_not_up: %llu\n", (unsigned long long)p->stats.not_up);
	REPORT("probes_sent: %llu\n", (unsigned long long)p->stats.probes_sent);
	return n < cap ? n : cap - 1;
}

/* ---- life cycle ------------------------------------------------------------------- */

int np_peer_new(struct ev_loop *loop, const struct np_config *cfg, const struct np_peer_keys *keys,
		struct np_hooks *hooks, struct np_peer **out, char *err, size_t errlen)
{
	struct np_peer *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	p->loop = loop;
	p->cfg = cfg;
	p->keys = *keys;
	p->hooks = hooks;
	p->secure = !cfg->insecure;
	p->tun_fd = -1;
	p->nat_depth = cfg->nat_depth < 0 ? 1 : cfg->nat_depth;
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
	ev_timer_init(&p->reg_timer, on_reg_timer, REGISTER_INTERVAL, REGISTER_INTERVAL);
	ev_timer_init(&p->attempt_timer, on_attempt_timeout, 1., 0.);
	ev_timer_init(&p->hs_timer, on_hs_timer, 1., 0.);
	ev_timer_init(&p->keepalive, on_keepalive, 1., 0.);
	ev_timer_init(&p->dead, on_dead, 1., 0.);
	ev_timer_init(&p->housekeeping, on_housekeeping, 1., 1.);
	ev_timer_init(&p->warn_timer, on_warn, 60., 60.);
	ev_timer_init(&p->retry_timer, on_retry, 30., 0.);
	p->retry_timer.data = p;
	p->reap.data = p->reg_timer.data = p->attempt_timer.data = p->hs_timer.data = p;
	p->keepalive.data = p->dead.data = p->housekeeping.data = p->warn_timer.data = p;

	p->server.port = cfg->server_port;
	rc = np_resolve(cfg->server_host, 0, &p->server, err, errlen);
	if (rc < 0)
		goto fail;
	p->server.port = cfg->server_port;
	p->auto_mode = strcmp(cfg->strategy, "auto") == 0;
	if (!p->auto_mode) {
		rc = np_strategy_load(cfg->strategy, cfg->strategy_path, &p->mods[0], err, errlen);
		if (rc < 0)
			goto fail;
		p->nmods = 1;
	}
	if (p->secure) {
		rc = np_session_init(&p->sess, keys->priv, keys->peer_pub, keys->has_psk ? keys->psk : NULL);
		if (rc == 0)
			rc = np_auth_probe_key(keys->priv, keys->peer_pub, keys->has_psk ? keys->psk : NULL,
					       p->probe_key);
		if (rc < 0) {
			snprintf(err, errlen, "cannot set up the session: invalid --peer-key");
			goto fail;
		}
		if (memcmp(p->sess.s_pub, keys->peer_pub, 32) == 0) {
			snprintf(err, errlen, "--peer-key is our own public key; give the other peer's key");
			rc = -EINVAL;
			goto fail;
		}
		if (cfg->rekey_after_s > 0)
			np_session_set_rekey_after_ms(&p->sess, (uint64_t)(cfg->rekey_after_s * 1000));
		if (cfg->cipher >= 0 && np_session_set_cipher(&p->sess, cfg->cipher) < 0) {
			snprintf(err, errlen, "--cipher aes-256-gcm needs hardware AES, which this CPU lacks");
			rc = -ENOTSUP;
			goto fail;
		}
	} else {
		np_auth_insecure_probe_key(cfg->session, p->probe_key);
	}
	rc = np_tun_open(cfg->tun_name, cfg->offload ? NP_TUN_VNET : 0, p->ifname, err, errlen);
	if (rc < 0)
		goto fail;
	p->tun_fd = rc;
	rc = np_tun_configure(p->ifname, &cfg->local_ip, &cfg->remote_ip, cfg->mtu, err, errlen);
	if (rc < 0)
		goto fail;
	rc = np_dp_init(p);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory for packet buffers");
		goto fail;
	}
	if (!cfg->control_path || strcmp(cfg->control_path, "none") != 0) {
		char cerr[256];
		if (np_control_open(loop, cfg->control_path, p->ifname, status_report, p, &p->ctl, cerr,
				    sizeof(cerr)) < 0)
			np_warn("%s; natpunch status will not see this tunnel", cerr);
	}
	ev_io_init(&p->tun_io, np_dp_on_tun, p->tun_fd, EV_READ);
	p->tun_io.data = p;
	ev_io_start(loop, &p->tun_io);
	np_info("tun %s up: %s", p->ifname, p->secure ? "authenticated and encrypted (Noise IK)" : "INSECURE");
	if (!p->secure) {
		on_warn(loop, &p->warn_timer, 0);
		ev_timer_start(loop, &p->warn_timer);
	}
	enter_register(p, "start");
	*out = p;
	return 0;
fail:
	np_peer_free(p);
	return rc;
}

static void stop_finished(void *arg)
{
	struct np_peer *p = arg;

	if (p->stop_done)
		p->stop_done(p->stop_arg);
}

void np_peer_stop(struct np_peer *p, void (*done)(void *), void *arg)
{
	p->stopping = 1;
	p->stop_done = done;
	p->stop_arg = arg;
	ev_timer_stop(p->loop, &p->reg_timer);
	if (p->hooks) {
		if (p->st == NP_ST_UP)
			fire_hook(p, "down", "shutdown");
		np_hooks_on_idle(p->hooks, stop_finished, p);
		return;
	}
	stop_finished(p);
}

void np_peer_free(struct np_peer *p)
{
	if (!p)
		return;
	strategy_destroy(p);
	ev_timer_stop(p->loop, &p->reap);
	ev_timer_stop(p->loop, &p->reg_timer);
	ev_timer_stop(p->loop, &p->attempt_timer);
	ev_timer_stop(p->loop, &p->hs_timer);
	ev_timer_stop(p->loop, &p->keepalive);
	ev_timer_stop(p->loop, &p->dead);
	ev_timer_stop(p->loop, &p->housekeeping);
	ev_timer_stop(p->loop, &p->warn_timer);
	for (int i = 0; i <= MAX_EXTRA_SOCKETS; i++)
		sock_close(p, i);
	if (p->tun_fd >= 0) {
		ev_io_stop(p->loop, &p->tun_io);
		close(p->tun_fd);
	}
	np_control_close(p->ctl);
	for (int i = 0; i < p->nmods; i++)
		np_strategy_unload(&p->mods[i]);
	if (p->disc)
		np_discovery_cancel(p->disc);
	ev_timer_stop(p->loop, &p->retry_timer);
	if (p->secure)
		np_session_destroy(&p->sess);
	np_dp_free(p);
	sodium_memzero(&p->keys, sizeof(p->keys));
	sodium_memzero(p->probe_key, sizeof(p->probe_key));
	free(p);
}
