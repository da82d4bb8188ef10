/* test_offload: np_offload checksums, vnet header validation, TCP
 * segmentation and the coalescer. Super-packets are built the way the kernel
 * hands them over on a tun with IFF_VNET_HDR (partial TCP checksum holding
 * the pseudo-header sum); every segment is checked with an independent,
 * byte-by-byte checksum; segments are coalesced again and re-segmented. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/virtio_net.h>

#include "np_offload.h"

#define VNET NP_VNET_HDR_LEN
#define MSS 1360
#define PAYLOAD 64000
#define STRIDE 2048
#define MAXSEG 64
#define SEQ0 0xffff0000u /* wraps inside the super-packet */
#define ID0 0xfff0       /* IPv4 ID wraps too */

/* ---- independent reference code ------------------------------------------- */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/* Plain RFC 1071 sum, one byte at a time. */
static uint32_t ref_sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static uint16_t ref_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t ref_pseudo(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	uint32_t s;

	if (ip[0] >> 4 == 4)
		s = ref_sum(ref_sum(0, ip + 12, 4), ip + 16, 4);
	else
		s = ref_sum(ref_sum(0, ip + 8, 16), ip + 24, 16);
	return s + proto + (uint32_t)(l4len >> 16) + (uint32_t)(l4len & 0xffff);
}

static size_t ref_iphl(const uint8_t *ip)
{
	return ip[0] >> 4 == 4 ? (size_t)(ip[0] & 15) * 4 : 40;
}

/* Full check of one IP/TCP packet's checksums and length fields. */
static void check_tcp_packet(const uint8_t *ip, size_t len)
{
	size_t iphl = ref_iphl(ip);

	if (ip[0] >> 4 == 4) {
		assert_int_equal(rd16(ip + 2), len);
		assert_int_equal(ref_fold(ref_sum(0, ip, iphl)), 0xffff);
	} else {
		assert_int_equal(rd16(ip + 4) + 40, len);
	}
	assert_int_equal(ref_fold(ref_sum(ref_pseudo(ip, 6, len - iphl), ip + iphl, len - iphl)), 0xffff);
}

/* ---- packet builders -------------------------------------------------------- */

struct spec {
	int ver;
	uint8_t flags;   /* TCP flags */
	size_t payload;
	uint16_t mss;
	bool ecn;        /* VIRTIO_NET_HDR_GSO_ECN */
	uint32_t seq;
	uint16_t sport;
};

/* Build an IP/TCP packet (with timestamp option) into ip; returns length. */
static size_t build_ip_tcp(uint8_t *ip, const struct spec *sp, uint16_t id, bool full_csum)
{
	size_t iphl = sp->ver == 4 ? 20 : 40, thl = 32, len = iphl + thl + sp->payload;
	uint8_t *tcp = ip + iphl;

	memset(ip, 0, iphl + thl);
	if (sp->ver == 4) {
		ip[0] = 0x45;
		wr16(ip + 2, (uint16_t)len);
		wr16(ip + 4, id);
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		wr16(ip + 10, (uint16_t)~ref_fold(ref_sum(0, ip, 20)));
	} else {
		ip[0] = 0x60;
		ip[1] = 0x0a; /* some flow label */
		wr16(ip + 4, (uint16_t)(len - 40));
		ip[6] = 6;
		ip[7] = 64;
		for (int i = 0; i < 16; i++) {
			ip[8 + i] = (uint8_t)(0x20 + i);
			ip[24 + i] = (uint8_t)(0x80 + i);
		}
	}
	wr16(tcp, sp->sport ? sp->sport : 40000);
	wr16(tcp + 2, 5201);
	wr32(tcp + 4, sp->seq);
	wr32(tcp + 8, 0x11223344);
	tcp[12] = (uint8_t)((thl / 4) << 4);
	tcp[13] = sp->flags;
	wr16(tcp + 14, 501);
	memcpy(tcp + 20, "\x01\x01\x08\x0a\x00\x01\x02\x03\x04\x05\x06\x07", 12);
	for (size_t i = 0; i < sp->payload; i++)
		tcp[thl + i] = (uint8_t)((sp->seq + i) * 7 + (sp->seq + i) / 251);
	if (full_csum)
		wr16(tcp + 16, (uint16_t)~ref_fold(ref_sum(ref_pseudo(ip, 6, len - iphl), tcp, len - iphl)));
	else /* partial, as the kernel leaves it */
		wr16(tcp + 16, ref_fold(ref_pseudo(ip, 6, len - iphl)));
	return len;
}

