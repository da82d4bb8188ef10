/* np_server: session table, pairing, NAT probe answers, registration
 * cookies, token checks and per-source rate limiting for natpunch-server.
 * Sockets and timers are libev watchers embedded in struct np_server.
 *
 * Nothing is stored and nothing larger than the request is sent for an
 * address that has not proved it receives what is sent to it: a first
 * REGISTER is answered with a stateless cookie (REGISTER_COOKIE, smaller
 * than any REGISTER), and only a REGISTER that echoes a valid cookie for its
 * source address and port is registered and paired. NAT probes are padded to
 * the size of the largest reply. */
#include "np_server.h"
#include "np_server_tcp.h"
#include "np_auth.h"
#define NP_LOG_COMPONENT "server"
#include "np_log.h"
#include "np_ratelimit.h"
#include "np_time.h"
#include "np_turn_cred.h"
#include "np_udp.h"
#include "np_wire.h"

#include <errno.h>
#include <ev.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_WINDOW_MS (300u * 1000u)
/* A (session, role) remembers its newest timestamp this long after its last
 * registration, so a capture stays refused for as long as its timestamp
 * could pass the window check. */
#define REPLAY_MEMORY_MS (2u * TOKEN_WINDOW_MS + 60u * 1000u)
#define COOKIE_SLOT_MS 30000u       /* a cookie is valid for 30 to 60 s */
#define LOG_LINES_PER_S 10.0        /* info lines about registrations */
#define LATE_COPY_MS 200            /* a new pairing's third PEER_INFO, this much later */
#define LATE_COPY_MAX 256           /* pairings waiting for it (more: no third copy) */

struct srv_reg {
	np_addr_t pub, local, via;
	np_addr_t relay;             /* its TURN relayed address, if it has one */
	np_addr_t mapped;            /* the newest NAT mapping its discovery saw, if it said */
	np_nat_info_t nat;
	uint64_t seen_ms;
	uint32_t nonce;
	uint8_t present;
	uint8_t leg;                 /* registration-only (NP_REG_F_LEG): never punched to */
	uint64_t tcp;                /* registered over this TCP connection (0: UDP) */
};

struct srv_sess {
	struct srv_sess *next;
	uint32_t round;
	uint8_t pairing[NP_PAIRING_LEN];
	np_addr_t pushed[2];
	uint32_t pushed_nonce[2];    /* the registrations the current pairing joined */
	struct srv_reg r[2];
	uint64_t last_ts[2];         /* token: newest timestamp accepted per role */
	uint64_t last_ts_at[2];      /* when (monotonic ms) */
	uint8_t family;              /* 4 or 6: each family pairs on its own */
	char name[]; /* NUL-terminated, at most NP_SESSION_MAX bytes */
};

/* A new pairing whose third PEER_INFO copy is due (see handle_register). */
struct late_copy {
	uint64_t due_ms;
	uint32_t round;
	uint8_t family;
	char name[NP_SESSION_MAX + 1];
};

struct np_server {
	struct ev_loop *loop;
	struct np_server_config cfg;
	/* [0],[1]: PORT1, PORT2 on --bind; [2],[3]: the same on --alt-ip when
	 * --bind names one address (with --bind any, [0],[1] receive both and
	 * answer from the right one through IP_PKTINFO); [4],[5]: PORT1, PORT2
	 * on IPv6 when listening on every IPv4 address (the default), so the
	 * server listens on both families. */
	int fd[6];
	ev_io io[6];
	int bind_any;
	ev_timer sweep;
	ev_timer late;               /* sends the due late copies */
	struct late_copy late_q[LATE_COPY_MAX]; /* a ring, in due order */
	unsigned late_head, late_n;
	struct np_ratelimit rl;
	struct srv_sess **buckets;
	size_t nbuckets, count;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
	uint8_t cookie_secret[32];
	uint32_t next_round;
	double log_tokens;
	uint64_t log_at_ms, log_suppressed;
	uint64_t other_version_logged_ms;
	struct np_server_stats st;
	struct np_srvtcp *tcp;       /* TCP listeners (NULL: none) */
	uint64_t cur_tcp;            /* the connection of the message being handled (0: UDP) */
};

