/* test_icmp: np_icmp, what the tunnel does with inner packets too big for
 * the path: ICMP "fragmentation needed" / ICMPv6 "packet too big" answers
 * (addresses, MTU, quote, checksums, when not to answer) and IPv4
 * fragmentation (sizes, offsets, flags, options, reassembly). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "np_icmp.h"
#include "np_offload.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* An IPv4 UDP packet of len bytes, 10.10.0.1 -> 10.10.0.2, with opts (a
 * multiple of 4 bytes) after the header. */
static size_t mk4(uint8_t *p, size_t len, int df, const uint8_t *opts, size_t olen)
{
	size_t hl = 20 + olen;

	memset(p, 0, len);
	p[0] = (uint8_t)(0x40 | hl / 4);
	put16(p + 2, (uint16_t)len);
	put16(p + 4, 0x1234);
	put16(p + 6, df ? 0x4000 : 0);
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, (uint8_t[]){ 10, 10, 0, 1 }, 4);
	memcpy(p + 16, (uint8_t[]){ 10, 10, 0, 2 }, 4);
	if (olen)
		memcpy(p + 20, opts, olen);
	for (size_t i = hl; i < len; i++)
		p[i] = (uint8_t)(i * 13);
	put16(p + hl, 40000);
	put16(p + hl + 2, 7000);
	put16(p + 10, np_csum_finish(np_csum_add(0, p, hl)));
	return len;
}

static size_t mk6(uint8_t *p, size_t len, uint8_t nh, uint8_t first)
{
	memset(p, 0, len);
	p[0] = 0x60;
	put16(p + 4, (uint16_t)(len - 40));
	p[6] = nh;
	p[7] = 64;
	p[8] = 0xfd;
	p[23] = 1;
	p[24] = 0xfd;
	p[39] = 2;
	for (size_t i = 40; i < len; i++)
		p[i] = (uint8_t)i;
	p[40] = first;
	return len;
}

static void test_v4_frag_needed(void **state)
{
	static uint8_t pkt[1400], out[NP_ICMP_MAX_LEN];
	int n;

	(void)state;
	mk4(pkt, sizeof(pkt), 1, NULL, 0);
	assert_int_equal(np_too_big_action(pkt, sizeof(pkt)), NP_TOO_BIG_ICMP);
	n = np_icmp_too_big(pkt, sizeof(pkt), 1220, out, sizeof(out));
	assert_int_equal(n, 576);
	assert_int_equal(out[0], 0x45);
	assert_int_equal(get16(out + 2), 576);
	assert_int_equal(out[9], 1);
	assert_memory_equal(out + 12, pkt + 16, 4); /* from the original destination */
	assert_memory_equal(out + 16, pkt + 12, 4); /* to the original source */
	assert_int_equal(np_csum_fold(np_csum_add(0, out, 20)), 0xffff);
	assert_int_equal(out[20], 3);
	assert_int_equal(out[21], 4);
	assert_int_equal(get16(out + 26), 1220);
	assert_memory_equal(out + 28, pkt, 576 - 28); /* header, ports and more */
	assert_int_equal(np_csum_fold(np_csum_add(0, out + 20, 576 - 20)), 0xffff);
	/* Too small a buffer. */
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1220, out, 100), -ENOSPC);
	/* A short packet is quoted whole. */
	mk4(pkt, 60, 1, NULL, 0);
	assert_int_equal(np_icmp_too_big(pkt, 60, 40, out, sizeof(out)), 28 + 60);
}

static void test_v4_no_answer(void **state)
{
	static uint8_t pkt[1400], out[NP_ICMP_MAX_LEN];

	(void)state;
	/* An ICMP error is never answered; an echo request is. */
	mk4(pkt, sizeof(pkt), 1, NULL, 0);
	pkt[9] = 1;
	pkt[20] = 3;
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1220, out, sizeof(out)), -EPERM);
	pkt[20] = 8;
	assert_true(np_icmp_too_big(pkt, sizeof(pkt), 1220, out, sizeof(out)) > 0);
	/* Not the first fragment. */
	mk4(pkt, sizeof(pkt), 0, NULL, 0);
	put16(pkt + 6, 0x2000 | 100);
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1220, out, sizeof(out)), -EPERM);
	/* Multicast destination, unspecified or loopback source. */
	mk4(pkt, sizeof(pkt), 1, NULL, 0);
	pkt[16] = 224;
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1220, out, sizeof(out)), -EPERM);
	mk4(pkt, sizeof(pkt), 1, NULL, 0);
	memset(pkt + 12, 0, 4);
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1220, out, sizeof(out)), -EPERM);
	mk4(pkt, sizeof(pkt), 1, NULL, 0);
	pkt[12] = 127;
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1220, out, sizeof(out)), -EPERM);
	/* Malformed: header length, total length, version, empty. */
	mk4(pkt, sizeof(pkt), 1, NULL, 0);
	pkt[0] = 0x44;
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1220, out, sizeof(out)), -EBADMSG);
	mk4(pkt, sizeof(pkt), 1, NULL, 0);
	put16(pkt + 2, 1500);
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1220, out, sizeof(out)), -EBADMSG);
	pkt[0] = 0x55;
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1220, out, sizeof(out)), -EBADMSG);
	assert_int_equal(np_icmp_too_big(pkt, 0, 1220, out, sizeof(out)), -EBADMSG);
	assert_int_equal(np_too_big_action(pkt, 0), -EBADMSG);
	assert_int_equal(np_too_big_action(pkt, 1), -EBADMSG);
}

