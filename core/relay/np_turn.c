/* np_turn: the TURN client (see np_turn.h). One socket (UDP, TCP or TLS),
 * a table of outstanding requests retransmitted on UDP, one 250 ms tick
 * that drives retransmissions, refreshes and reconnects. */
#include "np_turn.h"

#define NP_LOG_COMPONENT "relay"
#include "np_log.h"
#include "np_stun.h"
#include "np_time.h"
#include "np_turn_cred.h"
#include "np_udp.h"
#include "np_wire.h"

#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_TXNS 8
#define TICK_S 0.25
#define RTO_S 0.5                 /* first UDP retransmission */
#define RTO_MAX_S 2.0
#define UDP_TRIES 6               /* about 7.5 s in all */
#define STREAM_TIMEOUT_S 8.0
#define CONNECT_TIMEOUT_S 10.0
#define LIFETIME_S 600
#define CHECK_S 10.0              /* a Refresh this often: liveness, RTT, lifetime */
#define BIND_REFRESH_S 240.0      /* ChannelBind again (permission lives 300 s) */
#define BIND_RETRY_S 10.0
#define BACKOFF_MIN_S 1.0
#define BACKOFF_MAX_S 30.0
#define AUTH_BACKOFF_S 30.0
#define RENEW_MARGIN_S 300     /* replace REST credentials this long before they expire */
#define FRAME_MAX (NP_STUN_HDR_LEN + 65535 + 4)
#define STREAM_TX_CAP (512 * 1024)
#define REQ_MAX 1024

struct txn {
	int used;
	uint8_t id[12];
	uint16_t method;
	int peer;                    /* index for ChannelBind, else -1 */
	uint32_t lifetime;           /* Refresh */
	int authed, stale_tries;
	uint8_t msg[REQ_MAX];
	size_t len;
	double first_sent, next_at;
	int tries;
};

struct peer {
	int used;
	np_addr_t addr;
	uint16_t channel;
	int bound, pending;
	double bind_at;              /* next ChannelBind */
};

struct np_turn {
	struct ev_loop *loop;
	struct np_turn_config cfg;
	struct np_turn_callbacks cb;
	void *arg;
	char uri[300];
	np_addr_t server;
	int stream, tls;

	int fd;
	ev_io io;
	int io_events;
	ev_timer tick;
	SSL_CTX *ssl_ctx;
	SSL *ssl;
	int tls_up;
	double connect_started;

	enum np_turn_state st;
	char realm[128], nonce[256];
	uint8_t key[NP_STUN_KEY_LEN];
	int have_key;
	np_addr_t relayed, mapped;
	double next_check;
	double retry_at, backoff;

	struct txn txns[MAX_TXNS];
	struct peer peers[NP_TURN_MAX_PEERS];
	uint16_t next_channel;

	uint8_t *rx;                 /* UDP datagram, or stream reassembly */
	size_t rx_cap, rx_len;
	uint8_t *tx;                 /* stream bytes not yet written */
	size_t tx_len;
	uint8_t *sendbuf;            /* Send indications */

	struct np_turn_stats stats;
	char last_err[256];
	char next_user[128], next_password[128]; /* np_turn_set_credentials */
	int expiry_warned;           /* REST credentials about to expire, and no new ones */
};

static void conn_close(struct np_turn *t);
static void start_connect(struct np_turn *t);
static void send_request(struct np_turn *t, uint16_t method, int peer, uint32_t lifetime);

const char *np_turn_state_name(enum np_turn_state st)
{
	static const char *n[] = { "idle", "connecting", "allocating", "ready", "failed" };
	return (unsigned)st < 5 ? n[st] : "?";
}

static double now_s(struct np_turn *t)
{
	return ev_now(t->loop);
}

/* ---- errors ------------------------------------------------------------- */

static void set_err(struct np_turn *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct np_turn *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->last_err, sizeof(t->last_err), fmt, ap);
	va_end(ap);
}

