/* np_peer: the control plane of one tunnel. The state machine, NAT
 * discovery and registration with the server, the Noise handshake, the
 * keepalive/dead/rekey timers, hook events, and the tunnel's life cycle.
 * The punch itself (strategy host, probes) is np_punch.c, driven through
 * the upcalls in np_peer_punch.c; the sockets are np_sock.c. */
#include "np_peer_int.h"

#include "np_auth.h"
#include "np_control.h"
#include "np_discovery.h"
#include "np_natclass.h"
#include "np_hookd.h"
#define NP_LOG_COMPONENT "peer"
#include "np_log.h"
#include "np_time.h"
#include "np_tun.h"
#include "np_udp.h"
#include "np_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REGISTER_INTERVAL 1.0
#define PUNCH_REFRESH_INTERVAL 2.0
#define HANDSHAKE_TIMEOUT 10.0
#define SEQ_START_DELAY_MS 250  /* see pairing_attempt() */
#define STALE_HOLD 3.0
#define STALE_HOLD_MAX 8.0     /* see stale_hold_s() */
#define PEER_SLOW_MARGIN 2.0   /* see stale_hold_s() */
/* Up, keep registering from the main socket (the server forgets a
 * registration after 10 s by default): a peer that restarts is then paired
 * with us at once (np_rejoin.h). */
#define UP_REGISTER_INTERVAL 4.0

static void start_discovery(struct np_peer *p);
static void start_registration(struct np_peer *p);
static void use_discovery(struct np_peer *p, const struct np_discovery_result *res, double ago_s);
static void start_punch(struct np_peer *p, const struct np_msg_peer_info *pi);
static void np_peer_enter_up(struct np_peer *p);

const char *np_peer_state_name(enum np_peer_state st)
{
	static const char *names[] = { "REGISTER", "WAIT_PEER", "PUNCH", "HANDSHAKE", "UP" };
	return (unsigned)st < 5 ? names[st] : "?";
}

void np_peer_set_state(struct np_peer *p, enum np_peer_state st)
{
	if (p->st != st)
		np_debug("state %s -> %s", np_peer_state_name(p->st), np_peer_state_name(st));
	p->st = st;
	if (p->state_fn) {
		char sum[160];

		np_peer_status_summary(p, sum, sizeof(sum));
		p->state_fn(p->state_arg, sum);
	}
}

void np_peer_on_state(struct np_peer *p, void (*fn)(void *arg, const char *summary), void *arg)
{
	p->state_fn = fn;
	p->state_arg = arg;
	np_peer_set_state(p, p->st);
}

/* ---- hooks ---------------------------------------------------------------- */

static const char *nat_kind(const np_nat_info_t *n, char *buf, size_t cap)
{
	return n->known ? np_natclass_kind_str(n, buf, cap) : NULL;
}

void np_peer_fire_hook(struct np_peer *p, const char *event, const char *reason)
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
	ev.strategy = np_punch_strategy_name(&p->punch);
	ev.attempts = (int)p->attempts;
	ev.session = p->cfg->session;
	if (p->st == NP_ST_UP)
		ev.path = np_relay_on_path(p) ? "relayed" : "direct";
	if (np_hookd_fire(p->hooks, &ev) < 0)
		np_warn("cannot queue hook event %s", event);
}

static void old_hooks_idle(void *arg)
{
	struct np_peer *p = arg;

	np_hookd_free(p->hooks_draining);
	p->hooks_draining = NULL;
	if (p->hooks && p->st == NP_ST_UP && !p->stopping && !np_hookd_up_active(p->hooks))
		np_peer_fire_hook(p, "up", "reload");
}

void np_peer_replace_hooks(struct np_peer *p, struct np_hookd *hooks)
{
	struct np_hookd *old = p->hooks;

	if (p->hooks_draining) {        /* a reload while the last one drains */
		np_hookd_free(p->hooks_draining);
		p->hooks_draining = NULL;
	}
	p->hooks = hooks;
	if (!old) {
		if (hooks && p->st == NP_ST_UP)
			np_peer_fire_hook(p, "up", "reload");
		return;
	}
	if (np_hookd_up_active(old)) {
		p->hooks = old;
		np_peer_fire_hook(p, "down", "reload");
		p->hooks = hooks;
	}
	p->hooks_draining = old;
	np_hookd_on_idle(old, old_hooks_idle, p);
}

void np_peer_send_init_to(struct np_peer *p, int sock_id, const np_addr_t *to)
{
	uint8_t buf[256];
	size_t len;
	int rc;

	rc = np_session_create_init(&p->sess, np_mono_ms(), buf, sizeof(buf), &len);
	if (rc < 0) {
		np_err_e(rc, "cannot create handshake");
		return;
	}
	p->last_init_ms = np_mono_ms();
	p->hs_to = *to;
	if (len <= sizeof(p->hs_init)) {
		memcpy(p->hs_init, buf, len);
		p->hs_init_len = len;
	}
	np_sock_send(p, sock_id, to, buf, len, 0);
}

static void send_handshake_init(struct np_peer *p)
{
	np_peer_send_init_to(p, p->path_sock, &p->path_peer);
}

/* ---- registration ------------------------------------------------------------ */

static uint16_t main_port(struct np_peer *p)
{
	return p->fresh_port ? 0 : p->cfg->port;
}

void np_peer_send_register(struct np_peer *p)
{
	struct np_msg_register m = { 0 };
	uint8_t buf[256];
	int len;

	m.flags = p->keys.has_token ? NP_REG_F_MAC : 0;
	if (p->have_reg_cookie) {
		m.flags |= NP_REG_F_COOKIE;
		memcpy(m.cookie, p->reg_cookie, NP_COOKIE_LEN);
	}
	m.nonce = p->reg_nonce;
	m.timestamp_ms = np_wall_ms();
	snprintf(m.session, sizeof(m.session), "%s", p->cfg->session);
	m.local = p->self_local;
	m.nat = p->self_nat;
	m.nat.depth = (uint8_t)(p->nat_depth < 0 ? 0 : p->nat_depth);
	m.relay = p->relay_self;
	/* What discovery just saw, so the peer predicts from now: a --port
	 * socket's mapping toward the server may be much older. Only then: a
	 * socket on an ephemeral port is opened after discovery, so the
	 * server's view of it is the newer one (and where a sequential NAT
	 * wrapped around its port range in between, the discovered port would
	 * look ahead of it and mislead the peer). Not once up: by then it is
	 * old news too (a new cycle discovers again). */
	if (p->st != NP_ST_UP && !p->no_mapped && main_port(p) && p->self_mapped.family == p->server.family)
		m.mapped = p->self_mapped;
	len = np_wire_encode_register(buf, sizeof(buf), &m);
	if (len < 0)
		return;
	if (p->keys.has_token)
		np_auth_server_mac(p->keys.token_key, p->server.port, buf, (size_t)len - NP_MAC_LEN,
				   buf + len - NP_MAC_LEN);
	if (p->regtcp && np_regtcp_send(p, buf, (size_t)len) == 0)
		return;
	np_sock_send(p, 0, &p->server, buf, (size_t)len, 0);
	/* In any state: a relayed peer keeps registering, and must find the
	 * server over TCP again after the server was away. */
	p->udp_unanswered++;
}

