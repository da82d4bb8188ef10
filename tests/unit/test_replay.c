/* test_replay: the np_replay sliding window. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "np_replay.h"

static struct np_replay w;

static int setup(void **state)
{
	(void)state;
	np_replay_init(&w);
	return 0;
}

static void test_in_order(void **state)
{
	(void)state;
	for (uint64_t i = 0; i < 10000; i++)
		assert_int_equal(np_replay_check_and_update(&w, i), 0);
	for (uint64_t i = 10000 - 100; i < 10000; i++)
		assert_int_equal(np_replay_check_and_update(&w, i), -EALREADY);
}

static void test_first_counter_zero_and_duplicate(void **state)
{
	(void)state;
	assert_int_equal(np_replay_check(&w, 0), 0);
	assert_int_equal(np_replay_check_and_update(&w, 0), 0);
	assert_int_equal(np_replay_check(&w, 0), -EALREADY);
	assert_int_equal(np_replay_check_and_update(&w, 0), -EALREADY);
	assert_int_equal(np_replay_check_and_update(&w, 5), 0);
	assert_int_equal(np_replay_check_and_update(&w, 5), -EALREADY);
	assert_int_equal(np_replay_check_and_update(&w, 3), 0);
	assert_int_equal(np_replay_check_and_update(&w, 3), -EALREADY);
}

static void test_out_of_order(void **state)
{
	(void)state;
	/* Reverse order within the window: all fresh once. */
	for (uint64_t i = 3000; i > 0; i--)
		assert_int_equal(np_replay_check_and_update(&w, i), 0);
	assert_int_equal(np_replay_check_and_update(&w, 0), 0);
	for (uint64_t i = 0; i <= 3000; i++)
		assert_int_equal(np_replay_check_and_update(&w, i), -EALREADY);
	/* Interleaved evens then odds. */
	for (uint64_t i = 4000; i < 6000; i += 2)
		assert_int_equal(np_replay_check_and_update(&w, i), 0);
	for (uint64_t i = 4001; i < 6000; i += 2)
		assert_int_equal(np_replay_check_and_update(&w, i), 0);
	for (uint64_t i = 4000; i < 6000; i++)
		assert_int_equal(np_replay_check(&w, i), -EALREADY);
}

static void test_too_old(void **state)
{
	uint64_t top = 100000;

	(void)state;
	assert_true(NP_REPLAY_WINDOW >= 2048);
	assert_int_equal(np_replay_check_and_update(&w, top), 0);
	/* The oldest counter still inside the window, and the first one outside. */
	assert_int_equal(np_replay_check(&w, top - (NP_REPLAY_WINDOW - 1)), 0);
	assert_int_equal(np_replay_check(&w, top - NP_REPLAY_WINDOW), -EALREADY);
	assert_int_equal(np_replay_check_and_update(&w, top - 2048), 0);
	assert_int_equal(np_replay_check_and_update(&w, 0), -EALREADY);
	assert_int_equal(np_replay_check_and_update(&w, top - 5000), -EALREADY);
}

static void test_large_jumps(void **state)
{
	(void)state;
	for (uint64_t i = 0; i < 200; i++)
		assert_int_equal(np_replay_check_and_update(&w, i), 0);
	/* A jump far beyond the window clears every bit: old bits must not
	 * alias onto new counters in the ring. */
	assert_int_equal(np_replay_check_and_update(&w, 1000000), 0);
	for (uint64_t i = 1000000 - 1; i > 1000000 - 200; i--)
		assert_int_equal(np_replay_check_and_update(&w, i), 0);
	/* A jump of exactly one ring length: same ring slots, new words. */
	assert_int_equal(np_replay_check_and_update(&w, 1000000 + NP_REPLAY_WORDS * 64), 0);
	assert_int_equal(np_replay_check(&w, 1000000 + NP_REPLAY_WORDS * 64 - 64 * 2), 0);
	assert_int_equal(np_replay_check(&w, 1000000), -EALREADY); /* now too old */
	/* Jump by one word boundary at a time. */
	for (uint64_t k = 0; k < 100; k++)
		assert_int_equal(np_replay_check_and_update(&w, 2000000 + 63 * k), 0);
	for (uint64_t k = 50; k < 100; k++) {
		assert_int_equal(np_replay_check_and_update(&w, 2000000 + 63 * k), -EALREADY);
		assert_int_equal(np_replay_check(&w, 2000000 + 63 * k + 1), 0);
	}
}

static void test_check_does_not_update(void **state)
{
	(void)state;
	assert_int_equal(np_replay_check(&w, 7), 0);
	assert_int_equal(np_replay_check(&w, 7), 0);
	assert_int_equal(np_replay_update(&w, 7), 0);
	assert_int_equal(np_replay_update(&w, 7), -EALREADY);
}

static void test_near_2_64(void **state)
{
	uint64_t max = UINT64_MAX;

	(void)state;
	assert_int_equal(np_replay_check_and_update(&w, max - 5000), 0);
	assert_int_equal(np_replay_check_and_update(&w, max - 10), 0);
	assert_int_equal(np_replay_check_and_update(&w, max - 1), 0);
	assert_int_equal(np_replay_check_and_update(&w, max), 0);
	assert_int_equal(np_replay_check_and_update(&w, max), -EALREADY);
	assert_int_equal(np_replay_check_and_update(&w, max - 1), -EALREADY);
	assert_int_equal(np_replay_check_and_update(&w, max - 2), 0);
	assert_int_equal(np_replay_check_and_update(&w, max - 5000), -EALREADY);
	/* Nothing wraps around to small counters. */
	assert_int_equal(np_replay_check_and_update(&w, 0), -EALREADY);
	assert_int_equal(np_replay_check_and_update(&w, 1), -EALREADY);
	assert_int_equal(np_replay_check(&w, max - NP_REPLAY_WINDOW), -EALREADY);
	assert_int_equal(np_replay_check(&w, max - NP_REPLAY_WINDOW + 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_in_order, setup),
		cmocka_unit_test_setup(test_first_counter_zero_and_duplicate, setup),
		cmocka_unit_test_setup(test_out_of_order, setup),
		cmocka_unit_test_setup(test_too_old, setup),
		cmocka_unit_test_setup(test_large_jumps, setup),
		cmocka_unit_test_setup(test_check_does_not_update, setup),
		cmocka_unit_test_setup(test_near_2_64, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