/* The allocation is gone or could not be made: close, tell, retry later. */
static void lost(struct np_turn *t, int fatal, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void lost(struct np_turn *t, int fatal, const char *fmt, ...)
{
	va_list ap;
	char msg[256];
	int was_ready = t->st == NP_TURN_READY;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(t, "%s", msg);
	conn_close(t);
	memset(&t->relayed, 0, sizeof(t->relayed));
	for (int i = 0; i < NP_TURN_MAX_PEERS; i++)
		t->peers[i].bound = t->peers[i].pending = 0;
	t->st = fatal ? NP_TURN_FAILED : NP_TURN_IDLE;
	if (fatal)
		t->backoff = AUTH_BACKOFF_S;
	t->retry_at = now_s(t) + t->backoff;
	if (fatal)
		np_err("%s: %s; retrying in %.0f s", t->uri, msg, t->backoff);
	else
		np_warn("%s: %s; allocating again in %.0f s", t->uri, msg, t->backoff);
	t->backoff = t->backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : t->backoff * 2;
	if (t->cb.on_down && (was_ready || fatal))
		t->cb.on_down(t->arg, msg);
	if (t->cb.on_fail)
		t->cb.on_fail(t->arg, msg);
}

/* ---- the socket ------------------------------------------------------------ */

static void set_io(struct np_turn *t, int events)
{
	if (t->fd < 0 || events == t->io_events)
		return;
	ev_io_stop(t->loop, &t->io);
	ev_io_set(&t->io, t->fd, events);
	t->io_events = events;
	if (events)
		ev_io_start(t->loop, &t->io);
}

static void conn_close(struct np_turn *t)
{
	if (t->ssl) {
		SSL_free(t->ssl);
		t->ssl = NULL;
	}
	t->tls_up = 0;
	if (t->fd >= 0) {
		ev_io_stop(t->loop, &t->io);
		close(t->fd);
		t->fd = -1;
	}
	t->io_events = 0;
	t->rx_len = t->tx_len = 0;
	for (int i = 0; i < MAX_TXNS; i++)
		t->txns[i].used = 0;
}

/* Writes what is buffered for a stream. 0, or -errno when the connection broke. */
static int stream_flush(struct np_turn *t)
{
	while (t->tx_len) {
		ssize_t n;

		if (t->tls) {
			int r;
			if (!t->tls_up)
				return 0;
			ERR_clear_error();
			r = SSL_write(t->ssl, t->tx, (int)(t->tx_len > 16384 ? 16384 : t->tx_len));
			if (r <= 0) {
				int e = SSL_get_error(t->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					break;
				return -EPIPE;
			}
			n = r;
		} else {
			n = write(t->fd, t->tx, t->tx_len);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				return -errno;
			}
		}
		memmove(t->tx, t->tx + n, t->tx_len - (size_t)n);
		t->tx_len -= (size_t)n;
	}
	set_io(t, EV_READ | (t->tx_len ? EV_WRITE : 0));
	return 0;
}

/* One frame out: whole or not at all. -EAGAIN if a stream's buffer is full. */
static int conn_send(struct np_turn *t, const uint8_t *hdr, size_t hlen, const uint8_t *data, size_t dlen)
{
	static const uint8_t zeros[3];
	size_t pad;

	if (t->fd < 0)
		return -ENOTCONN;
	if (!t->stream) {
		struct iovec iov[2] = { { (void *)hdr, hlen }, { (void *)data, dlen } };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = dlen ? 2 : 1 };

		if (sendmsg(t->fd, &mh, MSG_DONTWAIT) < 0) {
			t->stats.drops++;
			return -errno;
		}
		return 0;
	}
	pad = (4 - ((hlen + dlen) & 3)) & 3;
	if (STREAM_TX_CAP - t->tx_len < hlen + dlen + pad) {
		t->stats.drops++;
		return -EAGAIN;
	}
	memcpy(t->tx + t->tx_len, hdr, hlen);
	if (dlen)
		memcpy(t->tx + t->tx_len + hlen, data, dlen);
	memcpy(t->tx + t->tx_len + hlen + dlen, zeros, pad);
	t->tx_len += hlen + dlen + pad;
	if (stream_flush(t) < 0) {
		lost(t, 0, "connection to the relay broke");
		return -EPIPE;
	}
	return 0;
}

/* ---- requests --------------------------------------------------------------- */

static struct txn *txn_find(struct np_turn *t, const uint8_t *id)
{
	for (int i = 0; i < MAX_TXNS; i++)
		if (t->txns[i].used && memcmp(t->txns[i].id, id, 12) == 0)
			return &t->txns[i];
	return NULL;
}

static int txn_pending(struct np_turn *t, uint16_t method, int peer)
{
	for (int i = 0; i < MAX_TXNS; i++)
		if (t->txns[i].used && t->txns[i].method == method && t->txns[i].peer == peer)
			return 1;
	return 0;
}

