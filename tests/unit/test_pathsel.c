/* test_pathsel: the direct/relayed path choice (np_pathsel) on a fake
 * clock against scripted direct paths: one switch when the direct path
 * becomes good, none when it works one way only, at most one round trip
 * (direct, then back) when it works only now and then, a fallback within
 * the silence limit when it stops, and a hold-down that doubles with each
 * quick fallback, caps, and starts over after a stable direct path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "np_pathsel.h"

#define RTT 40                   /* ms, direct path round trip */
#define PUNCH_MS 1000            /* a background attempt takes this long */
#define DATA_MS 200              /* the peer's traffic on the direct path */

/* A scripted direct path: does a packet sent at t get there, each way? */
typedef int (*way_fn)(uint64_t t, int back);

struct sim {
	struct np_pathsel ps;
	way_fn way;
	uint64_t now;
	uint64_t last_rx;            /* last packet over the direct path */
	uint64_t punch_done;         /* a background attempt ends then (0: none) */
	uint64_t ack_at;             /* an ack arrives then (0: none) */
	uint32_t ack_id;
	uint64_t next_data;
	unsigned to_direct, to_relayed, tries, probes;
	uint64_t first_direct_at, first_relayed_at;
};

static void sim_init(struct sim *s, way_fn way, enum np_path start)
{
	memset(s, 0, sizeof(*s));
	s->way = way;
	np_pathsel_init(&s->ps, NULL, start, 0);
}

static int both_ways(struct sim *s, uint64_t t)
{
	return s->way(t, 0) && s->way(t + RTT / 2, 1);
}

/* Runs until `until` ms, polling when the machine asks (or when an event
 * of the simulated world is due). */
static void run(struct sim *s, uint64_t until)
{
	while (s->now < until) {
		struct np_pathsel_out out;
		uint64_t next = np_pathsel_poll(&s->ps, s->now, s->last_rx, 1, &out), at;

		assert_true(next > 0);
		if (out.act & NP_PS_PROBE) {
			s->probes++;
			if (both_ways(s, s->now)) {
				s->ack_at = s->now + RTT;
				s->ack_id = out.probe_id;
			}
		}
		if (out.act & NP_PS_TO_DIRECT) {
			if (!s->to_direct)
				s->first_direct_at = s->now;
			s->to_direct++;
			assert_int_equal(s->ps.path, NP_PATH_DIRECT);
			assert_non_null(strstr(out.why, "answered"));
		}
		if (out.act & NP_PS_TO_RELAYED) {
			if (!s->to_relayed)
				s->first_relayed_at = s->now;
			s->to_relayed++;
			assert_int_equal(s->ps.path, NP_PATH_RELAYED);
			assert_non_null(strstr(out.why, "no packet"));
		}
		if (out.act & NP_PS_TRY) {
			s->tries++;
			s->punch_done = s->now + PUNCH_MS;
		}
		at = s->now + next;
		if (s->punch_done && s->punch_done < at)
			at = s->punch_done;
		if (s->ack_at && s->ack_at < at)
			at = s->ack_at;
		if (s->ps.path == NP_PATH_DIRECT && s->next_data < at)
			at = s->next_data > s->now ? s->next_data : s->now + 1;
		if (at > until)
			at = until;
		s->now = at;
		if (s->punch_done && s->punch_done <= s->now) {
			s->punch_done = 0;
			if (both_ways(s, s->now - PUNCH_MS / 2))
				np_pathsel_candidate(&s->ps, s->now);
			else
				np_pathsel_try_failed(&s->ps, s->now);
		}
		if (s->ack_at && s->ack_at <= s->now) {
			s->ack_at = 0;
			s->last_rx = s->now;
			np_pathsel_ack(&s->ps, s->ack_id, s->now);
		}
		if (s->ps.path == NP_PATH_DIRECT && s->next_data <= s->now) {
			/* The peer sends on the direct path while we do. */
			if (s->way(s->now, 1))
				s->last_rx = s->now;
			s->next_data = s->now + DATA_MS;
		}
	}
}

static uint64_t good_from; /* the direct path works from this time on */
static uint64_t dead_from = UINT64_MAX, dead_until = UINT64_MAX;

static int way_good_from(uint64_t t, int back)
{
	(void)back;
	return t >= good_from && !(t >= dead_from && t < dead_until);
}