/* UDP got no answer from the server at all: register over TCP, and relay
 * over TCP or TLS (a network without UDP has no direct path). */
static void maybe_tcp(struct np_peer *p)
{
	char a[NP_ADDR_STRLEN];

	/* A discovery that got answers over UDP a moment ago says UDP passes:
	 * unanswered REGISTERs then are more likely loss (three in a row
	 * happen on a lossy path), and a registration over TCP shows the
	 * server our TCP mapping, not the UDP one the peer must punch to. */
	if (p->regtcp || p->udp_unanswered < (p->disc_udp_ok ? REGISTER_UDP_TRIES_DISC : REGISTER_UDP_TRIES))
		return;
	/* Up over UDP (direct, or through a relay over UDP): UDP works, the
	 * server is only away for now. */
	if (p->st == NP_ST_UP && (!np_relay_on_path(p) || np_relay_over_udp(p)))
		return;
	if (np_regtcp_start(p) < 0)
		return;
	np_warn("no answer from server %s over UDP after %u REGISTERs: registering over TCP (this network "
		"may pass no UDP; the tunnel will be relayed)", np_astr(&p->server, a), p->udp_unanswered);
	np_relay_no_udp(p);
}

static void on_reg_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	char a[NP_ADDR_STRLEN];

	if (p->st == NP_ST_REGISTER && !p->server_silent_logged &&
	    np_mono_ms() - p->cycle_start_ms > 5000) {
		np_warn("no answer from server %s yet; still trying (is it running, and is UDP port %u open?)",
			np_astr(&p->server, a), p->server.port);
		p->server_silent_logged = 1;
	}
	/* The server answered discovery over UDP but not one REGISTER, not
	 * even with a cookie: a server older than the MAPPED field drops such
	 * a REGISTER as malformed. Register without it from now on (before
	 * the TCP fallback, which is for networks that pass no UDP). */
	if (p->st == NP_ST_REGISTER && !p->have_reg_cookie && !p->no_mapped && main_port(p) && p->self_mapped.family &&
	    p->udp_unanswered >= REGISTER_UDP_TRIES - 1) {
		np_warn("no answer from server %s to REGISTER with the MAPPED field although it answered NAT "
			"discovery: an older server? registering without it", np_astr(&p->server, a));
		p->no_mapped = 1;
		p->udp_unanswered = 0;
	}
	maybe_tcp(p);
	/* The socket could not be opened last time (say, --port still busy). */
	if (!p->socks[0]) {
		if (np_sock_open(p, 0, main_port(p)) < 0)
			return;
		np_peer_main_socket_changed(p);
	}
	np_peer_send_register(p);
}

/* The main socket is new, or its address may have changed: learn our LAN
 * endpoint again. */
void np_peer_main_socket_changed(struct np_peer *p)
{
	np_addr_t local;

	/* A cookie belongs to the socket's source address and port. */
	p->have_reg_cookie = 0;
	memset(&p->self_local, 0, sizeof(p->self_local));
	if (np_udp_local(p->socks[0]->fd, &local) == 0 && np_route_source(&p->server, &p->self_local) == 0)
		p->self_local.port = local.port;
}

void np_peer_enter_register(struct np_peer *p, const char *why)
{
	const struct np_discovery_result *pre;
	char a[NP_ADDR_STRLEN];
	double ago;
	int failed = p->st >= NP_ST_PUNCH;

	ev_timer_stop(p->loop, &p->hs_timer);
	ev_timer_stop(p->loop, &p->keepalive);
	ev_timer_stop(p->loop, &p->dead);
	ev_timer_stop(p->loop, &p->housekeeping);
	np_pmtud_stop(p);
	np_recover_stop(p);
	np_recover_silence_reset(p);
	np_peer_rejoin_stop(p);
	np_switch_stop(p);
	np_punch_reset(&p->punch);
	if (p->secure)
		np_session_reset(&p->sess);
	np_sock_close_extra(p, -1);
	np_sock_close(p, 0);
	np_family_cycle(p, failed);
	memset(&p->path_peer, 0, sizeof(p->path_peer));
	p->path_sock = 0;
	p->have_round = 0;
	ev_timer_stop(p->loop, &p->reg_timer);
	ev_timer_stop(p->loop, &p->retry_timer);
	ev_timer_stop(p->loop, &p->hold_timer);
	p->have_held = 0;
	randombytes_buf(&p->reg_nonce, sizeof(p->reg_nonce));
	p->cycle_start_ms = np_mono_ms();
	p->server_silent_logged = 0;
	p->disc_udp_ok = 0;
	p->reg_sent_at = 0.;
	np_peer_set_state(p, NP_ST_REGISTER);
	np_info("registering with %s as session '%s' (%s)", np_astr(&p->server, a), p->cfg->session, why);
	pre = np_recover_take_discovery(p, &ago);
	if (pre) {
		use_discovery(p, pre, ago);
		start_registration(p);
		return;
	}
	start_discovery(p);
}

/* Registration proper: a fresh main socket, then REGISTER every second.
 * It runs after discovery so that, behind a sequential NAT, the port the
 * server sees is the newest one the NAT handed out. */
static void start_registration(struct np_peer *p)
{
	char a[NP_ADDR_STRLEN];

	if (p->fresh_port)
		np_info("registering from a fresh port, not --port %u: the NATs may still hold state from the "
			"failed path (%s)", p->cfg->port, np_astr(&p->server, a));
	if (np_sock_open(p, 0, main_port(p)) < 0)
		np_warn("cannot open the UDP socket; retrying in 1 s");
	else
		np_peer_main_socket_changed(p);
	if (p->socks[0])
		np_peer_send_register(p);
	p->reg_sent_at = ev_now(p->loop);
	ev_timer_set(&p->reg_timer, REGISTER_INTERVAL, REGISTER_INTERVAL);
	ev_timer_start(p->loop, &p->reg_timer);
}

/* Our NAT facts for this registration cycle, from `res` (ago_s: taken that
 * long ago, during the recovery before). */
static void use_discovery(struct np_peer *p, const struct np_discovery_result *res, double ago_s)
{
	char kind[32], text[128], ep[NP_ADDR_STRLEN], when[64] = "";

	/* Never the facts of an earlier discovery (a failed attempt's). */
	memset(&p->self_mapped, 0, sizeof(p->self_mapped));
	p->disc_udp_ok = !res->error;
	if (res->error) {
		np_warn("%s", res->message);
		return;
	}
	p->self_nat = res->nat;
	p->self_mapped = res->latest_ep;
	if (ago_s > 0)
		snprintf(when, sizeof(when), " (run while re-punching, %.1f s ago)", ago_s);
	np_info("NAT discovery%s: %s (%s), public endpoint %s", when, np_natclass_kind_str(&res->nat, kind, sizeof(kind)),
		np_natclass_describe(&res->nat, text, sizeof(text)), np_addr_str(&res->public_ep, ep, sizeof(ep)));
}

