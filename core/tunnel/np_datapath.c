/* np_datapath: moving packets between the tun device and the peer's UDP
 * socket, in batches and, where the kernel allows, in super-packets.
 *
 * Fast path (tun opened with IFF_VNET_HDR and TSO, UDP_SEGMENT and UDP_GRO
 * available): a tun read returns a TCP super-packet of up to 64 KiB, which
 * np_tso cuts into MSS-sized IP packets, each sealed in place as its own
 * datagram in a preallocated slot. Runs of equal-size datagrams leave with
 * one UDP_SEGMENT send each (sendmmsg). On receive, UDP_GRO hands over up to
 * 64 KiB of equal-size datagrams at once; each is opened in place, and np_gro
 * merges consecutive TCP segments of one flow into a super-packet written to
 * the tun with a virtio_net_hdr.
 *
 * Batched path (any offload refused or --no-offload): the tun is read until
 * EAGAIN, each packet sealed in its slot, one sendmmsg per batch; recvmmsg,
 * open in place, one write per packet. The two halves fall back separately.
 *
 * Control messages go to np_peer_control(), which may close or replace
 * sockets. No allocation after np_dp_init(). */
#include "np_peer_int.h"

#define NP_LOG_COMPONENT "dp"
#include "np_icmp.h"
#include "np_log.h"
#include "np_time.h"
#include "np_offload.h"
#include "np_tun.h"
#include "np_udp.h"
#include "np_wire.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TUN_READS_PER_CALL 1024
#define RECV_ROUNDS_PER_CALL 16
#define SLOT_HEAD NP_TRANSPORT_HDR_LEN
#define GSO_MAX_BYTES 65507          /* UDP payload of one send (IPv4 limit) */
#define GSO_MAX_SEGS 64              /* stays under UDP_MAX_SEGMENTS on every kernel */
#define RX_GRO_LEN 65536             /* one coalesced UDP receive */
#define VNET_LEN NP_TUN_VNET_HDR_LEN

static const char PATH_FAST[] = "tun TSO + UDP GSO/GRO";
static const char PATH_BATCHED[] = "batched sendmmsg/recvmmsg";
static const char PATH_TSO_ONLY[] = "tun TSO + batched sendmmsg/recvmmsg";
static const char PATH_GSO_ONLY[] = "plain tun + UDP GSO/GRO";

/* 1 if the tun fd was opened with IFF_VNET_HDR (np_tun_open keeps it only
 * when the offloads were accepted). */
static int tun_has_vnet(int fd)
{
	struct ifreq ifr = { 0 };

	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return 0;
	return (ifr.ifr_flags & IFF_VNET_HDR) != 0;
}

/* 1 if this kernel knows UDP_SEGMENT and UDP_GRO. */
static int udp_offload_supported(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), v = 0, ok = 0;
	socklen_t vl = sizeof(v);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &vl) == 0) {
		v = 1;
		ok = setsockopt(fd, SOL_UDP, UDP_GRO, &v, sizeof(v)) == 0;
	}
	close(fd);
	return ok;
}

static void set_path_name(struct np_dp *dp)
{
	if (dp->vnet && dp->gso && dp->gro)
		dp->path = PATH_FAST;
	else if (dp->vnet)
		dp->path = PATH_TSO_ONLY;
	else if (dp->gso || dp->gro)
		dp->path = PATH_GSO_ONLY;
	else
		dp->path = PATH_BATCHED;
}

