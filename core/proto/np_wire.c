/* np_wire: encoders and length-checked parsers for natpunch control messages,
 * and the endpoint (np_addr_t) helpers they use. No I/O, no allocation: every
 * parser can be fed arbitrary bytes (tests/fuzz/fuzz_wire.c). */
#include "np_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* A bounded reader and writer over a byte buffer. */
struct rd {
	const uint8_t *p;
	size_t len, off;
	int bad;
};

struct wr {
	uint8_t *p;
	size_t cap, off;
	int bad;
};

static const uint8_t *rd_take(struct rd *r, size_t n)
{
	const uint8_t *q;

	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return NULL;
	}
	q = r->p + r->off;
	r->off += n;
	return q;
}

static uint8_t rd_u8(struct rd *r)
{
	const uint8_t *q = rd_take(r, 1);
	return q ? q[0] : 0;
}

static uint16_t rd_u16(struct rd *r)
{
	const uint8_t *q = rd_take(r, 2);
	return q ? (uint16_t)(q[0] << 8 | q[1]) : 0;
}

static uint32_t rd_u32(struct rd *r)
{
	const uint8_t *q = rd_take(r, 4);
	return q ? (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3] : 0;
}

static uint64_t rd_u64(struct rd *r)
{
	uint64_t hi = rd_u32(r);
	return hi << 32 | rd_u32(r);
}

static void rd_bytes(struct rd *r, void *dst, size_t n)
{
	const uint8_t *q = rd_take(r, n);
	if (q)
		memcpy(dst, q, n);
}

static uint8_t *wr_take(struct wr *w, size_t n)
{
	uint8_t *q;

	if (w->bad || w->cap - w->off < n) {
		w->bad = 1;
		return NULL;
	}
	q = w->p + w->off;
	w->off += n;
	return q;
}

static void wr_u8(struct wr *w, uint8_t v)
{
	uint8_t *q = wr_take(w, 1);
	if (q)
		q[0] = v;
}

static void wr_u16(struct wr *w, uint16_t v)
{
	uint8_t *q = wr_take(w, 2);
	if (q) {
		q[0] = (uint8_t)(v >> 8);
		q[1] = (uint8_t)v;
	}
}

static void wr_u32(struct wr *w, uint32_t v)
{
	uint8_t *q = wr_take(w, 4);
	if (q) {
		q[0] = (uint8_t)(v >> 24);
		q[1] = (uint8_t)(v >> 16);
		q[2] = (uint8_t)(v >> 8);
		q[3] = (uint8_t)v;
	}
}

static void wr_u64(struct wr *w, uint64_t v)
{
	wr_u32(w, (uint32_t)(v >> 32));
	wr_u32(w, (uint32_t)v);
}

static void wr_bytes(struct wr *w, const void *src, size_t n)
{
	uint8_t *q = wr_take(w, n);
	if (q && n)
		memcpy(q, src, n);
}

static int wr_done(const struct wr *w)
{
	return w->bad ? -ENOSPC : (int)w->off;
}

static void wr_addr(struct wr *w, const np_addr_t *a)
{
	size_t iplen = a->family == 4 ? 4 : a->family == 6 ? 16 : 0;

	wr_u8(w, iplen ? a->family : 0);
	wr_u16(w, iplen ? a->port : 0);
	wr_bytes(w, a->ip, iplen);
}

static void rd_addr(struct rd *r, np_addr_t *a)
{
	memset(a, 0, sizeof(*a));
	a->family = rd_u8(r);
	a->port = rd_u16(r);
	if (a->family == 4)
		rd_bytes(r, a->ip, 4);
	else if (a->family == 6)
		rd_bytes(r, a->ip, 16);
	else if (a->family != 0)
		r->bad = 1;
	else if (a->port != 0)
		r->bad = 1;
}

static void wr_nat(struct wr *w, const np_nat_info_t *n)
{
	wr_u8(w, n->known);
	wr_u8(w, n->mapping);
	wr_u8(w, n->filtering);
	wr_u8(w, n->allocation);
	wr_u8(w, n->depth);
	wr_u8(w, 0);
	wr_u16(w, (uint16_t)n->step);
	wr_u16(w, n->noise);
}