static void test_v6_packet_too_big(void **state)
{
	static uint8_t pkt[1400], out[NP_ICMP_MAX_LEN];
	uint32_t sum;
	int n;

	(void)state;
	mk6(pkt, sizeof(pkt), 17, 0);
	assert_int_equal(np_too_big_action(pkt, sizeof(pkt)), NP_TOO_BIG_ICMP);
	n = np_icmp_too_big(pkt, sizeof(pkt), 1220, out, sizeof(out));
	assert_int_equal(n, 1280); /* cut to the IPv6 minimum MTU */
	assert_int_equal(out[0] >> 4, 6);
	assert_int_equal(get16(out + 4), 1280 - 40);
	assert_int_equal(out[6], 58);
	assert_memory_equal(out + 8, pkt + 24, 16);
	assert_memory_equal(out + 24, pkt + 8, 16);
	assert_int_equal(out[40], 2);
	assert_int_equal(out[41], 0);
	/* Never below 1280: IPv6 links carry at least that. */
	assert_int_equal((uint32_t)out[44] << 24 | (uint32_t)out[45] << 16 | out[46] << 8 | out[47], 1280);
	sum = np_csum_pseudo6(out + 8, out + 24, 58, 1280 - 40);
	assert_int_equal(np_csum_fold(np_csum_add(sum, out + 40, 1280 - 40)), 0xffff);
	assert_memory_equal(out + 48, pkt, 1280 - 48);
	n = np_icmp_too_big(pkt, sizeof(pkt), 1300, out, sizeof(out));
	assert_int_equal((uint32_t)out[44] << 24 | (uint32_t)out[45] << 16 | out[46] << 8 | out[47], 1300);
}

static void test_v6_no_answer(void **state)
{
	static uint8_t pkt[1400], out[NP_ICMP_MAX_LEN];

	(void)state;
	mk6(pkt, sizeof(pkt), 58, 1); /* destination unreachable */
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1280, out, sizeof(out)), -EPERM);
	mk6(pkt, sizeof(pkt), 58, 128); /* echo request */
	assert_true(np_icmp_too_big(pkt, sizeof(pkt), 1280, out, sizeof(out)) > 0);
	mk6(pkt, sizeof(pkt), 17, 0);
	pkt[8] = 0xff; /* multicast source */
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1280, out, sizeof(out)), -EPERM);
	mk6(pkt, sizeof(pkt), 17, 0);
	pkt[24] = 0xff; /* multicast destination: nothing to answer from */
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1280, out, sizeof(out)), -EPERM);
	mk6(pkt, sizeof(pkt), 17, 0);
	put16(pkt + 4, 2000);
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1280, out, sizeof(out)), -EBADMSG);
	assert_int_equal(np_icmp_too_big(pkt, 39, 1280, out, sizeof(out)), -EBADMSG);
	mk6(pkt, sizeof(pkt), 17, 0);
	assert_int_equal(np_icmp_too_big(pkt, sizeof(pkt), 1280, out, 1000), -ENOSPC);
}