/* (Re)builds x->msg with a fresh transaction id and the current nonce. */
static int build_request(struct np_turn *t, struct txn *x)
{
	struct np_stun_builder b;
	int n;

	randombytes_buf(x->id, sizeof(x->id));
	np_stun_build(&b, x->msg, sizeof(x->msg), x->method, NP_STUN_REQUEST, x->id);
	switch (x->method) {
	case NP_STUN_ALLOCATE:
		np_stun_put_u32(&b, NP_STUN_A_REQUESTED_TRANSPORT, 17u << 24); /* UDP */
		np_stun_put_u32(&b, NP_STUN_A_LIFETIME, LIFETIME_S);
		break;
	case NP_STUN_REFRESH:
		np_stun_put_u32(&b, NP_STUN_A_LIFETIME, x->lifetime);
		break;
	case NP_STUN_CHANNEL_BIND:
		np_stun_put_u32(&b, NP_STUN_A_CHANNEL_NUMBER, (uint32_t)t->peers[x->peer].channel << 16);
		np_stun_put_addr(&b, NP_STUN_A_XOR_PEER_ADDRESS, &t->peers[x->peer].addr, 1);
		break;
	}
	x->authed = t->have_key;
	if (t->have_key) {
		np_stun_put_str(&b, NP_STUN_A_USERNAME, t->cfg.user);
		np_stun_put_str(&b, NP_STUN_A_REALM, t->realm);
		np_stun_put_str(&b, NP_STUN_A_NONCE, t->nonce);
		np_stun_put_integrity(&b, t->key, sizeof(t->key));
	}
	np_stun_put_fingerprint(&b);
	n = np_stun_finish(&b);
	if (n < 0)
		return n;
	x->len = (size_t)n;
	return 0;
}

static void txn_transmit(struct np_turn *t, struct txn *x)
{
	double now = now_s(t);

	if (!x->tries)
		x->first_sent = now;
	x->tries++;
	if (t->stream)
		x->next_at = now + STREAM_TIMEOUT_S;
	else {
		double rto = RTO_S * (double)(1u << (x->tries - 1));
		x->next_at = now + (rto > RTO_MAX_S ? RTO_MAX_S : rto);
	}
	conn_send(t, x->msg, x->len, NULL, 0);
}

static void send_request(struct np_turn *t, uint16_t method, int peer, uint32_t lifetime)
{
	struct txn *x = NULL;

	for (int i = 0; i < MAX_TXNS; i++)
		if (!t->txns[i].used) {
			x = &t->txns[i];
			break;
		}
	if (!x) {
		np_debug("%s: too many requests outstanding", t->uri);
		return;
	}
	memset(x, 0, sizeof(*x));
	x->used = 1;
	x->method = method;
	x->peer = peer;
	x->lifetime = lifetime;
	if (build_request(t, x) < 0) {
		x->used = 0;
		np_warn("%s: cannot build a %s request (credentials too long?)", t->uri,
			np_stun_method_name(method));
		return;
	}
	if (peer >= 0)
		t->peers[peer].pending = 1;
	txn_transmit(t, x);
}

static void bind_peer(struct np_turn *t, int i)
{
	struct peer *pe = &t->peers[i];

	if (t->st != NP_TURN_READY || pe->pending)
		return;
	pe->bind_at = now_s(t) + BIND_REFRESH_S;
	send_request(t, NP_STUN_CHANNEL_BIND, i, 0);
}

/* ---- answers ------------------------------------------------------------------ */

static void on_allocated(struct np_turn *t, const struct np_stun_msg *m)
{
	const struct np_stun_attr *ra = np_stun_find(m, NP_STUN_A_XOR_RELAYED_ADDRESS);
	uint32_t lt = LIFETIME_S;
	char a[NP_ADDR_STRLEN], b[NP_ADDR_STRLEN];

	if (np_stun_get_addr(m, ra, 1, &t->relayed) < 0) {
		lost(t, 0, "Allocate answer without a relayed address");
		return;
	}
	if (np_stun_get_addr(m, np_stun_find(m, NP_STUN_A_XOR_MAPPED_ADDRESS), 1, &t->mapped) < 0)
		memset(&t->mapped, 0, sizeof(t->mapped));
	(void)np_stun_get_u32(np_stun_find(m, NP_STUN_A_LIFETIME), &lt);
	t->st = NP_TURN_READY;
	t->stats.allocations++;
	t->backoff = BACKOFF_MIN_S;
	t->last_err[0] = 0;
	t->next_check = now_s(t) + CHECK_S;
	np_info("%s: allocated %s (we are %s to it, lifetime %u s)", t->uri, np_addr_str(&t->relayed, a, sizeof(a)),
		t->mapped.family ? np_addr_str(&t->mapped, b, sizeof(b)) : "?", lt);
	for (int i = 0; i < NP_TURN_MAX_PEERS; i++)
		if (t->peers[i].used) {
			t->peers[i].bound = t->peers[i].pending = 0;
			bind_peer(t, i);
		}
	if (t->cb.on_ready)
		t->cb.on_ready(t->arg, &t->relayed, &t->mapped);
}

