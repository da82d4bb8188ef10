/* np_regtcp: registration with the rendezvous server over TCP, for a peer
 * whose network passes no UDP (core/proto/PROTOCOL.md "Registration over
 * TCP").
 *
 * When REGISTER_UDP_TRIES REGISTERs in a row get no answer at all over UDP
 * (REGISTER_UDP_TRIES_DISC when the cycle's NAT discovery had UDP answers),
 * np_peer.c calls np_regtcp_start(): from then on every REGISTER goes as a
 * frame (np_frame.h) over one TCP connection to the server's same address
 * and port, and the server's answers (cookie, ACK, PEER_INFO with the TURN
 * credentials) come back on it and enter np_peer_control() as if they were
 * datagrams from the server. The connection is opened on demand, re-opened
 * (at most every RECONNECT_S) when it breaks, and follows the server when
 * the peer moves to the other address family. The peer stays on TCP while
 * the server answers there (a network that blocked UDP is not trusted to
 * pass it later, and the relayed path does not need it); when the server
 * cannot be reached over TCP either (it is down), the peer goes back to
 * UDP, and whichever answers first when it is back wins. And because a
 * peer whose UDP merely went unanswered for a while (the server was
 * restarting) must not stay on TCP (and relayed) for good, every
 * UDP_CHECK_S a NAT_PROBE goes to the server over UDP as well: a valid
 * answer moves registration back to UDP (the relayed tunnel stays). */
#include "np_peer_int.h"

#include "np_auth.h"
#include "np_frame.h"
#define NP_LOG_COMPONENT "peer"
#include "np_log.h"
#include "np_stream.h"

#include <errno.h>
#include <sodium.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RECONNECT_S 3.0
#define CONNECT_TIMEOUT_S 5.0
#define TX_CAP 2048
#define UDP_CHECK_S 15.0

struct np_regtcp {
	struct np_peer *p;
	int fd;
	int connected;
	ev_io io;
	int events;
	ev_timer timer;              /* the connect timeout */
	np_addr_t to;                /* the server address it is connected to */
	double last_attempt;
	unsigned failures;
	int connect_failed;          /* the last connection attempt failed */
	struct np_frame_rx rx;
	uint8_t tx[TX_CAP];
	size_t tx_len;
	uint8_t pending[NP_FRAME_MAX]; /* the newest message, while connecting */
	size_t pending_len;
	double udp_checked;          /* when the last NAT_PROBE over UDP went out */
	uint32_t udp_txid;
};

static void udp_check(struct np_peer *p);

static void rt_close(struct np_regtcp *r, const char *why, int err)
{
	struct np_peer *p = r->p;
	char a[NP_ADDR_STRLEN];

	if (r->fd < 0)
		return;
	ev_io_stop(p->loop, &r->io);
	ev_timer_stop(p->loop, &r->timer);
	close(r->fd);
	r->fd = -1;
	r->connected = 0;
	r->events = 0;
	r->tx_len = 0;
	r->rx.have = 0;
	if (why && r->failures++ < 3)
		np_warn_e(err, "server %s over TCP, trying again: %s", np_astr(&r->to, a), why);
}

static void rt_flush(struct np_regtcp *r)
{
	int rc = np_stream_flush(r->fd, r->tx, &r->tx_len);

	if (rc < 0) {
		rt_close(r, "send failed", rc);
		return;
	}
	np_stream_watch(r->p->loop, &r->io, &r->events, r->tx_len ? EV_READ | EV_WRITE : EV_READ);
}

static void rt_queue(struct np_regtcp *r, const uint8_t *msg, size_t len)
{
	int n = np_frame_encode(r->tx + r->tx_len, sizeof(r->tx) - r->tx_len, msg, len);

	if (n < 0) {
		r->p->stats.send_errors++; /* the stream is stuck: dropped, as a datagram would be */
		return;
	}
	r->tx_len += (size_t)n;
	rt_flush(r);
}

/* A message from the server: only what the server sends to a registrant. */
static void rt_message(struct np_regtcp *r, uint8_t *msg, size_t len)
{
	struct np_peer *p = r->p;
	np_addr_t from = r->to;
	int type = np_wire_type(msg, len);

	if (type != NP_MSG_REGISTER_COOKIE && type != NP_MSG_REGISTER_ACK && type != NP_MSG_PEER_INFO) {
		p->stats.bad++;
		return;
	}
	np_peer_control(p, NULL, msg, len, &from);
}

static void rt_read(struct np_regtcp *r)
{
	uint8_t buf[2048];

	for (int i = 0; i < 8 && r->fd >= 0; i++) {
		ssize_t n = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT);
		const uint8_t *in = buf, *msg;
		size_t inlen, mlen;
		int rc = 0;

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rt_close(r, n == 0 ? "the server closed the connection" : "receive failed", n < 0 ? errno : 0);
			return;
		}
		inlen = (size_t)n;
		while (r->fd >= 0 && (rc = np_frame_take(&r->rx, &in, &inlen, &msg, &mlen)) == 1) {
			uint8_t copy[NP_FRAME_MAX];

			memcpy(copy, msg, mlen);
			rt_message(r, copy, mlen);
		}
		if (r->fd >= 0 && rc < 0) {
			rt_close(r, "framing error from the server", 0);
			return;
		}
	}
}