/* A super-packet as read from the tun: vnet header + IP/TCP. */
static size_t build_super(uint8_t *buf, const struct spec *sp)
{
	size_t iphl = sp->ver == 4 ? 20 : 40;
	size_t len = build_ip_tcp(buf + VNET, sp, ID0, false);
	uint16_t v;

	memset(buf, 0, VNET);
	buf[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	buf[1] = (uint8_t)((sp->ver == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6) |
			   (sp->ecn ? VIRTIO_NET_HDR_GSO_ECN : 0));
	v = htole16((uint16_t)(iphl + 32));
	memcpy(buf + 2, &v, 2);
	v = htole16(sp->mss);
	memcpy(buf + 4, &v, 2);
	v = htole16((uint16_t)iphl);
	memcpy(buf + 6, &v, 2);
	v = htole16(16);
	memcpy(buf + 8, &v, 2);
	return VNET + len;
}

static uint8_t superbuf[VNET + 65536];
static uint8_t segs[MAXSEG * STRIDE];
static size_t seglens[MAXSEG];
static uint8_t segs2[MAXSEG * STRIDE];
static size_t seglens2[MAXSEG];

/* Segment sp's super-packet and verify every segment; returns the count. */
static size_t segment_and_check(const struct spec *sp)
{
	size_t n = 0, len = build_super(superbuf, sp), iphl = sp->ver == 4 ? 20 : 40;
	size_t want = (sp->payload + sp->mss - 1) / sp->mss;
	uint8_t expect_payload[MSS];

	assert_int_equal(np_tso_segment(superbuf, len, VNET, segs, STRIDE, STRIDE, MAXSEG, seglens, &n), 0);
	assert_int_equal(n, want);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *ip = segs + i * STRIDE, *tcp = ip + iphl;
		size_t pl = i + 1 < n ? sp->mss : sp->payload - (n - 1) * sp->mss;
		uint8_t fl = sp->flags;
		uint32_t seq = sp->seq + (uint32_t)(i * sp->mss);

		assert_int_equal(seglens[i], iphl + 32 + pl);
		check_tcp_packet(ip, seglens[i]);
		if (sp->ver == 4)
			assert_int_equal(rd16(ip + 4), (uint16_t)(ID0 + i));
		assert_int_equal(rd32(tcp + 4), seq);
		if (i + 1 < n)
			fl &= (uint8_t)~0x09; /* FIN, PSH */
		if (i > 0)
			fl &= (uint8_t)~0x80; /* CWR */
		assert_int_equal(tcp[13], fl);
		assert_int_equal(rd32(tcp + 8), 0x11223344);
		assert_memory_equal(tcp + 20, "\x01\x01\x08\x0a\x00\x01\x02\x03\x04\x05\x06\x07", 12);
		for (size_t j = 0; j < pl; j++)
			expect_payload[j] = (uint8_t)((seq + j) * 7 + (seq + j) / 251);
		assert_memory_equal(tcp + 32, expect_payload, pl);
	}
	return n;
}

/* ---- coalescer capture -------------------------------------------------------- */

struct cap {
	int n;
	size_t len[MAXSEG * 2];
	size_t off[MAXSEG * 2];
	uint8_t buf[1 << 20];
	size_t used;
};

static struct cap cap;

static int cap_emit(void *arg, const uint8_t *pkt, size_t len)
{
	struct cap *c = arg;

	assert_true(c->n < MAXSEG * 2 && c->used + len <= sizeof(c->buf));
	memcpy(c->buf + c->used, pkt, len);
	c->off[c->n] = c->used;
	c->len[c->n++] = len;
	c->used += len;
	return 0;
}

static void cap_reset(void)
{
	cap.n = 0;
	cap.used = 0;
}

static const uint8_t *cap_pkt(int i)
{
	return cap.buf + cap.off[i];
}