static void on_error_answer(struct np_turn *t, struct txn *x, const struct np_stun_msg *m)
{
	int code = 0;
	char reason[128] = "", realm[sizeof(t->realm)], nonce[sizeof(t->nonce)];
	const char *what = np_stun_method_name(x->method);

	if (np_stun_get_error(np_stun_find(m, NP_STUN_A_ERROR_CODE), &code, reason, sizeof(reason)) < 0) {
		np_debug("%s: error answer without a valid ERROR-CODE ignored", t->uri);
		return;
	}
	if (code == 401 || code == 438) {
		int have_realm = np_stun_get_str(np_stun_find(m, NP_STUN_A_REALM), realm, sizeof(realm)) == 0;
		int have_nonce = np_stun_get_str(np_stun_find(m, NP_STUN_A_NONCE), nonce, sizeof(nonce)) == 0;
		int retry = 0;

		if (!have_nonce || (!have_realm && !t->have_key)) {
			lost(t, 1, "%s refused: %d %s, without a realm or nonce", what, code, np_stun_error_text(code));
			return;
		}
		if (code == 438 || !x->authed) {
			retry = x->stale_tries++ < 3;
		} else if (have_realm && strcmp(realm, t->realm) != 0) {
			retry = x->stale_tries++ < 1;
		}
		if (!retry && t->next_user[0]) {
			lost(t, 0, "%s refused: %d %s: allocating again with renewed credentials", what, code,
			     np_stun_error_text(code));
			return;
		}
		if (!retry) {
			lost(t, 1, "%s refused: %d %s: the relay does not accept user '%s' and this password", what, code,
			     np_stun_error_text(code), t->cfg.user);
			return;
		}
		if (have_realm)
			snprintf(t->realm, sizeof(t->realm), "%s", realm);
		snprintf(t->nonce, sizeof(t->nonce), "%s", nonce);
		if (np_stun_long_term_key(t->cfg.user, t->realm, t->cfg.password, t->key) < 0) {
			lost(t, 1, "cannot compute the credential key");
			return;
		}
		t->have_key = 1;
		np_debug("%s: %s answered %d %s: retrying with realm '%s'", t->uri, what, code,
			 np_stun_error_text(code), t->realm);
		if (build_request(t, x) < 0) {
			x->used = 0;
			return;
		}
		x->tries = 0;
		txn_transmit(t, x);
		return;
	}
	x->used = 0;
	if (x->peer >= 0)
		t->peers[x->peer].pending = 0;
	if (code == 437 && x->method == NP_STUN_ALLOCATE) {
		/* This 5-tuple still has an allocation (our Refresh went unanswered):
		 * a new connection gets a new one. */
		lost(t, 0, "Allocate answered 437 %s", np_stun_error_text(code));
		return;
	}
	if (x->method == NP_STUN_ALLOCATE || x->method == NP_STUN_REFRESH || code == 437) {
		lost(t, code == 441 || code == 403, "%s refused: %d %s (%s)", what, code, np_stun_error_text(code),
		     reason[0] ? reason : "no reason given");
		return;
	}
	if (x->method == NP_STUN_CHANNEL_BIND) {
		char a[NP_ADDR_STRLEN];
		np_warn("%s: ChannelBind to %s refused: %d %s (%s); retrying in %.0f s", t->uri,
			np_addr_str(&t->peers[x->peer].addr, a, sizeof(a)), code, np_stun_error_text(code),
			reason[0] ? reason : "no reason given", BIND_RETRY_S);
		t->peers[x->peer].bind_at = now_s(t) + BIND_RETRY_S;
	}
}

static void on_stun(struct np_turn *t, uint8_t *buf, size_t len)
{
	struct np_stun_msg m;
	struct txn *x;

	if (np_stun_parse(buf, len, &m) < 0) {
		t->stats.drops++;
		return;
	}
	if (m.cls == NP_STUN_INDICATION && m.method == NP_STUN_DATA) {
		const struct np_stun_attr *d = np_stun_find(&m, NP_STUN_A_DATA);
		np_addr_t peer;

		if (!d || np_stun_get_addr(&m, np_stun_find(&m, NP_STUN_A_XOR_PEER_ADDRESS), 1, &peer) < 0) {
			t->stats.drops++;
			return;
		}
		t->stats.rx_packets++;
		t->stats.rx_bytes += d->len;
		if (t->cb.on_data)
			t->cb.on_data(t->arg, &peer, buf + (d->val - buf), d->len);
		return;
	}
	if (m.cls != NP_STUN_SUCCESS && m.cls != NP_STUN_ERROR)
		return;
	x = txn_find(t, m.txid);
	if (!x || x->method != m.method) {
		np_debug("%s: answer to no request of ours ignored", t->uri);
		return;
	}
	/* An answer to an authenticated request must carry our MAC. */
	if (x->authed && m.cls == NP_STUN_SUCCESS && np_stun_check_integrity(&m, t->key, sizeof(t->key)) != 0) {
		np_debug("%s: %s answer without a valid MESSAGE-INTEGRITY ignored", t->uri,
			 np_stun_method_name(m.method));
		return;
	}
	if (x->tries == 1)
		t->stats.rtt_ms = (now_s(t) - x->first_sent) * 1000.0;
	if (m.cls == NP_STUN_ERROR) {
		on_error_answer(t, x, &m);
		return;
	}
	x->used = 0;
	switch (m.method) {
	case NP_STUN_ALLOCATE:
		if (t->st == NP_TURN_ALLOCATING)
			on_allocated(t, &m);
		break;
	case NP_STUN_CHANNEL_BIND:
		if (x->peer >= 0) {
			struct peer *pe = &t->peers[x->peer];
			char a[NP_ADDR_STRLEN];
			if (!pe->bound)
				np_debug("%s: channel 0x%04x bound to %s", t->uri, pe->channel,
					 np_addr_str(&pe->addr, a, sizeof(a)));
			pe->bound = 1;
			pe->pending = 0;
		}
		break;
	default:
		break;
	}
}