static int way_one_way(uint64_t t, int back)
{
	(void)t;
	return !back; /* our packets get there, nothing comes back */
}

static int way_intermittent(uint64_t t, int back)
{
	(void)back;
	return (t / 6000) % 2 == 0; /* 6 s up, 6 s down */
}

static int way_lossy(uint64_t t, int back)
{
	/* every third packet each way is lost */
	return (t / 7 + (unsigned)back) % 3 != 0;
}

/* Relayed; the direct path works from 5 s on; a hint at 6 s: one switch,
 * a few seconds after the hint, and no other for ten minutes. */
static void test_one_switch_when_direct_good(void **state)
{
	struct sim s;

	(void)state;
	good_from = 5000;
	dead_from = dead_until = UINT64_MAX;
	sim_init(&s, way_good_from, NP_PATH_RELAYED);
	run(&s, 6000);
	assert_int_equal(s.tries, 0); /* first periodic attempt at 30 s */
	np_pathsel_hint(&s.ps, s.now);
	run(&s, 600000);
	assert_int_equal(s.to_direct, 1);
	assert_int_equal(s.to_relayed, 0);
	assert_int_equal(s.ps.switches, 1);
	assert_int_equal(s.ps.path, NP_PATH_DIRECT);
	/* attempt 1 s, then 5 answered probes spanning >= 2 s */
	assert_true(s.first_direct_at >= 6000 + PUNCH_MS + 2000);
	assert_true(s.first_direct_at <= 6000 + PUNCH_MS + 3000);
	/* Idle direct path: probed only after silence, not every 500 ms. */
	assert_true(s.probes < 20);
}

/* Without a hint the periodic attempts find it: 30 s, backoff after. */
static void test_periodic_attempts_back_off(void **state)
{
	struct sim s;

	(void)state;
	good_from = 200000;
	dead_from = dead_until = UINT64_MAX;
	sim_init(&s, way_good_from, NP_PATH_RELAYED);
	run(&s, 199000);
	/* attempts at 30, 90, 210 s...: 30 s doubling */
	assert_int_equal(s.tries, 2);
	assert_int_equal(s.to_direct, 0);
	run(&s, 600000);
	assert_int_equal(s.to_direct, 1);
	/* found by the attempt at 210 s (30 + 60 + 120) */
	assert_true(s.first_direct_at > 210000 && s.first_direct_at < 215000);
}

/* Our probes get there, the answers never come back: no switch, ever,
 * and the candidate is dropped and tried again with backoff. */
static void test_one_way_never_switches(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, way_one_way, NP_PATH_RELAYED);
	np_pathsel_hint(&s.ps, 0);
	for (int i = 0; i < 20; i++) {
		run(&s, s.now + 30000);
		/* the worst case: every attempt claims a path */
		if (!s.ps.have_cand)
			np_pathsel_candidate(&s.ps, s.now);
	}
	assert_int_equal(s.to_direct, 0);
	assert_int_equal(s.ps.switches, 0);
	assert_int_equal(s.ps.path, NP_PATH_RELAYED);
}

/* 6 s up, 6 s down, for ten minutes: at most one switch to direct and
 * one back, then relayed for good (the hold-down outlasts every up). */
static void test_intermittent_no_flapping(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, way_intermittent, NP_PATH_RELAYED);
	np_pathsel_hint(&s.ps, 0);
	run(&s, 600000);
	assert_true(s.to_direct <= 1);
	assert_true(s.to_relayed <= 1);
	assert_true(s.ps.switches <= 2);
	assert_int_equal(s.ps.path, NP_PATH_RELAYED);
}

/* A third of the packets lost each way: no run of five answers often
 * enough to flap; whatever it does, it does at most once. */
static void test_lossy_no_flapping(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, way_lossy, NP_PATH_RELAYED);
	np_pathsel_hint(&s.ps, 0);
	run(&s, 600000);
	assert_true(s.ps.switches <= 2);
}

/* Direct, then the direct path stops at 60 s: back to the relay within
 * the silence limit (plus one probe), and to direct again only after the
 * path is back and healthy for the 10 s hold-down. */
