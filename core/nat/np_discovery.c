/* np_discovery: sockets, retransmission, reply matching and the TTL/ICMP
 * depth probe of NAT discovery. Classification itself is np_natclass. */
#include "np_discovery.h"

#include <errno.h>
#include <ev.h>
#include <sodium.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "np_auth.h"
#include "np_log.h"
#include "np_udp.h"
#include "np_wire.h"

#define DISC_TICK_S 0.2     /* retransmit interval */
#define DISC_TRIES 5        /* sends per question: 0, 200, ..., 800 ms */
#define DISC_TOTAL_MS 1000  /* answer by then, or count as unanswered */
#define DISC_TTL_TRIES 2

/* Sockets. */
enum { S_MAIN, S_F1, S_F2, S_TTL, S_FRESH, S_TAIL = S_FRESH + NP_DISCOVERY_FRESH, S_COUNT };

/* Questions. */
enum {
	Q_P1, Q_P2, Q_ALT, Q_F1, Q_F2,
	Q_FRESH,
	Q_TTL = Q_FRESH + NP_DISCOVERY_FRESH,
	Q_TAIL = Q_TTL + NP_DISCOVERY_MAX_TTL,
	Q_COUNT
};
#define DISC_TAIL_MS 600    /* the tail question may run this much past DISC_TOTAL_MS */

struct disc_sock {
	int fd;
	uint16_t port;
	ev_io io;
	struct np_discovery *d;
};

struct disc_q {
	int slot;
	np_addr_t to;
	uint8_t flags;
	uint8_t active, answered, tries;
	int ttl;
	uint32_t txid;
	np_addr_t observed;
};

struct np_discovery {
	struct ev_loop *loop;
	np_discovery_cb cb;
	void *arg;
	np_addr_t server1, server2, alt, local_ip, public_ep;
	struct disc_sock s[S_COUNT];
	struct disc_q q[Q_COUNT];
	ev_timer tick;
	unsigned ticks;
	int last_err;
	int ttl_started;
	int tail_decided;           /* the tail question was asked, or not needed */
	np_addr_t hops[NP_DISCOVERY_MAX_TTL];
	int has_token;
	uint8_t token_key[32];
	unsigned rejected;          /* replies from elsewhere or without a valid MAC */
};

unsigned np_discovery_depth(const np_addr_t *hops, unsigned n)
{
	unsigned i, depth = 0;

	for (i = 0; i < n; i++) {
		if (!hops[i].family || !np_addr_is_private(&hops[i]))
			break;
		depth++;
	}
	return depth ? depth : 1;
}

static void disc_send(struct np_discovery *d, struct disc_q *q)
{
	struct np_msg_nat_probe m = { .flags = q->flags, .txid = q->txid };
	uint8_t buf[NP_NAT_PROBE_LEN];
	int len = np_wire_encode_nat_probe(buf, sizeof(buf), &m), rc;

	if (len < 0 || d->s[q->slot].fd < 0)
		return;
	q->tries++;
	rc = np_udp_send(d->s[q->slot].fd, &q->to, buf, (size_t)len, q->ttl, NULL);
	if (rc < 0 && q->ttl == 0)
		d->last_err = rc;
}

static void disc_ask(struct np_discovery *d, int qi, int slot, const np_addr_t *to, uint8_t flags,
		     int ttl)
{
	struct disc_q *q = &d->q[qi];
	uint32_t r;

	q->slot = slot;
	q->to = *to;
	q->flags = flags;
	q->ttl = ttl;
	q->active = 1;
	/* txid: the question index in the low byte, randomness above it. */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)random();
	q->txid = (r << 8) | (uint32_t)qi;
	disc_send(d, q);
}

/* The questions that need the server's second port. */
static void disc_ask_other_port(struct np_discovery *d)
{
	disc_ask(d, Q_P2, S_MAIN, &d->server2, 0, 0);
	disc_ask(d, Q_F1, S_F1, &d->server1, NP_NATP_F_CHANGE_PORT, 0);
}