static bool vnet_is_zero(const uint8_t *p)
{
	static const uint8_t z[VNET];

	return memcmp(p, z, VNET) == 0;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_csum_helpers(void **state)
{
	uint8_t b[1501];
	uint16_t c, c2;

	(void)state;
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 31 + 7);
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n < 200; n++)
			assert_int_equal(np_csum_fold(np_csum_add(0, b + off, n)), ref_fold(ref_sum(0, b + off, n)));
	assert_int_equal(np_csum_fold(np_csum_add(0x12345, b, 1501)), ref_fold(ref_sum(0x12345, b, 1501)));
	/* Chained even chunks equal one pass. */
	assert_int_equal(np_csum_fold(np_csum_add(np_csum_add(0, b, 600), b + 600, 901)),
			 ref_fold(ref_sum(0, b, 1501)));
	/* Incremental update == recompute. */
	b[10] = 0;
	b[11] = 0;
	c = np_csum_finish(np_csum_add(0, b, 40));
	wr16(b + 10, c);
	c2 = np_csum_update16(c, rd16(b + 4), 0xbeef);
	wr16(b + 4, 0xbeef);
	wr16(b + 10, 0);
	assert_int_equal(c2, np_csum_finish(np_csum_add(0, b, 40)));
	wr16(b + 10, c2);
	c = np_csum_update32(c2, rd32(b + 20), 0xdeadbeef);
	wr32(b + 20, 0xdeadbeef);
	wr16(b + 10, 0);
	assert_int_equal(c, np_csum_finish(np_csum_add(0, b, 40)));
}

static void test_tso_v4(void **state)
{
	struct spec sp = { .ver = 4, .flags = 0x18, .payload = PAYLOAD, .mss = MSS, .seq = SEQ0 };

	(void)state;
	assert_int_equal(segment_and_check(&sp), 48);
	sp.flags = 0x19; /* FIN too */
	segment_and_check(&sp);
	sp.flags = 0x10;
	sp.payload = MSS * 10; /* exact multiple */
	assert_int_equal(segment_and_check(&sp), 10);
	sp.payload = 100; /* smaller than MSS: one segment */
	assert_int_equal(segment_and_check(&sp), 1);
}

static void test_tso_v6(void **state)
{
	struct spec sp = { .ver = 6, .flags = 0x18, .payload = PAYLOAD, .mss = MSS, .seq = SEQ0 };

	(void)state;
	assert_int_equal(segment_and_check(&sp), 48);
	sp.flags = 0x11;
	sp.mss = 1000;
	segment_and_check(&sp);
}

static void test_tso_ecn(void **state)
{
	struct spec sp = { .ver = 4, .flags = 0x90 | 0x08, .payload = 5000, .mss = MSS, .ecn = true, .seq = 1 };

	(void)state;
	segment_and_check(&sp); /* CWR on the first segment only */
	sp.ver = 6;
	segment_and_check(&sp);
}

