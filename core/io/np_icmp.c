/* np_icmp: ICMP "too big" answers and IPv4 fragmentation of inner packets
 * (see np_icmp.h). RFC 792 / 1191 (fragmentation needed), RFC 1812 4.3.2
 * (how much to quote, when not to answer), RFC 4443 (packet too big),
 * RFC 791 (fragmentation). */
#include "np_icmp.h"

#include "np_offload.h"

#include <errno.h>
#include <string.h>

#define IP4_HDR 20
#define IP6_HDR 40
#define ICMP_HDR 8
#define PROTO_ICMP 1
#define PROTO_ICMPV6 58
#define IP4_DF 0x4000
#define IP4_MF 0x2000
#define IP4_OFFMASK 0x1fff
#define IP4_ANSWER_MAX 576
#define ANSWER_TTL 64

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Checks the IPv4 header; *hlen and *tot get the header and total length. */
static int ip4_check(const uint8_t *pkt, size_t len, size_t *hlen, size_t *tot)
{
	if (len < IP4_HDR || (pkt[0] >> 4) != 4)
		return -EBADMSG;
	*hlen = (size_t)(pkt[0] & 0x0f) * 4;
	*tot = get16(pkt + 2);
	if (*hlen < IP4_HDR || *hlen > len || *tot < *hlen || *tot > len)
		return -EBADMSG;
	return 0;
}

int np_too_big_action(const uint8_t *pkt, size_t len)
{
	if (len < 1)
		return -EBADMSG;
	if ((pkt[0] >> 4) == 6)
		return NP_TOO_BIG_ICMP;
	if ((pkt[0] >> 4) != 4 || len < IP4_HDR)
		return -EBADMSG;
	return (get16(pkt + 6) & IP4_DF) ? NP_TOO_BIG_ICMP : NP_TOO_BIG_FRAGMENT;
}

/* 1 for addresses an ICMP error must not be sent to or about: 0.0.0.0,
 * 127/8, multicast and limited broadcast (RFC 1812 4.3.2.7). */
static int ip4_bad_addr(const uint8_t *a)
{
	return a[0] == 0 || a[0] == 127 || a[0] >= 224;
}

/* ICMP error types that must never be answered with an error. */
static int icmp4_is_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static int too_big4(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap)
{
	size_t hlen, tot, quote, olen;
	uint16_t frag;

	if (ip4_check(pkt, len, &hlen, &tot) < 0)
		return -EBADMSG;
	frag = get16(pkt + 6);
	if ((frag & IP4_OFFMASK) != 0)
		return -EPERM; /* only the first fragment is answered */
	if (ip4_bad_addr(pkt + 12) || ip4_bad_addr(pkt + 16))
		return -EPERM;
	if (pkt[9] == PROTO_ICMP) {
		if (tot < hlen + 1)
			return -EBADMSG;
		if (icmp4_is_error(pkt[hlen]))
			return -EPERM;
	}
	quote = tot;
	if (quote > IP4_ANSWER_MAX - IP4_HDR - ICMP_HDR)
		quote = IP4_ANSWER_MAX - IP4_HDR - ICMP_HDR;
	olen = IP4_HDR + ICMP_HDR + quote;
	if (cap < olen)
		return -ENOSPC;
	if (mtu > 0xffff)
		mtu = 0xffff;
	memset(out, 0, IP4_HDR + ICMP_HDR);
	out[0] = 0x45;
	out[1] = pkt[1] & 0xfc; /* keep the DSCP, no ECN */
	put16(out + 2, (uint16_t)olen);
	out[8] = ANSWER_TTL;
	out[9] = PROTO_ICMP;
	memcpy(out + 12, pkt + 16, 4); /* from the original destination */
	memcpy(out + 16, pkt + 12, 4); /* to the original source */
	put16(out + 10, np_csum_finish(np_csum_add(0, out, IP4_HDR)));
	out[IP4_HDR] = 3;     /* destination unreachable */
	out[IP4_HDR + 1] = 4; /* fragmentation needed and DF set */
	put16(out + IP4_HDR + 6, (uint16_t)mtu);
	memcpy(out + IP4_HDR + ICMP_HDR, pkt, quote);
	put16(out + IP4_HDR + 2, np_csum_finish(np_csum_add(0, out + IP4_HDR, ICMP_HDR + quote)));
	return (int)olen;
}

static int ip6_bad_addr(const uint8_t *a)
{
	static const uint8_t zero[16];

	return a[0] == 0xff || memcmp(a, zero, 16) == 0;
}