static void on_channel_data(struct np_turn *t, uint8_t *buf, size_t len)
{
	uint16_t ch;
	const uint8_t *d;
	size_t dl;

	if (np_stun_channel_parse(buf, len, &ch, &d, &dl) < 0) {
		t->stats.drops++;
		return;
	}
	for (int i = 0; i < NP_TURN_MAX_PEERS; i++) {
		if (t->peers[i].used && t->peers[i].channel == ch) {
			t->stats.rx_packets++;
			t->stats.rx_bytes += dl;
			if (t->cb.on_data)
				t->cb.on_data(t->arg, &t->peers[i].addr, buf + NP_STUN_CHANNEL_HDR_LEN, dl);
			return;
		}
	}
	t->stats.drops++;
}

static void on_frame(struct np_turn *t, uint8_t *buf, size_t len)
{
	if (len >= 1 && (buf[0] & 0xc0) == 0x40)
		on_channel_data(t, buf, len);
	else if (np_stun_looks_like(buf, len))
		on_stun(t, buf, len);
	else
		t->stats.drops++;
}

/* ---- reading ------------------------------------------------------------------ */

static void read_udp(struct np_turn *t)
{
	for (int i = 0; i < 64 && t->fd >= 0; i++) {
		ssize_t n = recv(t->fd, t->rx, t->rx_cap, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == ECONNREFUSED && t->st == NP_TURN_ALLOCATING) {
				lost(t, 0, "the relay's port is closed (ICMP port unreachable)");
				return;
			}
			break;
		}
		on_frame(t, t->rx, (size_t)n);
	}
}

static void read_stream(struct np_turn *t)
{
	for (int round = 0; round < 64 && t->fd >= 0; round++) {
		ssize_t n;
		size_t off = 0;

		if (t->tls) {
			int r;
			ERR_clear_error();
			r = SSL_read(t->ssl, t->rx + t->rx_len, (int)(t->rx_cap - t->rx_len));
			if (r <= 0) {
				int e = SSL_get_error(t->ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					return;
				if (e == SSL_ERROR_WANT_WRITE) {
					set_io(t, EV_READ | EV_WRITE);
					return;
				}
				lost(t, 0, "the relay closed the TLS connection");
				return;
			}
			n = r;
		} else {
			n = read(t->fd, t->rx + t->rx_len, t->rx_cap - t->rx_len);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				lost(t, 0, "the relay closed the TCP connection%s", n < 0 ? " (error)" : "");
				return;
			}
		}
		t->rx_len += (size_t)n;
		for (;;) {
			long fl = np_stun_stream_frame_len(t->rx + off, t->rx_len - off);

			if (fl < 0) {
				lost(t, 0, "the relay sent a malformed stream");
				return;
			}
			if (fl == 0 || (size_t)fl > t->rx_len - off)
				break;
			on_frame(t, t->rx + off, (size_t)fl);
			if (t->fd < 0)
				return;
			off += (size_t)fl;
		}
		memmove(t->rx, t->rx + off, t->rx_len - off);
		t->rx_len -= off;
	}
}

/* ---- connecting ----------------------------------------------------------------- */

static void start_allocate(struct np_turn *t)
{
	if (t->next_user[0]) {
		memcpy(t->cfg.user, t->next_user, sizeof(t->cfg.user));
		memcpy(t->cfg.password, t->next_password, sizeof(t->cfg.password));
		sodium_memzero(t->next_password, sizeof(t->next_password));
		t->next_user[0] = 0;
	}
	t->st = NP_TURN_ALLOCATING;
	t->have_key = 0;
	send_request(t, NP_STUN_ALLOCATE, -1, 0);
}