int np_dp_init(struct np_peer *p)
{
	struct np_dp *dp = &p->dp;
	size_t slot = SLOT_HEAD + (size_t)p->cfg->mtu + NP_TRANSPORT_TAG_LEN + 64;
	size_t rx_bytes;
	int rc = -ENOMEM;

	slot = (slot + 63) & ~(size_t)63;
	if (slot < 2048)
		slot = 2048;
	dp->slot = slot;
	dp->vnet = tun_has_vnet(p->tun_fd);
	if (p->cfg->offload && !dp->vnet)
		np_info("tun offloads (TSO) not available: the tun is read one packet at a time");
	if (p->cfg->offload && udp_offload_supported())
		dp->gso = dp->gro = 1;
	else if (p->cfg->offload)
		np_info("UDP GSO/GRO not supported by this kernel");
	/* Without UDP_GRO a 64 KiB receive buffer would only hold one datagram. */
	dp->rx_len = dp->gro ? RX_GRO_LEN : slot;
	dp->rx_msgs = dp->gro ? NP_DP_RX_GRO_MSGS : NP_DP_RX_MSGS;
	rx_bytes = dp->rx_len * (size_t)dp->rx_msgs;
	dp->tx = aligned_alloc(64, NP_DP_TX_SLOTS * slot);
	dp->rx = aligned_alloc(64, rx_bytes);
	dp->scratch = aligned_alloc(64, slot);
	dp->inner_max = SIZE_MAX;
	if (!dp->tx || !dp->rx || !dp->scratch)
		goto fail;
	if (dp->vnet) {
		dp->tunbuf_len = VNET_LEN + 65536;
		dp->tunbuf = malloc(dp->tunbuf_len);
		dp->gr = calloc(1, sizeof(*dp->gr));
		if (!dp->tunbuf || !dp->gr)
			goto fail;
		/* Authenticated packets were checksummed by the peer's np_tso;
		 * only unauthenticated (--insecure) ones are verified before
		 * merging, as the kernel re-checksums a merged super-packet. */
		rc = np_gro_init(dp->gr, VNET_LEN, 0, !p->secure);
		if (rc < 0)
			goto fail;
	}
	for (int i = 0; i < dp->rx_msgs; i++) {
		dp->rxv[i].iov_base = dp->rx + (size_t)i * dp->rx_len;
		dp->rxv[i].iov_len = dp->rx_len;
		dp->rxm[i].msg_hdr.msg_iov = &dp->rxv[i];
		dp->rxm[i].msg_hdr.msg_iovlen = 1;
	}
	set_path_name(dp);
	np_info("data path: %s", dp->path);
	return 0;
fail:
	np_dp_free(p);
	return rc;
}

void np_dp_free(struct np_peer *p)
{
	struct np_dp *dp = &p->dp;

	if (dp->gr) {
		np_gro_free(dp->gr);
		free(dp->gr);
	}
	free(dp->tx);
	free(dp->rx);
	free(dp->tunbuf);
	free(dp->scratch);
	dp->tx = dp->rx = dp->tunbuf = dp->scratch = NULL;
	dp->gr = NULL;
}

/* ---- tun -> peer ------------------------------------------------------- */

/* Datagram i of the batch: where it starts and how long it is. */
static uint8_t *tx_slot(struct np_dp *dp, int i)
{
	return dp->tx + (size_t)i * dp->slot;
}

/* Groups the sealed datagrams (dp->txv[0..ntx)) into messages: with GSO, a
 * run of equal-size datagrams (the last may be shorter) becomes one message
 * with UDP_SEGMENT; without, each datagram is its own message. Returns the
 * number of messages. The iovecs of a run are consecutive in dp->txv. */
static int build_msgs(struct np_dp *dp, int first, int gso)
{
	int nmsg = 0, i = first;

	while (i < dp->ntx) {
		struct msghdr *h = &dp->txm[nmsg].msg_hdr;
		size_t seg = dp->txv[i].iov_len, total = seg;
		int j = i + 1;

		if (gso) {
			while (j < dp->ntx && j - i < GSO_MAX_SEGS && total + dp->txv[j].iov_len <= GSO_MAX_BYTES &&
			       dp->txv[j].iov_len <= seg) {
				total += dp->txv[j].iov_len;
				if (dp->txv[j++].iov_len < seg)
					break;
			}
		}
		memset(h, 0, sizeof(*h));
		h->msg_name = &dp->txa;
		h->msg_namelen = dp->txalen;
		h->msg_iov = &dp->txv[i];
		h->msg_iovlen = (size_t)(j - i);
		if (j - i > 1) {
			struct cmsghdr *c = &dp->txc[nmsg].align;
			uint16_t gs = (uint16_t)seg;

			h->msg_control = dp->txc[nmsg].buf;
			h->msg_controllen = sizeof(dp->txc[nmsg].buf);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(gs));
			memcpy(CMSG_DATA(c), &gs, sizeof(gs));
		}
		dp->txn[nmsg++] = (uint16_t)(j - i);
		i = j;
	}
	return nmsg;
}