static void on_discovery(const struct np_discovery_result *res, void *arg)
{
	struct np_peer *p = arg;

	p->disc = NULL;
	use_discovery(p, res, 0);
	if (p->st == NP_ST_REGISTER && !p->stopping)
		start_registration(p);
}

int np_peer_discover(struct np_peer *p, np_discovery_cb cb, struct np_discovery **out)
{
	struct sockaddr_storage ss;
	int sl = np_addr_to_sockaddr(&p->server, &ss);

	if (sl < 0)
		return sl;
	return np_discovery_start(p->loop, (struct sockaddr *)&ss, (socklen_t)sl, p->server.port, 0,
				  p->keys.has_token ? p->keys.token_key : NULL, cb, p, out);
}

static void start_discovery(struct np_peer *p)
{
	int rc;

	if (p->disc) {
		np_discovery_cancel(p->disc);
		p->disc = NULL;
	}
	rc = np_peer_discover(p, on_discovery, &p->disc);
	if (rc < 0) {
		np_warn_e(rc, "NAT discovery could not start, registering without it");
		p->disc = NULL;
		start_registration(p);
	}
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	np_peer_enter_register(w->data, "retrying");
}

/* The NAT depth decides the opener TTL: configured, else learned. */
void np_peer_learn_depth(struct np_peer *p)
{
	if (p->cfg->nat_depth >= 0)
		p->nat_depth = p->cfg->nat_depth;
	else if (p->self_nat.known && (p->self_nat.depth || p->self_nat.mapping == NP_NAT_MAP_NONE))
		p->nat_depth = p->self_nat.depth;
	else if (np_addr_same_ip(&p->self_public, &p->self_local))
		p->nat_depth = 0;
	else
		p->nat_depth = 1;
}

static int server_msg_ok(struct np_peer *p, const uint8_t *buf, size_t mac_off, const uint8_t *mac, uint8_t flags,
			 uint32_t nonce, const np_addr_t *from)
{
	char a[NP_ADDR_STRLEN];

	if (!np_addr_equal(from, &p->server)) {
		np_debug("server message from %s, not from the server: ignored", np_astr(from, a));
		return 0;
	}
	if (nonce != p->reg_nonce) {
		np_debug("stale server message (nonce mismatch): ignored");
		return 0;
	}
	if (p->keys.has_token && (!(flags & NP_REG_F_MAC) ||
				  np_auth_server_verify(p->keys.token_key, p->server.port, buf, mac_off, mac) < 0)) {
		p->stats.bad_mac++;
		np_debug("server message without a valid token MAC: ignored");
		return 0;
	}
	p->udp_unanswered = 0;
	p->server_heard_at = ev_now(p->loop);
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
		np_peer_learn_depth(p);
		np_info("registered: public endpoint %s, NAT depth %d; waiting for the peer", np_astr(&m.observed, a),
			p->nat_depth);
		np_peer_set_state(p, NP_ST_WAIT_PEER);
	}
}

/* Our public endpoint as the server saw it when the peer last answered
 * (self_public, once a packet from the peer came after the PEER_INFO that
 * named it; the one before, until then). */
static const np_addr_t *good_public(const struct np_peer *p)
{
	return p->self_public_at <= p->last_rx ? &p->self_public : &p->good_public;
}

static void note_observed(struct np_peer *p, const np_addr_t *observed)
{
	p->good_public = *good_public(p);
	p->self_public = *observed;
	p->self_public_at = ev_now(p->loop);
}

/* A sequential NAT on either side: a punch spends ports there. */
int np_peer_seq_pair(const struct np_peer *p)
{
	return p->self_nat.allocation == NP_NAT_ALLOC_SEQUENTIAL || p->peer_nat.allocation == NP_NAT_ALLOC_SEQUENTIAL;
}

/* A round m that names the peer's socket of the pairing the tunnel came up
 * in (its LAN endpoint then), where a punch spends ports: the peer is about
 * to leave that socket and register afresh; hold such a round (stale_peer,
 * stale_local) for its fresh registration. A round from a new socket is
 * that fresh registration: use it. */
static void mark_stale_round(struct np_peer *p, const struct np_msg_peer_info *m)
{
	if (np_peer_seq_pair(p) && np_addr_equal(&m->peer_local, &p->up_peer_local))
		p->stale_peer = m->peer_public, p->stale_local = m->peer_local;
}

/* How long to hold a round that names the peer endpoint of a failed
 * attempt (stale_peer, stale_local) for the peer's fresh registration:
 * STALE_HOLD, as the peer failed too. Where a punch spends ports and the
 * round names the peer's socket of the tunnel that was up, the peer may
 * not have noticed anything yet (no data of its own to go unanswered):
 * its slow silence rule (np_recover_suspect_s() after the last packet it
 * heard, about when we heard its last) makes it ask the server from that
 * socket, and our fresh round then makes it leave it; hold until then,
 * plus PEER_SLOW_MARGIN for its REGISTER, at most STALE_HOLD_MAX.
 * Punching the held round alone would spend the ports its fresh
 * registration's round predicts us at. */
static double stale_hold_s(const struct np_peer *p)
{
	double s = STALE_HOLD, slow;

	if (!np_peer_seq_pair(p) || !p->up_peer_local.family || !np_addr_equal(&p->stale_local, &p->up_peer_local))
		return s;
	slow = p->last_rx + np_recover_suspect_s(p) + PEER_SLOW_MARGIN - ev_now(p->loop);
	if (slow > s)
		s = slow;
	return s > STALE_HOLD_MAX ? STALE_HOLD_MAX : s;
}

/* The server names the peer at a new public address while its data, which
 * was flowing, stopped reaching us (np_silence.h "stopped"): its NAT
 * renumbered, or it moved. Its packets to us have hit our NAT from the new
 * address and left entries there that make our NAT map our socket to
 * another port toward it (the conntrack clash), so reaching for it from
 * this socket (np_peer_rejoin.c) cannot work: register afresh, from a new
 * socket, at once, as the peer does when its own recovery asks the server
 * (np_recover.c). An idle tunnel, the relay, and a tunnel that may fall
 * back to a relay keep the slow way. 1 if the tunnel went down. */
static int peer_moved_away(struct np_peer *p, const struct np_msg_peer_info *m)
{
	char why[160], a[NP_ADDR_STRLEN];
	double now = ev_now(p->loop);
	int seq = np_peer_seq_pair(p);

	if (!p->secure || np_relay_on_path(p) || p->sw_on || !m->peer_public.family || !p->path_peer.family)
		return 0;
	/* A new address; or, where a punch spends ports (a sequential NAT),
	 * a new port too: reaching for it from our socket (a rejoin) cannot
	 * work there, and the peer is punching in this round already: join
	 * it now, from fresh facts, rather than seconds later when our own
	 * silence rule fires (its punch would have spent the ports the
	 * server names it at). */
	if (np_addr_same_ip(&m->peer_public, &p->path_peer) && (!seq || np_addr_equal(&m->peer_public, &p->path_peer)))
		return 0;
	if (!np_silence_stopped(&p->silence, p->last_rx, now, NP_SILENCE_STOPPED_S, p->cfg->keepalive_s))
		return 0;
	snprintf(why, sizeof(why),
		 "the peer registered again from %s (round %u) and its packets stopped %.1f s ago: "
		 "registering afresh", np_astr(&m->peer_public, a), m->round, now - p->last_rx);
	mark_stale_round(p, m);
	np_peer_tunnel_down(p, why);
	return 1;
}