/* At most LOG_LINES_PER_S info lines about registrations: a spoofed flood
 * must not flood the journal. Returns 1 if a line may be written. */
static int log_allowed(struct np_server *s)
{
	uint64_t now = np_mono_ms();

	s->log_tokens += (double)(now - s->log_at_ms) * LOG_LINES_PER_S / 1000.0;
	if (s->log_tokens > LOG_LINES_PER_S)
		s->log_tokens = LOG_LINES_PER_S;
	s->log_at_ms = now;
	if (s->log_tokens < 1.0) {
		s->log_suppressed++;
		return 0;
	}
	s->log_tokens -= 1.0;
	if (s->log_suppressed) {
		np_info("%llu registration log lines suppressed (rate limit)",
			(unsigned long long)s->log_suppressed);
		s->log_suppressed = 0;
	}
	return 1;
}

static size_t bucket_of(struct np_server *s, const char *name)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const uint8_t *)name, strlen(name), s->hash_key);
	memcpy(&v, h, sizeof(v));
	return (size_t)(v & (s->nbuckets - 1));
}

static int table_grow(struct np_server *s)
{
	size_t n = s->nbuckets * 2;
	struct srv_sess **nb = calloc(n, sizeof(*nb));
	struct srv_sess **old = s->buckets;
	size_t oldn = s->nbuckets;

	if (!nb)
		return -ENOMEM;
	s->buckets = nb;
	s->nbuckets = n;
	for (size_t i = 0; i < oldn; i++) {
		struct srv_sess *e = old[i], *next;
		for (; e; e = next) {
			size_t b = bucket_of(s, e->name);
			next = e->next;
			e->next = nb[b];
			nb[b] = e;
		}
	}
	free(old);
	return 0;
}

/* A session's IPv4 and IPv6 registrations are paired separately: a peer
 * with both families registers on both, and each family's pair gets its
 * own PEER_INFO with that family's endpoints. */
static struct srv_sess *session_get(struct np_server *s, const char *name, int family, int create)
{
	size_t b = bucket_of(s, name), len;
	struct srv_sess *e;

	for (e = s->buckets[b]; e; e = e->next)
		if (e->family == family && strcmp(e->name, name) == 0)
			return e;
	if (!create || s->count >= s->cfg.max_sessions)
		return NULL;
	if (s->count >= s->nbuckets && table_grow(s) == 0)
		b = bucket_of(s, name);
	len = strlen(name);
	e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	memcpy(e->name, name, len + 1);
	e->family = (uint8_t)family;
	e->next = s->buckets[b];
	s->buckets[b] = e;
	s->count++;
	return e;
}

/* Sends to `to` over UDP, or as a frame on TCP connection tcp (not 0). */
static void reply(struct np_server *s, int port_idx, const np_addr_t *to, const np_addr_t *via, uint64_t tcp,
		  const uint8_t *buf, int len)
{
	int rc;

	if (len < 0)
		return;
	if (tcp) {
		rc = np_srvtcp_send(s->tcp, tcp, buf, (size_t)len);
		if (rc < 0 && np_log_get_level() >= NP_LOG_DEBUG) {
			char a[NP_ADDR_STRLEN];
			np_debug_e(rc, "TCP send to %s failed", np_addr_str(to, a, sizeof(a)));
		}
		return;
	}
	np_addr_t v = via ? *via : (np_addr_t){ 0 }, alt = s->cfg.alt;
	int sock = port_idx;

	v.port = alt.port = 0;
	if (s->fd[2] >= 0 && v.family && np_addr_equal(&v, &alt))
		sock = 2 + port_idx;
	else if (to->family == 6 && s->fd[4 + port_idx] >= 0)
		sock = 4 + port_idx;
	rc = np_udp_send(s->fd[sock], to, buf, (size_t)len, 0, s->bind_any && v.family ? &v : NULL);
	if (rc < 0 && np_log_get_level() >= NP_LOG_DEBUG) {
		char a[NP_ADDR_STRLEN];
		np_debug_e(rc, "send to %s failed", np_addr_str(to, a, sizeof(a)));
	}
}