/* Optional trailing fields (TLVs) of REGISTER and PEER_INFO, before the MAC:
 * type(1) len(1) value(len). Known types only, each at most once, in
 * increasing order, so that an encoding is canonical. */
#define TLV_RELAY 0x01  /* an endpoint: the sender's (REGISTER) or the peer's (PEER_INFO) TURN relayed address */

static void wr_tlv_addr(struct wr *w, uint8_t type, const np_addr_t *a)
{
	size_t iplen = a->family == 4 ? 4 : a->family == 6 ? 16 : 0;

	if (!iplen)
		return;
	wr_u8(w, type);
	wr_u8(w, (uint8_t)(3 + iplen));
	wr_addr(w, a);
}

#define TLV_TURN_URIS 0x02 /* PEER_INFO: space-separated TURN URIs the server offers */
#define TLV_TURN_USER 0x03 /* PEER_INFO: user name for them */
#define TLV_TURN_PASS 0x04 /* PEER_INFO: password for them */
#define TLV_MAPPED 0x05    /* an endpoint: the newest NAT mapping the sender's (REGISTER) or the
			    * peer's (PEER_INFO) last NAT discovery saw */

static void wr_tlv_str(struct wr *w, uint8_t type, const char *str, size_t max)
{
	size_t n = strnlen(str, max + 1);

	if (!n)
		return;
	if (n > max) {
		w->bad = 1;
		return;
	}
	wr_u8(w, type);
	wr_u8(w, (uint8_t)n);
	wr_bytes(w, str, n);
}