/* The server wants proof that we receive at our address: echo its cookie
 * at once. Only a new cookie triggers a send, so replays cost nothing. */
static void handle_register_cookie(struct np_peer *p, const uint8_t *buf, size_t len, const np_addr_t *from)
{
	struct np_msg_register_cookie m;


	if (np_wire_parse_register_cookie(buf, len, &m) < 0) {
		p->stats.bad++;
		return;
	}
	if (!server_msg_ok(p, buf, m.mac_offset, m.mac, m.flags, m.nonce, from))
		return;
	if (p->have_reg_cookie && sodium_memcmp(p->reg_cookie, m.cookie, NP_COOKIE_LEN) == 0)
		return;
	memcpy(p->reg_cookie, m.cookie, NP_COOKIE_LEN);
	p->have_reg_cookie = 1;
	/* Only while we register at all: after the punch the main socket may
	 * be another one, whose registration would start a new pairing. */
	if (p->socks[0] && ev_is_active(&p->reg_timer))
		np_peer_send_register(p);
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
	np_relay_peer_info(p, &m);
	switch (p->st) {
	case NP_ST_REGISTER:
	case NP_ST_WAIT_PEER:
		/* A retry never punches from the facts of the attempt that failed:
		 * if the answer to our first REGISTER still names the peer endpoint
		 * of that attempt, the peer's registration predates its own
		 * failure: it is most likely re-registering too. Wait up to
		 * STALE_HOLD for its fresh registration (a new round). Pushed
		 * while we wait (WAIT_PEER), such a PEER_INFO is the peer starting
		 * a round now: punch with it at once. */
		/* The same holds, pushed or not, for a round that names the
		 * peer's old socket (its LAN endpoint) at a new public port: a
		 * NAT reset gave that socket a new mapping toward the server,
		 * and the peer is leaving it (a fresh registration comes from a
		 * new socket). A punch toward it would spend our ports. */
		if (p->stale_peer.family &&
		    ((p->st == NP_ST_REGISTER && np_addr_equal(&m.peer_public, &p->stale_peer)) ||
		     (p->stale_local.family && np_addr_equal(&m.peer_local, &p->stale_local)))) {
			char a[NP_ADDR_STRLEN];
			double now = ev_now(p->loop), left = p->hold_cap - now;

			if (!p->have_held) {
				double hold = stale_hold_s(p);

				np_info("the server still names %s, the peer endpoint of the failed attempt: "
					"waiting up to %.1f s for the peer's fresh registration",
					np_astr(&m.peer_public, a), hold);
				p->hold_cap = now + hold + STALE_HOLD;
				ev_timer_set(&p->hold_timer, hold, 0.);
				ev_timer_start(p->loop, &p->hold_timer);
			} else if (np_peer_seq_pair(p) && (int32_t)(m.round - p->held.round) > 0 &&
				   !np_addr_equal(&m.peer_public, &p->held.peer_public) && left > 0.) {
				/* Where a punch spends ports: a newer round from the
				 * peer's old socket at yet another mapping is the
				 * peer asking the server from it in its own recovery;
				 * the answer (our fresh round) makes it leave that
				 * socket, and its fresh registration follows about a
				 * second later (its NAT discovery): wait on, up to
				 * STALE_HOLD from now (hold_cap). */
				double more = left < STALE_HOLD ? left : STALE_HOLD;

				np_info("the peer asked the server again from its old socket (%s, round %u): "
					"waiting up to %.1f s more for its fresh registration",
					np_astr(&m.peer_public, a), m.round, more);
				ev_timer_stop(p->loop, &p->hold_timer);
				ev_timer_set(&p->hold_timer, more, 0.);
				ev_timer_start(p->loop, &p->hold_timer);
			}
			p->held = m;
			p->have_held = 1;
			break;
		}
		start_punch(p, &m);
		break;
	case NP_ST_PUNCH:
	case NP_ST_HANDSHAKE:
		/* Only a newer pairing restarts the punch: a captured PEER_INFO
		 * of this registration (same nonce) is never newer. */
		if (!p->have_round || (int32_t)(m.round - p->round) > 0)
			start_punch(p, &m);
		else if (m.round != p->round)
			p->stats.other_pairing++;
		break;
	case NP_ST_UP: {
		/* The server saw our REGISTER come from another address than
		 * while the peer last answered: our NAT renumbered (or we
		 * moved). Only the address: a new port alone is a new mapping
		 * toward the server (the main socket changed, or a reset made
		 * the NAT map it anew), and both peers then recover through the
		 * server's new round as usual; one side registering afresh
		 * alone at once would, between sequential NATs, spend its ports
		 * on a round the other side never joins. */
		int self_moved = !p->regtcp && m.observed.family && !np_addr_same_ip(&m.observed, good_public(p));
		if (!p->regtcp && m.observed.family && p->self_public.family && !np_addr_same_ip(&m.observed, &p->self_public))
			np_recover_self_moved(p);
		note_observed(p, &m.observed);
		/* While relayed: a newer pairing is a background direct
		 * attempt (np_relay_switch.c). */
		if (!p->recovering && p->have_round && (int32_t)(m.round - p->round) > 0 &&
		    np_switch_peer_info(p, &m))
			break;
		/* While re-punching after silence: the peer registered again
		 * (restarted, or moved), so the server knows where it is now;
		 * or it did so earlier and reaching for it there failed. */
		/* (Newer pairings only, as above: a capture is never newer.) */
		/* Or our own public endpoint changed (np_recover.c: the peer's
		 * NAT filters the new one, and a new pairing is the way back);
		 * also before recovery starts, when our data has gone unanswered
		 * for a second already (a refresh answered before the fast rule
		 * fired). */
		if ((p->recovering && (!p->have_round || (int32_t)(m.round - p->round) > 0 ||
				       (p->rejoin_pending && m.round == p->rejoin_round) || self_moved)) ||
		    (!p->recovering && self_moved && p->secure && !np_relay_on_path(p) && !p->sw_on &&
		     np_silence_unanswered(&p->silence, p->last_rx, ev_now(p->loop)) >= NP_SILENCE_STOPPED_S)) {
			char why[128], a[NP_ADDR_STRLEN];
			/* Not from this socket: its NAT entries may be what failed. */
			if (self_moved)
				snprintf(why, sizeof(why),
					 "the server sees us at %s now (our NAT renumbered?); registering afresh",
					 np_astr(&m.observed, a));
			else
				snprintf(why, sizeof(why), "the peer registered again (round %u); registering afresh",
					 m.round);
			np_recover_stop(p);
			/* The peer's tunnel socket at a new mapping: it leaves
			 * that socket too (mark_stale_round). */
			mark_stale_round(p, &m);
			np_peer_tunnel_down(p, why);
		} else if (!p->recovering && p->have_round && m.round != p->round &&
			   sodium_memcmp(m.pairing, p->pairing, NP_PAIRING_LEN) != 0) {
			/* Up: our own refresh, or the peer registering again
			 * (restarted?): np_peer_rejoin.c tells them apart. Any
			 * other pairing, not only a newer round: a restarted
			 * server numbers its rounds from a new random start. A
			 * capture of an older one of this registration moves
			 * nothing (the endpoint needs a handshake), and the next
			 * refresh's answer brings the current one back. */
			if (peer_moved_away(p, &m))
				break;
			np_peer_rejoin_peer_info(p, &m);
		}
		break;
	}
	}
}

