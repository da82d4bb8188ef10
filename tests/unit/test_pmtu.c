/* test_pmtu: the np_pmtu search against simulated paths: it finds the
 * exact path MTU (never more), fast on healthy and black-holed paths,
 * survives probe loss, notices a path that shrinks later and one that
 * grows back, and its in-tunnel messages encode and parse strictly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "np_pmtu.h"

struct sim {
	unsigned path;          /* largest packet the path carries */
	unsigned loss_pct;      /* random loss of probes and acks */
	uint64_t now;
	unsigned sent;
	unsigned seed;
	struct np_pmtu_probe pend[64]; /* acks on their way back */
	uint64_t pend_at[64];
	unsigned npend;
};

static unsigned rnd(struct sim *s)
{
	s->seed = s->seed * 1103515245u + 12345u;
	return (s->seed >> 16) % 100;
}

/* Runs the machine until `until` ms; acks arrive 20 ms after the probe. */
static void run_until(struct np_pmtu *m, struct sim *s, uint64_t until)
{
	struct np_pmtu_probe *pend = s->pend;
	uint64_t *pend_at = s->pend_at;
	unsigned npend = s->npend;

	while (s->now < until) {
		struct np_pmtu_probe out[NP_PMTU_PROBES + 1];
		unsigned n;
		uint64_t next = np_pmtu_poll(m, s->now, out, &n);

		assert_true(n <= NP_PMTU_PROBES + 1);
		for (unsigned i = 0; i < n; i++) {
			s->sent++;
			assert_true(out[i].size >= m->base || m->max < m->base);
			assert_true(out[i].size <= m->max);
			if (out[i].size <= s->path && rnd(s) >= s->loss_pct && rnd(s) >= s->loss_pct && npend < 64) {
				pend[npend] = out[i];
				pend_at[npend++] = s->now + 20;
			}
		}
		if (next == 0)
			next = 1;
		if (s->now + next > until)
			next = until - s->now;
		/* Deliver acks due before the next poll. */
		for (;;) {
			unsigned best = npend;
			for (unsigned i = 0; i < npend; i++)
				if (pend_at[i] <= s->now + next && (best == npend || pend_at[i] < pend_at[best]))
					best = i;
			if (best == npend)
				break;
			s->now = pend_at[best] > s->now ? pend_at[best] : s->now;
			np_pmtu_ack(m, pend[best].id, pend[best].size, s->now);
			pend[best] = pend[--npend];
			pend_at[best] = pend_at[npend];
			next = 0; /* poll again now */
		}
		if (next)
			s->now += next;
	}
	s->npend = npend;
}

/* Time until the search is done, at most limit ms. */
static uint64_t search_time(struct np_pmtu *m, struct sim *s, uint64_t limit)
{
	uint64_t start = s->now;

	while (m->state == NP_PMTU_SEARCH && s->now - start < limit)
		run_until(m, s, s->now + 10);
	return s->now - start;
}

static void test_healthy_path(void **state)
{
	struct np_pmtu m = { 0 };
	struct sim s = { .path = 1500, .seed = 1 };

	(void)state;
	np_pmtu_start(&m, NP_PMTU_BASE, 1460, 7, 0);
	/* Optimistic while the first round runs. */
	assert_int_equal(np_pmtu_current(&m), 1460);
	assert_true(search_time(&m, &s, 10000) <= 100); /* the first ack of 1460 ends it */
	assert_int_equal(m.state, NP_PMTU_DONE);
	assert_int_equal(np_pmtu_current(&m), 1460);
	assert_string_equal(np_pmtu_state_name(&m), "confirmed");
}

static void test_finds_exact_mtu(void **state)
{
	static const unsigned paths[] = { 1280, 1281, 1300, 1359, 1400, 1420, 1459, 1460 };

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct np_pmtu m = { 0 };
		struct sim s = { .path = paths[i], .seed = 3 };
		uint64_t t;

		np_pmtu_start(&m, NP_PMTU_BASE, 1460, 1000, 0);
		t = search_time(&m, &s, 60000);
		assert_int_equal(m.state, NP_PMTU_DONE);
		assert_int_equal(np_pmtu_current(&m), paths[i]);
		assert_string_equal(np_pmtu_state_name(&m), "confirmed");
		/* A black hole at the base takes two rounds; any path at most 8. */
		print_message("path %u: %llu ms\n", paths[i], (unsigned long long)t);
		if (paths[i] == 1280)
			assert_true(t <= 2 * NP_PMTU_ROUND_MS + 50);
		assert_true(t <= 8 * NP_PMTU_ROUND_MS);
	}
}

static void test_lossy_path_never_overestimates(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 40; seed++) {
		struct np_pmtu m = { 0 };
		struct sim s = { .path = 1360 + seed, .loss_pct = 10, .seed = seed };

		np_pmtu_start(&m, NP_PMTU_BASE, 1460, seed * 77, 0);
		search_time(&m, &s, 120000);
		assert_int_equal(m.state, NP_PMTU_DONE);
		assert_true(np_pmtu_current(&m) <= s.path);
		assert_true(np_pmtu_current(&m) >= NP_PMTU_BASE);
	}
}

