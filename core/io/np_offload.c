/* np_offload: checksums, virtio_net_hdr parsing, TCP segmentation and the
 * receive-side coalescer (see np_offload.h). Pure functions over bytes; all
 * loads and stores of packet fields go through memcpy-based helpers, so any
 * alignment and any input are fine. */
#include "np_offload.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_net.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

/* ---- byte helpers ---------------------------------------------------------- */

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
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

static inline uint16_t getle16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static inline void putle16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

/* ---- checksums ------------------------------------------------------------- */

/* Sum of native-order 16-bit words (odd tail padded), 64-bit accumulator.
 * Native order is fine: a ones-complement sum commutes with byte swapping,
 * so the folded result only needs one swap at the end. */
static uint64_t csum_raw(const uint8_t *p, size_t len)
{
	uint64_t a = 0, b = 0;

	while (len >= 32) {
		/* At most 2^20 rounds per chunk keeps a and b far from overflow. */
		size_t rounds = len / 32 > (1u << 20) ? (1u << 20) : len / 32;
		uint64_t ca = 0, cb = 0;

		for (size_t i = 0; i < rounds; i++) {
			uint64_t w[4];

			memcpy(w, p, 32);
			ca += (w[0] & 0xffffffffu) + (w[0] >> 32);
			cb += (w[1] & 0xffffffffu) + (w[1] >> 32);
			ca += (w[2] & 0xffffffffu) + (w[2] >> 32);
			cb += (w[3] & 0xffffffffu) + (w[3] >> 32);
			p += 32;
		}
		len -= rounds * 32;
		ca += cb;
		ca = (ca & 0xffffffffu) + (ca >> 32);
		a += ca;
		a = (a & 0xffffffffu) + (a >> 32);
	}
	while (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		b += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		b += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t t[2] = { p[0], 0 };
		uint16_t w;

		memcpy(&w, t, 2);
		b += w;
	}
	return a + b;
}

static uint16_t fold64(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

uint32_t np_csum_add(uint32_t sum, const void *buf, size_t len)
{
	uint16_t native = fold64(csum_raw(buf, len));
	uint8_t b[2];

	/* Reinterpret the native-order result as a big-endian word. */
	memcpy(b, &native, 2);
	return np_csum_fold(sum) + (uint32_t)get16(b);
}

uint16_t np_csum_fold(uint32_t sum)
{
	return fold64(sum);
}

uint16_t np_csum_finish(uint32_t sum)
{
	return (uint16_t)~np_csum_fold(sum);
}

uint32_t np_csum_pseudo4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t l4_len)
{
	uint32_t s = (uint32_t)get16(src) + get16(src + 2) + get16(dst) + get16(dst + 2);

	return s + proto + (l4_len >> 16) + (l4_len & 0xffff);
}

uint32_t np_csum_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t l4_len)
{
	uint32_t s = 0;

	for (int i = 0; i < 16; i += 2)
		s += (uint32_t)get16(src + i) + get16(dst + i);
	return s + proto + (l4_len >> 16) + (l4_len & 0xffff);
}

uint16_t np_csum_update16(uint16_t check, uint16_t old_val, uint16_t new_val)
{
	/* HC' = ~(~HC + ~m + m') */
	uint32_t s = (uint16_t)~check + (uint32_t)(uint16_t)~old_val + new_val;

	return np_csum_finish(s);
}

uint16_t np_csum_update32(uint16_t check, uint32_t old_val, uint32_t new_val)
{
	check = np_csum_update16(check, (uint16_t)(old_val >> 16), (uint16_t)(new_val >> 16));
	return np_csum_update16(check, (uint16_t)old_val, (uint16_t)new_val);
}

/* ---- vnet header ------------------------------------------------------------ */