static int too_big6(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap)
{
	size_t tot, quote, olen;
	uint32_t sum;

	if (len < IP6_HDR || (pkt[0] >> 4) != 6)
		return -EBADMSG;
	tot = IP6_HDR + (size_t)get16(pkt + 4);
	if (tot > len)
		return -EBADMSG;
	/* A source that cannot be answered, or a destination we cannot
	 * answer from (RFC 4443 2.2: not multicast). */
	if (ip6_bad_addr(pkt + 8) || ip6_bad_addr(pkt + 24))
		return -EPERM;
	/* Never answer an ICMPv6 error (types below 128). Extension headers
	 * are not walked: an error behind them is answered, which is harmless. */
	if (pkt[6] == PROTO_ICMPV6) {
		if (tot < IP6_HDR + 1)
			return -EBADMSG;
		if (pkt[IP6_HDR] < 128)
			return -EPERM;
	}
	quote = tot;
	if (quote > NP_ICMP_V6_MIN_MTU - IP6_HDR - ICMP_HDR)
		quote = NP_ICMP_V6_MIN_MTU - IP6_HDR - ICMP_HDR;
	olen = IP6_HDR + ICMP_HDR + quote;
	if (cap < olen)
		return -ENOSPC;
	if (mtu < NP_ICMP_V6_MIN_MTU)
		mtu = NP_ICMP_V6_MIN_MTU;
	memset(out, 0, IP6_HDR + ICMP_HDR);
	out[0] = 0x60;
	put16(out + 4, (uint16_t)(ICMP_HDR + quote));
	out[6] = PROTO_ICMPV6;
	out[7] = ANSWER_TTL;
	memcpy(out + 8, pkt + 24, 16);
	memcpy(out + 24, pkt + 8, 16);
	out[IP6_HDR] = 2; /* packet too big */
	put32(out + IP6_HDR + 4, mtu);
	memcpy(out + IP6_HDR + ICMP_HDR, pkt, quote);
	sum = np_csum_pseudo6(out + 8, out + 24, PROTO_ICMPV6, (uint32_t)(ICMP_HDR + quote));
	sum = np_csum_add(sum, out + IP6_HDR, ICMP_HDR + quote);
	put16(out + IP6_HDR + 2, np_csum_finish(sum));
	return (int)olen;
}

int np_icmp_too_big(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap)
{
	if (len < 1)
		return -EBADMSG;
	switch (pkt[0] >> 4) {
	case 4:
		return too_big4(pkt, len, mtu, out, cap);
	case 6:
		return too_big6(pkt, len, mtu, out, cap);
	default:
		return -EBADMSG;
	}
}

/* ---- IPv4 fragmentation ------------------------------------------------------ */

/* Collects the options with the "copied" bit (RFC 791) for later fragments. */
static int collect_copied(struct np_frag4 *f, const uint8_t *opt, size_t olen)
{
	size_t i = 0;

	f->copied_len = 0;
	while (i < olen) {
		uint8_t type = opt[i];
		size_t l;

		if (type == 0) /* end of options */
			break;
		if (type == 1) { /* no-op */
			i++;
			continue;
		}
		if (i + 1 >= olen)
			return -EBADMSG;
		l = opt[i + 1];
		if (l < 2 || i + l > olen)
			return -EBADMSG;
		if (type & 0x80) {
			memcpy(f->copied + f->copied_len, opt + i, l);
			f->copied_len += l;
		}
		i += l;
	}
	while (f->copied_len % 4)
		f->copied[f->copied_len++] = 0; /* end-of-options padding */
	return 0;
}

int np_frag4_start(struct np_frag4 *f, const uint8_t *pkt, size_t len, unsigned mtu)
{
	size_t hlen, tot;
	uint16_t frag;
	int rc;

	memset(f, 0, sizeof(*f));
	if (ip4_check(pkt, len, &hlen, &tot) < 0)
		return -EBADMSG;
	frag = get16(pkt + 6);
	if (frag & IP4_DF)
		return -EPERM;
	if ((size_t)(frag & IP4_OFFMASK) * 8 + (tot - hlen) > 0xffff)
		return -EBADMSG;
	/* Every fragment needs room for its header and 8 payload bytes. */
	if (mtu < hlen + 8)
		return -EMSGSIZE;
	rc = collect_copied(f, pkt + IP4_HDR, hlen - IP4_HDR);
	if (rc < 0)
		return rc;
	f->pkt = pkt;
	f->len = tot;
	f->hlen = hlen;
	f->base_off = (uint16_t)((frag & IP4_OFFMASK) * 8);
	f->last_mf = (frag & IP4_MF) != 0;
	f->chunk = mtu; /* the mtu; the per-fragment payload depends on its header */
	return 0;
}

int np_frag4_next(struct np_frag4 *f, uint8_t *dst, size_t cap)
{
	size_t payload = f->len - f->hlen, left, hl, n;
	uint16_t fragfield;

	if (!f->pkt || f->off >= payload)
		return 0;
	left = payload - f->off;
	hl = f->off == 0 ? f->hlen : IP4_HDR + f->copied_len;
	n = (f->chunk - hl) & ~(size_t)7;
	if (n == 0)
		n = 8;
	if (n >= left)
		n = left;
	if (cap < hl + n)
		return -ENOSPC;
	if (f->off == 0) {
		memcpy(dst, f->pkt, hl);
	} else {
		memcpy(dst, f->pkt, IP4_HDR);
		memcpy(dst + IP4_HDR, f->copied, f->copied_len);
		dst[0] = (uint8_t)(0x40 | (hl / 4));
	}
	memcpy(dst + hl, f->pkt + f->hlen + f->off, n);
	put16(dst + 2, (uint16_t)(hl + n));
	fragfield = (uint16_t)(((f->base_off + f->off) / 8) & IP4_OFFMASK);
	if (n < left || f->last_mf)
		fragfield |= IP4_MF;
	put16(dst + 6, fragfield);
	dst[10] = dst[11] = 0;
	put16(dst + 10, np_csum_finish(np_csum_add(0, dst, hl)));
	f->off += n;
	return (int)(hl + n);
}
