/* test_silence: the fast silence rule and the passive keepalive
 * (np_silence) on a fake clock. The rules one call at a time; then two
 * simulated peers over a scripted path: one-way traffic at one packet a
 * second raises no suspicion on a clean path and few under 5 % loss (two
 * losses in a row), a dead path is suspected within the data interval +
 * 2 s (measured from the first unanswered data), an idle tunnel is never suspected and sends no passive keepalive,
 * and two-way traffic needs no passive keepalive at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "np_silence.h"

#define S NP_SILENCE_SUSPECT_S
#define P NP_SILENCE_PASSIVE_S
#define T0 1000.0 /* ev_now() is never near 0 */

static void test_wait_starts_once(void **state)
{
	struct np_silence s;

	(void)state;
	np_silence_reset(&s);
	assert_true(np_silence_suspect_at(&s, T0, S) == 0);
	/* First data after the last packet heard: the wait starts. */
	assert_int_equal(np_silence_data_sent(&s, T0, T0 + 1), 1);
	assert_true(np_silence_suspect_at(&s, T0, S) == T0 + 1 + S);
	assert_true(np_silence_unanswered(&s, T0, T0 + 1.25) == 0.25);
	/* More data: the same wait (measured from the first). */
	assert_int_equal(np_silence_data_sent(&s, T0, T0 + 1.5), 0);
	assert_true(np_silence_suspect_at(&s, T0, S) == T0 + 1 + S);
	/* A packet heard ends it; the next send starts another. */
	assert_true(np_silence_suspect_at(&s, T0 + 1.6, S) == 0);
	assert_true(np_silence_unanswered(&s, T0 + 1.6, T0 + 1.7) == 0);
	assert_int_equal(np_silence_data_sent(&s, T0 + 1.6, T0 + 2), 1);
	assert_true(np_silence_suspect_at(&s, T0 + 1.6, S) == T0 + 2 + S);
	/* Reported once: nothing more until a new wait. */
	np_silence_suspected(&s);
	assert_true(np_silence_suspect_at(&s, T0 + 1.6, S) == 0);
	assert_int_equal(np_silence_data_sent(&s, T0 + 1.6, T0 + 5), 0);
	assert_true(np_silence_suspect_at(&s, T0 + 1.6, S) == 0);
	assert_int_equal(np_silence_data_sent(&s, T0 + 6, T0 + 7), 1);
	assert_true(np_silence_suspect_at(&s, T0 + 6, S) == T0 + 7 + S);
}

static void test_same_moment_is_an_answer(void **state)
{
	struct np_silence s;

	(void)state;
	np_silence_reset(&s);
	/* Sent at the moment a packet was heard: answered, no wait. */
	assert_int_equal(np_silence_data_sent(&s, T0, T0), 0);
	assert_true(np_silence_suspect_at(&s, T0, S) == 0);
	assert_int_equal(np_silence_data_heard(&s, T0, T0), 0);
	assert_true(np_silence_passive_at(&s, T0, P) == 0);
}

static void test_passive(void **state)
{
	struct np_silence s;

	(void)state;
	np_silence_reset(&s);
	assert_int_equal(np_silence_data_heard(&s, T0, T0 + 1), 1);
	assert_int_equal(np_silence_data_heard(&s, T0, T0 + 1.2), 0);
	assert_true(np_silence_passive_at(&s, T0, P) == T0 + 1 + P);
	/* Anything we send answers it. */
	assert_true(np_silence_passive_at(&s, T0 + 1.3, P) == 0);
	assert_int_equal(np_silence_data_heard(&s, T0 + 1.3, T0 + 2), 1);
	assert_true(np_silence_passive_at(&s, T0 + 1.3, P) == T0 + 2 + P);
}

static void test_stopped(void **state)
{
	struct np_silence s;
	const double q = NP_SILENCE_STOPPED_S, win = 5.0; /* --keepalive */

	(void)state;
	np_silence_reset(&s);
	/* No data ever: an idle tunnel never "stopped". */
	assert_false(np_silence_stopped(&s, T0, T0 + 10, q, win));
	np_silence_data_heard(&s, T0, T0 + 1);
	/* Data until the last packet, then quiet: stopped once quiet_s passed. */
	assert_false(np_silence_stopped(&s, T0 + 1, T0 + 1 + q - 0.01, q, win));
	assert_true(np_silence_stopped(&s, T0 + 1, T0 + 1 + q, q, win));
	/* Only keepalives for a while before the silence: idle, not stopped. */
	assert_false(np_silence_stopped(&s, T0 + 1 + win + 0.5, T0 + 10, q, win));
}

static void test_next(void **state)
{
	struct np_silence s;

	(void)state;
	np_silence_reset(&s);
	assert_true(np_silence_next(&s, T0, T0, S, P, T0) == 0);
	np_silence_data_sent(&s, T0, T0 + 1);
	np_silence_data_heard(&s, T0 - 1, T0 + 1.2); /* last_tx before: due */
	assert_true(np_silence_next(&s, T0, T0 - 1, S, P, T0 + 1.2) == T0 + 1.2 + P);
	/* A late timer: what is due is due now, never in the past. */
	assert_true(np_silence_next(&s, T0, T0 - 1, S, P, T0 + 9) == T0 + 9);
	/* Passive answered (we sent at 1.8): the suspicion is next. */
	assert_true(np_silence_next(&s, T0, T0 + 1.8, S, P, T0 + 1.8) == T0 + 1 + S);
}