static void rt_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_regtcp *r = w->data;
	char a[NP_ADDR_STRLEN];

	if (!r->connected && (revents & EV_WRITE)) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err) {
			r->connect_failed = 1;
			rt_close(r, "cannot connect", err);
			return;
		}
		r->connected = 1;
		r->connect_failed = 0;
		r->failures = 0;
		ev_timer_stop(loop, &r->timer);
		np_info("connected to the server %s over TCP", np_astr(&r->to, a));
		if (r->pending_len) {
			rt_queue(r, r->pending, r->pending_len);
			r->pending_len = 0;
		} else {
			rt_flush(r);
		}
		return;
	}
	if (revents & EV_READ)
		rt_read(r);
	if (r->fd >= 0 && r->connected && (revents & EV_WRITE))
		rt_flush(r);
}

static void rt_on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_regtcp *r = w->data;

	if (!r->connected) {
		r->connect_failed = 1;
		rt_close(r, "no answer to the connection attempt", 0);
	}
}

static void rt_connect(struct np_regtcp *r)
{
	struct np_peer *p = r->p;
	struct sockaddr_storage ss;
	int sl, one = 1;

	r->last_attempt = ev_now(p->loop);
	r->to = p->server;
	sl = np_addr_to_sockaddr(&r->to, &ss);
	if (sl < 0)
		return;
	r->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		np_warn_e(-errno, "cannot open a TCP socket");
		r->connect_failed = 1;
		return;
	}
	(void)setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(r->fd, (struct sockaddr *)&ss, (socklen_t)sl) < 0 && errno != EINPROGRESS) {
		int e = errno;
		r->connect_failed = 1;
		rt_close(r, "cannot connect", e);
		return;
	}
	ev_io_init(&r->io, rt_on_io, r->fd, EV_WRITE);
	r->io.data = r;
	r->events = EV_WRITE;
	ev_io_start(p->loop, &r->io);
	ev_timer_set(&r->timer, CONNECT_TIMEOUT_S, 0.);
	ev_timer_start(p->loop, &r->timer);
}

int np_regtcp_start(struct np_peer *p)
{
	struct np_regtcp *r;

	if (p->regtcp)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->p = p;
	r->fd = -1;
	r->last_attempt = -1e9;
	r->udp_checked = ev_now(p->loop);
	ev_timer_init(&r->timer, rt_on_timeout, CONNECT_TIMEOUT_S, 0.);
	r->timer.data = r;
	p->regtcp = r;
	return 0;
}

int np_regtcp_send(struct np_peer *p, const uint8_t *msg, size_t len)
{
	struct np_regtcp *r = p->regtcp;

	if (!r || len > NP_FRAME_MAX)
		return -EINVAL;
	if (r->fd >= 0 && !np_addr_equal(&r->to, &p->server))
		rt_close(r, NULL, 0); /* the server moved to the other family */
	if (r->fd < 0 && r->connect_failed) {
		char a[NP_ADDR_STRLEN];

		np_warn("the server %s answers over TCP no more than over UDP (is it running?): trying UDP again",
			np_astr(&p->server, a));
		np_regtcp_free(p);
		p->udp_unanswered = 0;
		return -ENOTCONN;
	}
	udp_check(p);
	if (r->fd >= 0 && r->connected) {
		rt_queue(r, msg, len);
		return 0;
	}
	memcpy(r->pending, msg, len); /* the newest REGISTER replaces an older one */
	r->pending_len = len;
	if (r->fd < 0 && ev_now(p->loop) - r->last_attempt >= RECONNECT_S)
		rt_connect(r);
	return 0;
}

/* Every UDP_CHECK_S: does the server answer over UDP again? */
static void udp_check(struct np_peer *p)
{
	struct np_regtcp *r = p->regtcp;
	struct np_msg_nat_probe m = { 0 };
	uint8_t buf[NP_NAT_PROBE_LEN];
	int n;

	if (!p->socks[0] || ev_now(p->loop) - r->udp_checked < UDP_CHECK_S)
		return;
	r->udp_checked = ev_now(p->loop);
	randombytes_buf(&r->udp_txid, sizeof(r->udp_txid));
	m.txid = r->udp_txid;
	n = np_wire_encode_nat_probe(buf, sizeof(buf), &m);
	if (n > 0)
		np_sock_send(p, 0, &p->server, buf, (size_t)n, 0);
}

int np_regtcp_udp_answer(struct np_peer *p, const uint8_t *buf, size_t len, const np_addr_t *from)
{
	struct np_regtcp *r = p->regtcp;
	struct np_msg_nat_probe_reply m;
	char a[NP_ADDR_STRLEN];

	if (!r || !r->udp_txid || !np_addr_equal(from, &p->server) || np_wire_parse_nat_probe_reply(buf, len, &m) < 0 ||
	    m.txid != r->udp_txid)
		return 0;
	if (p->keys.has_token && (!(m.flags & NP_NATP_F_MAC) ||
				  np_auth_server_verify(p->keys.token_key, p->server.port, buf, m.mac_offset, m.mac) < 0))
		return 0;
	np_info("the server %s answers over UDP again: registering over UDP (the relayed tunnel stays)",
		np_astr(&p->server, a));
	np_regtcp_free(p);
	p->udp_unanswered = 0;
	return 1;
}

int np_regtcp_connected(const struct np_peer *p)
{
	return p->regtcp && p->regtcp->connected;
}

void np_regtcp_free(struct np_peer *p)
{
	struct np_regtcp *r = p->regtcp;

	if (!r)
		return;
	rt_close(r, NULL, 0);
	free(r);
	p->regtcp = NULL;
}