static int tls_setup(struct np_turn *t)
{
	np_addr_t ip;

	t->ssl = SSL_new(t->ssl_ctx);
	if (!t->ssl || SSL_set_fd(t->ssl, t->fd) != 1)
		return -ENOMEM;
	if (np_addr_parse(t->cfg.uri.host, &ip) == 0) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), t->cfg.uri.host) != 1)
			return -EINVAL;
	} else {
		SSL_set_tlsext_host_name(t->ssl, t->cfg.uri.host);
		if (SSL_set1_host(t->ssl, t->cfg.uri.host) != 1)
			return -EINVAL;
	}
	SSL_set_connect_state(t->ssl);
	return 0;
}

static void tls_handshake(struct np_turn *t)
{
	int r, e;

	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->tls_up = 1;
		np_debug("%s: TLS up (%s)", t->uri, SSL_get_version(t->ssl));
		set_io(t, EV_READ);
		start_allocate(t);
		return;
	}
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		set_io(t, EV_READ);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		set_io(t, EV_READ | EV_WRITE);
		return;
	}
	{
		long vr = SSL_get_verify_result(t->ssl);
		unsigned long ec = ERR_peek_last_error();
		char eb[160] = "";

		if (ec)
			ERR_error_string_n(ec, eb, sizeof(eb));
		if (vr != X509_V_OK)
			lost(t, 1, "TLS: the relay's certificate does not verify: %s",
			     X509_verify_cert_error_string(vr));
		else
			lost(t, 0, "TLS handshake failed%s%s", eb[0] ? ": " : "", eb);
	}
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_turn *t = w->data;

	if (t->st == NP_TURN_CONNECTING && !t->tls_up) {
		if (!t->ssl) {
			int e = 0;
			socklen_t el = sizeof(e);
			char why[128];

			if (!(revents & EV_WRITE))
				return;
			if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
				e = errno;
			if (e) {
				lost(t, 0, "%s", np_errmsg(why, sizeof(why), e, "cannot connect"));
				return;
			}
			if (!t->tls) {
				set_io(t, EV_READ);
				start_allocate(t);
				return;
			}
			if (tls_setup(t) < 0) {
				lost(t, 1, "cannot set up TLS for host '%s'", t->cfg.uri.host);
				return;
			}
		}
		tls_handshake(t);
		return;
	}
	if (t->stream && (revents & EV_WRITE) && stream_flush(t) < 0) {
		lost(t, 0, "connection to the relay broke");
		return;
	}
	if (revents & EV_READ || (t->tls && (revents & EV_WRITE))) {
		if (t->stream)
			read_stream(t);
		else
			read_udp(t);
	}
}