static void on_hold(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;

	if (!p->have_held || (p->st != NP_ST_REGISTER && p->st != NP_ST_WAIT_PEER))
		return;
	np_info("no fresher registration from the peer: punching with what the server has");
	start_punch(p, &p->held);
}

void np_peer_attempt_facts(const struct np_peer *p, uint32_t round, struct np_punch_attempt *a)
{
	a->round = round;
	a->high = p->high;
	a->nat_depth = p->nat_depth;
	a->family = p->server.family;
	a->self_local = p->self_local;
	a->self_public = p->self_public;
	a->peer_local = p->peer_local;
	a->peer_public = p->peer_public;
	a->self_nat = p->self_nat;
	a->peer_nat = p->peer_nat;
	a->peer_mapped = p->peer_mapped;
}

/* Takes the pairing of a PEER_INFO and fills the punch attempt from it. */
static void pairing_attempt(struct np_peer *p, const struct np_msg_peer_info *pi, struct np_punch_attempt *out)
{
	struct np_punch_attempt a = { 0 };

	p->round = pi->round;
	p->have_round = 1;
	memcpy(p->pairing, pi->pairing, NP_PAIRING_LEN);
	/* Probes of this pairing only: a capture of another one fails its MAC. */
	np_auth_probe_key(p->probe_base, p->pairing, p->probe_key);
	p->role = pi->role;
	p->self_public = pi->observed;
	p->peer_public = pi->peer_public;
	p->peer_local = pi->peer_local;
	p->peer_nat = pi->peer_nat;
	p->peer_mapped = pi->peer_mapped;
	np_peer_learn_depth(p);
	p->high = p->secure ? memcmp(p->sess.s_pub, p->keys.peer_pub, 32) > 0 : pi->role == 1;
	np_peer_attempt_facts(p, p->round, &a);
	a.start_in_ms = pi->start_in_ms;
	/* Where a punch spends ports (a sequential NAT on either side), both
	 * sides wait a moment before the first opener: rounds often come in
	 * pairs after a fault (both peers register afresh at once, the second
	 * round milliseconds after the first), and openers sent for the first
	 * would shift every mapping of the second past the window the peer
	 * predicts. Both sides know both NAT kinds, so both wait alike. */
	if (np_peer_seq_pair(p) && a.start_in_ms < SEQ_START_DELAY_MS)
		a.start_in_ms = SEQ_START_DELAY_MS;
	memcpy(a.probe_key, p->probe_key, sizeof(a.probe_key));
	*out = a;
	sodium_memzero(&a, sizeof(a));
}

/* While up on the relay: the punch of a newer pairing runs in the
 * background; the session, the path and the state stay. */
int np_peer_bg_punch(struct np_peer *p, const struct np_msg_peer_info *pi)
{
	struct np_punch_attempt a;
	int rc;

	np_punch_reset(&p->punch);
	pairing_attempt(p, pi, &a);
	a.attempt = 1; /* both sides agree without counting */
	rc = np_punch_start(&p->punch, &a);
	sodium_memzero(&a, sizeof(a));
	return rc;
}

static void start_punch(struct np_peer *p, const struct np_msg_peer_info *pi)
{
	struct np_msg_peer_info m = *pi; /* pi may be p->held */
	struct np_punch_attempt a = { 0 };

	pi = &m;
	p->have_held = 0;
	memset(&p->stale_peer, 0, sizeof(p->stale_peer));
	memset(&p->stale_local, 0, sizeof(p->stale_local));
	ev_timer_stop(p->loop, &p->hold_timer);
	ev_timer_stop(p->loop, &p->hs_timer);
	np_punch_reset(&p->punch);
	np_sock_close_extra(p, -1);
	if (p->secure)
		np_session_reset(&p->sess);
	memset(&p->path_peer, 0, sizeof(p->path_peer));
	pairing_attempt(p, pi, &a);
	if (np_relay_instead_of_punch(p)) {
		np_punch_pair(&p->punch, &a); /* no strategy; the peer's probes are still acked */
	} else {
		/* A round that replaces one begun a moment ago (both peers
		 * registered again at once, the later one made a new round) is
		 * the same attempt: the peers must agree on its number, which
		 * picks the strategy. */
		if (p->st == NP_ST_PUNCH && p->attempts > 0 && np_mono_ms() - p->punch_started_ms < 1500)
			p->attempts--;
		p->attempts++;
		p->punch_started_ms = np_mono_ms();
		np_peer_set_state(p, NP_ST_PUNCH);
		a.attempt = p->attempts;
		np_punch_start(&p->punch, &a);
	}
	if (p->st != NP_ST_PUNCH)
		return;
	ev_timer_set(&p->reg_timer, PUNCH_REFRESH_INTERVAL, PUNCH_REFRESH_INTERVAL);
	ev_timer_again(p->loop, &p->reg_timer);
}

/* The punch found a path: with keys the Noise handshake runs on it (the
 * initiator speaks first), without keys the tunnel is up at once. */
void np_peer_path_found(struct np_peer *p)
{
	if (!p->secure) {
		np_peer_enter_up(p);
		return;
	}
	np_peer_set_state(p, NP_ST_HANDSHAKE);
	p->hs_tries = 0;
	p->hs_since = ev_now(p->loop);
	ev_timer_stop(p->loop, &p->hs_timer);
	if (np_session_is_initiator(&p->sess)) {
		send_handshake_init(p);
		ev_timer_set(&p->hs_timer, 0.5, 0.);
	} else {
		/* The responder waits for the initiator, which may not know the
		 * path yet (the ack it needed was lost): probes on the path give
		 * its strategy more chances, until its handshake arrives. */
		np_punch_confirm_start(&p->punch, p->path_sock, &p->path_peer);
		ev_timer_set(&p->hs_timer, HANDSHAKE_TIMEOUT, 0.);
	}
	ev_timer_start(p->loop, &p->hs_timer);
}

void np_peer_no_path(struct np_peer *p, const char *why)
{
	if (p->st == NP_ST_UP) { /* a background attempt, while relayed */
		np_switch_punch_failed(p, why);
		return;
	}
	if (np_relay_fallback(p, why))
		return;
	np_warn("%s; retrying in 30 s", why);
	np_peer_fire_hook(p, "punch_failed", why);
	np_peer_enter_register(p, "no direct path");
	/* Registration waits: the NATs will not change in a second. */
	ev_timer_stop(p->loop, &p->reg_timer);
	if (p->disc) {
		np_discovery_cancel(p->disc);
		p->disc = NULL;
	}
	ev_timer_set(&p->retry_timer, 30., 0.);
	ev_timer_start(p->loop, &p->retry_timer);
}