/* Fills in the token MAC (over the server port of `role` and the message)
 * when the server has a token; returns the length. */
static int seal(struct np_server *s, int role, uint8_t *buf, int len)
{
	if (len < 0 || !s->cfg.has_token)
		return len;
	np_auth_server_mac(s->cfg.token_key, s->cfg.port[role], buf, (size_t)len - NP_MAC_LEN,
			   buf + len - NP_MAC_LEN);
	return len;
}

static uint64_t cookie_slot(void)
{
	return np_mono_ms() / COOKIE_SLOT_MS;
}

/* A cookie made for this source and port in this slot or the one before. */
static int cookie_ok(struct np_server *s, int role, const np_addr_t *from, const uint8_t *cookie)
{
	uint8_t want[NP_COOKIE_LEN];
	uint64_t slot = cookie_slot();
	int ok = 0;

	for (int back = 0; back < 2 && !ok && slot >= (uint64_t)back; back++) {
		np_auth_cookie(s->cookie_secret, from, role, slot - (uint64_t)back, want);
		ok = sodium_memcmp(want, cookie, NP_COOKIE_LEN) == 0;
	}
	return ok;
}

/* The stateless answer to a REGISTER without a valid cookie. It is never
 * larger than the REGISTER it answers (checked, not assumed). */
static void send_cookie(struct np_server *s, int role, const struct np_msg_register *m, size_t req_len,
			const np_addr_t *from, const np_addr_t *to)
{
	struct np_msg_register_cookie c = { 0 };
	uint8_t out[64];
	int n;

	c.flags = s->cfg.has_token ? NP_REG_F_MAC : 0;
	c.nonce = m->nonce;
	np_auth_cookie(s->cookie_secret, from, role, cookie_slot(), c.cookie);
	n = seal(s, role, out, np_wire_encode_register_cookie(out, sizeof(out), &c));
	if (n < 0 || (size_t)n > req_len)
		return;
	s->st.cookies++;
	reply(s, role, from, to, s->cur_tcp, out, n);
}

/* Sends role its PEER_INFO: `copies` times over UDP (the same datagram),
 * once over TCP. */
static void push_peer_info(struct np_server *s, struct srv_sess *e, int role, int copies)
{
	struct np_msg_peer_info pi = { 0 };
	struct srv_reg *me = &e->r[role], *other = &e->r[1 - role];
	uint8_t buf[512];
	int n;

	pi.flags = s->cfg.has_token ? NP_REG_F_MAC : 0;
	pi.role = (uint8_t)role;
	pi.nonce = me->nonce;
	pi.round = e->round;
	pi.start_in_ms = 0;
	memcpy(pi.pairing, e->pairing, NP_PAIRING_LEN);
	pi.observed = me->pub;
	pi.peer_public = other->pub;
	pi.peer_local = other->local;
	pi.peer_nat = other->nat;
	pi.peer_relay = other->relay;
	pi.peer_mapped = other->mapped;
	if (other->tcp)
		pi.flags |= NP_PI_F_PEER_TCP;
	/* Only a leg is answered while the other registration is a leg (no
	 * pairing): both peers' main family is the other one. */
	if (other->leg)
		pi.flags |= NP_PI_F_PEER_LEG;
	if (s->cfg.turn_uris[0] && s->cfg.turn_secret_len) {
		/* TURN REST credentials, stable for a whole hour so that a peer's
		 * allocation is not torn up by every PEER_INFO, and valid for
		 * between turn_ttl_s and turn_ttl_s + 1 h. */
		uint64_t expiry = (np_wall_ms() / 1000 / 3600 + 1) * 3600 + s->cfg.turn_ttl_s;
		const char *who = strchr(e->name, ':') || strlen(e->name) > 40 ? "natpunch" : e->name;

		snprintf(pi.turn_uris, sizeof(pi.turn_uris), "%s", s->cfg.turn_uris);
		if (np_turn_rest_username(expiry, who, pi.turn_user, sizeof(pi.turn_user)) < 0 ||
		    np_turn_rest_password(s->cfg.turn_secret, s->cfg.turn_secret_len, pi.turn_user, pi.turn_pass,
					  sizeof(pi.turn_pass)) < 0)
			pi.turn_uris[0] = pi.turn_user[0] = pi.turn_pass[0] = 0;
	}
	n = seal(s, role, buf, np_wire_encode_peer_info(buf, sizeof(buf), &pi));
	for (int i = 0; i < (me->tcp ? 1 : copies); i++)
		reply(s, role, &me->pub, &me->via, me->tcp, buf, n);
}

