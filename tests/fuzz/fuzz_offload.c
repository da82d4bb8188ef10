/* fuzz_offload: arbitrary bytes into np_vnet_parse / np_tso_* and np_gro_*.
 *
 * The first byte picks a mode: raw input (vnet header + packet, or a list of
 * packets), or "repaired" input where lengths, versions and protocol are made
 * consistent so the deep paths (segmentation, merging) are reached even by
 * the plain random driver. Besides "no crash", it checks invariants: every
 * segment of a TCP GSO packet has valid checksums and fits, and every
 * super-packet the coalescer emits is accepted by np_tso_segment again. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "np_offload.h"

#define STRIDE 2048
#define MAXSEG 64

static uint8_t out[MAXSEG * STRIDE];
static size_t lens[MAXSEG];
static uint8_t pkt[NP_VNET_HDR_MAX + 65536];

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_segments(const struct np_vnet_info *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *ip = out + i * STRIDE;
		size_t l4 = in->l4_off, len = lens[i];
		uint32_t s;

		check(len <= STRIDE && len > l4);
		if (in->ip_version == 4) {
			check(np_csum_fold(np_csum_add(0, ip, l4)) == 0xffff);
			s = np_csum_pseudo4(ip + 12, ip + 16, 6, (uint32_t)(len - l4));
		} else {
			s = np_csum_pseudo6(ip + 8, ip + 24, 6, (uint32_t)(len - l4));
		}
		check(np_csum_fold(np_csum_add(s, ip + l4, len - l4)) == 0xffff);
	}
}

static void run_tso(const uint8_t *p, size_t len, size_t vnet_len)
{
	struct np_vnet_info in;
	size_t n = 0;
	int r = np_vnet_parse(p, len, vnet_len, &in);
	int r2 = np_tso_segment(p, len, vnet_len, out, STRIDE, STRIDE, MAXSEG, lens, &n);

	if (r < 0) {
		check(r2 == r && n == 0);
		return;
	}
	check(r2 == 0 || r2 == -ENOBUFS || r2 == -EMSGSIZE);
	if (r2 == 0) {
		check(n == in.nsegs);
		if (in.gso_type != VIRTIO_NET_HDR_GSO_NONE)
			check_segments(&in, n);
	}
}

/* Make data into a plausible TCP super-packet with a vnet header. */
static size_t repair_super(const uint8_t *d, size_t n, size_t vnet_len)
{
	size_t len = n + vnet_len > sizeof(pkt) ? sizeof(pkt) - vnet_len : n;
	uint8_t *ip = pkt + vnet_len, v6 = n > 1 && (d[1] & 1);
	size_t l4 = v6 ? 40 : 20, thl;
	uint16_t x;

	if (len < l4 + 21 || len + vnet_len > 65535)
		return 0;
	memcpy(pkt, d, vnet_len);
	memcpy(ip, d, len); /* header bytes reused as they come */
	pkt[0] &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	pkt[1] = (uint8_t)((v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4) | (d[2] & 0x80));
	x = htole16((uint16_t)(l4));
	memcpy(pkt + 6, &x, 2);
	x = htole16(16);
	memcpy(pkt + 8, &x, 2);
	x = htole16(0);
	memcpy(pkt + 2, &x, 2);
	x = htole16((uint16_t)(d[3] % 8 == 0 ? 1 + d[4] : 1 + (d[4] | d[5] << 8) % 1900));
	memcpy(pkt + 4, &x, 2);
	if (v6) {
		ip[0] = (uint8_t)(0x60 | (ip[0] & 15));
		ip[4] = (uint8_t)((len - 40) >> 8);
		ip[5] = (uint8_t)(len - 40);
		ip[6] = 6;
	} else {
		ip[0] = 0x45;
		ip[2] = (uint8_t)(len >> 8);
		ip[3] = (uint8_t)len;
		ip[6] &= 0x40;
		ip[7] = 0;
		ip[9] = 6;
	}
	thl = 20 + 4 * (size_t)(d[6] % 11);
	if (l4 + thl >= len)
		thl = 20;
	ip[l4 + 12] = (uint8_t)((thl / 4) << 4);
	return vnet_len + len;
}