static int ep_equal(const np_addr_t *a, const np_addr_t *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16);
}

static int ip_equal(const np_addr_t *a, const np_addr_t *b)
{
	return a->family == b->family && !memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16);
}

static void disc_finish(struct np_discovery *d);
static int disc_open(struct np_discovery *d, int slot, int family, int recverr);

static void disc_start_ttl(struct np_discovery *d)
{
	int i;

	d->ttl_started = 1;
	if (d->s[S_TTL].fd < 0)
		return;
	for (i = 0; i < NP_DISCOVERY_MAX_TTL; i++)
		disc_ask(d, Q_TTL + i, S_TTL, &d->server1, 0, i + 1);
}

/* A reply for question qi arrived from `from` on slot `slot`. */
static void disc_reply(struct np_discovery *d, int slot, const struct np_msg_nat_probe_reply *r,
		       const np_addr_t *from)
{
	unsigned qi = r->txid & 0xff;
	struct disc_q *q;
	np_addr_t want;

	if (qi >= Q_COUNT)
		return;
	q = &d->q[qi];
	if (qi >= Q_TTL && qi < Q_TAIL)
		return; /* a TTL probe that reached the server: nothing to learn */
	if (!q->active || q->slot != slot || q->txid != r->txid || q->answered)
		return;
	switch (qi) {
	case Q_F1: /* must really come from the server's other port */
		if (!(r->answered & NP_NATP_F_CHANGE_PORT) || from->port != d->server2.port ||
		    !ip_equal(from, &d->server1)) {
			d->rejected++;
			return;
		}
		break;
	case Q_F2: /* must really come from the announced alternate address */
		if (!(r->answered & NP_NATP_F_CHANGE_IP) || !d->alt.family || !ip_equal(from, &d->alt) ||
		    (from->port != d->server1.port && from->port != d->server2.port)) {
			d->rejected++;
			return;
		}
		break;
	default:
		if (!ep_equal(from, &q->to)) {
			d->rejected++;
			return;
		}
		break;
	}
	q->answered = 1;
	q->observed = r->observed;
	if (qi == Q_P1) {
		d->public_ep = r->observed;
		if (!d->server2.port && r->other_port && r->other_port != d->server1.port) {
			d->server2.port = r->other_port;
			disc_ask_other_port(d);
		}
		if (r->alt.family && !d->q[Q_ALT].active) {
			d->alt = r->alt;
			want = r->alt;
			want.port = d->server1.port;
			disc_ask(d, Q_ALT, S_MAIN, &want, 0, 0);
			disc_ask(d, Q_F2, S_F2, &d->server1,
				 NP_NATP_F_CHANGE_IP | NP_NATP_F_CHANGE_PORT, 0);
		}
		if (!d->ttl_started && !ip_equal(&r->observed, &d->local_ip))
			disc_start_ttl(d);
	}
}

static int disc_handle(struct np_discovery *d, int slot, const uint8_t *buf, size_t len,
		       const np_addr_t *from)
{
	struct np_msg_nat_probe_reply r;

	if (np_wire_type(buf, len) != NP_MSG_NAT_PROBE_REPLY)
		return 0;
	if (np_wire_parse_nat_probe_reply(buf, len, &r) < 0)
		return 0;
	if ((r.txid & 0xff) >= Q_COUNT || d->q[r.txid & 0xff].txid != r.txid)
		return 0;
	/* With a token only the server can answer: the MAC covers the port
	 * the question went to. */
	if (d->has_token && (!(r.flags & NP_NATP_F_MAC) ||
			     np_auth_server_verify(d->token_key, d->q[r.txid & 0xff].to.port, buf, r.mac_offset,
						   r.mac) < 0)) {
		d->rejected++;
		return 0;
	}
	r.flags &= (uint8_t)~NP_NATP_F_MAC;
	disc_reply(d, slot, &r, from);
	return 1;
}