/* ---- two peers over a scripted path ---------------------------------------- */

#define STEP 0.005
#define DELAY 0.1 /* one way */
#define MAXQ 256

struct pkt {
	double at;
	int to;
	int data;
};

struct peer {
	struct np_silence s;
	double last_rx, last_tx, next_data, data_every;
	unsigned suspicions, passives, sent;
	double first_suspect_at;
};

struct world {
	struct peer p[2];
	struct pkt q[MAXQ];
	int nq;
	uint32_t rng;
	unsigned loss_pct;
	double dead_from; /* the path drops everything from then on (0: never) */
};

static uint32_t rnd(struct world *w)
{
	w->rng = w->rng * 1103515245u + 12345u;
	return (w->rng >> 16) & 0x7fff;
}

static void send_pkt(struct world *w, int from, double now, int data)
{
	struct peer *me = &w->p[from];

	me->last_tx = now;
	me->sent++;
	if (data)
		np_silence_data_sent(&me->s, me->last_rx, now);
	if (w->dead_from && now >= w->dead_from)
		return;
	if (rnd(w) % 100 < w->loss_pct)
		return;
	assert_true(w->nq < MAXQ);
	w->q[w->nq++] = (struct pkt){ .at = now + DELAY, .to = !from, .data = data };
}

static void run(struct world *w, double until)
{
	for (double now = T0; now < until; now += STEP) {
		for (int i = 0; i < w->nq;) {
			if (w->q[i].at <= now) {
				struct peer *to = &w->p[w->q[i].to];
				to->last_rx = now;
				if (w->q[i].data)
					np_silence_data_heard(&to->s, to->last_tx, now);
				w->q[i] = w->q[--w->nq];
			} else {
				i++;
			}
		}
		for (int k = 0; k < 2; k++) {
			struct peer *me = &w->p[k];
			double at;

			if (me->data_every > 0 && now >= me->next_data) {
				send_pkt(w, k, now, 1);
				me->next_data += me->data_every;
			}
			at = np_silence_passive_at(&me->s, me->last_tx, P);
			if (at && now >= at) {
				me->passives++;
				send_pkt(w, k, now, 0);
			}
			at = np_silence_suspect_at(&me->s, me->last_rx, S);
			if (at && now >= at) {
				if (!me->suspicions)
					me->first_suspect_at = now;
				me->suspicions++;
				np_silence_suspected(&me->s);
			}
		}
	}
}

static void world_init(struct world *w, double a_every, double b_every, unsigned loss)
{
	memset(w, 0, sizeof(*w));
	w->rng = 42;
	w->loss_pct = loss;
	for (int k = 0; k < 2; k++) {
		np_silence_reset(&w->p[k].s);
		w->p[k].last_rx = w->p[k].last_tx = T0;
		w->p[k].next_data = T0 + 0.3 + 0.1 * k;
	}
	w->p[0].data_every = a_every;
	w->p[1].data_every = b_every;
}

static void test_one_way_clean(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, 1.0, 0, 0);
	run(&w, T0 + 600);
	assert_int_equal(w.p[0].suspicions, 0);
	/* The receiver answers each second's data, and only then. */
	assert_true(w.p[1].passives >= 590 && w.p[1].passives <= 600);
	assert_int_equal(w.p[1].suspicions, 0);
}

static void test_one_way_lossy(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, 1.0, 0, 5);
	run(&w, T0 + 600);
	/* Two losses in a row (about 0.25 % of 600 waits): a few at most. */
	assert_true(w.p[0].suspicions <= 6);
}

static void test_dead_path(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, 1.0, 0, 0);
	w.dead_from = T0 + 100;
	run(&w, T0 + 110);
	assert_int_equal(w.p[0].suspicions, 1);
	/* The first data sent after the last packet heard + S: that data
	 * went out at most one data interval before the path died (its
	 * answer was lost), and at most one after. */
	assert_true(w.p[0].first_suspect_at >= T0 + 100 - 1.0 + S);
	assert_true(w.p[0].first_suspect_at <= T0 + 100 + 1.0 + S + 2 * STEP);
	/* The receiver sends nothing: it never suspects. */
	assert_int_equal(w.p[1].suspicions, 0);
}

static void test_idle(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, 0, 0, 0);
	w.dead_from = T0 + 10;
	run(&w, T0 + 120);
	assert_int_equal(w.p[0].suspicions + w.p[1].suspicions, 0);
	assert_int_equal(w.p[0].passives + w.p[1].passives, 0);
}

static void test_two_way(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, 0.1, 0.1, 0);
	run(&w, T0 + 120);
	assert_int_equal(w.p[0].suspicions + w.p[1].suspicions, 0);
	assert_int_equal(w.p[0].passives + w.p[1].passives, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_starts_once),
		cmocka_unit_test(test_same_moment_is_an_answer),
		cmocka_unit_test(test_passive),
		cmocka_unit_test(test_stopped),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_one_way_clean),
		cmocka_unit_test(test_one_way_lossy),
		cmocka_unit_test(test_dead_path),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_two_way),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
