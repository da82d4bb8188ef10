/* test_ratelimit: np_ratelimit's per-source token buckets. Burst then
 * refill at `rate`, capped at `burst`; sources are independent (and IPv4
 * and IPv6 never share a bucket); rate 0 disables limiting; a clock that
 * steps back refills nothing and never lifts the burst cap; a table full
 * of other sources still admits newcomers, and one flooding address cannot
 * lock others out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "np_ratelimit.h"

static struct np_ratelimit rl;

static np_addr_t src4(uint32_t n)
{
	np_addr_t a;

	memset(&a, 0, sizeof(a));
	a.family = 4;
	a.ip[0] = (uint8_t)(n >> 24);
	a.ip[1] = (uint8_t)(n >> 16);
	a.ip[2] = (uint8_t)(n >> 8);
	a.ip[3] = (uint8_t)n;
	a.port = 1234;
	return a;
}

static int teardown(void **state)
{
	(void)state;
	np_ratelimit_free(&rl);
	return 0;
}

/* How many of `n` messages at time t are allowed. */
static int allowed(const np_addr_t *a, int n, uint64_t t)
{
	int ok = 0;

	for (int i = 0; i < n; i++)
		ok += np_ratelimit_allow(&rl, a, t);
	return ok;
}

static void test_disabled(void **state)
{
	np_addr_t a = src4(0xc0000201);

	(void)state;
	assert_int_equal(np_ratelimit_init(&rl, 0, 0), 0);
	assert_int_equal(allowed(&a, 100000, 1000), 100000);
}

static void test_burst_and_refill(void **state)
{
	np_addr_t a = src4(0xc0000201);

	(void)state;
	assert_int_equal(np_ratelimit_init(&rl, 10, 20), 0);
	assert_int_equal(allowed(&a, 100, 1000), 20);
	/* 100 ms at 10/s: one token. */
	assert_int_equal(allowed(&a, 100, 1100), 1);
	/* 550 ms: five more (half a token stays over). */
	assert_int_equal(allowed(&a, 100, 1650), 5);
	assert_int_equal(allowed(&a, 100, 1700), 1);
	/* A long pause refills to the burst, no further. */
	assert_int_equal(allowed(&a, 100, 1000000), 20);
	/* The source port does not matter: same address, same bucket. */
	a.port = 9999;
	assert_int_equal(allowed(&a, 5, 1000000), 0);
}

static void test_sources_independent(void **state)
{
	np_addr_t a = src4(0x0a000001), b = src4(0x0a000002), v6;

	(void)state;
	assert_int_equal(np_ratelimit_init(&rl, 1, 3), 0);
	assert_int_equal(allowed(&a, 50, 5000), 3);
	assert_int_equal(allowed(&b, 50, 5000), 3);
	/* An IPv6 address whose first bytes equal a's IPv4 bytes has its own bucket. */
	memset(&v6, 0, sizeof(v6));
	v6.family = 6;
	memcpy(v6.ip, a.ip, 4);
	assert_int_equal(allowed(&v6, 50, 5000), 3);
}

static void test_clock_backwards(void **state)
{
	np_addr_t a = src4(0x0a000003);

	(void)state;
	assert_int_equal(np_ratelimit_init(&rl, 100, 2), 0);
	assert_int_equal(allowed(&a, 10, 10000), 2);
	assert_int_equal(allowed(&a, 10, 5000), 0);
	/* Forward again: never more than the burst. */
	assert_true(allowed(&a, 10, 10000) <= 2);
	assert_true(allowed(&a, 10, 20000) <= 2);
}

static void test_min_burst(void **state)
{
	np_addr_t a = src4(0x0a000004);

	(void)state;
	assert_int_equal(np_ratelimit_init(&rl, 1, 0), 0);
	assert_int_equal(allowed(&a, 10, 1), 1);
	assert_int_equal(allowed(&a, 10, 1001), 1);
}

static void test_flood_does_not_starve_others(void **state)
{
	np_addr_t flooder = src4(0xcb007107), victim = src4(0xc6336412);
	uint64_t t = 1000;

	(void)state;
	assert_int_equal(np_ratelimit_init(&rl, 5, 10), 0);
	/* One address hammers for 10 s; a victim sends one message a second. */
	for (int s = 0; s < 10; s++, t += 1000) {
		int got = allowed(&flooder, 10000, t);
		assert_true(got <= 10);
		assert_int_equal(np_ratelimit_allow(&rl, &victim, t), 1);
	}
}

static void test_table_pressure(void **state)
{
	uint64_t t = 1000;
	np_addr_t late = src4(0x7f7f7f7f);

	(void)state;
	assert_int_equal(np_ratelimit_init(&rl, 1, 1), 0);
	/* Four times as many sources as slots (spoofed sources, say): every
	 * newcomer still gets its first message through. */
	for (uint32_t i = 0; i < 4 * NP_RATELIMIT_SLOTS; i++) {
		np_addr_t a = src4(0x0b000000u + i);
		assert_int_equal(np_ratelimit_allow(&rl, &a, t), 1);
		if (i % 1024 == 0)
			t++;
	}
	assert_int_equal(np_ratelimit_allow(&rl, &late, t), 1);
	assert_int_equal(np_ratelimit_allow(&rl, &late, t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_disabled, teardown),
		cmocka_unit_test_teardown(test_burst_and_refill, teardown),
		cmocka_unit_test_teardown(test_sources_independent, teardown),
		cmocka_unit_test_teardown(test_clock_backwards, teardown),
		cmocka_unit_test_teardown(test_min_burst, teardown),
		cmocka_unit_test_teardown(test_flood_does_not_starve_others, teardown),
		cmocka_unit_test_teardown(test_table_pressure, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