/* Drain the ICMP error queue of the TTL socket. */
static void disc_errqueue(struct np_discovery *d, int fd)
{
	uint8_t buf[256];
	union {
		char b[512];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg;
	struct cmsghdr *c;
	unsigned guard;

	for (guard = 0; guard < 64; guard++) {
		struct np_msg_nat_probe p;
		ssize_t n;

		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.b;
		msg.msg_controllen = sizeof(ctl.b);
		n = recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
		if (n < 0)
			return;
		/* The queued datagram is our own probe: its txid names the TTL. */
		if (np_wire_parse_nat_probe(buf, (size_t)n, &p) < 0)
			continue;
		for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			struct sock_extended_err ee;
			unsigned qi = p.txid & 0xff;
			np_addr_t off;

			if (!((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)))
				continue;
			if (c->cmsg_len < CMSG_LEN(sizeof(ee) + sizeof(struct sockaddr_in)))
				continue;
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if (ee.ee_origin != SO_EE_ORIGIN_ICMP && ee.ee_origin != SO_EE_ORIGIN_ICMP6)
				continue;
			if (qi < Q_TTL || qi >= Q_TAIL || d->q[qi].txid != p.txid)
				continue;
			if (np_addr_from_sockaddr(&off, SO_EE_OFFENDER(
				(struct sock_extended_err *)(void *)CMSG_DATA(c))) < 0)
				continue;
			d->hops[qi - Q_TTL] = off;
			d->q[qi].answered = 1;
		}
	}
}

static void disc_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct disc_sock *s = w->data;
	struct np_discovery *d = s->d;
	int slot = (int)(s - d->s);
	uint8_t buf[512];
	np_addr_t from;
	unsigned guard;

	if (slot == S_TTL)
		disc_errqueue(d, s->fd);
	for (guard = 0; guard < 64; guard++) {
		ssize_t n = np_udp_recv(s->fd, buf, sizeof(buf), &from, NULL);

		if (n == -EAGAIN || n == -EWOULDBLOCK)
			break;
		if (n < 0) {
			/* A pending ICMP error (IP_RECVERR) surfaces here too. */
			if (slot == S_TTL)
				disc_errqueue(d, s->fd);
			continue;
		}
		disc_handle(d, slot, buf, (size_t)n, &from);
	}
}

static int disc_all_done(const struct np_discovery *d)
{
	int i;

	for (i = 0; i < Q_COUNT; i++)
		if (d->q[i].active && !d->q[i].answered)
			return 0;
	return d->q[Q_P1].answered && (d->ttl_started || ip_equal(&d->public_ep, &d->local_ip));
}

static void disc_obs(const struct np_discovery *d, struct np_nat_obs *o);

/* The mapping questions are settled. Behind a sequential NAT, ask once more
 * from a new socket: every other socket of ours has sent already, so nothing
 * of ours allocates after it, and its mapping is exactly where the NAT's
 * counter stands (REGISTER MAPPED). 1 if asked. */
static int disc_start_tail(struct np_discovery *d)
{
	struct np_nat_obs o;
	np_nat_info_t nat;

	d->tail_decided = 1;
	disc_obs(d, &o);
	if (np_natclass_classify(&o, &nat) < 0 || nat.allocation != NP_NAT_ALLOC_SEQUENTIAL ||
	    disc_open(d, S_TAIL, d->server1.family, 0) < 0)
		return 0;
	disc_ask(d, Q_TAIL, S_TAIL, &d->server1, 0, 0);
	return 1;
}

/* The mapping questions are settled (answered, or out of tries): enough to
 * classify the allocation. The filtering and TTL questions may never be
 * answered; they do not open sockets any more. */
static int disc_tail_ready(const struct np_discovery *d)
{
	int i;

	if (!d->q[Q_P1].answered)
		return 0;
	for (i = Q_P2; i < Q_TTL; i++) {
		if (i == Q_F1 || i == Q_F2)
			continue;
		if (d->q[i].active && !d->q[i].answered && d->q[i].tries < DISC_TRIES)
			return 0;
	}
	return 1;
}