/* Queues the third copy of pairing e's PEER_INFO for both sides. */
static void queue_late_copy(struct np_server *s, const struct srv_sess *e)
{
	struct late_copy *c;

	if (!s->loop || s->late_n == LATE_COPY_MAX)
		return;
	c = &s->late_q[(s->late_head + s->late_n++) % LATE_COPY_MAX];
	c->due_ms = np_mono_ms() + LATE_COPY_MS;
	c->round = e->round;
	c->family = e->family;
	snprintf(c->name, sizeof(c->name), "%s", e->name);
	if (!ev_is_active(&s->late)) {
		ev_timer_set(&s->late, LATE_COPY_MS / 1000.0, 0.0);
		ev_timer_start(s->loop, &s->late);
	}
}

/* Sends the late copies that are due, to the sides of pairings that still
 * stand (same round) and are reached over UDP; re-arms for the next. */
static void on_late(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_server *s = w->data;
	uint64_t now = np_mono_ms();

	(void)revents;
	while (s->late_n) {
		struct late_copy *c = &s->late_q[s->late_head];
		struct srv_sess *e;

		if (c->due_ms > now) {
			ev_timer_set(&s->late, (double)(c->due_ms - now) / 1000.0, 0.0);
			ev_timer_start(loop, &s->late);
			return;
		}
		e = session_get(s, c->name, c->family, 0);
		if (e && e->round == c->round && e->r[0].present && e->r[1].present)
			for (int role = 0; role < 2; role++)
				if (!e->r[role].tcp && !e->r[role].leg)
					push_peer_info(s, e, role, 1);
		s->late_head = (s->late_head + 1) % LATE_COPY_MAX;
		s->late_n--;
	}
}