static void test_below_base_and_tiny_window(void **state)
{
	struct np_pmtu m = { 0 };
	struct sim s = { .path = 1500, .seed = 5 };
	struct np_pmtu_probe out[NP_PMTU_PROBES + 1];
	unsigned n;

	(void)state;
	/* An interface below 1280: nothing to search. */
	np_pmtu_start(&m, NP_PMTU_BASE, 1200, 1, 0);
	assert_int_equal(m.state, NP_PMTU_DONE);
	assert_int_equal(np_pmtu_current(&m), 1200);
	/* A one-byte window. */
	np_pmtu_start(&m, NP_PMTU_BASE, 1281, 1, 0);
	search_time(&m, &s, 10000);
	assert_int_equal(np_pmtu_current(&m), 1281);
	/* Off: no limit, no probes. */
	np_pmtu_stop(&m);
	assert_int_equal(np_pmtu_current(&m), 0);
	assert_int_equal(np_pmtu_poll(&m, 5, out, &n), 0);
	assert_int_equal(n, 0);
	assert_string_equal(np_pmtu_state_name(&m), "off");
}

static void test_unknown_acks_ignored(void **state)
{
	struct np_pmtu m = { 0 };
	struct np_pmtu_probe out[NP_PMTU_PROBES + 1];
	unsigned n;

	(void)state;
	np_pmtu_start(&m, NP_PMTU_BASE, 1460, 100, 0);
	np_pmtu_poll(&m, 0, out, &n);
	assert_true(n >= 2);
	/* Wrong size for the id, unknown id: nothing changes. */
	assert_int_equal(np_pmtu_ack(&m, out[n - 1].id, 1300, 1), 0);
	assert_int_equal(np_pmtu_ack(&m, 12345, 1460, 1), 0);
	assert_int_equal(m.state, NP_PMTU_SEARCH);
	/* The real one, twice: counted once. */
	assert_int_equal(np_pmtu_ack(&m, out[n - 1].id, out[n - 1].size, 1), 1);
	assert_int_equal(np_pmtu_ack(&m, out[n - 1].id, out[n - 1].size, 1), 0);
}

static void test_path_shrinks_then_grows(void **state)
{
	struct np_pmtu m = { .confirm_ms = 5000, .raise_ms = 60000 };
	struct sim s = { .path = 1460, .seed = 9 };

	(void)state;
	np_pmtu_start(&m, NP_PMTU_BASE, 1460, 1, 0);
	search_time(&m, &s, 10000);
	assert_int_equal(np_pmtu_current(&m), 1460);
	/* A route change: now 1300. Three failed confirmations (15 s), then
	 * a new search from the base finds it. */
	s.path = 1300;
	run_until(&m, &s, s.now + 3 * 5000 + 2000);
	assert_int_equal(m.state, NP_PMTU_SEARCH);
	search_time(&m, &s, 30000);
	assert_int_equal(np_pmtu_current(&m), 1300);
	/* Confirmations of 1300 pass: it stays. */
	run_until(&m, &s, s.now + 30000);
	assert_int_equal(np_pmtu_current(&m), 1300);
	/* The path grows back: the periodic raise finds 1460. */
	s.path = 1460;
	run_until(&m, &s, s.now + 60000 + 5000);
	assert_int_equal(np_pmtu_current(&m), 1460);
}

static void test_messages(void **state)
{
	uint8_t buf[64];
	uint32_t id;
	uint16_t size;
	int type;

	(void)state;
	assert_int_equal(np_pmtu_msg_encode(buf, 40, NP_PMTU_MSG_PROBE, 0xdeadbeef, 1400), 40);
	assert_true(np_pmtu_is_msg(buf, 40));
	assert_int_equal(np_pmtu_msg_parse(buf, 40, &type, &id, &size), 0);
	assert_int_equal(type, NP_PMTU_MSG_PROBE);
	assert_int_equal(id, 0xdeadbeef);
	assert_int_equal(size, 1400);
	assert_int_equal(np_pmtu_msg_encode(buf, 9, NP_PMTU_MSG_ACK, 1, 1), -ENOSPC);
	assert_int_equal(np_pmtu_msg_encode(buf, NP_PMTU_MSG_LEN, NP_PMTU_MSG_ACK, 1, 2), NP_PMTU_MSG_LEN);
	assert_int_equal(np_pmtu_msg_parse(buf, NP_PMTU_MSG_LEN, &type, &id, &size), 0);
	assert_int_equal(type, NP_PMTU_MSG_ACK);
	assert_int_equal(np_pmtu_msg_parse(buf, NP_PMTU_MSG_LEN - 1, &type, &id, &size), -EBADMSG);
	buf[1] = NP_PATH_MSG_PROBE; /* the path probes of np_relay_switch.c */
	assert_int_equal(np_pmtu_msg_parse(buf, NP_PMTU_MSG_LEN, &type, &id, &size), 0);
	assert_int_equal(type, NP_PATH_MSG_PROBE);
	buf[1] = NP_PATH_MSG_ACK;
	assert_int_equal(np_pmtu_msg_parse(buf, NP_PMTU_MSG_LEN, &type, &id, &size), 0);
	buf[1] = 5;
	assert_int_equal(np_pmtu_msg_parse(buf, NP_PMTU_MSG_LEN, &type, &id, &size), -EBADMSG);
	buf[1] = 0;
	assert_int_equal(np_pmtu_msg_parse(buf, NP_PMTU_MSG_LEN, &type, &id, &size), -EBADMSG);
	buf[1] = 1;
	buf[2] = 1;
	assert_int_equal(np_pmtu_msg_parse(buf, NP_PMTU_MSG_LEN, &type, &id, &size), -EBADMSG);
	buf[0] = 0x45;
	assert_false(np_pmtu_is_msg(buf, 20));
	assert_false(np_pmtu_is_msg(buf, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthy_path),
		cmocka_unit_test(test_finds_exact_mtu),
		cmocka_unit_test(test_lossy_path_never_overestimates),
		cmocka_unit_test(test_below_base_and_tiny_window),
		cmocka_unit_test(test_unknown_acks_ignored),
		cmocka_unit_test(test_path_shrinks_then_grows),
		cmocka_unit_test(test_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
