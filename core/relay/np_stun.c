/* np_stun: STUN/TURN message parsing and building, ChannelData framing.
 * See np_stun.h. HMAC-SHA1 and MD5 come from OpenSSL libcrypto, CRC-32
 * from zlib. */
#include "np_stun.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <string.h>
#include <zlib.h>

#define FP_XOR 0x5354554eu

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* HMAC-SHA1(key, a || b) */
static int hmac_sha1(const uint8_t *key, size_t keylen, const uint8_t *a, size_t alen, const uint8_t *b,
		     size_t blen, uint8_t out[NP_STUN_MI_LEN])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[2];
	size_t outl = 0;
	int ok;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = ctx && EVP_MAC_init(ctx, key, keylen, params) && EVP_MAC_update(ctx, a, alen) &&
	     (!blen || EVP_MAC_update(ctx, b, blen)) && EVP_MAC_final(ctx, out, &outl, NP_STUN_MI_LEN) &&
	     outl == NP_STUN_MI_LEN;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok ? 0 : -EIO;
}

int np_stun_long_term_key(const char *user, const char *realm, const char *password,
			  uint8_t key[NP_STUN_KEY_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int outl = 0;
	int ok;

	ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) && EVP_DigestUpdate(ctx, user, strlen(user)) &&
	     EVP_DigestUpdate(ctx, ":", 1) && EVP_DigestUpdate(ctx, realm, strlen(realm)) &&
	     EVP_DigestUpdate(ctx, ":", 1) && EVP_DigestUpdate(ctx, password, strlen(password)) &&
	     EVP_DigestFinal_ex(ctx, key, &outl) && outl == NP_STUN_KEY_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

static uint32_t crc32_of(const uint8_t *buf, size_t len)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)len);
}

/* ---- parsing --------------------------------------------------------------- */

int np_stun_looks_like(const uint8_t *buf, size_t len)
{
	return len >= NP_STUN_HDR_LEN && (buf[0] & 0xc0) == 0 && get32(buf + 4) == NP_STUN_MAGIC;
}

int np_stun_parse(const uint8_t *buf, size_t len, struct np_stun_msg *m)
{
	uint16_t t;
	size_t off;

	memset(m, 0, sizeof(*m));
	m->mi = m->fp = -1;
	if (!np_stun_looks_like(buf, len) || (size_t)get16(buf + 2) + NP_STUN_HDR_LEN != len || (len & 3))
		return -EBADMSG;
	t = get16(buf);
	m->method = (uint16_t)((t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2));
	m->cls = (uint8_t)(((t >> 4) & 1) | ((t >> 7) & 2));
	memcpy(m->txid, buf + 8, 12);
	m->buf = buf;
	m->len = len;
	for (off = NP_STUN_HDR_LEN; off < len;) {
		struct np_stun_attr *a;
		uint16_t type, alen;

		if (len - off < 4)
			return -EBADMSG;
		type = get16(buf + off);
		alen = get16(buf + off + 2);
		if (pad4(alen) > len - off - 4)
			return -EBADMSG;
		/* After FINGERPRINT nothing; after MESSAGE-INTEGRITY only
		 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT. */
		if (m->fp >= 0)
			return -EBADMSG;
		if (m->mi >= 0 && type != NP_STUN_A_FINGERPRINT && type != NP_STUN_A_MESSAGE_INTEGRITY_SHA256)
			return -EBADMSG;
		if (m->nattrs == NP_STUN_MAX_ATTRS)
			return -EBADMSG;
		a = &m->attrs[m->nattrs];
		a->type = type;
		a->len = alen;
		a->val = buf + off + 4;
		a->off = off;
		if (type == NP_STUN_A_MESSAGE_INTEGRITY) {
			if (alen != NP_STUN_MI_LEN)
				return -EBADMSG;
			m->mi = m->nattrs;
		} else if (type == NP_STUN_A_FINGERPRINT) {
			if (alen != 4 || get32(a->val) != (crc32_of(buf, off) ^ FP_XOR))
				return -EBADMSG;
			m->fp = m->nattrs;
		}
		m->nattrs++;
		off += 4 + pad4(alen);
	}
	return 0;
}