static void handle_register(struct np_server *s, int role, const uint8_t *buf, size_t len, const np_addr_t *from,
			    const np_addr_t *to)
{
	struct np_msg_register m;
	struct srv_sess *e;
	struct srv_reg *me, *other;
	uint64_t now = np_mono_ms(), wall;
	char a[NP_ADDR_STRLEN], b[NP_ADDR_STRLEN];
	int relay_changed;

	if (np_wire_parse_register(buf, len, &m) < 0) {
		s->st.bad++;
		np_debug("malformed REGISTER from %s (%llu bad so far)", np_addr_str(from, a, sizeof(a)),
			 (unsigned long long)s->st.bad);
		return;
	}
	if (s->cfg.has_token) {
		wall = np_wall_ms();
		if (!(m.flags & NP_REG_F_MAC) ||
		    np_auth_server_verify(s->cfg.token_key, s->cfg.port[role], buf, m.mac_offset, m.mac) < 0 ||
		    m.timestamp_ms + TOKEN_WINDOW_MS < wall || m.timestamp_ms > wall + TOKEN_WINDOW_MS) {
			s->st.unauth++;
			np_debug("unauthenticated REGISTER from %s dropped (%llu so far)",
				 np_addr_str(from, a, sizeof(a)), (unsigned long long)s->st.unauth);
			return;
		}
	}
	/* Return routability: nothing is stored, and nothing but a cookie no
	 * larger than the request is sent, before the source echoes a cookie. */
	if (!(m.flags & NP_REG_F_COOKIE) || !cookie_ok(s, role, from, m.cookie)) {
		if (m.flags & NP_REG_F_COOKIE)
			s->st.bad_cookie++;
		send_cookie(s, role, &m, len, from, to);
		return;
	}
	e = session_get(s, m.session, from->family, 1);
	if (!e) {
		if (log_allowed(s))
			np_warn("session table full (%zu), REGISTER from %s dropped", s->count,
				np_addr_str(from, a, sizeof(a)));
		return;
	}
	me = &e->r[role];
	other = &e->r[1 - role];
	/* A captured registration replayed, from anywhere and even after the
	 * registration expired, is never newer than the last one of its
	 * (session, role). */
	if (s->cfg.has_token && e->last_ts_at[role] && m.timestamp_ms <= e->last_ts[role]) {
		s->st.unauth++;
		s->st.replays++;
		np_debug("replayed REGISTER from %s dropped", np_addr_str(from, a, sizeof(a)));
		return;
	}
	if ((!me->present || !np_addr_equal(&me->pub, from)) && log_allowed(s))
		np_info("session '%s' port %u: peer %s registered (lan %s)", e->name, s->cfg.port[role],
			np_addr_str(from, a, sizeof(a)), np_addr_str(&m.local, b, sizeof(b)));
	s->st.registers++;
	me->present = 1;
	me->pub = *from;
	me->local = m.local;
	me->via = *to;
	me->nat = m.nat;
	me->mapped = m.mapped;
	relay_changed = me->present && !np_addr_equal(&me->relay, &m.relay);
	me->relay = m.relay;
	me->nonce = m.nonce;
	me->leg = (m.flags & NP_REG_F_LEG) != 0;
	me->tcp = s->cur_tcp;
	me->seen_ms = now;
	e->last_ts[role] = m.timestamp_ms;
	e->last_ts_at[role] = now;

	if (other->present && me->leg) {
		/* A leg only learns that the peer is registered on this family. */
		push_peer_info(s, e, role, 1);
		return;
	}
	if (other->present && !other->leg) {
		if (!np_addr_equal(&e->pushed[role], &me->pub) || !np_addr_equal(&e->pushed[1 - role], &other->pub) ||
		    e->pushed_nonce[role] != me->nonce || e->pushed_nonce[1 - role] != other->nonce) {
			/* A new pairing: a round number that only grows, and a
			 * fresh random identifier the peers key their probes with.
			 * A new registration (a restarted or retrying peer: a new
			 * nonce) is a new pairing even from the same endpoint (a
			 * fixed --port on a public address), or it would be
			 * handed the old pairing's key, and probes captured in
			 * that pairing would verify again. */
			e->round = s->next_round++;
			randombytes_buf(e->pairing, sizeof(e->pairing));
			e->pushed[role] = me->pub;
			e->pushed[1 - role] = other->pub;
			e->pushed_nonce[role] = me->nonce;
			e->pushed_nonce[1 - role] = other->nonce;
			s->st.pairs++;
			if (log_allowed(s))
				np_info("session '%s' paired %s <-> %s (round %u)", e->name,
				np_addr_str(&e->r[0].pub, a, sizeof(a)), np_addr_str(&e->r[1].pub, b, sizeof(b)),
				e->round);
			/* Each side's PEER_INFO of a new pairing goes out twice
			 * over UDP at once and a third time LATE_COPY_MS later
			 * (a burst that took both): a lost one starts that side
			 * up to a REGISTER interval (1 s) late, and the other
			 * side's probes then meet its NAT before its own openers
			 * did (the conntrack clash, core/DESIGN.md): the attempt
			 * is lost. A side started by the late copy is within the
			 * strategies' opener pause (300-400 ms). The copies change
			 * nothing (same round). */
			push_peer_info(s, e, 1 - role, 2);
			push_peer_info(s, e, role, 2);
			queue_late_copy(s, e);
			return;
		}
		if (relay_changed) /* same endpoints, a new relayed address: the peer needs it */
			push_peer_info(s, e, 1 - role, 1);
		push_peer_info(s, e, role, 1);
		return;
	}
	{
		struct np_msg_register_ack ack = { 0 };
		uint8_t out[128];

		ack.flags = s->cfg.has_token ? NP_REG_F_MAC : 0;
		ack.nonce = m.nonce;
		ack.observed = *from;
		reply(s, role, from, to, s->cur_tcp, out,
		      seal(s, role, out, np_wire_encode_register_ack(out, sizeof(out), &ack)));
	}
}