/* ---- up, down, timers ---------------------------------------------------------- */

static void np_peer_enter_up(struct np_peer *p)
{
	char a[NP_ADDR_STRLEN];

	ev_timer_stop(p->loop, &p->hs_timer);
	ev_timer_stop(p->loop, &p->reg_timer);
	np_punch_confirmed(&p->punch);
	np_peer_set_state(p, NP_ST_UP);
	p->last_rx = p->last_tx = ev_now(p->loop);
	p->up_since = p->last_handshake = ev_now(p->loop);
	p->good_public = p->self_public;
	p->self_public_at = p->last_rx;
	np_recover_silence_reset(p);
	p->up_ms = np_mono_ms() - p->cycle_start_ms;
	p->up_peer_local = p->peer_local;
	p->up_attempt = p->attempts;
	p->ups++;
	np_info("tunnel up peer=%s path=%s strategy=%s time_ms=%llu attempt=%u cipher=%s", np_astr(&p->path_peer, a),
		np_relay_on_path(p) ? "relayed" : "direct", np_punch_strategy_name(&p->punch),
		(unsigned long long)p->up_ms, p->attempts,
		p->secure ? np_session_cipher_name(&p->sess) : "none (insecure)");
	ev_timer_set(&p->keepalive, p->cfg->keepalive_s, 0.);
	ev_timer_start(p->loop, &p->keepalive);
	ev_timer_set(&p->dead, np_recover_suspect_s(p), 0.);
	ev_timer_start(p->loop, &p->dead);
	if (p->secure) {
		ev_timer_set(&p->housekeeping, 1., 1.);
		ev_timer_start(p->loop, &p->housekeeping);
		/* The responder's keys are confirmed by this first packet. */
		np_dp_send_keepalive(p);
	}
	np_relay_on_up(p);
	if (!ev_is_active(&p->reg_timer)) {
		ev_timer_set(&p->reg_timer, UP_REGISTER_INTERVAL, UP_REGISTER_INTERVAL);
		ev_timer_start(p->loop, &p->reg_timer);
	}
	np_pmtud_start(p, "tunnel up");
	np_family_up(p);
	np_peer_fire_hook(p, "up", p->secure ? "handshake complete" : "punch complete (insecure)");
	p->attempts = 0;
	p->fresh_port = 0;
	memset(&p->stale_peer, 0, sizeof(p->stale_peer));
	memset(&p->stale_local, 0, sizeof(p->stale_local));
}

void np_peer_tunnel_down(struct np_peer *p, const char *reason)
{
	np_info("tunnel down: %s", reason);
	p->downs++;
	np_peer_fire_hook(p, "down", reason);
	/* The old mappings may be what blocks us (a NAT reset leaves entries
	 * that clash with a fixed port): register from a fresh socket. */
	if (p->cfg->port)
		p->fresh_port = 1;
	np_peer_enter_register(p, "re-handshake");
}

/* np_recover.c heard the peer again: the tunnel carries on, same keys; on a
 * new path (moved), whose MTU is searched again. */