static void flush_tx(struct np_peer *p)
{
	struct np_dp *dp = &p->dp;
	struct np_sock *s = p->socks[p->path_sock];
	int done = 0; /* datagrams handled */

	if (np_relay_on_path(p)) {
		np_relay_flush(p);
		return;
	}

	while (s && done < dp->ntx) {
		int nmsg = build_msgs(dp, done, dp->gso), sent = 0;

		while (sent < nmsg) {
			int n = sendmmsg(s->fd, dp->txm + sent, (unsigned)(nmsg - sent), MSG_DONTWAIT);

			if (n > 0) {
				for (int i = sent; i < sent + n; i++) {
					p->stats.tx_bytes += dp->txm[i].msg_len;
					p->stats.tx_packets += dp->txn[i];
					done += dp->txn[i];
					if (dp->txn[i] > 1)
						dp->gso_sends++;
				}
				sent += n;
				continue;
			}
			if (n < 0 && (errno == EINTR))
				continue;
			if (n < 0 && dp->txn[sent] > 1 && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP)) {
				/* The route or device refuses segmentation offload:
				 * send everything one datagram at a time from now on. */
				np_warn_e(errno, "UDP GSO send failed, falling back to one datagram per packet");
				dp->gso = 0;
				set_path_name(dp);
				np_info("data path: %s", dp->path);
				break; /* rebuild the rest without GSO */
			}
			/* A full socket buffer (or an error for this datagram)
			 * drops like a full link would. */
			p->stats.send_errors += dp->txn[sent];
			done += dp->txn[sent];
			sent++;
			if (n < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
				for (; sent < nmsg; sent++) {
					p->stats.send_errors += dp->txn[sent];
					done += dp->txn[sent];
				}
			}
		}
	}
	if (done) {
		p->last_tx = ev_now(p->loop);
		np_recover_data_sent(p); /* the fast silence rule (np_silence.h) */
	}
	dp->ntx = 0;
}

static void too_big(struct np_peer *p, uint64_t now, size_t len);

/* Seals the IP packet at tx_slot(ntx) + SLOT_HEAD (len bytes) and queues it. */
static void queue_tx(struct np_peer *p, uint64_t now, size_t len)
{
	struct np_dp *dp = &p->dp;
	uint8_t *slot = tx_slot(dp, dp->ntx);
	size_t out_len;

	if (len > dp->inner_max) {
		too_big(p, now, len);
		return;
	}
	if (p->secure) {
		if (np_session_encrypt(&p->sess, now, slot, len, dp->slot, &out_len) < 0) {
			p->stats.not_up++;
			return;
		}
		dp->txv[dp->ntx].iov_base = slot;
		dp->txv[dp->ntx].iov_len = out_len;
	} else {
		uint8_t *h = slot + SLOT_HEAD - NP_DATA_HDR_LEN;
		h[0] = NP_WIRE_VERSION;
		h[1] = NP_MSG_DATA;
		h[2] = h[3] = 0;
		dp->txv[dp->ntx].iov_base = h;
		dp->txv[dp->ntx].iov_len = len + NP_DATA_HDR_LEN;
	}
	if (++dp->ntx == NP_DP_TX_SLOTS)
		flush_tx(p);
}

static int tun_write(struct np_peer *p, const uint8_t *pkt, size_t len);

/* At most ICMP_RATE answers per second (burst ICMP_RATE), as a router would. */
#define ICMP_RATE 200.0

static int icmp_allowed(struct np_peer *p)
{
	struct np_dp *dp = &p->dp;
	double now = ev_now(p->loop);

	dp->icmp_tokens += (now - dp->icmp_at) * ICMP_RATE;
	if (dp->icmp_tokens > ICMP_RATE)
		dp->icmp_tokens = ICMP_RATE;
	dp->icmp_at = now;
	if (dp->icmp_tokens < 1.0)
		return 0;
	dp->icmp_tokens -= 1.0;
	return 1;
}