static void handle_nat_probe(struct np_server *s, int port_idx, const uint8_t *buf, size_t len,
			     const np_addr_t *from, const np_addr_t *to)
{
	struct np_msg_nat_probe m;
	struct np_msg_nat_probe_reply r = { 0 };
	uint8_t out[128];
	int via_port = port_idx, n;
	np_addr_t via = *to;

	if (np_wire_parse_nat_probe(buf, len, &m) < 0) {
		s->st.bad++;
		return;
	}
	s->st.nat_probes++;
	r.flags = m.flags;
	r.txid = m.txid;
	r.observed = *from;
	r.alt = s->cfg.alt;
	r.alt.port = 0;
	r.other_port = s->cfg.port[1 - port_idx];
	if (m.flags & NP_NATP_F_CHANGE_PORT) {
		via_port = 1 - port_idx;
		r.answered |= NP_NATP_F_CHANGE_PORT;
	}
	if ((m.flags & NP_NATP_F_CHANGE_IP) && s->cfg.alt.family == from->family) {
		/* Answer from whichever of our two addresses the probe did not reach. */
		np_addr_t alt = s->cfg.alt, t = *to, primary = s->cfg.bind;
		static const uint8_t zero[16];

		alt.port = t.port = primary.port = 0;
		if (!np_addr_equal(&t, &alt)) {
			via = alt;
			r.answered |= NP_NATP_F_CHANGE_IP;
		} else if (memcmp(primary.ip, zero, sizeof(zero)) != 0) {
			via = primary;
			r.answered |= NP_NATP_F_CHANGE_IP;
		}
	}
	if (s->cfg.has_token)
		r.flags |= NP_NATP_F_MAC;
	n = seal(s, port_idx, out, np_wire_encode_nat_probe_reply(out, sizeof(out), &r));
	/* The source is unproven: never answer with more than it sent. */
	if (n < 0 || (size_t)n > len)
		return;
	reply(s, via_port, from, &via, 0, out, n);
}

void np_server_handle(struct np_server *s, int port_idx, const uint8_t *buf, size_t len, const np_addr_t *from,
		      const np_addr_t *to)
{
	int type = np_wire_type(buf, len);
	char a[NP_ADDR_STRLEN];

	s->st.rx++;
	if (type == -EPROTONOSUPPORT && np_wire_other_version(buf, len)) {
		s->st.bad++;
		s->st.other_version++;
		if (np_mono_ms() - s->other_version_logged_ms >= 10000 || !s->other_version_logged_ms) {
			s->other_version_logged_ms = np_mono_ms();
			np_warn("%s speaks natpunch wire version %u, this server speaks version %u: "
				"upgrade natpunch there (%llu such datagrams so far)",
				np_addr_str(from, a, sizeof(a)), buf[0], NP_WIRE_VERSION,
				(unsigned long long)s->st.other_version);
		}
		return;
	}
	if (type != NP_MSG_REGISTER && type != NP_MSG_NAT_PROBE) {
		s->st.bad++;
		np_debug("ignored datagram type %d (%zu bytes) from %s (%llu bad so far)", type, len,
			 np_addr_str(from, a, sizeof(a)), (unsigned long long)s->st.bad);
		return;
	}
	if (!np_ratelimit_allow(&s->rl, from, np_mono_ms())) {
		if (s->st.limited++ % 1000 == 0 && log_allowed(s))
			np_warn("rate limit hit by %s (%llu dropped so far)", np_addr_str(from, a, sizeof(a)),
				(unsigned long long)s->st.limited);
		return;
	}
	if (type == NP_MSG_REGISTER)
		handle_register(s, port_idx, buf, len, from, to);
	else
		handle_nat_probe(s, port_idx, buf, len, from, to);
}