void np_peer_recovered(struct np_peer *p, int moved)
{
	p->last_rx = ev_now(p->loop);
	ev_timer_set(&p->dead, np_recover_suspect_s(p), 0.);
	ev_timer_start(p->loop, &p->dead);
	np_dp_send_keepalive(p);
	if (moved)
		np_pmtud_start(p, "path recovered");
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

/* Silence: after np_recover_suspect_s() (keepalive + 2 s) the tunnel starts
 * re-punching (np_recover.c: liveness probes the peer answers, the last
 * endpoints, fresh ports, the server); it goes down at the dead timer at
 * the earliest. A relayed or keyless tunnel just waits for the dead timer. */
static void on_dead(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	int relayed = np_relay_on_path(p);
	/* Only the path in use counts: a tunnel whose peer answers only
	 * over the other path is broken, and goes down to start over. */
	double silent = ev_now(loop) - p->last_rx;
	double at = relayed || !p->secure ? p->cfg->dead_after_s : np_recover_suspect_s(p);
	char why[96];

	if (p->st != NP_ST_UP || p->recovering)
		return;
	if (silent < at - 0.001) {
		ev_timer_set(w, at - silent, 0.);
		ev_timer_start(loop, w);
		return;
	}
	/* First re-punch toward the last endpoints (np_recover.c). */
	if (!relayed && np_recover_start(p, 0) == 0)
		return;
	if (silent < p->cfg->dead_after_s - 0.001) {
		ev_timer_set(w, p->cfg->dead_after_s - silent, 0.);
		ev_timer_start(loop, w);
		return;
	}
	np_relay_on_dead(p);
	snprintf(why, sizeof(why), "no packet from the peer for %.0f s", p->cfg->dead_after_s);
	np_peer_tunnel_down(p, why);
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
	/* Both roles give up HANDSHAKE_TIMEOUT after the path was found: the
	 * responder waits that long, and an initiator that went on (its
	 * backoff reached 31.5 s) would miss the responder's new
	 * registration, which needs ours to pair. */
	if (!np_session_is_initiator(&p->sess) || ++p->hs_tries > 9 ||
	    ev_now(loop) - p->hs_since >= HANDSHAKE_TIMEOUT - 0.01) {
		char a[NP_ADDR_STRLEN];
		np_warn("handshake with %s timed out: no valid answer (does --peer-key match the peer's key, "
			"and ours the key it was given?)",
			np_astr(&p->path_peer, a));
		np_peer_fire_hook(p, "punch_failed", "handshake timed out");
		np_peer_enter_register(p, "handshake timed out");
		return;
	}
	send_handshake_init(p);
	/* Every 0.5 s for the first 2.5 s (on a lossy path a lost initiation
	 * or response is common, and a freshly punched path may pass only one
	 * way for a moment), then backing off: 1, 2, 4 s, then the timeout. */
	next = p->hs_tries <= 4 ? 0.5 : 0.5 * (double)(1u << (p->hs_tries - 4));
	if (next > p->hs_since + HANDSHAKE_TIMEOUT - ev_now(loop))
		next = p->hs_since + HANDSHAKE_TIMEOUT - ev_now(loop);
	ev_timer_set(w, next, 0.);
	ev_timer_start(loop, w);
}

static void on_warn(struct ev_loop *loop, ev_timer *w, int revents)
{
	np_warn("INSECURE MODE: this tunnel is neither authenticated nor encrypted; anyone who can reach "
		"its UDP port can read and inject traffic");
}

/* ---- packets from the peer ------------------------------------------------------ */

void np_peer_auth_warn(struct np_peer *p, const char *what, const np_addr_t *from)
{
	char a[NP_ADDR_STRLEN];

	if (ev_now(p->loop) - p->last_auth_warn < 5.0) {
		np_debug("%s from %s", what, np_astr(from, a));
		return;
	}
	p->last_auth_warn = ev_now(p->loop);
	np_warn("%s from %s", what, np_astr(from, a));
}

void np_peer_other_version(struct np_peer *p, const uint8_t *buf, size_t len, const np_addr_t *from)
{
	char a[NP_ADDR_STRLEN];

	p->stats.other_version++;
	if (!np_wire_other_version(buf, len)) {
		p->stats.bad++;
		return;
	}
	if (p->last_version_warn && ev_now(p->loop) - p->last_version_warn < 10.0)
		return;
	p->last_version_warn = ev_now(p->loop);
	np_warn("%s %s speaks natpunch wire version %u, we speak version %u: run the same natpunch version "
		"on both peers and the server (%llu such datagrams so far)",
		np_addr_equal(from, &p->server) ? "the server" : "peer", np_astr(from, a), buf[0], NP_WIRE_VERSION,
		(unsigned long long)p->stats.other_version);
}

static void handle_init(struct np_peer *p, struct np_sock *s, const uint8_t *buf, size_t len, const np_addr_t *from)
{
	char a[NP_ADDR_STRLEN], b[NP_ADDR_STRLEN];
	uint8_t resp[256];
	size_t rlen;
	int rc;

	if (!p->secure || p->st < NP_ST_PUNCH)
		return;
	if (s->id != 0 && p->st != NP_ST_PUNCH)
		return;
	/* Each initiation costs two X25519 operations before it can be judged,
	 * so first the gate: exact length, mac1, and only then the rate; under
	 * load a cookie round trip (mac2) instead of the global bucket
	 * (np_hsgate.h). While up, an initiation from another endpoint (the
	 * peer restarted, perhaps on a new port) passes the same gate; it is
	 * answered there, and the endpoint moves only when the peer's first
	 * packet under the new keys comes from there (np_peer_authenticated_rx).
	 * A replayed initiation fails its timestamp (np_session.h). */
	switch (np_hsgate_check(&p->hsgate, &p->sess, buf, len, from, np_mono_ms())) {
	case NP_HSG_BAD:
		p->stats.bad++;
		return;
	case NP_HSG_BAD_MAC1:
		p->stats.bad_mac++;
		np_peer_auth_warn(p, "handshake initiation with a bad MAC (mac1): the peer's --peer-key is not our "
				     "public key, or junk", from);
		return;
	case NP_HSG_COOKIE:
		rc = np_session_cookie_reply(&p->sess, np_mono_ms(), buf, len, from, resp, sizeof(resp));
		if (rc > 0) {
			p->stats.hs_cookies++;
			np_sock_send(p, s->id, from, resp, (size_t)rc, 0);
		}
		np_debug("handshake initiation from %s under load: cookie sent", np_astr(from, a));
		return;
	case NP_HSG_LIMITED:
		p->stats.hs_limited++;
		np_debug("handshake initiation from %s over the rate limit: ignored", np_astr(from, a));
		return;
	case NP_HSG_PROCESS:
		break;
	}
	rc = np_session_handle_init(&p->sess, np_mono_ms(), buf, len, resp, sizeof(resp), &rlen);
	if (rc < 0) {
		if (rc == -EKEYREJECTED) {
			p->stats.bad_mac++;
			np_peer_auth_warn(p, "handshake rejected: the peer's key does not match --peer-key (or a corrupted packet)",
				  from);
		} else if (rc == -EALREADY) {
			p->stats.replay++;
			np_debug("replayed handshake initiation from %s ignored", np_astr(from, a));
		} else {
			p->stats.bad++;
		}
		return;
	}
	np_punch_confirmed(&p->punch);
	if (p->st == NP_ST_PUNCH) {
		/* The initiator's punch finished first: its handshake is our proof of the path. */
		np_punch_end(&p->punch);
		ev_timer_stop(p->loop, &p->reg_timer);
		np_sock_promote(p, s->id);
		s = p->socks[0];
		np_peer_set_state(p, NP_ST_HANDSHAKE);
		ev_timer_stop(p->loop, &p->hs_timer);
		ev_timer_set(&p->hs_timer, HANDSHAKE_TIMEOUT, 0.);
		ev_timer_start(p->loop, &p->hs_timer);
	}
	if (p->st == NP_ST_UP) {
		p->last_handshake = ev_now(p->loop);
		if (!np_addr_equal(from, &p->path_peer))
			np_info("handshake initiation from %s while up on %s (the peer restarted?): answered there; "
				"the path moves once its first packet under the new keys arrives",
				np_astr(from, a), np_astr(&p->path_peer, b));
	} else {
		p->path_sock = 0;
		p->path_peer = *from;
	}
	np_sock_send(p, 0, from, resp, rlen, 0);
}

/* The responder is under load and wants mac2: resend the initiation with it. */
static void handle_hs_cookie(struct np_peer *p, struct np_sock *s, const uint8_t *buf, size_t len,
			     const np_addr_t *from)
{
	if (!p->secure || (p->st != NP_ST_HANDSHAKE && p->st != NP_ST_UP) || s->id != 0 ||
	    !np_addr_equal(from, &p->hs_to))
		return;
	if (np_session_handle_cookie(&p->sess, np_mono_ms(), buf, len) < 0) {
		p->stats.bad++;
		return;
	}
	np_debug("the peer is under load: handshake cookie received, initiating again");
	np_peer_send_init_to(p, 0, &p->hs_to);
}

static void handle_resp(struct np_peer *p, struct np_sock *s, const uint8_t *buf, size_t len, const np_addr_t *from)
{
	int rc;

	if (!p->secure || (p->st != NP_ST_HANDSHAKE && p->st != NP_ST_UP) || s->id != 0)
		return;
	rc = np_session_handle_resp(&p->sess, np_mono_ms(), buf, len);
	if (rc < 0) {
		if (rc == -EKEYREJECTED)
			np_peer_auth_warn(p, "handshake response rejected: the peer's key does not match --peer-key", from);
		else if (rc == -EACCES)
			p->stats.bad_mac++;
		else
			p->stats.bad++;
		return;
	}
	p->hs_rtt_ms = (double)(np_mono_ms() - p->last_init_ms);
	np_punch_confirmed(&p->punch);
	if (p->st == NP_ST_HANDSHAKE) {
		p->path_peer = *from;
		np_peer_enter_up(p);
	} else {
		/* An authenticated response (it answers our own initiation):
		 * from a new endpoint, the peer is there now. */
		p->last_handshake = ev_now(p->loop);
		np_debug("rekeyed");
		if (!np_addr_equal(from, &p->path_peer))
			np_peer_authenticated_rx(p, s, from);
		else
			np_peer_rejoin_done(p);
		np_dp_send_keepalive(p);
	}
}

void np_peer_authenticated_rx(struct np_peer *p, struct np_sock *s, const np_addr_t *from)
{
	char a[NP_ADDR_STRLEN], b[NP_ADDR_STRLEN];
	int moved;

	if (p->st == NP_ST_HANDSHAKE && p->secure) {
		p->last_rx = ev_now(p->loop);
		p->path_peer = *from;
		np_peer_enter_up(p);
		return;
	}
	/* The peer, which registered again, answers from there: it came up
	 * in that pairing, so recovery's slot ports (np_recover.c) derive
	 * from that pairing's key from now on, on both sides. */
	if (p->rejoin_pending && np_addr_equal(from, &p->rejoin.target))
		np_auth_probe_key(p->probe_base, p->pairing, p->probe_key);
	np_peer_rejoin_done(p);
	moved = !p->recovering && p->secure && !np_addr_equal(from, &p->path_peer);
	/* Over the other path (direct while relayed, or the relay while
	 * direct): the path changes only by np_relay_switch.c's rules, and
	 * such a packet is no sign of life on the path in use. */
	if (moved && np_switch_other_path(p, s, from))
		return;
	p->last_rx = ev_now(p->loop);
	if (p->recovering) {
		np_recover_done(p, s, from);
	} else if (moved) {
		np_info("peer moved from %s to %s", np_astr(&p->path_peer, a), np_astr(from, b));
		np_peer_move(p, from, "peer roamed");
	}
}

void np_peer_move(struct np_peer *p, const np_addr_t *to, const char *why)
{
	p->path_sock = 0;
	p->path_peer = *to;
	np_pmtud_start(p, "peer moved");
	np_peer_fire_hook(p, "endpoint_change", why);
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
	case NP_MSG_REGISTER_COOKIE:
		handle_register_cookie(p, buf, len, from);
		break;
	case NP_MSG_NAT_PROBE_REPLY:
		/* registered over TCP: the server answers our UDP check */
		if (!s || !np_regtcp_udp_answer(p, buf, len, from))
			p->stats.bad++;
		break;
	case NP_MSG_HANDSHAKE_COOKIE:
		handle_hs_cookie(p, s, buf, len, from);
		break;
	case NP_MSG_PROBE:
	case NP_MSG_PROBE_ACK: {
		int verdict = np_punch_handle_probe(&p->punch, s->id, buf, len, from);

		if (p->st == NP_ST_HANDSHAKE && p->secure && np_session_is_initiator(&p->sess) && s->id == p->path_sock &&
		    p->hs_init_len && np_punch_follow(&p->punch, s->id, &p->path_peer, verdict, from)) {
			char a[NP_ADDR_STRLEN], b[NP_ADDR_STRLEN];

			/* The responder may have taken another of the paths both
			 * found (np_punch.h), or this is a stray probe from a socket
			 * it closed: the same initiation goes there too (a copy is
			 * a replay to a responder that has it), and the response
			 * says which path it kept. */
			np_debug("the peer also answers from %s, not only %s where our handshake went: a copy there",
				 np_astr(from, a), np_astr(&p->path_peer, b));
			np_sock_send(p, s->id, from, p->hs_init, p->hs_init_len, 0);
		}
		np_peer_rejoin_probe(p, s->id, verdict, from);
		break;
	}
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
				 np_astr(from, a), (unsigned long long)(p->stats.bad + p->punch.stats.bad));
		}
	}
}