/* The inner packet at tx_slot(ntx) + SLOT_HEAD is longer than the path
 * carries (dp->inner_max): IPv4 with DF and IPv6 get an ICMP "too big"
 * written back into the tun, IPv4 without DF goes out in fragments. */
static void too_big(struct np_peer *p, uint64_t now, size_t len)
{
	struct np_dp *dp = &p->dp;
	uint8_t *pkt = tx_slot(dp, dp->ntx) + SLOT_HEAD;
	int action = np_too_big_action(pkt, len), rc;

	if (action == NP_TOO_BIG_FRAGMENT) {
		size_t room = dp->slot - SLOT_HEAD - NP_TRANSPORT_TAG_LEN;
		struct np_frag4 f;

		/* The fragments are written into the slots the packet is in. */
		memcpy(dp->scratch, pkt, len);
		if (np_frag4_start(&f, dp->scratch, len, (unsigned)dp->inner_max) == 0) {
			dp->too_big_frag++;
			while ((rc = np_frag4_next(&f, tx_slot(dp, dp->ntx) + SLOT_HEAD, room)) > 0)
				queue_tx(p, now, (size_t)rc);
			return;
		}
	} else if (action == NP_TOO_BIG_ICMP && icmp_allowed(p)) {
		uint8_t ans[NP_TUN_VNET_HDR_LEN + NP_ICMP_MAX_LEN];
		size_t hl = dp->vnet ? VNET_LEN : 0;

		rc = np_icmp_too_big(pkt, len, (unsigned)dp->inner_max, ans + hl, sizeof(ans) - hl);
		if (rc > 0) {
			memset(ans, 0, hl);
			if (tun_write(p, ans, hl + (size_t)rc) == 0) {
				dp->too_big_icmp++;
				return;
			}
		}
	}
	dp->too_big_drop++;
}

/* One vnet tun read: segment it straight into the slots. */
static void tx_vnet(struct np_peer *p, uint64_t now, size_t n)
{
	struct np_dp *dp = &p->dp;
	size_t room = dp->slot - SLOT_HEAD - NP_TRANSPORT_TAG_LEN;
	struct np_tso t;
	int rc = np_tso_start(&t, dp->tunbuf, n, VNET_LEN);

	if (rc < 0) {
		p->stats.bad++;
		return;
	}
	if (t.info.nsegs > 1)
		dp->tso_packets++;
	for (;;) {
		rc = np_tso_next(&t, tx_slot(dp, dp->ntx) + SLOT_HEAD, room);
		if (rc <= 0)
			break;
		queue_tx(p, now, (size_t)rc);
	}
	if (rc < 0)
		p->stats.bad++;
}

void np_dp_on_tun(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_peer *p = w->data;
	struct np_dp *dp = &p->dp;
	uint64_t now = np_mono_ms();
	size_t room = dp->slot - SLOT_HEAD - NP_TRANSPORT_TAG_LEN;
	int up = p->st == NP_ST_UP && p->socks[p->path_sock];

	if (up) {
		int sl = np_addr_to_sockaddr(&p->path_peer, &dp->txa);
		up = sl > 0;
		dp->txalen = (socklen_t)sl;
	}
	dp->ntx = 0;
	for (int i = 0; i < TUN_READS_PER_CALL; i++) {
		ssize_t n;

		if (dp->vnet)
			n = read(p->tun_fd, dp->tunbuf, dp->tunbuf_len);
		else
			n = read(p->tun_fd, tx_slot(dp, dp->ntx) + SLOT_HEAD, room);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				np_warn_e(errno, "tun read failed");
			break;
		}
		if (!up || n == 0) {
			p->stats.not_up++;
			continue;
		}
		if (dp->vnet)
			tx_vnet(p, now, (size_t)n);
		else
			queue_tx(p, now, (size_t)n);
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
		rc = np_session_encrypt(&p->sess, np_mono_ms(), buf, 0, sizeof(buf), &len);
		if (rc < 0)
			return rc;
	} else {
		buf[0] = NP_WIRE_VERSION;
		buf[1] = NP_MSG_KEEPALIVE;
		buf[2] = buf[3] = 0;
	}
	rc = np_sock_send(p, p->path_sock, &p->path_peer, buf, len, 0);
	if (rc == 0)
		p->last_tx = ev_now(p->loop);
	return rc;
}