static void disc_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_discovery *d = w->data;
	unsigned ms;
	int i;

	d->ticks++;
	ms = (unsigned)(d->ticks * DISC_TICK_S * 1000);
	if (!d->tail_decided && disc_tail_ready(d))
		disc_start_tail(d);
	if ((disc_all_done(d) && d->tail_decided) || ms >= DISC_TOTAL_MS) {
		/* The tail question may take a little longer. */
		if (!d->q[Q_TAIL].active || d->q[Q_TAIL].answered || ms >= DISC_TOTAL_MS + DISC_TAIL_MS) {
			disc_finish(d);
			return;
		}
	}
	for (i = 0; i < Q_COUNT; i++) {
		struct disc_q *q = &d->q[i];
		unsigned max = i >= Q_TTL && i < Q_TAIL ? DISC_TTL_TRIES : DISC_TRIES;

		if (q->active && !q->answered && q->tries < max)
			disc_send(d, q);
	}
}

static void disc_free(struct np_discovery *d)
{
	int i;

	sodium_memzero(d->token_key, sizeof(d->token_key));
	ev_timer_stop(d->loop, &d->tick);
	for (i = 0; i < S_COUNT; i++) {
		if (d->s[i].fd >= 0) {
			ev_io_stop(d->loop, &d->s[i].io);
			close(d->s[i].fd);
		}
	}
	free(d);
}

/* The observations so far (np_natclass input). */
static void disc_obs(const struct np_discovery *d, struct np_nat_obs *o)
{
	unsigned k;

	memset(o, 0, sizeof(*o));
	o->local = d->local_ip;
	o->local.port = d->s[S_MAIN].port;
	o->mapped_p1 = d->q[Q_P1].observed;
	if (d->q[Q_P2].answered)
		o->mapped_p2 = d->q[Q_P2].observed;
	o->have_alt = d->alt.family != 0;
	if (d->q[Q_ALT].answered)
		o->mapped_alt = d->q[Q_ALT].observed;
	if (d->q[Q_TAIL].answered)
		o->mapped_last = d->q[Q_TAIL].observed;
	o->change_port_reply = d->q[Q_F1].answered;
	o->change_ip_reply = d->q[Q_F2].answered;
	o->n_fresh = NP_DISCOVERY_FRESH;
	for (k = 0; k < NP_DISCOVERY_FRESH; k++) {
		o->fresh_local[k] = d->s[S_FRESH + k].port;
		o->fresh_public[k] = d->q[Q_FRESH + k].answered ? d->q[Q_FRESH + k].observed.port : 0;
	}
	o->depth = ip_equal(&o->mapped_p1, &o->local)
			   ? 0
			   : (uint8_t)np_discovery_depth(d->hops, NP_DISCOVERY_MAX_TTL);
}

static void disc_finish(struct np_discovery *d)
{
	struct np_discovery_result res;
	struct np_nat_obs *o = &res.obs;
	char sa[NP_ADDR_STRLEN];

	memset(&res, 0, sizeof(res));
	res.server_alt = d->alt;
	memcpy(res.hops, d->hops, sizeof(res.hops));
	res.local = d->local_ip;
	res.local.port = d->s[S_MAIN].port;
	if (!d->q[Q_P1].answered) {
		res.error = d->last_err ? d->last_err : -ETIMEDOUT;
		if (d->rejected && d->has_token)
			snprintf(res.message, sizeof(res.message),
				 "NAT discovery: %u answers without a valid token MAC or from another address; "
				 "does --server-token match the server's --token-file?", d->rejected);
		else
			snprintf(res.message, sizeof(res.message),
				 "NAT discovery: no answer from the rendezvous server %s within %.1f s%s%s; "
				 "is natpunch-server (wire version %d) running and reachable?",
				 np_addr_str(&d->server1, sa, sizeof(sa)), DISC_TOTAL_MS / 1000.0,
				 d->last_err ? ": " : "", d->last_err ? strerror(-d->last_err) : "", NP_WIRE_VERSION);
		snprintf(res.kind, sizeof(res.kind), "unknown");
		snprintf(res.text, sizeof(res.text), "nat=unknown");
		goto out;
	}
	disc_obs(d, o);
	res.public_ep = o->mapped_p1;
	res.error = np_natclass_classify(o, &res.nat);
	if (!res.error)
		(void)np_natclass_latest(o, &res.nat, &res.latest_ep);
	np_natclass_kind_str(&res.nat, res.kind, sizeof(res.kind));
	np_natclass_describe(&res.nat, res.text, sizeof(res.text));
out:
	d->cb(&res, d->arg);
	disc_free(d);
}

