/* np_server_tcp: TCP listeners and connections of natpunch-server
 * (np_server_tcp.h). Every socket is non-blocking; nothing here ever waits
 * on a client, and every buffer has a fixed size. */
#include "np_server_tcp.h"
#include "np_frame.h"
#define NP_LOG_COMPONENT "server"
#include "np_log.h"
#include "np_stream.h"
#include "np_wire.h"

#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LISTENERS 8
#define TX_CAP 4096                 /* bytes queued per connection */
#define READS_PER_EVENT 4
#define ACCEPTS_PER_EVENT 64
#define SLOT_BITS 16
#define FULL_LOG_S 10.0

struct conn {
	uint64_t id;
	int fd;
	ev_io io;
	int events;
	struct np_srvtcp *t;
	int port_idx;
	np_addr_t from, to;
	double accepted, last_frame;
	uint64_t frames;
	struct np_frame_rx rx;
	size_t tx_len;
	uint8_t tx[TX_CAP];
};

struct listener {
	int fd;
	int port_idx;
	uint16_t port;
	ev_io io;
	struct np_srvtcp *t;
};

struct np_srvtcp {
	struct ev_loop *loop;
	struct np_srvtcp_limits lim;
	np_srvtcp_frame_fn fn;
	void *arg;
	struct listener ls[MAX_LISTENERS];
	int nls;
	int paused;                  /* accept() ran out of descriptors: listeners stopped */
	struct conn **conns;         /* lim.max_conns slots */
	uint64_t gen;
	double full_logged;
	struct np_srvtcp_stats st;
};

static void conn_close(struct np_srvtcp *t, struct conn *c)
{
	size_t slot = (size_t)(c->id & ((1u << SLOT_BITS) - 1));

	ev_io_stop(t->loop, &c->io);
	close(c->fd);
	t->conns[slot] = NULL;
	t->st.open--;
	free(c);
}

static struct conn *conn_get(struct np_srvtcp *t, uint64_t id)
{
	size_t slot = (size_t)(id & ((1u << SLOT_BITS) - 1));

	if (!id || slot >= t->lim.max_conns || !t->conns[slot] || t->conns[slot]->id != id)
		return NULL;
	return t->conns[slot];
}

/* 0, or -1 when the connection broke (and is closed). */
static int flush(struct np_srvtcp *t, struct conn *c)
{
	if (np_stream_flush(c->fd, c->tx, &c->tx_len) < 0) {
		conn_close(t, c);
		return -1;
	}
	np_stream_watch(t->loop, &c->io, &c->events, c->tx_len ? EV_READ | EV_WRITE : EV_READ);
	return 0;
}

int np_srvtcp_send(struct np_srvtcp *t, uint64_t conn_id, const uint8_t *msg, size_t len)
{
	struct conn *c = t ? conn_get(t, conn_id) : NULL;
	int n;

	if (!c)
		return -ENOTCONN;
	n = np_frame_encode(c->tx + c->tx_len, TX_CAP - c->tx_len, msg, len);
	if (n < 0) {
		t->st.tx_dropped++;
		return -ENOBUFS;
	}
	c->tx_len += (size_t)n;
	return flush(t, c) < 0 ? -ENOTCONN : 0;
}

static void on_conn(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	struct np_srvtcp *t = c->t;
	uint64_t id = c->id;
	uint8_t buf[2048];

	if ((revents & EV_WRITE) && flush(t, c) < 0)
		return;
	if (!(revents & EV_READ))
		return;
	for (int r = 0; r < READS_PER_EVENT; r++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		const uint8_t *in = buf, *msg;
		size_t inlen, mlen;
		int rc;

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			conn_close(t, c);
			return;
		}
		inlen = (size_t)n;
		while ((rc = np_frame_take(&c->rx, &in, &inlen, &msg, &mlen)) == 1) {
			np_addr_t from = c->from, to = c->to;
			int port_idx = c->port_idx;
			uint8_t copy[NP_FRAME_MAX]; /* the answer may close c */

			memcpy(copy, msg, mlen);
			c->frames++;
			c->last_frame = ev_now(loop);
			t->st.frames++;
			t->fn(t->arg, id, port_idx, copy, mlen, &from, &to);
			if (!conn_get(t, id))
				return; /* closed by the answer */
		}
		if (rc < 0) {
			char a[NP_ADDR_STRLEN];

			t->st.bad_frames++;
			np_debug("TCP %s: framing error, closed", np_addr_str(&c->from, a, sizeof(a)));
			conn_close(t, c);
			return;
		}
		if ((size_t)n < sizeof(buf))
			return;
	}
}