/* ---- peer -> tun ------------------------------------------------------- */

static int tun_write(struct np_peer *p, const uint8_t *pkt, size_t len)
{
	if (write(p->tun_fd, pkt, len) < 0) {
		p->stats.send_errors++;
		return -errno;
	}
	return 0;
}

static int gro_emit(void *arg, const uint8_t *pkt, size_t len)
{
	return tun_write(arg, pkt, len);
}

static void flush_rx(struct np_peer *p)
{
	if (p->dp.gr && np_gro_pending(p->dp.gr))
		np_gro_flush(p->dp.gr, gro_emit, p);
}

static void to_tun(struct np_peer *p, const uint8_t *pkt, size_t len)
{
	struct np_dp *dp = &p->dp;
	int rc;

	/* --allowed-ips: the peer may only send from its own addresses. */
	if (!np_allowedips_match_packet(&p->cfg->allowed, pkt, len)) {
		p->stats.inner_src++;
		if (np_log_get_level() >= NP_LOG_DEBUG)
			np_debug("dropped a packet from the peer whose inner source is outside --allowed-ips");
		return;
	}
	p->stats.rx_packets++;
	p->stats.rx_bytes += len;
	if (!dp->gr) {
		tun_write(p, pkt, len);
		return;
	}
	rc = np_gro_add(dp->gr, pkt, len);
	if (rc == -ENOBUFS) {
		flush_rx(p);
		rc = np_gro_add(dp->gr, pkt, len);
	}
	if (rc < 0)
		p->stats.bad++;
}

/* One datagram. Returns 0, or -ESTALE when the socket went away underneath. */
static int handle_datagram(struct np_peer *p, struct np_sock *s, uint8_t *buf, size_t len, const np_addr_t *from)
{
	int type = np_wire_type(buf, len);
	size_t off, plen;
	int rc;

	if (type == NP_MSG_TRANSPORT && p->secure) {
		if ((s->id != 0 && !np_recover_accepts(p, s->id) && !np_switch_accepts(p, s->id)) ||
		    (p->st != NP_ST_UP && p->st != NP_ST_HANDSHAKE)) {
			p->stats.not_up++;
			return 0;
		}
		rc = np_session_decrypt(&p->sess, np_mono_ms(), buf, len, &off, &plen);
		if (rc < 0) {
			if (rc == -EALREADY)
				p->stats.replay++;
			else
				p->stats.bad_mac++;
			if (np_log_get_level() >= NP_LOG_DEBUG) {
				char a[NP_ADDR_STRLEN];
				np_debug_e(rc, "dropped transport packet from %s", np_addr_str(from, a, sizeof(a)));
			}
			return 0;
		}
		np_peer_authenticated_rx(p, s, from);
		if (plen && np_pmtu_is_msg(buf + off, plen)) {
			if (p->st == NP_ST_UP)
				np_pmtud_rx(p, s, from, buf + off, plen);
		} else if (plen && p->st == NP_ST_UP) {
			to_tun(p, buf + off, plen);
			np_recover_data_heard(p); /* a passive keepalive (np_silence.h) */
		}
		return 0;
	}
	if ((type == NP_MSG_DATA || type == NP_MSG_KEEPALIVE) && !p->secure) {
		if (p->st != NP_ST_UP || !np_addr_equal(from, &p->path_peer)) {
			p->stats.not_up++;
			return 0;
		}
		p->last_rx = ev_now(p->loop);
		if (type == NP_MSG_DATA && np_pmtu_is_msg(buf + NP_DATA_HDR_LEN, len - NP_DATA_HDR_LEN))
			np_pmtud_rx(p, s, from, buf + NP_DATA_HDR_LEN, len - NP_DATA_HDR_LEN);
		else if (type == NP_MSG_DATA && len > NP_DATA_HDR_LEN) {
			to_tun(p, buf + NP_DATA_HDR_LEN, len - NP_DATA_HDR_LEN);
			np_recover_data_heard(p);
		}
		return 0;
	}
	if (type == -EPROTONOSUPPORT) {
		np_peer_other_version(p, buf, len, from);
		return 0;
	}
	if (type < 0 || type == NP_MSG_TRANSPORT || type == NP_MSG_DATA || type == NP_MSG_KEEPALIVE) {
		p->stats.bad++;
		return 0;
	}
	{
		int id = s->id;
		/* Control messages may change the state: what is queued for
		 * the tun goes out first. */
		flush_rx(p);
		np_peer_control(p, s, buf, len, from);
		/* Control messages may close or replace sockets. */
		if (p->socks[0] != s && (id > NP_HOST_MAX_SOCKETS || p->socks[id] != s))
			return -ESTALE;
	}
	return 0;
}