static int emit_check(void *arg, const uint8_t *p, size_t len)
{
	size_t vnet_len = *(const size_t *)arg, n = 0;
	struct np_vnet_info in;

	check(len > vnet_len && len <= vnet_len + NP_GRO_MAX_LEN);
	if (p[1] != VIRTIO_NET_HDR_GSO_NONE) {
		check(np_vnet_parse(p, len, vnet_len, &in) == 0);
		check(in.nsegs >= 2 && in.nsegs <= NP_GRO_MAX_SEGS);
		check(np_tso_segment(p, len, vnet_len, out, STRIDE, STRIDE, MAXSEG, lens, &n) == 0 ||
		      in.max_seg_len > STRIDE);
	} else {
		for (size_t i = 0; i < vnet_len; i++)
			check(p[i] == 0);
	}
	return 0;
}

static void gro_add(struct np_gro *g, const uint8_t *p, size_t len, size_t *vnet_len)
{
	int r = np_gro_add(g, p, len);

	if (r == -ENOBUFS) {
		np_gro_flush(g, emit_check, vnet_len);
		r = np_gro_add(g, p, len);
	}
	check(r == 0 || (r == -EBADMSG && len == 0) || (r == -EMSGSIZE && len > NP_GRO_MAX_LEN));
}

static void run_gro(const uint8_t *d, size_t n, int repair)
{
	static struct np_gro gro[2];
	static int ready;
	static uint8_t p[2048];
	uint32_t seq[4] = { 0 };
	size_t vnet_len;
	struct np_gro *g;

	if (!ready) {
		if (np_gro_init(&gro[0], 10, 3, false) < 0 || np_gro_init(&gro[1], 12, 2, true) < 0)
			abort();
		ready = 1;
	}
	g = &gro[n & 1];
	vnet_len = g->vnet_len;
	while (n >= 3) {
		size_t len = (size_t)(d[0] | d[1] << 8) % (repair ? 1500 : 2048);

		d += 2;
		n -= 2;
		if (len > n)
			len = n;
		memcpy(p, d, len);
		if (repair && len >= 60) {
			/* TCP in one of four flows with mostly contiguous sequences. */
			int v6 = d[0] & 1, f = (d[0] >> 1) & 3;
			size_t l4 = v6 ? 40 : 20;

			memset(p, 0, l4);
			if (v6) {
				p[0] = 0x60;
				p[4] = (uint8_t)((len - 40) >> 8);
				p[5] = (uint8_t)(len - 40);
				p[6] = 6;
				p[7] = 64;
			} else {
				p[0] = 0x45;
				p[2] = (uint8_t)(len >> 8);
				p[3] = (uint8_t)len;
				p[6] = 0x40;
				p[8] = 64;
				p[9] = 6;
			}
			p[l4] = (uint8_t)f;
			p[l4 + 12] = (uint8_t)((d[1] & 1 ? 8 : 5) << 4);
			p[l4 + 13] = (d[2] & 7) ? 0x10 : d[2];
			memset(p + l4 + 8, 0, 4); /* same ack */
			if (!(d[3] & 7)) {
				uint32_t s = seq[f];

				p[l4 + 4] = (uint8_t)(s >> 24);
				p[l4 + 5] = (uint8_t)(s >> 16);
				p[l4 + 6] = (uint8_t)(s >> 8);
				p[l4 + 7] = (uint8_t)s;
			}
			seq[f] += (uint32_t)(len - l4 - (size_t)(p[l4 + 12] >> 4) * 4);
		}
		gro_add(g, p, len, &vnet_len);
		d += len;
		n -= len;
	}
	check(np_gro_flush(g, emit_check, &vnet_len) == 0);
	check(np_gro_pending(g) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t vnet_len, n;

	if (size < 2)
		return 0;
	vnet_len = (data[1] & 0x40) ? 12 : 10;
	switch (data[0] & 3) {
	case 0:
		run_tso(data + 2, size - 2, vnet_len);
		break;
	case 1:
		if (size < 2 + 12)
			return 0;
		n = repair_super(data + 2, size - 2, vnet_len);
		if (n)
			run_tso(pkt, n, vnet_len);
		break;
	case 2:
		run_gro(data + 1, size - 1, 0);
		break;
	default:
		run_gro(data + 1, size - 1, 1);
		break;
	}
	return 0;
}