static void test_fallback_when_direct_stops(void **state)
{
	struct sim s;
	const uint64_t silence = 4000;

	(void)state;
	good_from = 0;
	dead_from = 60000;
	dead_until = 90000;
	sim_init(&s, way_good_from, NP_PATH_DIRECT);
	run(&s, 60000);
	assert_int_equal(s.ps.switches, 0);
	run(&s, 89000);
	assert_int_equal(s.to_relayed, 1);
	assert_true(s.first_relayed_at >= 60000 + silence - DATA_MS);
	assert_true(s.first_relayed_at <= 60000 + silence + 500);
	assert_int_equal(s.ps.hold, 10000);
	assert_int_equal(s.to_direct, 0);
	run(&s, 600000);
	assert_int_equal(s.to_direct, 1);
	/* the candidate may have been dropped meanwhile: found again by the
	 * next attempt at the latest; healthy 10 s before the switch */
	assert_true(s.first_direct_at >= 90000 + 10000);
	assert_true(s.first_direct_at <= 60000 + silence + 30000 + PUNCH_MS + 11000);
	assert_int_equal(s.ps.switches, 2);
}

/* Each fallback soon after a switch doubles the hold-down up to 5 min;
 * ten stable minutes on direct start it over. */
static void test_holddown_growth(void **state)
{
	struct np_pathsel ps;
	struct np_pathsel_out out;
	uint64_t now = 0, expect = 10000;

	(void)state;
	np_pathsel_init(&ps, NULL, NP_PATH_DIRECT, 0);
	for (int i = 0; i < 8; i++) {
		uint64_t need, t0;

		/* direct goes silent: fallback after 4 s */
		t0 = now;
		while (!(np_pathsel_poll(&ps, now, t0, 1, &out), out.act & NP_PS_TO_RELAYED))
			now += 100;
		assert_int_equal(ps.hold, expect);
		assert_int_equal(ps.path, NP_PATH_RELAYED);
		expect = expect * 2 > 300000 ? 300000 : expect * 2;
		/* answers for less than the hold-down: still relayed */
		need = ps.hold;
		for (uint64_t t = 0;; t += 100) {
			np_pathsel_poll(&ps, now, 0, 1, &out);
			if (out.act & NP_PS_PROBE)
				np_pathsel_ack(&ps, out.probe_id, now + RTT);
			if (out.act & NP_PS_TO_DIRECT)
				break;
			assert_true(t <= need + 1000);
			now += 100;
		}
		assert_true(now - ps.direct_since == 0);
		assert_int_equal(ps.path, NP_PATH_DIRECT);
	}
	assert_int_equal(ps.hold, 300000);
	assert_int_equal(ps.fallbacks, 8);
	/* Ten minutes of a healthy direct path: the next fallback holds 10 s. */
	for (uint64_t end = now + 600000; now < end; now += 1000)
		np_pathsel_poll(&ps, now, now, 1, &out);
	{
		uint64_t t0 = now;
		while (!(np_pathsel_poll(&ps, now, t0, 1, &out), out.act & NP_PS_TO_RELAYED))
			now += 100;
	}
	assert_int_equal(ps.hold, 10000);
}

/* Without a usable relay a silent direct path is never left (the tunnel's
 * own dead timer handles it), and a relayed tunnel without a candidate
 * never probes. */
static void test_no_relay_no_fallback(void **state)
{
	struct np_pathsel ps;
	struct np_pathsel_out out;

	(void)state;
	np_pathsel_init(&ps, NULL, NP_PATH_DIRECT, 0);
	for (uint64_t now = 0; now < 60000; now += 100) {
		np_pathsel_poll(&ps, now, 0, 0, &out);
		assert_false(out.act & NP_PS_TO_RELAYED);
	}
	np_pathsel_init(&ps, NULL, NP_PATH_RELAYED, 0);
	for (uint64_t now = 0; now < 29000; now += 100) {
		np_pathsel_poll(&ps, now, 0, 1, &out);
		assert_int_equal(out.act, 0);
	}
	/* a stale ack changes nothing */
	np_pathsel_ack(&ps, 1, 29000);
	assert_int_equal(ps.good, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_switch_when_direct_good),
		cmocka_unit_test(test_periodic_attempts_back_off),
		cmocka_unit_test(test_one_way_never_switches),
		cmocka_unit_test(test_intermittent_no_flapping),
		cmocka_unit_test(test_lossy_no_flapping),
		cmocka_unit_test(test_fallback_when_direct_stops),
		cmocka_unit_test(test_holddown_growth),
		cmocka_unit_test(test_no_relay_no_fallback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
