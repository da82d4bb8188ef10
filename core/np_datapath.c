/* np_datapath: moving packets between the tun device and the peer's UDP
 * socket in batches. Reads the tun until EAGAIN, seals each packet in place
 * in a preallocated slot and sends the batch with one sendmmsg(); receives
 * with recvmmsg(), opens transport packets in place and writes them to the
 * tun. Control messages are handed to np_peer_control(). No allocation after
 * np_dp_init(). */
#include "np_peer_int.h"

#include "np_log.h"
#include "np_udp.h"
#include "np_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TUN_READS_PER_CALL 1024
#define RECV_ROUNDS_PER_CALL 16
#define SLOT_HEAD NP_TRANSPORT_HDR_LEN

int np_dp_init(struct np_peer *p)
{
	struct np_dp *dp = &p->dp;
	size_t slot = SLOT_HEAD + (size_t)p->cfg->mtu + NP_TRANSPORT_TAG_LEN + 64;

	slot = (slot + 63) & ~(size_t)63;
	if (slot < 2048)
		slot = 2048;
	dp->slot = slot;
	dp->tx = aligned_alloc(64, NP_BATCH * slot);
	dp->rx = aligned_alloc(64, NP_BATCH * slot);
	if (!dp->tx || !dp->rx) {
		np_dp_free(p);
		return -ENOMEM;
	}
	for (int i = 0; i < NP_BATCH; i++) {
		dp->rxv[i].iov_base = dp->rx + (size_t)i * slot;
		dp->rxv[i].iov_len = slot;
		dp->rxm[i].msg_hdr.msg_iov = &dp->rxv[i];
		dp->rxm[i].msg_hdr.msg_iovlen = 1;
		dp->txm[i].msg_hdr.msg_iov = &dp->txv[i];
		dp->txm[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

void np_dp_free(struct np_peer *p)
{
	free(p->dp.tx);
	free(p->dp.rx);
	p->dp.tx = p->dp.rx = NULL;
}

static void flush_tx(struct np_peer *p)
{
	struct np_dp *dp = &p->dp;
	struct np_sock *s = p->socks[p->path_sock];
	int sent = 0;

	while (s && sent < dp->ntx) {
		int n = sendmmsg(s->fd, dp->txm + sent, (unsigned)(dp->ntx - sent), MSG_DONTWAIT);
		if (n <= 0) {
			/* A full socket buffer drops like a full link would. */
			p->stats.send_errors += (uint64_t)(dp->ntx - sent);
			break;
		}
		for (int i = sent; i < sent + n; i++)
			p->stats.tx_bytes += dp->txm[i].msg_len;
		p->stats.tx_packets += (uint64_t)n;
		sent += n;
	}
	if (sent)
		p->last_tx = ev_now(p->loop);
	dp->ntx = 0;
}

void np_dp_on_tun(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_peer *p = w->data;
	struct np_dp *dp = &p->dp;
	uint64_t now = np_peer_now_ms();
	size_t room = dp->slot - SLOT_HEAD - NP_TRANSPORT_TAG_LEN;
	int up = p->st == NP_ST_UP && p->socks[p->path_sock];

	if (up) {
		int sl = np_addr_to_sockaddr(&p->path_peer, &dp->txa);
		up = sl > 0;
		dp->txalen = (socklen_t)sl;
	}
	dp->ntx = 0;
	for (int i = 0; i < TUN_READS_PER_CALL; i++) {
		uint8_t *slot = dp->tx + (size_t)dp->ntx * dp->slot;
		ssize_t n = read(p->tun_fd, slot + SLOT_HEAD, room);
		size_t out_len;

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				np_warn("tun read failed: %s", strerror(errno));
			break;
		}
		if (!up || n == 0) {
			p->stats.not_up++;
			continue;
		}
		if (p->secure) {
			if (np_session_encrypt(&p->sess, now, slot, (size_t)n, dp->slot, &out_len) < 0) {
				p->stats.not_up++;
				continue;
			}
			dp->txv[dp->ntx].iov_base = slot;
			dp->txv[dp->ntx].iov_len = out_len;
		} else {
			uint8_t *h = slot + SLOT_HEAD - NP_DATA_HDR_LEN;
			h[0] = NP_WIRE_VERSION;
			h[1] = NP_MSG_DATA;
			h[2] = h[3] = 0;
			dp->txv[dp->ntx].iov_base = h;
			dp->txv[dp->ntx].iov_len = (size_t)n + NP_DATA_HDR_LEN;
		}
		dp->txm[dp->ntx].msg_hdr.msg_name = &dp->txa;
		dp->txm[dp->ntx].msg_hdr.msg_namelen = dp->txalen;
		if (++dp->ntx == NP_BATCH)
			flush_tx(p);
	}
	if (dp->ntx)
		flush_tx(p);
}

int np_dp_send_keepalive(struct np_peer *p)
{
	uint8_t buf[NP_TRANSPORT_HDR_LEN + NP_TRANSPORT_TAG_LEN + 16];
	size_t len = NP_DATA_HDR_LEN;
	int rc;

	if (!p->socks[p->path_sock] || !p->path_peer.family)
		return -ENOTCONN;
	if (p->secure) {
		rc = np_session_encrypt(&p->sess, np_peer_now_ms(), buf, 0, sizeof(buf), &len);
		if (rc < 0)
			return rc;
	} else {
		buf[0] = NP_WIRE_VERSION;
		buf[1] = NP_MSG_KEEPALIVE;
		buf[2] = buf[3] = 0;
	}
	rc = np_udp_send(p->socks[p->path_sock]->fd, &p->path_peer, buf, len, 0, NULL);
	if (rc == 0)
		p->last_tx = ev_now(p->loop);
	return rc;
}

static void to_tun(struct np_peer *p, const uint8_t *pkt, size_t len)
{
	if (write(p->tun_fd, pkt, len) < 0) {
		p->stats.send_errors++;
		return;
	}
	p->stats.rx_packets++;
	p->stats.rx_bytes += len;
}

/* One datagram. Returns 0, or -ESTALE when the socket went away underneath. */
static int handle_datagram(struct np_peer *p, struct np_sock *s, uint8_t *buf, size_t len, const np_addr_t *from)
{
	int type = np_wire_type(buf, len);
	size_t off, plen;
	int rc;

	if (type == NP_MSG_TRANSPORT && p->secure) {
		if (s->id != 0 || (p->st != NP_ST_UP && p->st != NP_ST_HANDSHAKE)) {
			p->stats.not_up++;
			return 0;
		}
		rc = np_session_decrypt(&p->sess, np_peer_now_ms(), buf, len, &off, &plen);
		if (rc < 0) {
			if (rc == -EALREADY)
				p->stats.replay++;
			else
				p->stats.bad_mac++;
			if (np_log_get_level() >= NP_LOG_DEBUG) {
				char a[NP_ADDR_STRLEN];
				np_debug("dropped transport packet from %s: %s", np_addr_str(from, a, sizeof(a)),
					 strerror(-rc));
			}
			return 0;
		}
		np_peer_authenticated_rx(p, s, from);
		if (plen && p->st == NP_ST_UP)
			to_tun(p, buf + off, plen);
		return 0;
	}
	if ((type == NP_MSG_DATA || type == NP_MSG_KEEPALIVE) && !p->secure) {
		if (p->st != NP_ST_UP || !np_addr_equal(from, &p->path_peer)) {
			p->stats.not_up++;
			return 0;
		}
		p->last_rx = ev_now(p->loop);
		if (type == NP_MSG_DATA && len > NP_DATA_HDR_LEN)
			to_tun(p, buf + NP_DATA_HDR_LEN, len - NP_DATA_HDR_LEN);
		return 0;
	}
	if (type < 0 || type == NP_MSG_TRANSPORT || type == NP_MSG_DATA || type == NP_MSG_KEEPALIVE) {
		p->stats.bad++;
		return 0;
	}
	{
		int id = s->id;
		np_peer_control(p, s, buf, len, from);
		/* Control messages may close or replace sockets. */
		if (p->socks[0] != s && (id > NP_HOST_MAX_SOCKETS || p->socks[id] != s))
			return -ESTALE;
	}
	return 0;
}

void np_dp_on_sock(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_sock *s = w->data;
	struct np_peer *p = s->p;
	struct np_dp *dp = &p->dp;

	for (int round = 0; round < RECV_ROUNDS_PER_CALL; round++) {
		int n;

		for (int i = 0; i < NP_BATCH; i++) {
			dp->rxm[i].msg_hdr.msg_name = &dp->rxa[i];
			dp->rxm[i].msg_hdr.msg_namelen = sizeof(dp->rxa[i]);
			dp->rxm[i].msg_hdr.msg_control = NULL;
			dp->rxm[i].msg_hdr.msg_controllen = 0;
			dp->rxm[i].msg_hdr.msg_flags = 0;
		}
		n = recvmmsg(s->fd, dp->rxm, NP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			uint8_t *buf = dp->rx + (size_t)i * dp->slot;
			np_addr_t from;

			if ((dp->rxm[i].msg_hdr.msg_flags & MSG_TRUNC) ||
			    np_addr_from_sockaddr(&from, (struct sockaddr *)&dp->rxa[i]) < 0) {
				p->stats.bad++;
				continue;
			}
			if (handle_datagram(p, s, buf, dp->rxm[i].msg_len, &from) == -ESTALE)
				return;
		}
		if (n < NP_BATCH)
			return;
	}
}