static int parse_tcp_gso(struct np_vnet_info *in)
{
	const uint8_t *ip = in->ip;
	size_t len = in->ip_len, l4, thl;

	if (in->gso_type == VIRTIO_NET_HDR_GSO_TCPV4) {
		if (len < 20 || ip[0] >> 4 != 4)
			return -EBADMSG;
		l4 = (size_t)(ip[0] & 0x0f) * 4;
		if (l4 < 20 || l4 > len || get16(ip + 2) != len || ip[9] != IPPROTO_TCP_)
			return -EBADMSG;
		if (get16(ip + 6) & 0x3fff) /* MF or a fragment offset */
			return -EBADMSG;
		in->ip_version = 4;
	} else {
		if (len < 40 || ip[0] >> 4 != 6 || (size_t)get16(ip + 4) + 40 != len)
			return -EBADMSG;
		if (ip[6] != IPPROTO_TCP_)
			return -EOPNOTSUPP; /* extension headers: Linux TCP sends none */
		l4 = 40;
		in->ip_version = 6;
	}
	if (l4 + 20 > len)
		return -EBADMSG;
	thl = (size_t)(ip[l4 + 12] >> 4) * 4;
	if (thl < 20 || l4 + thl >= len) /* a GSO packet carries payload */
		return -EBADMSG;
	if ((in->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && (in->csum_start != l4 || in->csum_offset != 16))
		return -EBADMSG;
	if (in->gso_size == 0)
		return -EBADMSG;
	in->l4_off = (uint16_t)l4;
	in->l4_hdr_len = (uint16_t)thl;
	in->payload_len = len - l4 - thl;
	in->nsegs = (in->payload_len + in->gso_size - 1) / in->gso_size;
	in->max_seg_len = l4 + thl + (in->payload_len < in->gso_size ? in->payload_len : in->gso_size);
	return 0;
}

int np_vnet_parse(const uint8_t *pkt, size_t len, size_t vnet_len, struct np_vnet_info *out)
{
	uint8_t type;

	memset(out, 0, sizeof(*out));
	if (vnet_len < NP_VNET_HDR_LEN || vnet_len > NP_VNET_HDR_MAX)
		return -EINVAL;
	if (!pkt || len <= vnet_len)
		return -EBADMSG;
	out->flags = pkt[0];
	type = pkt[1];
	out->gso_ecn = (type & VIRTIO_NET_HDR_GSO_ECN) != 0;
	out->gso_type = type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	out->hdr_len = getle16(pkt + 2);
	out->gso_size = getle16(pkt + 4);
	out->csum_start = getle16(pkt + 6);
	out->csum_offset = getle16(pkt + 8);
	out->ip = pkt + vnet_len;
	out->ip_len = len - vnet_len;

	if (out->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return -EOPNOTSUPP;
	/* The kernel puts skb_headlen() in hdr_len, which may include payload,
	 * so it is only bounded here; headers are found by parsing. */
	if (out->hdr_len > out->ip_len)
		return -EBADMSG;
	if ((out->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    ((size_t)out->csum_start + out->csum_offset + 2 > out->ip_len))
		return -EBADMSG;

	switch (out->gso_type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (out->gso_size != 0 || out->gso_ecn)
			return -EBADMSG;
		out->nsegs = 1;
		out->max_seg_len = out->ip_len;
		return 0;
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return parse_tcp_gso(out);
	case VIRTIO_NET_HDR_GSO_UDP:
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		return -EOPNOTSUPP;
	default:
		return -EOPNOTSUPP;
	}
}

/* ---- segmentation -------------------------------------------------------------- */

int np_tso_start(struct np_tso *t, const uint8_t *pkt, size_t len, size_t vnet_len)
{
	int r;

	memset(t, 0, sizeof(*t));
	r = np_vnet_parse(pkt, len, vnet_len, &t->info);
	if (r < 0) {
		t->info.nsegs = 0; /* np_tso_next yields nothing */
		return r;
	}
	if (t->info.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		const uint8_t *ip = t->info.ip;

		if (t->info.ip_version == 4)
			t->addr_sum = np_csum_pseudo4(ip + 12, ip + 16, 0, 0);
		else
			t->addr_sum = np_csum_pseudo6(ip + 8, ip + 24, 0, 0);
	}
	return 0;
}

static int tso_copy_one(const struct np_vnet_info *in, uint8_t *dst)
{
	memcpy(dst, in->ip, in->ip_len);
	if (in->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		/* The field already holds the pseudo-header sum. */
		uint8_t *field = dst + in->csum_start + in->csum_offset;
		uint16_t c = np_csum_finish(np_csum_add(0, dst + in->csum_start, in->ip_len - in->csum_start));

		put16(field, c ? c : 0xffff); /* 0 means "no checksum" in UDP */
	}
	return (int)in->ip_len;
}

int np_tso_next(struct np_tso *t, uint8_t *dst, size_t cap)
{
	const struct np_vnet_info *in = &t->info;
	size_t i = t->next, hl, off, n;
	uint8_t *tcp, flags;
	uint32_t sum;

	if (i >= in->nsegs)
		return 0;
	if (in->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if (in->ip_len > cap)
			return -EMSGSIZE;
		t->next++;
		return tso_copy_one(in, dst);
	}

	hl = (size_t)in->l4_off + in->l4_hdr_len;
	off = i * in->gso_size;
	n = in->payload_len - off;
	if (n > in->gso_size)
		n = in->gso_size;
	if (hl + n > cap)
		return -EMSGSIZE;
	memcpy(dst, in->ip, hl);
	memcpy(dst + hl, in->ip + hl + off, n);

	if (in->ip_version == 4) {
		put16(dst + 2, (uint16_t)(hl + n));
		put16(dst + 4, (uint16_t)(get16(in->ip + 4) + i));
		put16(dst + 10, 0);
		put16(dst + 10, np_csum_finish(np_csum_add(0, dst, in->l4_off)));
	} else {
		put16(dst + 4, (uint16_t)(hl - 40 + n));
	}

	tcp = dst + in->l4_off;
	put32(tcp + 4, get32(tcp + 4) + (uint32_t)off);
	flags = tcp[13];
	if (i + 1 < in->nsegs)
		flags &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (i > 0)
		flags &= (uint8_t)~TCP_CWR;
	tcp[13] = flags;
	put16(tcp + 16, 0);
	sum = t->addr_sum + IPPROTO_TCP_ + (uint32_t)(in->l4_hdr_len + n);
	sum = np_csum_add(sum, tcp, in->l4_hdr_len + n);
	put16(tcp + 16, np_csum_finish(sum));
	t->next++;
	return (int)(hl + n);
}

int np_tso_segment(const uint8_t *pkt, size_t len, size_t vnet_len, uint8_t *out, size_t out_stride,
		   size_t seg_cap, size_t max_segs, size_t *seg_lens, size_t *nsegs)
{
	struct np_tso t;
	int r;

	*nsegs = 0;
	if (seg_cap > out_stride)
		return -EINVAL;
	r = np_tso_start(&t, pkt, len, vnet_len);
	if (r < 0)
		return r;
	if (t.info.nsegs > max_segs)
		return -ENOBUFS;
	if (t.info.max_seg_len > seg_cap)
		return -EMSGSIZE;
	for (size_t i = 0; i < t.info.nsegs; i++) {
		r = np_tso_next(&t, out + i * out_stride, seg_cap);
		if (r <= 0) /* cannot happen after the checks above */
			return r < 0 ? r : -EBADMSG;
		seg_lens[i] = (size_t)r;
	}
	*nsegs = t.info.nsegs;
	return 0;
}

/* ---- coalescer ------------------------------------------------------------------ */

struct np_gro_slot {
	uint8_t *buf;       /* vnet_len + NP_GRO_MAX_LEN bytes */
	size_t len;         /* IP bytes so far */
	uint16_t iphl;      /* IP header length (20 or 40) */
	uint16_t hl;        /* IP + TCP header length */
	uint16_t gso_size;  /* payload of the first segment */
	uint16_t nsegs;
	uint32_t next_seq;
	bool used;          /* referenced by an item of this batch */
	bool open;          /* may still take segments */
	bool psh;           /* last segment had PSH */
};

struct np_gro_item {
	int slot;           /* slot index, or -1 for a single packet in the arena */
	uint32_t off;       /* arena offset of the vnet header */
	uint32_t len;       /* vnet + IP length */
};

/* A TCP segment as seen by the coalescer. */
struct gro_tcp {
	uint8_t ver;
	uint16_t iphl, thl;
	size_t payload;
	uint32_t seq;
	uint8_t flags;
};

int np_gro_init(struct np_gro *g, size_t vnet_len, unsigned int max_flows, bool verify_csum)
{
	size_t slot_size;

	memset(g, 0, sizeof(*g));
	if (vnet_len < NP_VNET_HDR_LEN || vnet_len > NP_VNET_HDR_MAX || max_flows > 1024)
		return -EINVAL;
	if (max_flows == 0)
		max_flows = NP_GRO_DEFAULT_FLOWS;
	slot_size = vnet_len + NP_GRO_MAX_LEN;
	g->vnet_len = vnet_len;
	g->verify_csum = verify_csum;
	g->nslots = max_flows;
	g->slots = calloc(max_flows, sizeof(*g->slots));
	g->slot_mem = malloc(slot_size * max_flows);
	g->arena = malloc(NP_GRO_ARENA_LEN);
	g->items = calloc(NP_GRO_MAX_ITEMS, sizeof(*g->items));
	if (!g->slots || !g->slot_mem || !g->arena || !g->items) {
		np_gro_free(g);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < max_flows; i++)
		g->slots[i].buf = g->slot_mem + i * slot_size;
	return 0;
}

void np_gro_free(struct np_gro *g)
{
	free(g->slots);
	free(g->slot_mem);
	free(g->arena);
	free(g->items);
	memset(g, 0, sizeof(*g));
}

unsigned int np_gro_pending(const struct np_gro *g)
{
	return g->nitems;
}

/* 1: a TCP segment with its headers parsed into *t; 0: not one we can
 * parse (or not TCP at all). Also reports, for unparsable TCP, the address
 * pair through *tcp_ish so that flows of that pair can be closed. */
static int gro_parse_tcp(const uint8_t *p, size_t len, struct gro_tcp *t, bool *tcp_ish)
{
	size_t l4;

	*tcp_ish = false;
	if (len < 20)
		return 0;
	if (p[0] >> 4 == 4) {
		if (p[9] != IPPROTO_TCP_)
			return 0;
		*tcp_ish = true;
		if ((p[0] & 0x0f) != 5 || get16(p + 2) != len || (get16(p + 6) & 0x3fff))
			return 0;
		t->ver = 4;
		l4 = 20;
	} else if (p[0] >> 4 == 6 && len >= 40) {
		if (p[6] == IPPROTO_UDP_ || p[6] == 58 /* ICMPv6 */)
			return 0;
		*tcp_ish = true; /* TCP, or extension headers that may hide it */
		if (p[6] != IPPROTO_TCP_ || (size_t)get16(p + 4) + 40 != len)
			return 0;
		t->ver = 6;
		l4 = 40;
	} else {
		return 0;
	}
	if (l4 + 20 > len)
		return 0;
	t->iphl = (uint16_t)l4;
	t->thl = (uint16_t)((p[l4 + 12] >> 4) * 4);
	if (t->thl < 20 || l4 + t->thl > len)
		return 0;
	t->payload = len - l4 - t->thl;
	t->seq = get32(p + l4 + 4);
	t->flags = p[l4 + 13];
	return 1;
}

static bool same_addrs(const uint8_t *a, const uint8_t *b, uint8_t ver)
{
	return ver == 4 ? memcmp(a + 12, b + 12, 8) == 0 : memcmp(a + 8, b + 8, 32) == 0;
}

static bool same_flow(const struct np_gro_slot *s, const uint8_t *head, const uint8_t *p,
		      const struct gro_tcp *t)
{
	return s->iphl == t->iphl && head[0] >> 4 == t->ver && same_addrs(head, p, t->ver) &&
	       memcmp(head + s->iphl, p + t->iphl, 4) == 0;
}

static bool tcp_csum_ok(const uint8_t *p, size_t len, const struct gro_tcp *t)
{
	uint32_t sum;

	if (t->ver == 4) {
		if (np_csum_fold(np_csum_add(0, p, 20)) != 0xffff)
			return false;
		sum = np_csum_pseudo4(p + 12, p + 16, IPPROTO_TCP_, (uint32_t)(len - 20));
	} else {
		sum = np_csum_pseudo6(p + 8, p + 24, IPPROTO_TCP_, (uint32_t)(len - 40));
	}
	return np_csum_fold(np_csum_add(sum, p + t->iphl, len - t->iphl)) == 0xffff;
}

/* May p (flow already matched) be appended to slot s? */
static bool gro_can_merge(const struct np_gro_slot *s, const uint8_t *head, const uint8_t *p,
			  const struct gro_tcp *t)
{
	const uint8_t *ht = head + s->iphl, *pt = p + t->iphl;

	if (!s->open || t->seq != s->next_seq || t->payload == 0 || t->payload > s->gso_size)
		return false;
	if (s->len + t->payload > NP_GRO_MAX_LEN || s->nsegs >= NP_GRO_MAX_SEGS)
		return false;
	if (t->ver == 4) {
		/* TOS (incl. ECN CE), TTL, DF must agree; IDs are regenerated. */
		if (head[1] != p[1] || head[8] != p[8] || (head[6] & 0xe0) != (p[6] & 0xe0))
			return false;
	} else {
		/* Traffic class, flow label, hop limit. */
		if (memcmp(head, p, 4) != 0 || head[7] != p[7])
			return false;
	}
	/* Same ack, header length, window and option bytes (timestamps). */
	if ((size_t)s->hl - s->iphl != t->thl || memcmp(ht + 8, pt + 8, 5) != 0 ||
	    memcmp(ht + 14, pt + 14, 2) != 0 || memcmp(ht + 20, pt + 20, t->thl - 20u) != 0)
		return false;
	return true;
}

static int gro_new_item(struct np_gro *g, int slot, uint32_t off, uint32_t len)
{
	if (g->nitems >= NP_GRO_MAX_ITEMS)
		return -ENOBUFS;
	g->items[g->nitems].slot = slot;
	g->items[g->nitems].off = off;
	g->items[g->nitems].len = len;
	g->nitems++;
	return 0;
}

int np_gro_add(struct np_gro *g, const uint8_t *p, size_t len)
{
	struct gro_tcp t;
	struct np_gro_slot *s;
	bool tcp_ish, candidate = false;
	int parsed, r;

	if (!p || len == 0)
		return -EBADMSG;
	if (len > NP_GRO_MAX_LEN)
		return -EMSGSIZE;
	parsed = gro_parse_tcp(p, len, &t, &tcp_ish);

	if (parsed) {
		candidate = t.payload > 0 && (t.flags & ~TCP_PSH) == TCP_ACK &&
			    (!g->verify_csum || tcp_csum_ok(p, len, &t));
		for (unsigned int i = 0; i < g->nslots; i++) {
			uint8_t *head;

			s = &g->slots[i];
			head = s->buf + g->vnet_len;
			if (!s->open || !same_flow(s, head, p, &t))
				continue;
			if (candidate && gro_can_merge(s, head, p, &t)) {
				memcpy(head + s->len, p + t.iphl + t.thl, t.payload);
				s->len += t.payload;
				s->nsegs++;
				s->next_seq += (uint32_t)t.payload;
				if (t.payload < s->gso_size || (t.flags & TCP_PSH)) {
					s->open = false;
					s->psh = (t.flags & TCP_PSH) != 0;
				}
				return 0;
			}
			s->open = false; /* later segments must not overtake p */
		}
	} else if (tcp_ish) {
		/* TCP we cannot read (fragment, options, extension headers):
		 * close every flow between the same addresses. */
		uint8_t ver = p[0] >> 4;

		for (unsigned int i = 0; i < g->nslots; i++) {
			s = &g->slots[i];
			if (s->open && s->buf[g->vnet_len] >> 4 == ver &&
			    same_addrs(s->buf + g->vnet_len, p, ver))
				s->open = false;
		}
	}

	if (candidate) {
		for (unsigned int i = 0; i < g->nslots; i++) {
			s = &g->slots[i];
			if (s->used)
				continue;
			r = gro_new_item(g, (int)i, 0, 0);
			if (r < 0)
				return r;
			memcpy(s->buf + g->vnet_len, p, len);
			s->len = len;
			s->iphl = t.iphl;
			s->hl = (uint16_t)(t.iphl + t.thl);
			s->gso_size = (uint16_t)t.payload;
			s->nsegs = 1;
			s->next_seq = t.seq + (uint32_t)t.payload;
			s->used = true;
			s->open = (t.flags & TCP_PSH) == 0;
			s->psh = (t.flags & TCP_PSH) != 0;
			return 0;
		}
	}

	/* A single packet, sent as it came. */
	if (NP_GRO_ARENA_LEN - g->arena_used < g->vnet_len + len)
		return -ENOBUFS;
	r = gro_new_item(g, -1, (uint32_t)g->arena_used, (uint32_t)(g->vnet_len + len));
	if (r < 0)
		return r;
	memset(g->arena + g->arena_used, 0, g->vnet_len);
	memcpy(g->arena + g->arena_used + g->vnet_len, p, len);
	g->arena_used += g->vnet_len + len;
	return 0;
}

/* Turn slot s into a packet ready for the tun; returns its length. */
static size_t gro_finish_slot(struct np_gro *g, struct np_gro_slot *s)
{
	uint8_t *v = s->buf, *ip = s->buf + g->vnet_len, *tcp = ip + s->iphl;
	uint32_t sum;

	memset(v, 0, g->vnet_len);
	if (s->nsegs < 2) {
		g->stat_single++;
		return g->vnet_len + s->len;
	}
	if (s->iphl == 20) {
		put16(ip + 2, (uint16_t)s->len);
		put16(ip + 10, 0);
		put16(ip + 10, np_csum_finish(np_csum_add(0, ip, 20)));
		sum = np_csum_pseudo4(ip + 12, ip + 16, IPPROTO_TCP_, (uint32_t)(s->len - 20));
		v[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	} else {
		put16(ip + 4, (uint16_t)(s->len - 40));
		sum = np_csum_pseudo6(ip + 8, ip + 24, IPPROTO_TCP_, (uint32_t)(s->len - 40));
		v[1] = VIRTIO_NET_HDR_GSO_TCPV6;
	}
	if (s->psh)
		tcp[13] |= TCP_PSH;
	/* Partial checksum: the field holds the folded pseudo-header sum. */
	put16(tcp + 16, np_csum_fold(sum));
	v[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	putle16(v + 2, s->hl);
	putle16(v + 4, s->gso_size);
	putle16(v + 6, s->iphl);
	putle16(v + 8, 16);
	g->stat_super_packets++;
	g->stat_segments_merged += s->nsegs;
	return g->vnet_len + s->len;
}

int np_gro_flush(struct np_gro *g, np_gro_emit_fn emit, void *arg)
{
	int ret = 0, r;

	for (unsigned int i = 0; i < g->nitems; i++) {
		const struct np_gro_item *it = &g->items[i];

		if (it->slot >= 0) {
			struct np_gro_slot *s = &g->slots[it->slot];
			size_t n = gro_finish_slot(g, s);

			r = emit(arg, s->buf, n);
			s->used = false;
			s->open = false;
		} else {
			g->stat_single++;
			r = emit(arg, g->arena + it->off, it->len);
		}
		if (r < 0 && ret == 0)
			ret = r;
	}
	g->nitems = 0;
	g->arena_used = 0;
	return ret;
}