void np_server_cookie(struct np_server *s, int port_idx, const np_addr_t *from, uint8_t cookie[16])
{
	np_auth_cookie(s->cookie_secret, from, port_idx & 1, cookie_slot(), cookie);
}

void np_server_sweep(struct np_server *s)
{
	uint64_t now = np_mono_ms();

	for (size_t i = 0; i < s->nbuckets; i++) {
		struct srv_sess **pp = &s->buckets[i];
		while (*pp) {
			struct srv_sess *e = *pp;
			for (int r = 0; r < 2; r++)
				if (e->r[r].present && e->r[r].seen_ms + s->cfg.expire_ms < now) {
					char a[NP_ADDR_STRLEN];
					np_debug("session '%s' port %u: %s expired", e->name, s->cfg.port[r],
						 np_addr_str(&e->r[r].pub, a, sizeof(a)));
					memset(&e->r[r], 0, sizeof(e->r[r]));
				}
			if (!e->r[0].present && !e->r[1].present &&
			    (!s->cfg.has_token || (e->last_ts_at[0] + REPLAY_MEMORY_MS < now &&
						   e->last_ts_at[1] + REPLAY_MEMORY_MS < now))) {
				*pp = e->next;
				free(e);
				s->count--;
			} else {
				pp = &e->next;
			}
		}
	}
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_server *s = w->data;
	int idx = (int)(w - s->io) & 1;
	uint8_t buf[2048];
	np_addr_t from, to;

	for (int i = 0; i < 256; i++) {
		ssize_t n = np_udp_recv(w->fd, buf, sizeof(buf), &from, &to);
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			break;
		if (n == -EMSGSIZE) {
			s->st.rx++;
			s->st.bad++;
			continue;
		}
		if (n < 0)
			break;
		to.port = s->cfg.port[idx];
		np_server_handle(s, idx, buf, (size_t)n, &from, &to);
	}
}

/* A frame from a TCP connection: a REGISTER, answered on that connection
 * (NAT probes mean nothing over TCP). */
static void on_tcp_frame(void *arg, uint64_t conn_id, int port_idx, const uint8_t *msg, size_t len,
			 const np_addr_t *from, const np_addr_t *to)
{
	struct np_server *s = arg;

	if (np_wire_type(msg, len) != NP_MSG_REGISTER) {
		s->st.rx++;
		s->st.bad++;
		return;
	}
	s->cur_tcp = conn_id;
	np_server_handle(s, port_idx, msg, len, from, to);
	s->cur_tcp = 0;
}

static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_server *s = w->data;

	np_server_sweep(s);
	np_srvtcp_sweep(s->tcp);
}

/* TCP listeners on the addresses and ports of the UDP sockets. */
static int listen_tcp(struct np_server *s, char *err, size_t errlen)
{
	struct np_srvtcp_limits lim = { 0 };
	int rc;

	lim.max_conns = s->cfg.tcp_max_conns;
	lim.max_per_ip = s->cfg.tcp_max_per_ip ? s->cfg.tcp_max_per_ip : 64;
	lim.first_s = s->cfg.tcp_first_s > 0 ? s->cfg.tcp_first_s : 10.0;
	lim.idle_s = s->cfg.tcp_idle_s > 0 ? s->cfg.tcp_idle_s : 60.0;
	rc = np_srvtcp_new(s->loop, &lim, on_tcp_frame, s, &s->tcp);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	for (int i = 0; i < 6; i++) {
		np_addr_t a = i < 2 ? s->cfg.bind : i < 4 ? s->cfg.alt : (np_addr_t){ .family = 6 };

		if (s->fd[i] < 0)
			continue;
		rc = np_srvtcp_listen(s->tcp, &a, s->cfg.port[i & 1], i & 1, err, errlen);
		if (rc < 0 && i < 4)
			return rc;
		if (rc < 0)
			np_info("not listening on TCP over IPv6: %s", err);
	}
	return 0;
}