/* A text field: printable ASCII (spaces allowed), 1..cap-1 bytes. */
static void rd_tlv_str(struct rd *r, size_t l, char *out, size_t cap)
{
	if (l == 0 || l >= cap) {
		r->bad = 1;
		return;
	}
	rd_bytes(r, out, l);
	out[l] = 0;
	for (size_t i = 0; i < l; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
			r->bad = 1;
}

struct tlv_strs {
	char *uris, *user, *pass;
};

/* Reads TLVs up to (not including) end; strs NULL: only RELAY and MAPPED
 * are allowed. */
static void rd_tlvs_ex(struct rd *r, size_t end, np_addr_t *relay, np_addr_t *mapped, struct tlv_strs *strs);
static void rd_tlvs(struct rd *r, size_t end, np_addr_t *relay, np_addr_t *mapped)
{
	rd_tlvs_ex(r, end, relay, mapped, NULL);
}

/* An endpoint TLV: a real family, and exactly len bytes. */
static void rd_tlv_addr(struct rd *r, size_t start, uint8_t l, np_addr_t *a)
{
	rd_addr(r, a);
	if (a->family == 0 || r->off - start != l)
		r->bad = 1;
}

static void rd_tlvs_ex(struct rd *r, size_t end, np_addr_t *relay, np_addr_t *mapped, struct tlv_strs *strs)
{
	int last = 0;

	memset(relay, 0, sizeof(*relay));
	memset(mapped, 0, sizeof(*mapped));
	if (r->bad || end < r->off || end > r->len) {
		r->bad = 1;
		return;
	}
	while (!r->bad && r->off < end) {
		uint8_t type = rd_u8(r), l = rd_u8(r);
		size_t start = r->off;

		if (r->bad || type <= last || (size_t)l > end - r->off) {
			r->bad = 1;
			return;
		}
		last = type;
		switch (type) {
		case TLV_RELAY:
			rd_tlv_addr(r, start, l, relay);
			break;
		case TLV_MAPPED:
			rd_tlv_addr(r, start, l, mapped);
			break;
		case TLV_TURN_URIS:
		case TLV_TURN_USER:
		case TLV_TURN_PASS:
			if (!strs) {
				r->bad = 1;
				return;
			}
			rd_tlv_str(r, l, type == TLV_TURN_URIS ? strs->uris : type == TLV_TURN_USER ? strs->user : strs->pass,
				   type == TLV_TURN_URIS ? NP_WIRE_TURN_URIS_MAX + 1 : NP_WIRE_TURN_CRED_MAX + 1);
			break;
		default:
			r->bad = 1;
			return;
		}
	}
}

static void rd_nat(struct rd *r, np_nat_info_t *n)
{
	memset(n, 0, sizeof(*n));
	n->known = rd_u8(r) ? 1 : 0;
	n->mapping = rd_u8(r);
	n->filtering = rd_u8(r);
	n->allocation = rd_u8(r);
	n->depth = rd_u8(r);
	(void)rd_u8(r);
	n->step = (int16_t)rd_u16(r);
	n->noise = rd_u16(r);
	/* Keep only values a strategy can rely on. */
	if (n->mapping > 15 || n->filtering > 15 || n->allocation > 15 || n->depth > 8)
		r->bad = 1;
}

/* Header: version, type, then two message-specific bytes. */
static void wr_hdr(struct wr *w, uint8_t type, uint8_t b2, uint8_t b3)
{
	wr_u8(w, NP_WIRE_VERSION);
	wr_u8(w, type);
	wr_u8(w, b2);
	wr_u8(w, b3);
}

static int rd_hdr(struct rd *r, uint8_t type, uint8_t *b2, uint8_t *b3)
{
	int t = np_wire_type(r->p, r->len);

	if (t < 0)
		return t;
	if (t != type || r->len < 4)
		return -EBADMSG;
	r->off = 2;
	*b2 = rd_u8(r);
	*b3 = rd_u8(r);
	return 0;
}

/* The end of a parse: everything consumed, nothing short. */
static int rd_done(const struct rd *r)
{
	return r->bad || r->off != r->len ? -EBADMSG : 0;
}

int np_wire_type(const uint8_t *buf, size_t len)
{
	if (!buf || len < 2)
		return -EBADMSG;
	if (buf[0] != NP_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	return buf[1];
}

int np_wire_put_addr(uint8_t *out, size_t cap, const np_addr_t *a)
{
	struct wr w = { out, cap, 0, 0 };

	wr_addr(&w, a);
	return wr_done(&w);
}

int np_wire_get_addr(const uint8_t *in, size_t len, np_addr_t *a)
{
	struct rd r = { in, len, 0, 0 };

	rd_addr(&r, a);
	return r.bad ? -EBADMSG : (int)r.off;
}

int np_wire_encode_register(uint8_t *out, size_t cap, const struct np_msg_register *m)
{
	struct wr w = { out, cap, 0, 0 };
	size_t slen = strnlen(m->session, NP_SESSION_MAX + 1);

	if (slen > NP_SESSION_MAX)
		return -EINVAL;
	wr_hdr(&w, NP_MSG_REGISTER, m->flags, (uint8_t)slen);
	wr_u32(&w, m->nonce);
	wr_u64(&w, m->timestamp_ms);
	wr_bytes(&w, m->session, slen);
	wr_addr(&w, &m->local);
	wr_nat(&w, &m->nat);
	if (m->flags & NP_REG_F_COOKIE)
		wr_bytes(&w, m->cookie, NP_COOKIE_LEN);
	wr_tlv_addr(&w, TLV_RELAY, &m->relay);
	wr_tlv_addr(&w, TLV_MAPPED, &m->mapped);
	if (m->flags & NP_REG_F_MAC)
		wr_bytes(&w, m->mac, NP_MAC_LEN);
	return wr_done(&w);
}

/* Session names are printable ASCII without spaces: they end up in logs. */
static int session_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

int np_wire_parse_register(const uint8_t *in, size_t len, struct np_msg_register *m)
{
	struct rd r = { in, len, 0, 0 };
	uint8_t slen;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = rd_hdr(&r, NP_MSG_REGISTER, &m->flags, &slen);
	if (rc < 0)
		return rc;
	if (slen == 0 || slen > NP_SESSION_MAX || (m->flags & ~(NP_REG_F_MAC | NP_REG_F_COOKIE | NP_REG_F_LEG)))
		return -EBADMSG;
	m->nonce = rd_u32(&r);
	m->timestamp_ms = rd_u64(&r);
	rd_bytes(&r, m->session, slen);
	m->session[slen] = '\0';
	rd_addr(&r, &m->local);
	rd_nat(&r, &m->nat);
	if (m->flags & NP_REG_F_COOKIE)
		rd_bytes(&r, m->cookie, NP_COOKIE_LEN);
	rd_tlvs(&r, (m->flags & NP_REG_F_MAC) ? len - (len < NP_MAC_LEN ? len : NP_MAC_LEN) : len, &m->relay,
		&m->mapped);
	m->mac_offset = r.off;
	if (m->flags & NP_REG_F_MAC)
		rd_bytes(&r, m->mac, NP_MAC_LEN);
	if (rd_done(&r) < 0 || !session_ok(m->session, slen))
		return -EBADMSG;
	return 0;
}

int np_wire_encode_register_ack(uint8_t *out, size_t cap, const struct np_msg_register_ack *m)
{
	struct wr w = { out, cap, 0, 0 };

	wr_hdr(&w, NP_MSG_REGISTER_ACK, m->flags, 0);
	wr_u32(&w, m->nonce);
	wr_addr(&w, &m->observed);
	if (m->flags & NP_REG_F_MAC)
		wr_bytes(&w, m->mac, NP_MAC_LEN);
	return wr_done(&w);
}

int np_wire_parse_register_ack(const uint8_t *in, size_t len, struct np_msg_register_ack *m)
{
	struct rd r = { in, len, 0, 0 };
	uint8_t b3;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = rd_hdr(&r, NP_MSG_REGISTER_ACK, &m->flags, &b3);
	if (rc < 0)
		return rc;
	if ((m->flags & ~NP_REG_F_MAC) || b3)
		return -EBADMSG;
	m->nonce = rd_u32(&r);
	rd_addr(&r, &m->observed);
	m->mac_offset = r.off;
	if (m->flags & NP_REG_F_MAC)
		rd_bytes(&r, m->mac, NP_MAC_LEN);
	return rd_done(&r);
}

int np_wire_encode_register_cookie(uint8_t *out, size_t cap, const struct np_msg_register_cookie *m)
{
	struct wr w = { out, cap, 0, 0 };

	wr_hdr(&w, NP_MSG_REGISTER_COOKIE, m->flags, 0);
	wr_u32(&w, m->nonce);
	wr_bytes(&w, m->cookie, NP_COOKIE_LEN);
	if (m->flags & NP_REG_F_MAC)
		wr_bytes(&w, m->mac, NP_MAC_LEN);
	return wr_done(&w);
}

int np_wire_parse_register_cookie(const uint8_t *in, size_t len, struct np_msg_register_cookie *m)
{
	struct rd r = { in, len, 0, 0 };
	uint8_t b3;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = rd_hdr(&r, NP_MSG_REGISTER_COOKIE, &m->flags, &b3);
	if (rc < 0)
		return rc;
	if ((m->flags & ~NP_REG_F_MAC) || b3)
		return -EBADMSG;
	m->nonce = rd_u32(&r);
	rd_bytes(&r, m->cookie, NP_COOKIE_LEN);
	m->mac_offset = r.off;
	if (m->flags & NP_REG_F_MAC)
		rd_bytes(&r, m->mac, NP_MAC_LEN);
	return rd_done(&r);
}

int np_wire_encode_peer_info(uint8_t *out, size_t cap, const struct np_msg_peer_info *m)
{
	struct wr w = { out, cap, 0, 0 };

	wr_hdr(&w, NP_MSG_PEER_INFO, m->flags, m->role);
	wr_u32(&w, m->nonce);
	wr_u32(&w, m->round);
	wr_u16(&w, m->start_in_ms);
	wr_bytes(&w, m->pairing, NP_PAIRING_LEN);
	wr_addr(&w, &m->observed);
	wr_addr(&w, &m->peer_public);
	wr_addr(&w, &m->peer_local);
	wr_nat(&w, &m->peer_nat);
	wr_tlv_addr(&w, TLV_RELAY, &m->peer_relay);
	wr_tlv_str(&w, TLV_TURN_URIS, m->turn_uris, NP_WIRE_TURN_URIS_MAX);
	wr_tlv_str(&w, TLV_TURN_USER, m->turn_user, NP_WIRE_TURN_CRED_MAX);
	wr_tlv_str(&w, TLV_TURN_PASS, m->turn_pass, NP_WIRE_TURN_CRED_MAX);
	wr_tlv_addr(&w, TLV_MAPPED, &m->peer_mapped);
	if (m->flags & NP_REG_F_MAC)
		wr_bytes(&w, m->mac, NP_MAC_LEN);
	return wr_done(&w);
}

int np_wire_parse_peer_info(const uint8_t *in, size_t len, struct np_msg_peer_info *m)
{
	struct rd r = { in, len, 0, 0 };
	int rc;

	memset(m, 0, sizeof(*m));
	rc = rd_hdr(&r, NP_MSG_PEER_INFO, &m->flags, &m->role);
	if (rc < 0)
		return rc;
	if ((m->flags & ~(NP_REG_F_MAC | NP_PI_F_PEER_TCP | NP_PI_F_PEER_LEG)) || m->role > 1)
		return -EBADMSG;
	m->nonce = rd_u32(&r);
	m->round = rd_u32(&r);
	m->start_in_ms = rd_u16(&r);
	rd_bytes(&r, m->pairing, NP_PAIRING_LEN);
	rd_addr(&r, &m->observed);
	rd_addr(&r, &m->peer_public);
	rd_addr(&r, &m->peer_local);
	rd_nat(&r, &m->peer_nat);
	{
		struct tlv_strs ts = { m->turn_uris, m->turn_user, m->turn_pass };
		rd_tlvs_ex(&r, (m->flags & NP_REG_F_MAC) ? len - (len < NP_MAC_LEN ? len : NP_MAC_LEN) : len,
			   &m->peer_relay, &m->peer_mapped, &ts);
	}
	m->mac_offset = r.off;
	if (m->flags & NP_REG_F_MAC)
		rd_bytes(&r, m->mac, NP_MAC_LEN);
	if (rd_done(&r) < 0 || m->peer_public.family == 0)
		return -EBADMSG;
	return 0;
}

int np_wire_encode_nat_probe(uint8_t *out, size_t cap, const struct np_msg_nat_probe *m)
{
	struct wr w = { out, cap, 0, 0 };

	wr_hdr(&w, NP_MSG_NAT_PROBE, m->flags, 0);
	wr_u32(&w, m->txid);
	/* Zero padding: the reply is never larger than the request. */
	while (!w.bad && w.off < NP_NAT_PROBE_LEN)
		wr_u8(&w, 0);
	return wr_done(&w);
}

int np_wire_parse_nat_probe(const uint8_t *in, size_t len, struct np_msg_nat_probe *m)
{
	struct rd r = { in, len, 0, 0 };
	uint8_t b3;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = rd_hdr(&r, NP_MSG_NAT_PROBE, &m->flags, &b3);
	if (rc < 0)
		return rc;
	if ((m->flags & ~(NP_NATP_F_CHANGE_PORT | NP_NATP_F_CHANGE_IP)) || b3 || len != NP_NAT_PROBE_LEN)
		return -EBADMSG;
	m->txid = rd_u32(&r);
	while (!r.bad && r.off < len)
		if (rd_u8(&r) != 0)
			return -EBADMSG;
	return rd_done(&r);
}

int np_wire_encode_nat_probe_reply(uint8_t *out, size_t cap, const struct np_msg_nat_probe_reply *m)
{
	struct wr w = { out, cap, 0, 0 };

	wr_hdr(&w, NP_MSG_NAT_PROBE_REPLY, m->flags, m->answered);
	wr_u32(&w, m->txid);
	wr_addr(&w, &m->observed);
	wr_addr(&w, &m->alt);
	wr_u16(&w, m->other_port);
	if (m->flags & NP_NATP_F_MAC)
		wr_bytes(&w, m->mac, NP_MAC_LEN);
	return wr_done(&w);
}

int np_wire_parse_nat_probe_reply(const uint8_t *in, size_t len, struct np_msg_nat_probe_reply *m)
{
	struct rd r = { in, len, 0, 0 };
	const uint8_t known = NP_NATP_F_CHANGE_PORT | NP_NATP_F_CHANGE_IP;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = rd_hdr(&r, NP_MSG_NAT_PROBE_REPLY, &m->flags, &m->answered);
	if (rc < 0)
		return rc;
	if ((m->flags & ~(known | NP_NATP_F_MAC)) || (m->answered & ~known))
		return -EBADMSG;
	m->txid = rd_u32(&r);
	rd_addr(&r, &m->observed);
	rd_addr(&r, &m->alt);
	m->other_port = rd_u16(&r);
	m->mac_offset = r.off;
	if (m->flags & NP_NATP_F_MAC)
		rd_bytes(&r, m->mac, NP_MAC_LEN);
	if (rd_done(&r) < 0 || m->observed.family == 0)
		return -EBADMSG;
	return 0;
}

int np_wire_encode_probe(uint8_t *out, size_t cap, const struct np_msg_probe *m)
{
	struct wr w = { out, cap, 0, 0 };

	if (m->type != NP_MSG_PROBE && m->type != NP_MSG_PROBE_ACK)
		return -EINVAL;
	wr_hdr(&w, m->type, m->flags, 0);
	wr_u32(&w, m->round);
	wr_u64(&w, m->nonce);
	wr_bytes(&w, m->mac, NP_MAC_LEN);
	return wr_done(&w);
}

int np_wire_parse_probe(const uint8_t *in, size_t len, struct np_msg_probe *m)
{
	struct rd r = { in, len, 0, 0 };
	uint8_t b3;
	int t = np_wire_type(in, len);

	memset(m, 0, sizeof(*m));
	if (t < 0)
		return t;
	if (t != NP_MSG_PROBE && t != NP_MSG_PROBE_ACK)
		return -EBADMSG;
	if (rd_hdr(&r, (uint8_t)t, &m->flags, &b3) < 0 || b3 || (m->flags & ~NP_PROBE_F_HIGH))
		return -EBADMSG;
	m->type = (uint8_t)t;
	m->round = rd_u32(&r);
	m->nonce = rd_u64(&r);
	rd_bytes(&r, m->mac, NP_MAC_LEN);
	return rd_done(&r);
}

/* ---- endpoints ---------------------------------------------------------- */

int np_addr_equal(const np_addr_t *a, const np_addr_t *b)
{
	size_t n = a->family == 4 ? 4 : 16;

	return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, n) == 0;
}

const char *np_addr_str(const np_addr_t *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->family == 4 && inet_ntop(AF_INET, a->ip, ip, sizeof(ip)))
		snprintf(buf, cap, "%s:%u", ip, a->port);
	else if (a->family == 6 && inet_ntop(AF_INET6, a->ip, ip, sizeof(ip)))
		snprintf(buf, cap, "[%s]:%u", ip, a->port);
	else
		snprintf(buf, cap, "none");
	return buf;
}