const struct np_stun_attr *np_stun_find(const struct np_stun_msg *m, uint16_t type)
{
	int end = m->mi >= 0 ? m->mi : m->nattrs;

	if (type == NP_STUN_A_MESSAGE_INTEGRITY)
		return m->mi >= 0 ? &m->attrs[m->mi] : NULL;
	if (type == NP_STUN_A_FINGERPRINT)
		return m->fp >= 0 ? &m->attrs[m->fp] : NULL;
	for (int i = 0; i < end; i++)
		if (m->attrs[i].type == type)
			return &m->attrs[i];
	return NULL;
}

int np_stun_get_addr(const struct np_stun_msg *m, const struct np_stun_attr *a, int xored, np_addr_t *out)
{
	uint8_t mask[16];

	memset(out, 0, sizeof(*out));
	if (!a || a->len < 4 || a->val[0] != 0)
		return -EBADMSG;
	put32(mask, NP_STUN_MAGIC);
	memcpy(mask + 4, m->txid, 12);
	if (a->val[1] == 0x01 && a->len == 8) {
		out->family = 4;
	} else if (a->val[1] == 0x02 && a->len == 20) {
		out->family = 6;
	} else {
		return -EBADMSG;
	}
	out->port = get16(a->val + 2);
	memcpy(out->ip, a->val + 4, out->family == 4 ? 4 : 16);
	if (xored) {
		out->port ^= (uint16_t)(NP_STUN_MAGIC >> 16);
		for (int i = 0; i < (out->family == 4 ? 4 : 16); i++)
			out->ip[i] ^= mask[i];
	}
	return 0;
}

int np_stun_get_error(const struct np_stun_attr *a, int *code, char *reason, size_t cap)
{
	size_t n;

	if (!a || a->len < 4 || (a->val[2] & 0xf8) || a->val[2] < 3 || a->val[2] > 6 || a->val[3] > 99)
		return -EBADMSG;
	*code = a->val[2] * 100 + a->val[3];
	if (reason && cap) {
		n = (size_t)a->len - 4;
		if (n > cap - 1)
			n = cap - 1;
		for (size_t i = 0; i < n; i++) {
			uint8_t c = a->val[4 + i];
			reason[i] = (char)(c >= 0x20 && c < 0x7f ? c : '?');
		}
		reason[n] = 0;
	}
	return 0;
}

int np_stun_get_u32(const struct np_stun_attr *a, uint32_t *out)
{
	if (!a || a->len != 4)
		return -EBADMSG;
	*out = get32(a->val);
	return 0;
}

int np_stun_get_str(const struct np_stun_attr *a, char *buf, size_t cap)
{
	if (!a || !cap || a->len > cap - 1 || memchr(a->val, 0, a->len))
		return -EBADMSG;
	memcpy(buf, a->val, a->len);
	buf[a->len] = 0;
	return 0;
}

int np_stun_check_integrity(const struct np_stun_msg *m, const uint8_t *key, size_t keylen)
{
	const struct np_stun_attr *a;
	uint8_t hdr[NP_STUN_HDR_LEN], mac[NP_STUN_MI_LEN];

	if (m->mi < 0)
		return -ENOENT;
	a = &m->attrs[m->mi];
	/* The length field as if the message ended right after MESSAGE-INTEGRITY. */
	memcpy(hdr, m->buf, NP_STUN_HDR_LEN);
	put16(hdr + 2, (uint16_t)(a->off + 4 + NP_STUN_MI_LEN - NP_STUN_HDR_LEN));
	if (hmac_sha1(key, keylen, hdr, NP_STUN_HDR_LEN, m->buf + NP_STUN_HDR_LEN, a->off - NP_STUN_HDR_LEN,
		      mac) < 0)
		return -EIO;
	/* CRYPTO_memcmp-style constant time compare */
	{
		uint8_t d = 0;
		for (int i = 0; i < NP_STUN_MI_LEN; i++)
			d |= (uint8_t)(mac[i] ^ a->val[i]);
		if (d)
			return -EKEYREJECTED;
	}
	return 0;
}