/* ---- life cycle ------------------------------------------------------------------- */

int np_peer_new(struct ev_loop *loop, const struct np_config *cfg, const struct np_peer_keys *keys,
		struct np_hookd *hooks, struct np_peer **out, char *err, size_t errlen)
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
	np_pmtud_init(p);
	np_family_setup(p);
	np_recover_init(p);
	np_peer_rejoin_init(p);
	np_switch_init(p);
	ev_timer_init(&p->reg_timer, on_reg_timer, REGISTER_INTERVAL, REGISTER_INTERVAL);
	ev_timer_init(&p->hs_timer, on_hs_timer, 1., 0.);
	ev_timer_init(&p->keepalive, on_keepalive, 1., 0.);
	ev_timer_init(&p->dead, on_dead, 1., 0.);
	ev_timer_init(&p->housekeeping, on_housekeeping, 1., 1.);
	ev_timer_init(&p->warn_timer, on_warn, 60., 60.);
	ev_timer_init(&p->retry_timer, on_retry, 30., 0.);
	ev_timer_init(&p->hold_timer, on_hold, STALE_HOLD, 0.);
	p->hold_timer.data = p;
	p->retry_timer.data = p;
	p->reg_timer.data = p->hs_timer.data = p;
	p->keepalive.data = p->dead.data = p->housekeeping.data = p->warn_timer.data = p;

	p->server.port = cfg->server_port;
	rc = np_family_init(p, err, errlen);
	if (rc < 0)
		goto fail;
	p->server.port = cfg->server_port;
	if (p->secure) {
		rc = np_session_init(&p->sess, keys->priv, keys->peer_pub, keys->has_psk ? keys->psk : NULL);
		if (rc == 0)
			rc = np_auth_probe_base(keys->priv, keys->peer_pub, keys->has_psk ? keys->psk : NULL,
						p->probe_base);
		if (rc == 0)
			rc = np_hsgate_init(&p->hsgate);
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
		np_auth_insecure_probe_base(cfg->session, p->probe_base);
	}
	rc = np_peer_punch_init(p, err, errlen);
	if (rc < 0)
		goto fail;
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
	rc = np_relay_init(p, err, errlen);
	if (rc < 0)
		goto fail;
	if (!cfg->control_path || strcmp(cfg->control_path, "none") != 0) {
		char cerr[256];
		if (np_control_open(loop, cfg->control_path, p->ifname, np_peer_status_report, p, &p->ctl, cerr,
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
	np_peer_enter_register(p, "start");
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
			np_peer_fire_hook(p, "down", "shutdown");
		np_hookd_on_idle(p->hooks, stop_finished, p);
		return;
	}
	stop_finished(p);
}

void np_peer_free(struct np_peer *p)
{
	if (!p)
		return;
	np_peer_punch_fini(p);
	np_pmtud_stop(p);
	np_family_free(p);
	np_recover_stop(p);
	np_recover_silence_reset(p);
	np_peer_rejoin_stop(p);
	np_switch_stop(p);
	np_relay_free(p);
	np_regtcp_free(p);
	ev_timer_stop(p->loop, &p->reg_timer);
	ev_timer_stop(p->loop, &p->hs_timer);
	ev_timer_stop(p->loop, &p->keepalive);
	ev_timer_stop(p->loop, &p->dead);
	ev_timer_stop(p->loop, &p->housekeeping);
	ev_timer_stop(p->loop, &p->warn_timer);
	for (int i = 0; i <= MAX_EXTRA_SOCKETS; i++)
		np_sock_close(p, i);
	if (p->tun_fd >= 0) {
		ev_io_stop(p->loop, &p->tun_io);
		close(p->tun_fd);
	}
	np_control_close(p->ctl);
	if (p->disc)
		np_discovery_cancel(p->disc);
	ev_timer_stop(p->loop, &p->retry_timer);
	ev_timer_stop(p->loop, &p->hold_timer);
	if (p->secure) {
		np_session_destroy(&p->sess);
		np_hsgate_free(&p->hsgate);
	}
	np_dp_free(p);
	if (p->hooks_draining)
		np_hookd_free(p->hooks_draining);
	sodium_memzero(&p->keys, sizeof(p->keys));
	sodium_memzero(p->probe_key, sizeof(p->probe_key));
	sodium_memzero(p->probe_base, sizeof(p->probe_base));
	free(p);
}