/* A slot for a new connection from `from`, or -1 (refused). */
static long take_slot(struct np_srvtcp *t, const np_addr_t *from)
{
	size_t same = 0, fresh = (size_t)-1;
	long free_slot = -1;
	struct conn *oldest = NULL;

	for (size_t i = 0; i < t->lim.max_conns; i++) {
		struct conn *c = t->conns[i];

		if (!c) {
			if (free_slot < 0)
				free_slot = (long)i;
			continue;
		}
		if (np_addr_same_ip(&c->from, from))
			same++;
		if (!c->frames && (!oldest || c->accepted < oldest->accepted)) {
			oldest = c;
			fresh = i;
		}
	}
	if (same >= t->lim.max_per_ip)
		return -1;
	if (free_slot >= 0)
		return free_slot;
	if (!oldest)
		return -1;
	t->st.evicted++;
	conn_close(t, oldest);
	return (long)fresh;
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	struct np_srvtcp *t = l->t;

	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage ss, ls;
		socklen_t sl = sizeof(ss), lsl = sizeof(ls);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		np_addr_t from, to;
		struct conn *c;
		long slot;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				np_warn_e(-errno, "TCP: cannot accept connections for now");
				for (int k = 0; k < t->nls; k++)
					ev_io_stop(loop, &t->ls[k].io);
				t->paused = 1;
			}
			return;
		}
		if (np_addr_from_sockaddr(&from, (struct sockaddr *)&ss) < 0 ||
		    getsockname(fd, (struct sockaddr *)&ls, &lsl) < 0 ||
		    np_addr_from_sockaddr(&to, (struct sockaddr *)&ls) < 0 || (slot = take_slot(t, &from)) < 0 ||
		    !(c = calloc(1, sizeof(*c)))) {
			t->st.refused++;
			if (ev_now(loop) - t->full_logged >= FULL_LOG_S) {
				char a[NP_ADDR_STRLEN];

				t->full_logged = ev_now(loop);
				np_warn("TCP: connection from %s refused (%zu connections at most, %zu per address; "
					"%llu refused so far)",
					np_addr_str(&from, a, sizeof(a)), t->lim.max_conns, t->lim.max_per_ip,
					(unsigned long long)t->st.refused);
			}
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->id = (++t->gen << SLOT_BITS) | (uint64_t)slot;
		c->fd = fd;
		c->t = t;
		c->port_idx = l->port_idx;
		c->from = from;
		c->to = to;
		c->to.port = l->port;
		c->accepted = c->last_frame = ev_now(loop);
		ev_io_init(&c->io, on_conn, fd, EV_READ);
		c->io.data = c;
		c->events = EV_READ;
		ev_io_start(loop, &c->io);
		t->conns[slot] = c;
		t->st.accepted++;
		t->st.open++;
	}
}

int np_srvtcp_new(struct ev_loop *loop, const struct np_srvtcp_limits *lim, np_srvtcp_frame_fn fn, void *arg,
		  struct np_srvtcp **out)
{
	struct np_srvtcp *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->lim = *lim;
	if (t->lim.max_conns > (1u << SLOT_BITS) - 1)
		t->lim.max_conns = (1u << SLOT_BITS) - 1;
	if (!t->lim.max_per_ip)
		t->lim.max_per_ip = 1;
	t->fn = fn;
	t->arg = arg;
	t->full_logged = -FULL_LOG_S;
	t->conns = calloc(t->lim.max_conns ? t->lim.max_conns : 1, sizeof(*t->conns));
	if (!t->conns) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

int np_srvtcp_listen(struct np_srvtcp *t, const np_addr_t *addr, uint16_t port, int port_idx, char *err,
		     size_t errlen)
{
	struct sockaddr_storage ss;
	np_addr_t a = *addr;
	int fd, one = 1, sl, rc;
	char s[NP_ADDR_STRLEN];

	if (t->nls >= MAX_LISTENERS) {
		snprintf(err, errlen, "too many TCP listeners");
		return -ENOSPC;
	}
	a.port = port;
	sl = np_addr_to_sockaddr(&a, &ss);
	if (sl < 0) {
		snprintf(err, errlen, "TCP: bad address family");
		return sl;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		np_errmsg(err, errlen, rc, "TCP socket");
		return rc;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a.family == 6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sl) < 0 || listen(fd, 128) < 0) {
		rc = -errno;
		np_errmsg(err, errlen, rc, "cannot listen on TCP %s", np_addr_str(&a, s, sizeof(s)));
		close(fd);
		return rc;
	}
	struct listener *l = &t->ls[t->nls++];
	l->fd = fd;
	l->port_idx = port_idx;
	l->port = port;
	l->t = t;
	ev_io_init(&l->io, on_accept, fd, EV_READ);
	l->io.data = l;
	ev_io_start(t->loop, &l->io);
	return 0;
}

void np_srvtcp_sweep(struct np_srvtcp *t)
{
	double now;

	if (!t)
		return;
	now = ev_now(t->loop);
	if (t->paused) {
		t->paused = 0;
		for (int k = 0; k < t->nls; k++)
			ev_io_start(t->loop, &t->ls[k].io);
	}
	for (size_t i = 0; i < t->lim.max_conns; i++) {
		struct conn *c = t->conns[i];

		if (c && ((!c->frames && now - c->accepted > t->lim.first_s) || now - c->last_frame > t->lim.idle_s)) {
			t->st.idle_closed++;
			conn_close(t, c);
		}
	}
}

void np_srvtcp_get_stats(const struct np_srvtcp *t, struct np_srvtcp_stats *st)
{
	if (t)
		*st = t->st;
	else
		memset(st, 0, sizeof(*st));
}

void np_srvtcp_free(struct np_srvtcp *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->lim.max_conns; i++)
		if (t->conns[i])
			conn_close(t, t->conns[i]);
	for (int k = 0; k < t->nls; k++) {
		ev_io_stop(t->loop, &t->ls[k].io);
		close(t->ls[k].fd);
	}
	free(t->conns);
	free(t);
}