/* ---- building -------------------------------------------------------------- */

void np_stun_build(struct np_stun_builder *b, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
		   const uint8_t txid[12])
{
	uint16_t t = (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
				((cls & 1) << 4) | ((cls & 2) << 7));

	b->buf = buf;
	b->cap = cap;
	b->len = NP_STUN_HDR_LEN;
	b->err = 0;
	if (cap < NP_STUN_HDR_LEN || method > 0x0FFF || cls > 3) {
		b->err = cap < NP_STUN_HDR_LEN ? -ENOSPC : -EINVAL;
		return;
	}
	put16(buf, t);
	put16(buf + 2, 0);
	put32(buf + 4, NP_STUN_MAGIC);
	memcpy(buf + 8, txid, 12);
}

/* Room for an attribute of vlen bytes: its header, or NULL (error set). */
static uint8_t *reserve(struct np_stun_builder *b, uint16_t type, size_t vlen)
{
	uint8_t *p;

	if (b->err)
		return NULL;
	if (vlen > 0xFFFF || b->len + 4 + pad4(vlen) > 0xFFFF + NP_STUN_HDR_LEN) {
		b->err = -EINVAL;
		return NULL;
	}
	if (b->cap - b->len < 4 + pad4(vlen)) {
		b->err = -ENOSPC;
		return NULL;
	}
	p = b->buf + b->len;
	put16(p, type);
	put16(p + 2, (uint16_t)vlen);
	memset(p + 4 + vlen, 0, pad4(vlen) - vlen);
	b->len += 4 + pad4(vlen);
	put16(b->buf + 2, (uint16_t)(b->len - NP_STUN_HDR_LEN));
	return p;
}

void np_stun_put(struct np_stun_builder *b, uint16_t type, const void *val, size_t len)
{
	uint8_t *p = reserve(b, type, len);

	if (p && len)
		memcpy(p + 4, val, len);
}

void np_stun_put_u32(struct np_stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t *p = reserve(b, type, 4);

	if (p)
		put32(p + 4, v);
}

void np_stun_put_str(struct np_stun_builder *b, uint16_t type, const char *s)
{
	np_stun_put(b, type, s, strlen(s));
}

void np_stun_put_addr(struct np_stun_builder *b, uint16_t type, const np_addr_t *a, int xored)
{
	size_t iplen = a->family == 4 ? 4 : 16;
	uint8_t mask[16], *p;

	if (a->family != 4 && a->family != 6) {
		if (!b->err)
			b->err = -EINVAL;
		return;
	}
	p = reserve(b, type, 4 + iplen);
	if (!p)
		return;
	put32(mask, NP_STUN_MAGIC);
	memcpy(mask + 4, b->buf + 8, 12);
	p[4] = 0;
	p[5] = a->family == 4 ? 0x01 : 0x02;
	put16(p + 6, xored ? (uint16_t)(a->port ^ (NP_STUN_MAGIC >> 16)) : a->port);
	for (size_t i = 0; i < iplen; i++)
		p[8 + i] = xored ? (uint8_t)(a->ip[i] ^ mask[i]) : a->ip[i];
}

void np_stun_put_error(struct np_stun_builder *b, int code, const char *reason)
{
	size_t rl = strlen(reason);
	uint8_t *p;

	if (code < 300 || code > 699) {
		if (!b->err)
			b->err = -EINVAL;
		return;
	}
	p = reserve(b, NP_STUN_A_ERROR_CODE, 4 + rl);
	if (!p)
		return;
	p[4] = p[5] = 0;
	p[6] = (uint8_t)(code / 100);
	p[7] = (uint8_t)(code % 100);
	memcpy(p + 8, reason, rl);
}

void np_stun_put_integrity(struct np_stun_builder *b, const uint8_t *key, size_t keylen)
{
	size_t covered = b->len;
	uint8_t *p = reserve(b, NP_STUN_A_MESSAGE_INTEGRITY, NP_STUN_MI_LEN);

	/* reserve() already set the length field to include this attribute. */
	if (p && hmac_sha1(key, keylen, b->buf, covered, NULL, 0, p + 4) < 0)
		b->err = -EIO;
}