/* Fragments pkt at mtu and checks every fragment; returns their count. */
static int frag_and_check(const uint8_t *pkt, size_t len, unsigned mtu, size_t first_hl, size_t later_hl,
			  uint16_t base_off, int orig_mf)
{
	static uint8_t frag[2048], joined[65536];
	struct np_frag4 f;
	size_t got = 0;
	int n, count = 0;

	assert_int_equal(np_frag4_start(&f, pkt, len, mtu), 0);
	while ((n = np_frag4_next(&f, frag, sizeof(frag))) > 0) {
		size_t hl = (size_t)(frag[0] & 0x0f) * 4, pl = (size_t)n - hl;
		uint16_t ff = get16(frag + 6);

		assert_true((unsigned)n <= mtu);
		assert_int_equal(hl, count == 0 ? first_hl : later_hl);
		assert_int_equal(get16(frag + 2), n);
		assert_int_equal(np_csum_fold(np_csum_add(0, frag, hl)), 0xffff);
		assert_int_equal(get16(frag + 4), 0x1234); /* same id */
		assert_memory_equal(frag + 12, pkt + 12, 8);
		assert_int_equal((ff & 0x1fff) * 8, base_off + got);
		if (got + pl < len - first_hl) {
			assert_true(ff & 0x2000);
			assert_int_equal(pl % 8, 0);
		} else {
			assert_int_equal(!!(ff & 0x2000), orig_mf);
		}
		memcpy(joined + got, frag + hl, pl);
		got += pl;
		count++;
	}
	assert_int_equal(n, 0);
	assert_int_equal(got, len - first_hl);
	assert_memory_equal(joined, pkt + first_hl, got);
	return count;
}

static void test_fragment(void **state)
{
	static uint8_t pkt[1400], small[8];
	struct np_frag4 f;

	(void)state;
	mk4(pkt, sizeof(pkt), 0, NULL, 0);
	assert_int_equal(np_too_big_action(pkt, sizeof(pkt)), NP_TOO_BIG_FRAGMENT);
	assert_int_equal(frag_and_check(pkt, sizeof(pkt), 1220, 20, 20, 0, 0), 2);
	assert_int_equal(frag_and_check(pkt, sizeof(pkt), 576, 20, 20, 0, 0), 3);
	assert_int_equal(frag_and_check(pkt, sizeof(pkt), 28, 20, 20, 0, 0), 173);
	/* A packet that is itself a middle fragment keeps its offset and MF. */
	mk4(pkt, sizeof(pkt), 0, NULL, 0);
	put16(pkt + 6, 0x2000 | 185);
	put16(pkt + 10, 0);
	put16(pkt + 10, np_csum_finish(np_csum_add(0, pkt, 20)));
	assert_int_equal(frag_and_check(pkt, sizeof(pkt), 1000, 20, 20, 185 * 8, 1), 2);
	/* DF, a too small MTU, malformed input, a small output buffer. */
	mk4(pkt, sizeof(pkt), 1, NULL, 0);
	assert_int_equal(np_frag4_start(&f, pkt, sizeof(pkt), 1220), -EPERM);
	mk4(pkt, sizeof(pkt), 0, NULL, 0);
	assert_int_equal(np_frag4_start(&f, pkt, sizeof(pkt), 27), -EMSGSIZE);
	assert_int_equal(np_frag4_start(&f, pkt, 10, 1220), -EBADMSG);
	assert_int_equal(np_frag4_start(&f, pkt, sizeof(pkt), 1220), 0);
	assert_int_equal(np_frag4_next(&f, small, sizeof(small)), -ENOSPC);
	/* Offset + length past 64 KiB. */
	put16(pkt + 6, 8100);
	assert_int_equal(np_frag4_start(&f, pkt, sizeof(pkt), 1220), -EBADMSG);
}

static void test_fragment_options(void **state)
{
	/* Record route (not copied, 7 bytes) + NOP, then a copied option
	 * (type 0x94 "router alert", 4 bytes): later fragments carry only the
	 * router alert. */
	static const uint8_t opts[12] = { 7, 7, 4, 0, 0, 0, 0, 1, 0x94, 4, 0, 0 };
	static const uint8_t bad[4] = { 7, 9, 4, 0 };
	static uint8_t pkt[1000], frag[2048];
	struct np_frag4 f;

	(void)state;
	mk4(pkt, sizeof(pkt), 0, opts, sizeof(opts));
	assert_int_equal(frag_and_check(pkt, sizeof(pkt), 500, 32, 24, 0, 0), 3);
	assert_int_equal(np_frag4_start(&f, pkt, sizeof(pkt), 500), 0);
	assert_true(np_frag4_next(&f, frag, sizeof(frag)) > 0);
	assert_memory_equal(frag + 20, opts, sizeof(opts));
	assert_true(np_frag4_next(&f, frag, sizeof(frag)) > 0);
	assert_int_equal(frag[0], 0x46);
	assert_memory_equal(frag + 20, opts + 8, 4);
	/* An option whose length runs past the header. */
	mk4(pkt, sizeof(pkt), 0, bad, sizeof(bad));
	assert_int_equal(np_frag4_start(&f, pkt, sizeof(pkt), 500), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_frag_needed),    cmocka_unit_test(test_v4_no_answer),
		cmocka_unit_test(test_v6_packet_too_big), cmocka_unit_test(test_v6_no_answer),
		cmocka_unit_test(test_fragment),          cmocka_unit_test(test_fragment_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
