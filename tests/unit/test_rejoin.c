/* test_rejoin: the decisions that let a restarted peer back into a tunnel
 * that is up (np_rejoin.h), on a fake clock: the openers-then-probes
 * schedule and its end, which probes start a rejoin (not the tail of our
 * own punch, not while the peer still talks), and who sends a handshake
 * initiation where, how often, and only on an ack from the candidate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "np_rejoin.h"

static np_addr_t ip4(uint8_t d, uint16_t port)
{
	np_addr_t x = { 0 };

	x.family = 4;
	x.ip[0] = 198, x.ip[1] = 51, x.ip[2] = 100, x.ip[3] = d;
	x.port = port;
	return x;
}

/* Runs the rejoin from t to its end, calling back exactly when asked. */
static void run(struct np_rejoin *r, uint64_t t, unsigned *openers, unsigned *probes, uint64_t *first_probe,
		uint64_t *end)
{
	uint64_t next = t;

	*openers = *probes = 0;
	*first_probe = 0;
	for (int guard = 0; guard < 1000; guard++) {
		int what = np_rejoin_tick(r, next, &next);

		if (what == NP_RJ_OPENERS_NOW)
			(*openers)++;
		if (what == NP_RJ_PROBE_NOW) {
			if (!*probes)
				*first_probe = t;
			(*probes)++;
		}
		if (!next)
			break;
		assert_true(next > t); /* never asks to be called in the past */
		t = next;
	}
	*end = t;
}

static void test_schedule(void **state)
{
	struct np_rejoin r;
	np_addr_t b = ip4(34, 33535);
	unsigned openers, probes;
	uint64_t first, end, next;

	(void)state;
	memset(&r, 0, sizeof(r));
	np_rejoin_reset(&r);
	assert_int_equal(np_rejoin_tick(&r, 1000, &next), NP_RJ_NOTHING);
	assert_int_equal(next, 0);
	np_rejoin_start(&r, &b, 1000);
	assert_true(r.active);
	assert_memory_equal(&r.target, &b, sizeof(b));
	run(&r, 1000, &openers, &probes, &first, &end);
	/* Openers once, at once; probes after the pause, every 200 ms, for 5 s. */
	assert_int_equal(openers, 1);
	assert_int_equal(first, 1000 + NP_RJ_PAUSE_MS);
	assert_int_equal(probes, (NP_RJ_SPAN_MS - NP_RJ_PAUSE_MS + NP_RJ_PROBE_MS - 1) / NP_RJ_PROBE_MS);
	assert_int_equal(end, 1000 + NP_RJ_SPAN_MS);
	assert_false(r.active);
	assert_int_equal(np_rejoin_tick(&r, end + 1, &next), NP_RJ_NOTHING);
	assert_int_equal(r.starts, 1);
	assert_int_equal(r.probes, probes);
	/* Early calls (a timer that fires early) send nothing extra. */
	np_rejoin_start(&r, &b, 20000);
	assert_int_equal(np_rejoin_tick(&r, 20000, &next), NP_RJ_OPENERS_NOW);
	assert_int_equal(np_rejoin_tick(&r, 20001, &next), NP_RJ_NOTHING);
	assert_int_equal(next, 20000 + NP_RJ_PAUSE_MS);
}

static void test_probe_hint(void **state)
{
	struct np_rejoin r;
	np_addr_t b = ip4(34, 45200), other = ip4(50, 9);
	uint64_t next;

	(void)state;
	memset(&r, 0, sizeof(r));
	np_rejoin_reset(&r);
	/* The tail of the punch that brought the tunnel up. */
	assert_int_equal(np_rejoin_probe_rx(&r, &b, 5000, NP_RJ_SETTLE_MS - 1, 60000), 0);
	/* The peer still talks: its probes are stray, not a restart. */
	assert_int_equal(np_rejoin_probe_rx(&r, &b, 5000, 60000, NP_RJ_QUIET_MS - 1), 0);
	assert_false(r.active);
	/* Up for a while and quiet: probe back there. */
	assert_int_equal(np_rejoin_probe_rx(&r, &b, 5000, 60000, 1500), 1);
	assert_true(r.active);
	assert_memory_equal(&r.target, &b, sizeof(b));
	/* One at a time: another source does not steal the running rejoin. */
	assert_int_equal(np_rejoin_probe_rx(&r, &other, 5100, 60100, 1600), 0);
	assert_memory_equal(&r.target, &b, sizeof(b));
	assert_int_equal(np_rejoin_tick(&r, 5000 + NP_RJ_SPAN_MS, &next), NP_RJ_NOTHING);
	assert_false(r.active);
	assert_int_equal(np_rejoin_probe_rx(&r, &other, 5000 + NP_RJ_SPAN_MS, 70000, 7000), 1);
	assert_memory_equal(&r.target, &other, sizeof(other));
	assert_int_equal(r.starts, 2);
}

static void test_ack_init(void **state)
{
	struct np_rejoin r;
	np_addr_t b = ip4(34, 33535), elsewhere = ip4(34, 33536);

	(void)state;
	memset(&r, 0, sizeof(r));
	np_rejoin_reset(&r);
	/* No rejoin running: acks start nothing. */
	assert_int_equal(np_rejoin_ack_rx(&r, &b, 1000, 1), 0);
	np_rejoin_start(&r, &b, 1000);
	/* The responder never initiates: the restarted initiator will. */
	assert_int_equal(np_rejoin_ack_rx(&r, &b, 1200, 0), 0);
	/* Only the candidate's ack counts. */
	assert_int_equal(np_rejoin_ack_rx(&r, &elsewhere, 1200, 1), 0);
	assert_int_equal(np_rejoin_ack_rx(&r, &b, 1200, 1), 1);
	/* At most one initiation per NP_RJ_INIT_MS. */
	assert_int_equal(np_rejoin_ack_rx(&r, &b, 1200 + NP_RJ_INIT_MS - 1, 1), 0);
	assert_int_equal(np_rejoin_ack_rx(&r, &b, 1200 + NP_RJ_INIT_MS, 1), 1);
	assert_int_equal(r.inits, 2);
	/* The peer is back: later acks start nothing. */
	np_rejoin_done(&r);
	assert_int_equal(np_rejoin_ack_rx(&r, &b, 9000, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_probe_hint),
		cmocka_unit_test(test_ack_init),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