void np_stun_put_fingerprint(struct np_stun_builder *b)
{
	size_t covered = b->len;
	uint8_t *p = reserve(b, NP_STUN_A_FINGERPRINT, 4);

	if (p)
		put32(p + 4, crc32_of(b->buf, covered) ^ FP_XOR);
}

int np_stun_finish(struct np_stun_builder *b)
{
	return b->err ? b->err : (int)b->len;
}

/* ---- ChannelData ----------------------------------------------------------- */

int np_stun_channel_hdr(uint8_t out[NP_STUN_CHANNEL_HDR_LEN], uint16_t channel, size_t len)
{
	if (channel < NP_STUN_CHANNEL_MIN || channel > NP_STUN_CHANNEL_MAX || len > 0xFFFF)
		return -EINVAL;
	put16(out, channel);
	put16(out + 2, (uint16_t)len);
	return 0;
}

int np_stun_channel_parse(const uint8_t *buf, size_t len, uint16_t *channel, const uint8_t **data, size_t *dlen)
{
	uint16_t ch, l;

	if (len < NP_STUN_CHANNEL_HDR_LEN)
		return -EBADMSG;
	ch = get16(buf);
	l = get16(buf + 2);
	/* Padding (stream transports) may follow, never more than 3 bytes. */
	if (ch < NP_STUN_CHANNEL_MIN || ch > NP_STUN_CHANNEL_MAX || (size_t)l > len - NP_STUN_CHANNEL_HDR_LEN ||
	    len - NP_STUN_CHANNEL_HDR_LEN - l > 3)
		return -EBADMSG;
	*channel = ch;
	*data = buf + NP_STUN_CHANNEL_HDR_LEN;
	*dlen = l;
	return 0;
}

long np_stun_stream_frame_len(const uint8_t *buf, size_t len)
{
	uint16_t first;

	if (len < 4)
		return 0;
	first = get16(buf);
	if ((first & 0xc000) == 0) {
		size_t total = NP_STUN_HDR_LEN + (size_t)get16(buf + 2);

		if (len >= 8 && get32(buf + 4) != NP_STUN_MAGIC)
			return -EBADMSG;
		if (get16(buf + 2) & 3)
			return -EBADMSG;
		return (long)total;
	}
	if (first >= NP_STUN_CHANNEL_MIN && first <= NP_STUN_CHANNEL_MAX)
		return (long)(NP_STUN_CHANNEL_HDR_LEN + pad4(get16(buf + 2)));
	return -EBADMSG;
}

/* ---- words ----------------------------------------------------------------- */

const char *np_stun_error_text(int code)
{
	switch (code) {
	case 300: return "Try Alternate";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden (peer address not allowed)";
	case 405: return "Mobility Forbidden";
	case 420: return "Unknown Attribute";
	case 437: return "Allocation Mismatch";
	case 438: return "Stale Nonce";
	case 440: return "Address Family not Supported";
	case 441: return "Wrong Credentials";
	case 442: return "Unsupported Transport Protocol";
	case 443: return "Peer Address Family Mismatch";
	case 446: return "Connection Already Exists";
	case 447: return "Connection Timeout or Failure";
	case 486: return "Allocation Quota Reached";
	case 500: return "Server Error";
	case 508: return "Insufficient Capacity";
	default: return "unknown error";
	}
}

const char *np_stun_method_name(uint16_t method)
{
	switch (method) {
	case NP_STUN_BINDING: return "Binding";
	case NP_STUN_ALLOCATE: return "Allocate";
	case NP_STUN_REFRESH: return "Refresh";
	case NP_STUN_SEND: return "Send";
	case NP_STUN_DATA: return "Data";
	case NP_STUN_CREATE_PERMISSION: return "CreatePermission";
	case NP_STUN_CHANNEL_BIND: return "ChannelBind";
	default: return "unknown method";
	}
}