int np_server_new(struct ev_loop *loop, const struct np_server_config *cfg, struct np_server **out, char *err,
		  size_t errlen)
{
	struct np_server *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->cfg = *cfg;
	for (int i = 0; i < 6; i++)
		s->fd[i] = -1;
	s->bind_any = memcmp(cfg->bind.ip, (uint8_t[16]){ 0 }, 16) == 0;
	if (!s->cfg.expire_ms)
		s->cfg.expire_ms = 10000;
	if (!s->cfg.max_sessions)
		s->cfg.max_sessions = 1000000;
	crypto_shorthash_keygen(s->hash_key);
	randombytes_buf(s->cookie_secret, sizeof(s->cookie_secret));
	s->next_round = randombytes_random();
	s->log_tokens = LOG_LINES_PER_S;
	s->log_at_ms = np_mono_ms();
	s->nbuckets = 1024;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	rc = s->buckets ? np_ratelimit_init(&s->rl, cfg->rate, cfg->burst) : -ENOMEM;
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < (cfg->alt.family && !s->bind_any ? 4 : 2); i++) {
		rc = np_udp_open(cfg->bind.family, i < 2 ? &cfg->bind : &cfg->alt, cfg->port[i & 1],
				 NP_UDP_PKTINFO | NP_UDP_BIGBUF,
				 err, errlen);
		if (rc < 0)
			goto fail;
		s->fd[i] = rc;
		ev_io_init(&s->io[i], on_read, s->fd[i], EV_READ);
		s->io[i].data = s;
		ev_io_start(loop, &s->io[i]);
	}
	/* Listening on every IPv4 address: every IPv6 address too, if this
	 * host has IPv6 at all. */
	for (int i = 4; i < 6 && s->bind_any && cfg->bind.family == 4; i++) {
		np_addr_t any6 = { .family = 6 };
		char err6[160];

		rc = np_udp_open(6, &any6, cfg->port[i & 1], NP_UDP_PKTINFO | NP_UDP_BIGBUF, err6, sizeof(err6));
		if (rc < 0) {
			np_info("not listening on IPv6: %s", err6);
			break;
		}
		s->fd[i] = rc;
		ev_io_init(&s->io[i], on_read, s->fd[i], EV_READ);
		s->io[i].data = s;
		ev_io_start(loop, &s->io[i]);
	}
	if (cfg->tcp_max_conns && (rc = listen_tcp(s, err, errlen)) < 0)
		goto fail;
	ev_timer_init(&s->sweep, on_sweep, 1.0, 1.0);
	s->sweep.data = s;
	ev_timer_start(loop, &s->sweep);
	ev_timer_init(&s->late, on_late, 0.0, 0.0);
	s->late.data = s;
	*out = s;
	return 0;
fail:
	np_server_free(s);
	return rc;
}

void np_server_get_stats(const struct np_server *s, struct np_server_stats *st)
{
	struct np_srvtcp_stats ts;

	*st = s->st;
	st->sessions = s->count;
	np_srvtcp_get_stats(s->tcp, &ts);
	st->tcp_accepted = ts.accepted;
	st->tcp_refused = ts.refused + ts.evicted;
	st->tcp_closed_idle = ts.idle_closed;
	st->tcp_bad_frames = ts.bad_frames;
}

void np_server_free(struct np_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < 6; i++) {
		if (s->fd[i] >= 0) {
			if (s->loop)
				ev_io_stop(s->loop, &s->io[i]);
			close(s->fd[i]);
		}
	}
	if (s->loop) {
		ev_timer_stop(s->loop, &s->sweep);
		ev_timer_stop(s->loop, &s->late);
	}
	np_srvtcp_free(s->tcp);
	for (size_t i = 0; s->buckets && i < s->nbuckets; i++) {
		struct srv_sess *e = s->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(s->buckets);
	np_ratelimit_free(&s->rl);
	sodium_memzero(s->cookie_secret, sizeof(s->cookie_secret));
	free(s);
}
