/* test_probeguard: the punch's per-attempt bounds (no amplification toward
 * an address that never answered) and ack-gated success (no steering by a
 * replayed or forwarded probe), as np_punch.c enforces them for any
 * strategy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "np_probeguard.h"

static np_addr_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	np_addr_t x = { 0 };

	x.family = 4;
	x.ip[0] = a, x.ip[1] = b, x.ip[2] = c, x.ip[3] = d;
	x.port = port;
	return x;
}

static struct np_probeguard g;

static int setup(void **state)
{
	(void)state;
	return np_probeguard_init(&g);
}

static int teardown(void **state)
{
	(void)state;
	np_probeguard_free(&g);
	return 0;
}

static int sends(const np_addr_t *to, int n, int opener)
{
	int ok = 0;

	for (int i = 0; i < n; i++)
		ok += np_probeguard_send(&g, to, opener);
	return ok;
}

static void test_bounds(void **state)
{
	np_addr_t pub = ip4(198, 51, 100, 18, 4000), lan = ip4(192, 168, 1, 2, 4000);
	np_addr_t predicted = ip4(198, 51, 100, 18, 4007), victim = ip4(192, 0, 2, 50, 9);

	(void)state;
	np_probeguard_reset(&g, &pub, &lan);
	/* The peer's public endpoint, a predicted port on its IP, its LAN
	 * endpoint: NP_PG_UNANSWERED_MAX each until they answer. */
	assert_int_equal(sends(&pub, 1000, 0), NP_PG_UNANSWERED_MAX);
	assert_int_equal(sends(&predicted, 1000, 0), NP_PG_UNANSWERED_MAX);
	assert_int_equal(sends(&lan, 1000, 0), NP_PG_UNANSWERED_MAX);
	/* Openers: to a public address (TTL-limited) not counted; to a
	 * private one (it would arrive) counted. */
	assert_int_equal(sends(&pub, 10, 1), 10);
	assert_int_equal(sends(&lan, 10, 1), 0);
	/* Any other address (say, the source of a probe replayed in a
	 * victim's name): one probe per authenticated probe from it. */
	assert_int_equal(sends(&victim, 10, 0), 0);
	np_probeguard_probe_rx(&g, &victim);
	assert_int_equal(sends(&victim, 10, 0), 1);
	/* Once an address answered (authenticated ack), no bound. */
	np_probeguard_ack_rx(&g, 0, &pub);
	assert_int_equal(sends(&pub, 500, 0), 500);
	/* A new attempt starts from zero. */
	np_probeguard_reset(&g, &pub, &lan);
	assert_int_equal(sends(&pub, 1000, 0), NP_PG_UNANSWERED_MAX);
}

static void test_lan_must_be_private(void **state)
{
	np_addr_t pub = ip4(198, 51, 100, 18, 4000), fake_lan = ip4(192, 0, 2, 50, 9);

	(void)state;
	assert_false(np_probeguard_lan_ok(&fake_lan));
	assert_true(np_probeguard_lan_ok(&(np_addr_t){ .family = 4, .port = 1, .ip = { 10, 1, 2, 3 } }));
	assert_true(np_probeguard_lan_ok(&(np_addr_t){ .family = 4, .port = 1, .ip = { 169, 254, 2, 3 } }));
	assert_true(np_probeguard_lan_ok(&(np_addr_t){ .family = 6, .port = 1, .ip = { 0xfe, 0x80, [15] = 1 } }));
	/* A claimed "LAN" endpoint on the internet is no candidate: no allowance. */
	np_probeguard_reset(&g, &pub, &fake_lan);
	assert_int_equal(sends(&fake_lan, 100, 0), 0);
}

static void test_ack_gated_success(void **state)
{
	np_addr_t pub = ip4(198, 51, 100, 18, 4000), attacker = ip4(192, 0, 2, 66, 5000);

	(void)state;
	np_probeguard_reset(&g, &pub, NULL);
	/* A probe (even an authenticated one, e.g. replayed) is no proof. */
	np_probeguard_probe_rx(&g, &attacker);
	assert_false(np_probeguard_may_succeed(&g, 0, &attacker));
	assert_false(np_probeguard_may_succeed(&g, 0, &pub));
	/* An ack on socket 3 from pub proves (3, pub) only. */
	np_probeguard_ack_rx(&g, 3, &pub);
	assert_true(np_probeguard_may_succeed(&g, 3, &pub));
	assert_false(np_probeguard_may_succeed(&g, 0, &pub));
	assert_false(np_probeguard_may_succeed(&g, 3, &attacker));
	np_probeguard_reset(&g, &pub, NULL);
	assert_false(np_probeguard_may_succeed(&g, 3, &pub));
	assert_true(g.refused_succeed >= 5);
}

static void test_table_full(void **state)
{
	np_addr_t pub = ip4(198, 51, 100, 18, 1);
	int ok = 0;

	(void)state;
	np_probeguard_reset(&g, &pub, NULL);
	/* Spray-like: one probe to each of 10000 ports of the peer's IP. */
	for (int port = 1; port <= 10000; port++) {
		np_addr_t to = pub;
		to.port = (uint16_t)port;
		ok += np_probeguard_send(&g, &to, 0);
	}
	assert_int_equal(ok, NP_PG_SLOTS / 4 * 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_lan_must_be_private),
		cmocka_unit_test(test_ack_gated_success),
		cmocka_unit_test(test_table_full),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