static void test_tso_placement(void **state)
{
	struct spec sp = { .ver = 4, .flags = 0x10, .payload = 3000, .mss = MSS, .seq = 5 };
	size_t len = build_super(superbuf, &sp), n = 0;
	struct np_tso t;
	uint8_t slot[2048];
	int r, count = 0;

	(void)state;
	/* Iterator into a slot with 16 bytes of headroom and tailroom. */
	assert_int_equal(np_tso_start(&t, superbuf, len, VNET), 0);
	assert_int_equal(t.info.nsegs, 3);
	assert_int_equal(t.info.max_seg_len, 20 + 32 + MSS);
	for (;;) {
		memset(slot, 0xaa, sizeof(slot));
		r = np_tso_next(&t, slot + 16, sizeof(slot) - 32);
		if (r <= 0)
			break;
		check_tcp_packet(slot + 16, (size_t)r);
		assert_int_equal(slot[15], 0xaa);
		assert_int_equal(slot[16 + r], 0xaa);
		count++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(count, 3);
	/* Too small a cap, too few segments, cap > stride. */
	assert_int_equal(np_tso_start(&t, superbuf, len, VNET), 0);
	assert_int_equal(np_tso_next(&t, slot, 100), -EMSGSIZE);
	assert_int_equal(np_tso_segment(superbuf, len, VNET, segs, STRIDE, 1000, MAXSEG, seglens, &n), -EMSGSIZE);
	assert_int_equal(np_tso_segment(superbuf, len, VNET, segs, STRIDE, STRIDE, 2, seglens, &n), -ENOBUFS);
	assert_int_equal(np_tso_segment(superbuf, len, VNET, segs, 100, STRIDE, MAXSEG, seglens, &n), -EINVAL);
	assert_int_equal(n, 0);
	/* The 12-byte header works the same way. */
	memmove(superbuf + 12, superbuf + 10, len - 10);
	superbuf[10] = superbuf[11] = 0;
	assert_int_equal(np_tso_segment(superbuf, len + 2, 12, segs, STRIDE, STRIDE, MAXSEG, seglens, &n), 0);
	assert_int_equal(n, 3);
	check_tcp_packet(segs + STRIDE, seglens[1]);
}

static void test_partial_csum_ack(void **state)
{
	struct spec sp = { .ver = 4, .flags = 0x10, .payload = 0, .mss = 0, .seq = 99 };
	size_t len, n = 0;
	uint16_t v;

	(void)state;
	for (int ver = 4; ver <= 6; ver += 2) {
		size_t iphl = ver == 4 ? 20 : 40;

		sp.ver = ver;
		len = VNET + build_ip_tcp(superbuf + VNET, &sp, 7, false);
		memset(superbuf, 0, VNET);
		superbuf[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		v = htole16((uint16_t)iphl);
		memcpy(superbuf + 6, &v, 2);
		v = htole16(16);
		memcpy(superbuf + 8, &v, 2);
		assert_int_equal(np_tso_segment(superbuf, len, VNET, segs, STRIDE, STRIDE, 1, seglens, &n), 0);
		assert_int_equal(n, 1);
		assert_int_equal(seglens[0], len - VNET);
		check_tcp_packet(segs, seglens[0]);
	}
	/* No flags: copied unchanged. */
	superbuf[0] = 0;
	assert_int_equal(np_tso_segment(superbuf, len, VNET, segs, STRIDE, STRIDE, 1, seglens, &n), 0);
	assert_memory_equal(segs, superbuf + VNET, len - VNET);
}

static void set_le(uint8_t *p, size_t off, uint16_t val)
{
	uint16_t v = htole16(val);

	memcpy(p + off, &v, 2);
}

static void test_bad_headers(void **state)
{
	struct spec sp = { .ver = 4, .flags = 0x10, .payload = 5000, .mss = MSS, .seq = 1 };
	static uint8_t good[VNET + 6000], bad[VNET + 6000];
	size_t len = build_super(good, &sp);
	struct np_vnet_info in;
	struct {
		size_t off;      /* byte to change; SIZE_MAX: none */
		int le16;        /* 1: write val as le16 at off, 0: byte */
		uint16_t val;
		ptrdiff_t dlen;  /* change of the length passed */
		int err;
	} cases[] = {
		{ 1, 0, VIRTIO_NET_HDR_GSO_UDP, 0, -EOPNOTSUPP },
		{ 1, 0, 5 /* UDP_L4 */, 0, -EOPNOTSUPP },
		{ 1, 0, 2, 0, -EOPNOTSUPP },
		{ 1, 0, VIRTIO_NET_HDR_GSO_TCPV6, 0, -EBADMSG },     /* type vs IP version */
		{ 0, 0, 0x04, 0, -EOPNOTSUPP },                      /* RSC_INFO */
		{ 2, 1, 6000, 0, -EBADMSG },                         /* hdr_len > packet */
		{ 4, 1, 0, 0, -EBADMSG },                            /* gso_size 0 */
		{ 6, 1, 24, 0, -EBADMSG },                           /* csum_start not TCP */
		{ 8, 1, 6, 0, -EBADMSG },                            /* csum_offset not 16 */
		{ 6, 1, 60000, 0, -EBADMSG },                        /* csum beyond packet */
		{ 8, 1, 65535, 0, -EBADMSG },
		{ VNET + 0, 0, 0x46, 0, -EBADMSG },                  /* IHL vs csum_start */
		{ VNET + 0, 0, 0x44, 0, -EBADMSG },                  /* IHL < 5 */
		{ VNET + 0, 0, 0x65, 0, -EBADMSG },                  /* version */
		{ VNET + 9, 0, 17, 0, -EBADMSG },                    /* not TCP */
		{ VNET + 6, 0, 0x20, 0, -EBADMSG },                  /* MF */
		{ SIZE_MAX, 0, 0, -1, -EBADMSG },                    /* total length mismatch */
		{ SIZE_MAX, 0, 0, (ptrdiff_t)-len + VNET, -EBADMSG },/* header only */
		{ SIZE_MAX, 0, 0, (ptrdiff_t)-len + 3, -EBADMSG },   /* shorter than vnet */
		{ VNET + 32, 0, 0x40, 0, -EBADMSG },                 /* TCP doff 4 */
	};

	(void)state;
	assert_int_equal(np_vnet_parse(good, len, VNET, &in), 0);
	assert_int_equal(in.nsegs, 4);
	assert_int_equal(np_vnet_parse(good, len, 9, &in), -EINVAL);
	assert_int_equal(np_vnet_parse(good, len, 1000, &in), -EINVAL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = 0, l = (size_t)((ptrdiff_t)len + cases[i].dlen);
		int r;

		memcpy(bad, good, len);
		if (cases[i].off != SIZE_MAX) {
			if (cases[i].le16)
				set_le(bad, cases[i].off, cases[i].val);
			else
				bad[cases[i].off] = (uint8_t)cases[i].val;
		}
		r = np_vnet_parse(bad, l, VNET, &in);
		if (r != cases[i].err)
			fail_msg("case %zu: got %d, want %d", i, r, cases[i].err);
		assert_int_equal(np_tso_segment(bad, l, VNET, segs, STRIDE, STRIDE, MAXSEG, seglens, &n), r);
		assert_int_equal(n, 0);
	}
	/* GSO type NONE with a gso_size, ECN without GSO, IPv6 ext headers. */
	memcpy(bad, good, len);
	bad[1] = 0;
	assert_int_equal(np_vnet_parse(bad, len, VNET, &in), -EBADMSG);
	set_le(bad, 4, 0);
	assert_int_equal(np_vnet_parse(bad, len, VNET, &in), 0);
	bad[1] = VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(np_vnet_parse(bad, len, VNET, &in), -EBADMSG);
	sp.ver = 6;
	len = build_super(bad, &sp);
	assert_int_equal(np_vnet_parse(bad, len, VNET, &in), 0);
	bad[VNET + 6] = 0; /* hop-by-hop */
	assert_int_equal(np_vnet_parse(bad, len, VNET, &in), -EOPNOTSUPP);
}

static void emit_all_segments(struct np_gro *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(np_gro_add(g, segs + i * STRIDE, seglens[i]), 0);
}

/* Segment, coalesce, check the super-packet, re-segment, compare. */
static void roundtrip(int ver, uint8_t flags)
{
	struct spec sp = { .ver = ver, .flags = flags, .payload = PAYLOAD, .mss = MSS, .seq = SEQ0 };
	size_t n = segment_and_check(&sp), n2 = 0, iphl = ver == 4 ? 20 : 40;
	size_t merged = (flags & 0x01) ? n - 1 : n; /* FIN is never merged */
	struct np_gro g;
	struct np_vnet_info in;
	const uint8_t *p;
	static uint8_t tmp[VNET + 65536];

	assert_int_equal(np_gro_init(&g, VNET, 0, true), 0);
	cap_reset();
	emit_all_segments(&g, n);
	assert_int_equal(np_gro_pending(&g), (flags & 0x01) ? 2 : 1);
	assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
	assert_int_equal(np_gro_pending(&g), 0);
	assert_int_equal(cap.n, (flags & 0x01) ? 2 : 1);

	p = cap_pkt(0);
	assert_int_equal(p[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(p[1], ver == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6);
	assert_int_equal(np_vnet_parse(p, cap.len[0], VNET, &in), 0);
	assert_int_equal(in.hdr_len, iphl + 32);
	assert_int_equal(in.gso_size, MSS);
	assert_int_equal(in.csum_start, iphl);
	assert_int_equal(in.csum_offset, 16);
	assert_int_equal(in.nsegs, merged);
	/* The TCP field holds the pseudo-header sum: finishing it the way the
	 * kernel does must give a valid packet. */
	memcpy(tmp, p + VNET, cap.len[0] - VNET);
	assert_int_equal(rd16(tmp + iphl + 16), ref_fold(ref_pseudo(tmp, 6, cap.len[0] - VNET - iphl)));
	wr16(tmp + iphl + 16, (uint16_t)~ref_fold(ref_sum(0, tmp + iphl, cap.len[0] - VNET - iphl)));
	check_tcp_packet(tmp, cap.len[0] - VNET);

	assert_int_equal(np_tso_segment(p, cap.len[0], VNET, segs2, STRIDE, STRIDE, MAXSEG, seglens2, &n2), 0);
	assert_int_equal(n2, merged);
	for (size_t i = 0; i < n2; i++) {
		assert_int_equal(seglens2[i], seglens[i]);
		assert_memory_equal(segs2 + i * STRIDE, segs + i * STRIDE, seglens[i]);
	}
	if (flags & 0x01) {
		assert_true(vnet_is_zero(cap_pkt(1)));
		assert_int_equal(cap.len[1], VNET + seglens[n - 1]);
		assert_memory_equal(cap_pkt(1) + VNET, segs + (n - 1) * STRIDE, seglens[n - 1]);
	}
	assert_int_equal(g.stat_super_packets, 1);
	assert_int_equal(g.stat_segments_merged, merged);
	np_gro_free(&g);
	np_gro_free(&g); /* harmless twice */
}

static void test_roundtrip(void **state)
{
	(void)state;
	roundtrip(4, 0x18);
	roundtrip(4, 0x10);
	roundtrip(4, 0x19);
	roundtrip(6, 0x18);
	roundtrip(6, 0x11);
}

/* Build one plain segment (full checksum) into buf. */
static size_t seg(uint8_t *buf, int ver, uint16_t sport, uint32_t seq, size_t pl, uint8_t flags)
{
	struct spec sp = { .ver = ver, .flags = flags, .payload = pl, .sport = sport, .seq = seq };

	return build_ip_tcp(buf, &sp, (uint16_t)seq, true);
}

static void test_gro_no_merge(void **state)
{
	struct np_gro g;
	uint8_t a[2000], b[2000];
	size_t la, lb;

	(void)state;
	assert_int_equal(np_gro_init(&g, VNET, 2, false), 0);

	/* Gap in the sequence: two packets, not merged. */
	cap_reset();
	la = seg(a, 4, 1000, 100, MSS, 0x10);
	lb = seg(b, 4, 1000, 100 + 2 * MSS, MSS, 0x10);
	assert_int_equal(np_gro_add(&g, a, la), 0);
	assert_int_equal(np_gro_add(&g, b, lb), 0);
	assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
	assert_int_equal(cap.n, 2);
	assert_true(vnet_is_zero(cap_pkt(0)) && vnet_is_zero(cap_pkt(1)));
	assert_memory_equal(cap_pkt(0) + VNET, a, la);
	assert_memory_equal(cap_pkt(1) + VNET, b, lb);

	/* Interleaved flows A0 B0 A1 B1: two super-packets, in order. */
	cap_reset();
	for (int i = 0; i < 2; i++) {
		la = seg(a, 4, 1000, 100 + (uint32_t)(i * MSS), MSS, 0x10);
		lb = seg(b, 6, 2000, 7 + (uint32_t)(i * MSS), MSS, 0x10);
		assert_int_equal(np_gro_add(&g, a, la), 0);
		assert_int_equal(np_gro_add(&g, b, lb), 0);
	}
	assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
	assert_int_equal(cap.n, 2);
	assert_int_equal(cap_pkt(0)[1], VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(cap_pkt(1)[1], VIRTIO_NET_HDR_GSO_TCPV6);
	assert_int_equal(cap.len[0], VNET + 52 + 2 * MSS);

	/* Same ports, different addresses (v4 vs v4 with another source). */
	cap_reset();
	la = seg(a, 4, 1000, 100, MSS, 0x10);
	lb = seg(b, 4, 1000, 100 + MSS, MSS, 0x10);
	b[15] = 9; /* source 10.0.0.9: another flow (checksum is not verified here) */
	assert_int_equal(np_gro_add(&g, a, la), 0);
	assert_int_equal(np_gro_add(&g, b, lb), 0);
	assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
	assert_int_equal(cap.n, 2);

	/* Different ack, different option bytes, bigger second segment,
	 * segment after a short one, flags: never merged. */
	for (int variant = 0; variant < 6; variant++) {
		cap_reset();
		la = seg(a, 4, 1000, 100, MSS - (variant == 3 ? 10 : 0), 0x10);
		lb = seg(b, 4, 1000, 100 + MSS - (variant == 3 ? 10 : 0), MSS + (variant == 2 ? 1 : 0),
			 variant == 4 ? 0x11 : variant == 5 ? 0x30 : 0x10);
		if (variant == 0)
			b[20 + 8] ^= 1;  /* ack */
		if (variant == 1)
			b[20 + 31] ^= 1; /* timestamp */
		assert_int_equal(np_gro_add(&g, a, la), 0);
		assert_int_equal(np_gro_add(&g, b, lb), 0);
		assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
		assert_int_equal(cap.n, 2);
		assert_true(vnet_is_zero(cap_pkt(0)) && vnet_is_zero(cap_pkt(1)));
	}

	/* More flows than slots: the third goes out single, nothing lost. */
	cap_reset();
	for (uint16_t f = 0; f < 3; f++) {
		la = seg(a, 4, (uint16_t)(3000 + f), 1, MSS, 0x10);
		assert_int_equal(np_gro_add(&g, a, la), 0);
	}
	assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
	assert_int_equal(cap.n, 3);
	np_gro_free(&g);
}

static void test_gro_order(void **state)
{
	struct np_gro g;
	uint8_t a[2000];
	size_t la;
	uint32_t seq = 500;

	(void)state;
	assert_int_equal(np_gro_init(&g, VNET, 4, false), 0);
	cap_reset();
	/* D0 D1 FIN D2(retransmit-like, contiguous after FIN): the FIN closes
	 * the flow, D2 must come after it. */
	for (int i = 0; i < 2; i++) {
		la = seg(a, 4, 1000, seq, MSS, 0x10);
		seq += MSS;
		assert_int_equal(np_gro_add(&g, a, la), 0);
	}
	la = seg(a, 4, 1000, seq, 0, 0x11);
	assert_int_equal(np_gro_add(&g, a, la), 0);
	la = seg(a, 4, 1000, seq, MSS, 0x10);
	assert_int_equal(np_gro_add(&g, a, la), 0);
	assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
	assert_int_equal(cap.n, 3);
	assert_int_equal(cap_pkt(0)[1], VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(cap_pkt(1)[VNET + 20 + 13], 0x11);
	assert_true(vnet_is_zero(cap_pkt(2)));

	/* PSH ends a super-packet; the next segment starts a new one. */
	cap_reset();
	for (int i = 0; i < 4; i++) {
		la = seg(a, 6, 1000, seq, MSS, i == 1 ? 0x18 : 0x10);
		seq += MSS;
		assert_int_equal(np_gro_add(&g, a, la), 0);
	}
	assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
	assert_int_equal(cap.n, 2);
	assert_int_equal(cap_pkt(0)[VNET + 40 + 13], 0x18);
	assert_int_equal(cap_pkt(1)[VNET + 40 + 13], 0x10);
	np_gro_free(&g);
}

static void test_gro_passthrough(void **state)
{
	struct np_gro g;
	uint8_t udp[28 + 100], icmp6[48], junk[3] = { 1, 2, 3 };
	uint8_t big[1500];
	int added = 0, r;

	(void)state;
	assert_int_equal(np_gro_init(&g, 12, 0, false), 0);
	memset(udp, 0x5a, sizeof(udp));
	udp[0] = 0x45;
	udp[9] = 17;
	memset(icmp6, 0x33, sizeof(icmp6));
	icmp6[0] = 0x60;
	icmp6[6] = 58;
	cap_reset();
	assert_int_equal(np_gro_add(&g, udp, sizeof(udp)), 0);
	assert_int_equal(np_gro_add(&g, icmp6, sizeof(icmp6)), 0);
	assert_int_equal(np_gro_add(&g, junk, sizeof(junk)), 0);
	assert_int_equal(np_gro_add(&g, junk, 0), -EBADMSG);
	assert_int_equal(np_gro_add(&g, udp, 70000), -EMSGSIZE);
	assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
	assert_int_equal(cap.n, 3);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 12; j++)
			assert_int_equal(cap_pkt(i)[j], 0);
	assert_memory_equal(cap_pkt(0) + 12, udp, sizeof(udp));
	assert_memory_equal(cap_pkt(1) + 12, icmp6, sizeof(icmp6));
	assert_memory_equal(cap_pkt(2) + 12, junk, sizeof(junk));

	/* The batch fills up: -ENOBUFS, then flush and add again. */
	memset(big, 0, sizeof(big));
	big[0] = 0x45;
	big[9] = 17;
	while ((r = np_gro_add(&g, big, sizeof(big))) == 0)
		added++;
	assert_int_equal(r, -ENOBUFS);
	assert_true(added > 50);
	cap_reset();
	assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
	assert_int_equal(np_gro_add(&g, big, sizeof(big)), 0);
	np_gro_free(&g);
}

static void test_gro_limits(void **state)
{
	struct np_gro g;
	uint8_t a[2000];
	size_t la;
	uint32_t seq = 1;

	(void)state;
	assert_int_equal(np_gro_init(&g, VNET, 2, false), 0);
	/* 100 small segments: split at NP_GRO_MAX_SEGS. */
	cap_reset();
	for (int i = 0; i < 100; i++) {
		la = seg(a, 4, 1000, seq, 100, 0x10);
		seq += 100;
		assert_int_equal(np_gro_add(&g, a, la), 0);
	}
	assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
	assert_int_equal(cap.n, 2);
	assert_int_equal(cap.len[0], VNET + 52 + NP_GRO_MAX_SEGS * 100);
	assert_int_equal(cap.len[1], VNET + 52 + (100 - NP_GRO_MAX_SEGS) * 100);
	/* 1400-byte segments: split before 65535 bytes. */
	cap_reset();
	for (int i = 0; i < 50; i++) {
		la = seg(a, 6, 1000, seq, 1400, 0x10);
		seq += 1400;
		assert_int_equal(np_gro_add(&g, a, la), 0);
	}
	assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
	assert_int_equal(cap.n, 2);
	assert_true(cap.len[0] - VNET <= NP_GRO_MAX_LEN);
	assert_int_equal(cap.len[0] - VNET, 72 + 46 * 1400);
	/* With one slot, what does not fit goes out single, in order. */
	np_gro_free(&g);
	assert_int_equal(np_gro_init(&g, VNET, 1, false), 0);
	cap_reset();
	for (int i = 0; i < 70; i++) {
		la = seg(a, 4, 1000, seq, 100, 0x10);
		seq += 100;
		assert_int_equal(np_gro_add(&g, a, la), 0);
	}
	assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
	assert_int_equal(cap.n, 1 + 70 - NP_GRO_MAX_SEGS);
	assert_true(vnet_is_zero(cap_pkt(1)));
	np_gro_free(&g);
}

static void test_gro_verify(void **state)
{
	struct np_gro g;
	uint8_t a[2000];
	size_t la;

	(void)state;
	assert_int_equal(np_gro_init(&g, VNET, 0, true), 0);
	cap_reset();
	la = seg(a, 4, 1000, 1, MSS, 0x10);
	assert_int_equal(np_gro_add(&g, a, la), 0);
	la = seg(a, 4, 1000, 1 + MSS, MSS, 0x10);
	a[100] ^= 0xff; /* corrupt payload */
	assert_int_equal(np_gro_add(&g, a, la), 0);
	assert_int_equal(np_gro_flush(&g, cap_emit, &cap), 0);
	assert_int_equal(cap.n, 2);
	assert_memory_equal(cap_pkt(1) + VNET, a, la); /* handed on untouched */
	np_gro_free(&g);
	assert_int_equal(np_gro_init(&g, 8, 0, false), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_helpers),
		cmocka_unit_test(test_tso_v4),
		cmocka_unit_test(test_tso_v6),
		cmocka_unit_test(test_tso_ecn),
		cmocka_unit_test(test_tso_placement),
		cmocka_unit_test(test_partial_csum_ack),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_gro_no_merge),
		cmocka_unit_test(test_gro_order),
		cmocka_unit_test(test_gro_passthrough),
		cmocka_unit_test(test_gro_limits),
		cmocka_unit_test(test_gro_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