static int disc_open(struct np_discovery *d, int slot, int family, int recverr)
{
	struct disc_sock *s = &d->s[slot];
	char err[128];
	np_addr_t local;
	int one = 1, fd;

	fd = np_udp_open(family, NULL, 0, 0, err, sizeof(err));
	if (fd < 0)
		return fd;
	if (recverr) {
		if (family == 6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
		else
			setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	}
	s->fd = fd;
	s->d = d;
	if (np_udp_local(fd, &local) == 0)
		s->port = local.port;
	ev_io_init(&s->io, disc_io_cb, fd, EV_READ);
	s->io.data = s;
	ev_io_start(d->loop, &s->io);
	return 0;
}

int np_discovery_start(struct ev_loop *loop, const struct sockaddr *server, socklen_t server_len,
		       uint16_t port1, uint16_t port2, const uint8_t *token_key, np_discovery_cb cb, void *arg,
		       struct np_discovery **out)
{
	struct np_discovery *d;
	int family, rc, i;

	if (!loop || !server || !cb || !out || !port1 || port1 == port2 ||
	    server_len < (socklen_t)sizeof(struct sockaddr_in))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->cb = cb;
	d->arg = arg;
	if (token_key) {
		memcpy(d->token_key, token_key, sizeof(d->token_key));
		d->has_token = 1;
	}
	for (i = 0; i < S_COUNT; i++)
		d->s[i].fd = -1;
	rc = np_addr_from_sockaddr(&d->server1, server);
	if (rc < 0)
		goto fail;
	family = d->server1.family;
	d->server1.port = port1;
	d->server2 = d->server1;
	d->server2.port = port2;
	rc = np_route_source(&d->server1, &d->local_ip);
	if (rc < 0)
		goto fail;
	d->local_ip.port = 0;

	if ((rc = disc_open(d, S_MAIN, family, 0)) < 0 || (rc = disc_open(d, S_F1, family, 0)) < 0 || (rc = disc_open(d, S_F2, family, 0)) < 0 ||
	    (rc = disc_open(d, S_TTL, family, 1)) < 0)
		goto fail;

	/* Fresh sockets first, back to back, so that nothing else allocates
	 * ports on the NAT between them. */
	for (i = 0; i < NP_DISCOVERY_FRESH; i++) {
		if ((rc = disc_open(d, S_FRESH + i, family, 0)) < 0)
			goto fail;
		disc_ask(d, Q_FRESH + i, S_FRESH + i, &d->server1, 0, 0);
	}
	disc_ask(d, Q_P1, S_MAIN, &d->server1, 0, 0);
	/* Without port2 the first reply names the server's other port. */
	if (port2)
		disc_ask_other_port(d);

	ev_timer_init(&d->tick, disc_tick_cb, DISC_TICK_S, DISC_TICK_S);
	d->tick.data = d;
	ev_timer_start(loop, &d->tick);
	*out = d;
	return 0;
fail:
	disc_free(d);
	return rc;
}

void np_discovery_cancel(struct np_discovery *d)
{
	if (d)
		disc_free(d);
}