static void start_connect(struct np_turn *t)
{
	struct sockaddr_storage ss;
	int sl = np_addr_to_sockaddr(&t->server, &ss), one = 1;
	char why[128];

	conn_close(t);
	t->fd = socket(t->server.family == 6 ? AF_INET6 : AF_INET,
		       (t->stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0 || sl < 0) {
		lost(t, 0, "%s", np_errmsg(why, sizeof(why), errno, "cannot open a socket"));
		return;
	}
	if (t->stream)
		setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	else {
		int sz = 1 << 21;
		setsockopt(t->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	ev_io_init(&t->io, on_io, t->fd, 0);
	t->io.data = t;
	t->io_events = -1;
	if (connect(t->fd, (struct sockaddr *)&ss, (socklen_t)sl) < 0 && errno != EINPROGRESS) {
		lost(t, 0, "%s", np_errmsg(why, sizeof(why), errno, "cannot connect"));
		return;
	}
	t->connect_started = now_s(t);
	if (t->stream) {
		t->st = NP_TURN_CONNECTING;
		set_io(t, EV_READ | EV_WRITE);
	} else {
		set_io(t, EV_READ);
		start_allocate(t);
	}
}

/* ---- credential renewal ---------------------------------------------------------- */

/* An allocation keeps the user name it was made with (RFC 8656: a Refresh
 * under another one is refused), so REST credentials about to expire are
 * replaced by a new allocation made with the renewed ones, before the
 * relay would refuse the next Refresh. The relayed address changes; the
 * owner learns it through on_ready, as after a relay restart. */
static void renew_if_due(struct np_turn *t)
{
	uint64_t now = np_wall_ms() / 1000, exp = np_turn_rest_expiry(t->cfg.user);

	if (!exp || now + RENEW_MARGIN_S < exp)
		return;
	if (!np_turn_renew_due(t->cfg.user, t->next_user, now, RENEW_MARGIN_S)) {
		if (!t->expiry_warned++)
			np_warn("%s: user '%s' expires in %lld s and no renewed credentials came (is the rendezvous "
				"server reachable?); the relay will refuse us then",
				t->uri, t->cfg.user, (long long)exp - (long long)now);
		return;
	}
	np_info("%s: user '%s' expires in %lld s: allocating again as '%s' (an allocation keeps the user it "
		"was made with)", t->uri, t->cfg.user, (long long)exp - (long long)now, t->next_user);
	t->expiry_warned = 0;
	conn_close(t);
	memset(&t->relayed, 0, sizeof(t->relayed));
	for (int i = 0; i < NP_TURN_MAX_PEERS; i++)
		t->peers[i].bound = t->peers[i].pending = 0;
	t->st = NP_TURN_IDLE;
	t->backoff = BACKOFF_MIN_S;
	t->retry_at = now_s(t);
	if (t->cb.on_down)
		t->cb.on_down(t->arg, "renewing the relay credentials");
}

/* ---- the tick ------------------------------------------------------------------- */

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_turn *t = w->data;
	double now = now_s(t);

	switch (t->st) {
	case NP_TURN_IDLE:
	case NP_TURN_FAILED:
		if (now >= t->retry_at)
			start_connect(t);
		return;
	case NP_TURN_CONNECTING:
		if (now - t->connect_started > CONNECT_TIMEOUT_S)
			lost(t, 0, "cannot connect: no answer in %.0f s", CONNECT_TIMEOUT_S);
		return;
	default:
		break;
	}
	for (int i = 0; i < MAX_TXNS && t->fd >= 0; i++) {
		struct txn *x = &t->txns[i];

		if (!x->used || now < x->next_at)
			continue;
		if (!t->stream && x->tries < UDP_TRIES) {
			txn_transmit(t, x);
			continue;
		}
		lost(t, 0, "no answer from the relay to %s", np_stun_method_name(x->method));
		return;
	}
	if (t->st != NP_TURN_READY)
		return;
	renew_if_due(t);
	if (t->st != NP_TURN_READY)
		return;
	if (now >= t->next_check && !txn_pending(t, NP_STUN_REFRESH, -1)) {
		t->next_check = now + CHECK_S;
		send_request(t, NP_STUN_REFRESH, -1, LIFETIME_S);
	}
	for (int i = 0; i < NP_TURN_MAX_PEERS; i++)
		if (t->peers[i].used && !t->peers[i].pending && now >= t->peers[i].bind_at)
			bind_peer(t, i);
}

/* ---- API ------------------------------------------------------------------------ */

int np_turn_new(struct ev_loop *loop, const struct np_turn_config *cfg, const struct np_turn_callbacks *cb,
		void *arg, struct np_turn **out, char *err, size_t errlen)
{
	struct np_turn *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->cfg = *cfg;
	t->cb = *cb;
	t->arg = arg;
	t->fd = -1;
	t->stream = cfg->uri.transport != NP_TURN_UDP;
	t->tls = cfg->uri.transport == NP_TURN_TLS;
	t->backoff = BACKOFF_MIN_S;
	t->next_channel = NP_STUN_CHANNEL_MIN;
	np_turn_uri_str(&cfg->uri, t->uri, sizeof(t->uri));
	t->rx_cap = t->stream ? 2 * FRAME_MAX : FRAME_MAX;
	t->rx = malloc(t->rx_cap);
	t->sendbuf = malloc(FRAME_MAX + 64);
	t->tx = t->stream ? malloc(STREAM_TX_CAP) : NULL;
	if (!t->rx || !t->sendbuf || (t->stream && !t->tx)) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	t->server.port = cfg->uri.port;
	rc = np_resolve(cfg->uri.host, 0, &t->server, err, errlen);
	if (rc < 0)
		goto fail;
	t->server.port = cfg->uri.port;
	if (t->tls) {
		t->ssl_ctx = SSL_CTX_new(TLS_client_method());
		if (!t->ssl_ctx) {
			rc = -ENOMEM;
			snprintf(err, errlen, "cannot create a TLS context");
			goto fail;
		}
		SSL_CTX_set_min_proto_version(t->ssl_ctx, TLS1_2_VERSION);
		SSL_CTX_set_verify(t->ssl_ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_mode(t->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		if (cfg->ca_file ? SSL_CTX_load_verify_locations(t->ssl_ctx, cfg->ca_file, NULL) != 1
				 : SSL_CTX_set_default_verify_paths(t->ssl_ctx) != 1) {
			rc = -EINVAL;
			snprintf(err, errlen, "cannot load TLS trust anchors from %s",
				 cfg->ca_file ? cfg->ca_file : "the system store");
			goto fail;
		}
	}
	ev_timer_init(&t->tick, on_tick, TICK_S, TICK_S);
	t->tick.data = t;
	ev_timer_start(loop, &t->tick);
	start_connect(t);
	*out = t;
	return 0;
fail:
	np_turn_free(t);
	return rc;
}

void np_turn_free(struct np_turn *t)
{
	if (!t)
		return;
	/* Best effort: give the allocation back (UDP only; a stream's close does it). */
	if (t->st == NP_TURN_READY && !t->stream) {
		for (int i = 0; i < MAX_TXNS; i++)
			t->txns[i].used = 0;
		send_request(t, NP_STUN_REFRESH, -1, 0);
	}
	ev_timer_stop(t->loop, &t->tick);
	conn_close(t);
	if (t->ssl_ctx)
		SSL_CTX_free(t->ssl_ctx);
	sodium_memzero(t->cfg.password, sizeof(t->cfg.password));
	sodium_memzero(t->key, sizeof(t->key));
	free(t->rx);
	free(t->tx);
	free(t->sendbuf);
	free(t);
}

int np_turn_add_peer(struct np_turn *t, const np_addr_t *peer)
{
	int free_i = -1;

	for (int i = 0; i < NP_TURN_MAX_PEERS; i++) {
		if (t->peers[i].used && np_addr_equal(&t->peers[i].addr, peer))
			return 0;
		if (!t->peers[i].used && free_i < 0)
			free_i = i;
	}
	if (free_i < 0)
		return -ENOSPC;
	memset(&t->peers[free_i], 0, sizeof(t->peers[free_i]));
	t->peers[free_i].used = 1;
	t->peers[free_i].addr = *peer;
	t->peers[free_i].channel = t->next_channel;
	t->next_channel = t->next_channel == NP_STUN_CHANNEL_MAX ? NP_STUN_CHANNEL_MIN : t->next_channel + 1;
	bind_peer(t, free_i);
	return 0;
}

void np_turn_clear_peers(struct np_turn *t)
{
	for (int i = 0; i < MAX_TXNS; i++)
		if (t->txns[i].used && t->txns[i].peer >= 0)
			t->txns[i].used = 0;
	memset(t->peers, 0, sizeof(t->peers));
}

int np_turn_send(struct np_turn *t, const np_addr_t *peer, const void *buf, size_t len)
{
	struct peer *pe = NULL;
	uint8_t hdr[NP_STUN_CHANNEL_HDR_LEN];
	int rc;

	if (t->st != NP_TURN_READY)
		return -ENOTCONN;
	if (len > 65535 - 64)
		return -EMSGSIZE;
	for (int i = 0; i < NP_TURN_MAX_PEERS; i++)
		if (t->peers[i].used && np_addr_equal(&t->peers[i].addr, peer)) {
			pe = &t->peers[i];
			break;
		}
	if (!pe)
		return -ENOENT;
	if (pe->bound) {
		np_stun_channel_hdr(hdr, pe->channel, len);
		rc = conn_send(t, hdr, sizeof(hdr), buf, len);
	} else {
		struct np_stun_builder b;
		uint8_t id[12];
		int n;

		randombytes_buf(id, sizeof(id));
		np_stun_build(&b, t->sendbuf, FRAME_MAX + 64, NP_STUN_SEND, NP_STUN_INDICATION, id);
		np_stun_put_addr(&b, NP_STUN_A_XOR_PEER_ADDRESS, peer, 1);
		np_stun_put(&b, NP_STUN_A_DATA, buf, len);
		n = np_stun_finish(&b);
		if (n < 0)
			return n;
		rc = conn_send(t, t->sendbuf, (size_t)n, NULL, 0);
	}
	if (rc == 0) {
		t->stats.tx_packets++;
		t->stats.tx_bytes += len;
	}
	return rc;
}

void np_turn_set_credentials(struct np_turn *t, const char *user, const char *password)
{
	if (strcmp(user, t->cfg.user) == 0 && strcmp(password, t->cfg.password) == 0)
		return;
	snprintf(t->next_user, sizeof(t->next_user), "%s", user);
	snprintf(t->next_password, sizeof(t->next_password), "%s", password);
	/* A relay that refused the old ones is tried again soon. */
	if (t->st == NP_TURN_FAILED)
		t->retry_at = ev_now(t->loop) + BACKOFF_MIN_S;
}

void np_turn_check(struct np_turn *t)
{
	if (t->st == NP_TURN_READY && !txn_pending(t, NP_STUN_REFRESH, -1)) {
		t->next_check = now_s(t) + CHECK_S;
		send_request(t, NP_STUN_REFRESH, -1, LIFETIME_S);
	}
}

enum np_turn_state np_turn_get_state(const struct np_turn *t)
{
	return t->st;
}

const np_addr_t *np_turn_relayed(const struct np_turn *t)
{
	return &t->relayed;
}

const np_addr_t *np_turn_mapped(const struct np_turn *t)
{
	return &t->mapped;
}

const struct np_turn_stats *np_turn_get_stats(const struct np_turn *t)
{
	return &t->stats;
}

const char *np_turn_uri(const struct np_turn *t)
{
	return t->uri;
}

const char *np_turn_last_error(const struct np_turn *t)
{
	return t->last_err;
}