void np_dp_input(struct np_peer *p, struct np_sock *s, uint8_t *buf, size_t len, const np_addr_t *from)
{
	(void)handle_datagram(p, s, buf, len, from);
	flush_rx(p);
}

/* Turns UDP_GRO on for the socket the first time it is read. */
static void sock_enable_gro(struct np_dp *dp, struct np_sock *s)
{
	int one = 1;

	if (!dp->gro || s->id < 0 || s->id > NP_HOST_MAX_SOCKETS || dp->gro_fd[s->id] == s->fd + 1)
		return;
	if (setsockopt(s->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) < 0) {
		np_warn_e(errno, "cannot enable UDP_GRO on a socket");
		return;
	}
	dp->gro_fd[s->id] = s->fd + 1;
	if (s->id == 0) {
		int rb = 0;
		socklen_t rl = sizeof(rb);

		if (getsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rb, &rl) == 0 && rb < (1 << 20))
			np_warn("UDP receive buffer is only %d bytes: bursts may overflow it "
				"(raise net.core.rmem_max, or run with CAP_NET_ADMIN)", rb);
	}
}

/* The UDP_GRO segment size of a received message, or 0 if it is one datagram. */
static size_t gro_segment_size(struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			int v;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v > 0 ? (size_t)v : 0;
		}
	}
	return 0;
}

void np_dp_on_sock(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_sock *s = w->data;
	struct np_peer *p = s->p;
	struct np_dp *dp = &p->dp;

	sock_enable_gro(dp, s);
	for (int round = 0; round < RECV_ROUNDS_PER_CALL; round++) {
		int n;

		for (int i = 0; i < dp->rx_msgs; i++) {
			struct msghdr *h = &dp->rxm[i].msg_hdr;

			h->msg_name = &dp->rxa[i];
			h->msg_namelen = sizeof(dp->rxa[i]);
			h->msg_control = dp->rxc[i].buf;
			h->msg_controllen = sizeof(dp->rxc[i].buf);
			h->msg_flags = 0;
		}
		n = recvmmsg(s->fd, dp->rxm, (unsigned)dp->rx_msgs, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			struct msghdr *h = &dp->rxm[i].msg_hdr;
			uint8_t *buf = dp->rx + (size_t)i * dp->rx_len;
			size_t len = dp->rxm[i].msg_len, seg;
			np_addr_t from;

			if ((h->msg_flags & MSG_TRUNC) || np_addr_from_sockaddr(&from, (struct sockaddr *)&dp->rxa[i]) < 0) {
				p->stats.bad++;
				continue;
			}
			seg = gro_segment_size(h);
			if (seg == 0 || seg > len)
				seg = len;
			else
				dp->gro_bufs++;
			for (size_t off = 0; off < len; off += seg) {
				size_t l = len - off < seg ? len - off : seg;

				if (handle_datagram(p, s, buf + off, l, &from) == -ESTALE) {
					flush_rx(p);
					return;
				}
			}
		}
		flush_rx(p);
		if (n < dp->rx_msgs)
			break;
	}
	flush_rx(p);
}