int np_addr_from_sockaddr(np_addr_t *a, const struct sockaddr *sa)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		a->family = 4;
		a->port = ntohs(s4->sin_port);
		memcpy(a->ip, &s4->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		a->port = ntohs(s6->sin6_port);
		if (memcmp(&s6->sin6_addr, mapped, 12) == 0) {
			a->family = 4;
			memcpy(a->ip, (const uint8_t *)&s6->sin6_addr + 12, 4);
		} else {
			a->family = 6;
			memcpy(a->ip, &s6->sin6_addr, 16);
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

int np_addr_to_sockaddr(const np_addr_t *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		memcpy(&s4->sin_addr, a->ip, 4);
		return (int)sizeof(*s4);
	}
	if (a->family == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		memcpy(&s6->sin6_addr, a->ip, 16);
		return (int)sizeof(*s6);
	}
	return -EAFNOSUPPORT;
}

int np_addr_same_ip(const np_addr_t *a, const np_addr_t *b)
{
	return a->family == b->family && (a->family == 4 || a->family == 6) &&
	       memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

int np_wire_other_version(const uint8_t *buf, size_t len)
{
	if (!buf || len < 2 || buf[0] == NP_WIRE_VERSION || buf[0] == 0 || buf[0] > 8)
		return 0;
	/* A known type byte of the old format: it is natpunch, not junk. */
	switch (buf[1]) {
	case 0x01: case 0x02: case 0x03: case 0x04: case 0x05:
	case 0x10: case 0x11: case 0x20: case 0x21: case 0x30: case 0x31: case 0x40:
		return 1;
	default:
		return 0;
	}
}

int np_addr_is_private(const np_addr_t *a)
{
	const uint8_t *ip = a->ip;

	if (a->family == 4)
		return ip[0] == 10 || (ip[0] == 172 && (ip[1] & 0xf0) == 16) ||
		       (ip[0] == 192 && ip[1] == 168) || (ip[0] == 100 && (ip[1] & 0xc0) == 64) ||
		       (ip[0] == 169 && ip[1] == 254);
	if (a->family == 6)
		return (ip[0] & 0xfe) == 0xfc || (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80);
	return 0;
}
