/* test_punch: the real punch (core/tunnel/np_punch.c) on a fake host.
 *
 * Each test builds one or two struct np_punch with a fake upcall table: a
 * virtual clock, timers the test fires by hand, fake sockets that record
 * every datagram, and counters for path_found, failed, no_path and
 * auth_warn. The strategy is tests/unit/strategies/scripted.c, which does
 * one scripted thing per attempt number. So the rules of the daemon's own
 * host are what is checked: the probe budget, the opener rule, probe MACs
 * and acknowledgements, the state machine and its reap timer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "np_log.h"
#include "np_punch.h"
#include "np_wire.h"

#define MAX_SENT 5000

enum {
	S_FLOOD = 1,
	S_OPENER = 2,
	S_ANSWER = 3,
	S_SUCCEED = 4,
	S_SILENT = 5,
	S_START_ERR = 6,
	S_SOCKETS = 7,
	S_TIMER_FAIL = 8,
	S_FAIL_START = 9,
	S_ONE_ADDR = 10,
	S_OTHER = 11,
};

struct sent {
	int sock, ttl;
	np_addr_t to;
	size_t len;
	uint8_t buf[NP_PROBE_WIRE_LEN];
};

struct fake {
	uint64_t now;
	int timer_on[NP_PUNCH_TIMERS];
	uint64_t timer_at[NP_PUNCH_TIMERS];
	uint8_t sock_open[NP_HOST_MAX_SOCKETS + 1];
	struct sent *sent;
	unsigned nsent;
	unsigned path_found, failed, no_path, auth_warn, opened;
	int path_sock;
	np_addr_t path_peer;
	char reason[256];
	uint8_t rng;
	uint8_t key[32];             /* the probe key of its attempts */
	struct np_punch pu;
};

/* ---- the fake host ---------------------------------------------------------- */

static void up_path_found(void *ctx, int sock_id, const np_addr_t *peer)
{
	struct fake *f = ctx;

	f->path_found++;
	f->path_sock = sock_id;
	f->path_peer = *peer;
}

static void up_failed(void *ctx, const char *reason)
{
	struct fake *f = ctx;

	f->failed++;
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
}

static void up_no_path(void *ctx, const char *why)
{
	struct fake *f = ctx;

	f->no_path++;
	snprintf(f->reason, sizeof(f->reason), "%s", why);
}

static int up_send(void *ctx, int sock_id, const np_addr_t *to, const void *buf, size_t len, int ttl)
{
	struct fake *f = ctx;
	struct sent *s;

	if (sock_id < 0 || sock_id > NP_HOST_MAX_SOCKETS || !f->sock_open[sock_id])
		return -EBADF;
	assert_true(len <= sizeof(s->buf));
	assert_true(f->nsent < MAX_SENT);
	s = &f->sent[f->nsent++];
	s->sock = sock_id;
	s->ttl = ttl;
	s->to = *to;
	s->len = len;
	memcpy(s->buf, buf, len);
	return 0;
}

static int up_open_socket(void *ctx)
{
	struct fake *f = ctx;

	for (int i = 1; i <= NP_HOST_MAX_SOCKETS; i++)
		if (!f->sock_open[i]) {
			f->sock_open[i] = 1;
			f->opened++;
			return i;
		}
	return -EMFILE;
}

static void up_close_socket(void *ctx, int sock_id)
{
	struct fake *f = ctx;

	f->sock_open[sock_id] = 0;
}

static void up_timer_start(void *ctx, int id, uint32_t after_ms)
{
	struct fake *f = ctx;

	assert_true(id >= 0 && id < NP_PUNCH_TIMERS);
	f->timer_on[id] = 1;
	f->timer_at[id] = f->now + after_ms;
}

static void up_timer_stop(void *ctx, int id)
{
	struct fake *f = ctx;

	assert_true(id >= 0 && id < NP_PUNCH_TIMERS);
	f->timer_on[id] = 0;
}

static uint64_t up_now_ms(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static void up_random(void *ctx, void *buf, size_t len)
{
	struct fake *f = ctx;

	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = f->rng++;
}

static void up_auth_warn(void *ctx, const char *what, const np_addr_t *from)
{
	((struct fake *)ctx)->auth_warn++;
}

static const struct np_punch_upcalls fake_upcalls = {
	.path_found = up_path_found,
	.failed = up_failed,
	.no_path = up_no_path,
	.send = up_send,
	.open_socket = up_open_socket,
	.close_socket = up_close_socket,
	.timer_start = up_timer_start,
	.timer_stop = up_timer_stop,
	.now_ms = up_now_ms,
	.random = up_random,
	.auth_warn = up_auth_warn,
};

static const uint8_t key_ab[32] = { 1, 2, 3, 4, 5 };

static void addr4(np_addr_t *a, uint8_t last, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	a->ip[0] = 203;
	a->ip[1] = 0;
	a->ip[2] = 113;
	a->ip[3] = last;
	a->port = port;
}

static struct fake *fake_new(const char *strategy, const uint8_t *key)
{
	struct np_punch_cfg cfg = {
		.strategy = strategy,
		.strategy_path = NP_TEST_STRATEGY_DIR,
		.secure = 1,
	};
	struct fake *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	f->sent = calloc(MAX_SENT, sizeof(*f->sent));
	assert_non_null(f->sent);
	f->sock_open[0] = 1;
	f->now = 1000;
	f->path_sock = -1;
	memcpy(f->key, key ? key : key_ab, sizeof(f->key));
	if (np_punch_init(&f->pu, &cfg, &fake_upcalls, f, err, sizeof(err)) < 0)
		fail_msg("np_punch_init: %s", err);
	return f;
}

static void fake_free(struct fake *f)
{
	np_punch_fini(&f->pu);
	for (int i = 0; i < NP_PUNCH_TIMERS; i++)
		assert_false(f->timer_on[i]); /* fini stops every timer */
	free(f->sent);
	free(f);
}

/* Self is 203.0.113.1:4000 (high) or .2:5000 (low); the peer the other. */
static void attempt_for(const struct fake *f, struct np_punch_attempt *a, unsigned attempt, int high, int depth)
{
	memset(a, 0, sizeof(*a));
	memcpy(a->probe_key, f->key, sizeof(a->probe_key));
	a->attempt = attempt;
	a->round = 7;
	a->high = high;
	a->nat_depth = depth;
	a->family = 4;
	addr4(&a->self_public, high ? 1 : 2, high ? 4000 : 5000);
	addr4(&a->peer_public, high ? 2 : 1, high ? 5000 : 4000);
	a->self_local = a->self_public;
	a->peer_local = a->peer_public;
	a->start_in_ms = 100;
}

static int start(struct fake *f, unsigned attempt, int high, int depth)
{
	struct np_punch_attempt a;

	attempt_for(f, &a, attempt, high, depth);
	return np_punch_start(&f->pu, &a);
}

/* Advances the clock to `until`, firing due timers in time order. */
static void run_until(struct fake *f, uint64_t until)
{
	for (;;) {
		int id = -1;

		for (int i = 0; i < NP_PUNCH_TIMERS; i++)
			if (f->timer_on[i] && f->timer_at[i] <= until && (id < 0 || f->timer_at[i] < f->timer_at[id]))
				id = i;
		if (id < 0)
			break;
		if (f->timer_at[id] > f->now)
			f->now = f->timer_at[id];
		f->timer_on[id] = 0;
		np_punch_on_timer(&f->pu, id);
	}
	if (until > f->now)
		f->now = until;
}

static int msg_type(const struct sent *s)
{
	struct np_msg_probe m;

	assert_int_equal(np_wire_parse_probe(s->buf, s->len, &m), 0);
	return m.type;
}

/* The peer (a second fake, the low side) acks f's last probe on socket sock,
 * and f gets that ack on the same socket. */
static void deliver_ack(struct fake *f, int sock)
{
	struct fake *b = fake_new("scripted", NULL);
	np_addr_t from_a, from_b;
	int i;

	addr4(&from_a, 1, 4000);
	addr4(&from_b, 2, 5000);
	for (i = (int)f->nsent - 1; i >= 0 && (f->sent[i].sock != sock || msg_type(&f->sent[i]) != NP_MSG_PROBE); i--)
		;
	assert_true(i >= 0);
	assert_int_equal(start(b, S_SILENT, 0, 1), 0);
	b->nsent = 0;
	np_punch_handle_probe(&b->pu, 0, f->sent[i].buf, f->sent[i].len, &from_a);
	assert_int_equal(b->nsent, 1);
	np_punch_handle_probe(&f->pu, sock, b->sent[0].buf, b->sent[0].len, &from_b);
	fake_free(b);
}

/* ---- tests -------------------------------------------------------------------- */

/* A strategy that probes without end gets exactly the budget, then -EDQUOT. */
static void test_budget(void **state)
{
	struct fake *f = fake_new("scripted", NULL);
	char want[64];

	assert_int_equal(start(f, S_FLOOD, 1, 1), 0);
	assert_int_equal(f->nsent, NP_PUNCH_PROBE_BUDGET);
	assert_int_equal(f->pu.probes_this_attempt, NP_PUNCH_PROBE_BUDGET);
	assert_int_equal(f->pu.stats.probes_sent, NP_PUNCH_PROBE_BUDGET);
	/* fail() inside start(): reported by the reap timer, not before. */
	assert_int_equal(f->pu.st, NP_PUNCH_FAILING);
	assert_false(np_punch_running(&f->pu));
	assert_int_equal(f->failed, 0);
	assert_true(f->timer_on[NP_PUNCH_TIMER_REAP]);
	assert_false(f->timer_on[NP_PUNCH_TIMER_ATTEMPT]);
	run_until(f, f->now);
	assert_int_equal(f->failed, 1);
	snprintf(want, sizeof(want), "sent=%u rc=%d", NP_PUNCH_PROBE_BUDGET, -EDQUOT);
	assert_string_equal(f->reason, want);
	assert_string_equal(f->pu.fail_reason, want);
	assert_int_equal(f->pu.st, NP_PUNCH_DONE);
	assert_null(f->pu.strat);
	/* A new attempt has a new budget. */
	f->nsent = 0;
	assert_int_equal(start(f, S_FLOOD, 1, 1), 0);
	assert_int_equal(f->nsent, NP_PUNCH_PROBE_BUDGET);
	fake_free(f);
}

/* Openers go out with TTL depth + 1; a public host (depth 0) sends none. */
static void test_openers(void **state)
{
	struct fake *f = fake_new("scripted", NULL);

	assert_int_equal(start(f, S_OPENER, 1, 2), 0);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(f->sent[0].ttl, 3);
	assert_int_equal(f->sent[1].ttl, 0);
	assert_int_equal(msg_type(&f->sent[0]), NP_MSG_PROBE);
	assert_int_equal(f->pu.probes_this_attempt, 2);
	run_until(f, f->now);
	assert_string_equal(f->reason, "opener=0 probe=0");

	f->nsent = 0;
	assert_int_equal(start(f, S_OPENER, 1, 0), 0);
	assert_int_equal(f->nsent, 1); /* only the probe */
	assert_int_equal(f->sent[0].ttl, 0);
	assert_int_equal(f->pu.probes_this_attempt, 1);
	run_until(f, f->now);
	assert_string_equal(f->reason, "opener=0 probe=0");
	fake_free(f);
}

/* Behind the peer's own public address (one CGNAT, each peer behind its own
 * home NAT), an opener stops at the shared NAT: TTL depth, not depth + 1,
 * which a hairpinning CGNAT would hand to the peer's home NAT (the conntrack
 * clash). A silent attempt then says the NAT does not hairpin. */
static void test_openers_same_public(void **state)
{
	struct fake *f = fake_new("scripted", NULL);
	struct np_punch_attempt a;

	attempt_for(f, &a, S_OPENER, 1, 2);
	a.peer_public = a.self_public;
	a.peer_public.port = 5000;
	assert_true(np_punch_same_public(&a));
	assert_int_equal(np_punch_opener_ttl(&a), 2);
	assert_int_equal(np_punch_start(&f->pu, &a), 0);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(f->sent[0].ttl, 2);
	assert_int_equal(f->sent[1].ttl, 0);
	run_until(f, f->now);

	attempt_for(f, &a, 2, 1, 1);
	a.peer_public = a.self_public;
	assert_int_equal(np_punch_opener_ttl(&a), 1);
	a.nat_depth = 0;
	assert_int_equal(np_punch_opener_ttl(&a), 0); /* no NAT: no openers */
	attempt_for(f, &a, 2, 1, 2);
	assert_false(np_punch_same_public(&a));
	assert_int_equal(np_punch_opener_ttl(&a), 3);

	attempt_for(f, &a, S_SILENT, 1, 2);
	a.peer_public = a.self_public;
	memcpy(a.peer_local.ip, (const uint8_t[4]){ 192, 168, 2, 2 }, 4); /* a LAN of its own */
	f->failed = 0;
	assert_int_equal(np_punch_start(&f->pu, &a), 0);
	run_until(f, f->now + 3000);
	assert_int_equal(f->failed, 1);
	assert_non_null(strstr(f->reason, "no hairpin through NAT 203.0.113.1 (in front of both) answered"));
	assert_int_equal(strncmp(f->reason, "no authenticated answer after ", 30), 0);
	fake_free(f);
}

/* Probes are acked with their nonce; only an ack of one of our own probes,
 * on the socket it went out on, from the address it went to, in this round,
 * with a good MAC reaches the strategy. */
static void test_ack_rules(void **state)
{
	struct fake *a = fake_new("scripted", NULL), *b = fake_new("scripted", NULL);
	struct fake *evil = fake_new("scripted", (const uint8_t[32]){ 9 });
	np_addr_t from_a, from_b, other;
	struct sent probe, ack, bad;

	addr4(&from_a, 1, 4000);
	addr4(&from_b, 2, 5000);
	addr4(&other, 3, 5000);
	assert_int_equal(start(a, S_ANSWER, 1, 1), 0);
	assert_int_equal(start(b, S_ANSWER, 0, 1), 0);
	assert_int_equal(a->nsent, 1);
	probe = a->sent[0];
	assert_true(np_addr_equal(&probe.to, &from_b));

	/* Our own probe reflected back: dropped, counted, no ack. */
	np_punch_handle_probe(&a->pu, 0, probe.buf, probe.len, &from_b);
	assert_int_equal(a->pu.stats.bad, 1);
	assert_int_equal(a->nsent, 1);

	/* B acks A's probe, from the socket it arrived on, to its sender. */
	b->nsent = 0;
	np_punch_handle_probe(&b->pu, 0, probe.buf, probe.len, &from_a);
	assert_int_equal(b->pu.stats.probes_rx, 1);
	assert_int_equal(b->nsent, 1);
	ack = b->sent[0];
	assert_int_equal(msg_type(&ack), NP_MSG_PROBE_ACK);
	assert_true(np_addr_equal(&ack.to, &from_a));
	assert_int_equal(ack.sock, 0);
	assert_int_equal(ack.ttl, 0);
	assert_int_equal(b->path_found, 0); /* a probe is no proof */

	/* A bad MAC: dropped, counted, one warning. */
	bad = ack;
	bad.buf[bad.len - 1] ^= 1;
	np_punch_handle_probe(&a->pu, 0, bad.buf, bad.len, &from_b);
	assert_int_equal(a->pu.stats.bad_mac, 1);
	assert_int_equal(a->auth_warn, 1);
	/* A probe MACed with another key: the same. */
	assert_int_equal(start(evil, S_ANSWER, 0, 1), 0);
	np_punch_handle_probe(&a->pu, 0, evil->sent[0].buf, evil->sent[0].len, &from_b);
	assert_int_equal(a->pu.stats.bad_mac, 2);
	/* Truncated: malformed. */
	np_punch_handle_probe(&a->pu, 0, ack.buf, ack.len - 1, &from_b);
	assert_int_equal(a->pu.stats.bad, 2);
	/* The ack on another socket, or from another address: its nonce
	 * answers no probe of ours. */
	a->sock_open[1] = 1;
	np_punch_handle_probe(&a->pu, 1, ack.buf, ack.len, &from_b);
	np_punch_handle_probe(&a->pu, 0, ack.buf, ack.len, &other);
	assert_int_equal(a->path_found, 0);
	assert_true(np_punch_running(&a->pu));

	/* The real ack: A's strategy succeeds on it. */
	np_punch_handle_probe(&a->pu, 0, ack.buf, ack.len, &from_b);
	assert_int_equal(a->path_found, 1);
	assert_int_equal(a->path_sock, 0);
	assert_true(np_addr_equal(&a->path_peer, &from_b));
	assert_int_equal(a->pu.st, NP_PUNCH_ENDING);
	/* The same ack again: the strategy is no longer told. */
	np_punch_handle_probe(&a->pu, 0, ack.buf, ack.len, &from_b);
	assert_int_equal(a->path_found, 1);

	/* A found the path; B is still punching: A still acks B's probes. */
	run_until(a, a->now);
	assert_int_equal(a->pu.st, NP_PUNCH_DONE);
	a->nsent = 0;
	np_punch_handle_probe(&a->pu, 0, b->sent[0].buf, 0, &from_b); /* empty: malformed */
	assert_int_equal(a->nsent, 0);
	b->nsent = 0;
	run_until(b, b->now);
	assert_int_equal(start(b, S_ANSWER, 0, 1), 0); /* a fresh probe from B */
	np_punch_handle_probe(&a->pu, 0, b->sent[0].buf, b->sent[0].len, &from_b);
	assert_int_equal(a->nsent, 1);
	assert_int_equal(msg_type(&a->sent[0]), NP_MSG_PROBE_ACK);
	np_punch_handle_probe(&b->pu, 0, a->sent[0].buf, a->sent[0].len, &from_a);
	assert_int_equal(b->path_found, 1);

	/* An ack from an earlier round answers nothing. */
	{
		struct np_punch_attempt at;

		attempt_for(b, &at, S_ANSWER, 0, 1);
		at.round = 8;
		b->nsent = 0;
		run_until(b, b->now);
		assert_int_equal(np_punch_start(&b->pu, &at), 0);
		assert_int_equal(a->nsent, 1);
		np_punch_handle_probe(&b->pu, 0, a->sent[0].buf, a->sent[0].len, &from_a);
		assert_true(np_punch_running(&b->pu));
	}

	/* After a reset (the tunnel registers again) probes are dropped unacked. */
	np_punch_reset(&a->pu);
	assert_int_equal(a->pu.st, NP_PUNCH_IDLE);
	a->nsent = 0;
	np_punch_handle_probe(&a->pu, 0, b->sent[0].buf, b->sent[0].len, &from_b);
	assert_int_equal(a->nsent, 0);
	fake_free(a);
	fake_free(b);
	fake_free(evil);
}

/* An address that never answered gets NP_PG_UNANSWERED_MAX probes per
 * attempt if it is the peer's (public IP or LAN endpoint), none if it is
 * not, whatever the strategy asks; an ack lifts the bound. */
static void test_unanswered_bound(void **state)
{
	struct fake *f = fake_new("scripted", NULL);
	char want[64];

	assert_int_equal(start(f, S_ONE_ADDR, 1, 1), 0);
	run_until(f, f->now);
	snprintf(want, sizeof(want), "sent=%u rc=%d", NP_PG_UNANSWERED_MAX, -EDQUOT);
	assert_string_equal(f->reason, want);
	assert_int_equal(f->pu.stats.refused_probes, 1);
	assert_int_equal(start(f, S_OTHER, 1, 1), 0);
	run_until(f, f->now);
	snprintf(want, sizeof(want), "sent=0 rc=%d", -EDQUOT);
	assert_string_equal(f->reason, want);
	fake_free(f);
}

/* A replayed PROBE or ack of an earlier round (another pairing) is dropped
 * and counted before anything else: no ack, no answer to the strategy. */
static void test_old_round_replay(void **state)
{
	struct fake *a = fake_new("scripted", NULL), *b = fake_new("scripted", NULL);
	np_addr_t from_a, attacker;
	struct np_punch_attempt at;
	struct sent old;

	addr4(&from_a, 1, 4000);
	addr4(&attacker, 9, 6666);
	/* A probe of round 7 captured. */
	assert_int_equal(start(a, S_ANSWER, 1, 1), 0);
	old = a->sent[0];
	/* B is now in round 8 (a new pairing; the key would differ too, but
	 * even under the same key the round alone refuses it). */
	attempt_for(b, &at, S_SILENT, 0, 1);
	at.round = 8;
	assert_int_equal(np_punch_start(&b->pu, &at), 0);
	b->nsent = 0;
	np_punch_handle_probe(&b->pu, 0, old.buf, old.len, &attacker);
	np_punch_handle_probe(&b->pu, 0, old.buf, old.len, &from_a);
	assert_int_equal(b->nsent, 0);
	assert_int_equal(b->pu.stats.other_pairing, 2);
	assert_int_equal(b->pu.stats.probes_rx, 0);
	assert_int_equal(b->pu.stats.bad_mac, 0);
	assert_int_equal(b->auth_warn, 0);
	fake_free(a);
	fake_free(b);
}

/* succeed() inside a callback: path_found at once, the strategy destroyed
 * only by the reap timer, and no failure. */
static void test_succeed_then_reap(void **state)
{
	struct fake *f = fake_new("scripted", NULL);
	np_addr_t peer;

	addr4(&peer, 2, 5000);
	/* Without an ack the core refuses succeed(). */
	assert_int_equal(start(f, S_SUCCEED, 1, 1), 0);
	assert_int_equal(f->path_found, 0);
	assert_int_equal(f->pu.stats.refused_succeed, 1);
	assert_true(np_punch_running(&f->pu));
	/* With one, from the ack's callback. */
	assert_int_equal(start(f, S_ANSWER, 1, 1), 0);
	deliver_ack(f, 0);
	assert_int_equal(f->path_found, 1);
	assert_int_equal(f->path_sock, 0);
	assert_true(np_addr_equal(&f->path_peer, &peer));
	assert_int_equal(f->pu.st, NP_PUNCH_ENDING);
	assert_non_null(f->pu.strat);
	assert_true(f->timer_on[NP_PUNCH_TIMER_REAP]);
	assert_int_equal(f->timer_at[NP_PUNCH_TIMER_REAP], f->now);
	assert_false(f->timer_on[NP_PUNCH_TIMER_ATTEMPT]);
	assert_string_equal(np_punch_strategy_name(&f->pu), "scripted");
	run_until(f, f->now + 60000);
	assert_int_equal(f->pu.st, NP_PUNCH_DONE);
	assert_null(f->pu.strat);
	assert_int_equal(f->failed, 0);
	assert_int_equal(f->path_found, 1);
	fake_free(f);
}

/* After path_found, the handshake responder's confirming probes
 * (np_punch_confirm_start): one every NP_PUNCH_CONFIRM_MS on the found path,
 * normal probes (full TTL) of the pairing, NP_PUNCH_CONFIRM_PROBES at most;
 * np_punch_confirmed() stops them, and so does a new attempt or a reset.
 * Not while a strategy runs or without a pairing. Each one is acked by the
 * peer like any probe, so its strategy can succeed on that ack. */
static void test_confirm_probes(void **state)
{
	struct fake *f = fake_new("scripted", NULL), *b = fake_new("scripted", NULL);
	np_addr_t peer, from_a;
	uint64_t t0;

	addr4(&peer, 2, 5000);
	addr4(&from_a, 1, 4000);
	assert_int_equal(start(f, S_ANSWER, 1, 1), 0);
	deliver_ack(f, 0);
	assert_int_equal(f->path_found, 1);
	np_punch_confirm_start(&f->pu, f->path_sock, &f->path_peer);
	assert_true(f->timer_on[NP_PUNCH_TIMER_CONFIRM]);
	assert_int_equal(f->timer_at[NP_PUNCH_TIMER_CONFIRM], f->now + NP_PUNCH_CONFIRM_MS);
	t0 = f->now;
	f->nsent = 0;
	run_until(f, t0 + 3 * NP_PUNCH_CONFIRM_MS);
	assert_int_equal(f->pu.st, NP_PUNCH_DONE);
	assert_int_equal(f->nsent, 3);
	assert_int_equal(f->pu.stats.confirm_probes, 3);
	for (unsigned i = 0; i < f->nsent; i++) {
		assert_int_equal(msg_type(&f->sent[i]), NP_MSG_PROBE);
		assert_int_equal(f->sent[i].sock, 0);
		assert_int_equal(f->sent[i].ttl, 0);
		assert_true(np_addr_equal(&f->sent[i].to, &peer));
	}
	/* The peer, still punching, acks one like any probe. */
	assert_int_equal(start(b, S_SILENT, 0, 1), 0);
	b->nsent = 0;
	assert_int_equal(np_punch_handle_probe(&b->pu, 0, f->sent[2].buf, f->sent[2].len, &from_a),
			 NP_PUNCH_RX_PROBE);
	assert_int_equal(b->nsent, 1);
	assert_int_equal(msg_type(&b->sent[0]), NP_MSG_PROBE_ACK);
	assert_int_equal(np_punch_handle_probe(&f->pu, 0, b->sent[0].buf, b->sent[0].len, &peer), NP_PUNCH_RX_ACK);

	/* The initiator's handshake arrived: no more. */
	np_punch_confirmed(&f->pu);
	assert_false(f->timer_on[NP_PUNCH_TIMER_CONFIRM]);
	run_until(f, f->now + 60000);
	assert_int_equal(f->nsent, 3);

	/* Unanswered, they stop at NP_PUNCH_CONFIRM_PROBES. */
	f->nsent = 0;
	np_punch_confirm_start(&f->pu, 0, &peer);
	run_until(f, f->now + 60000);
	assert_int_equal(f->nsent, NP_PUNCH_CONFIRM_PROBES);
	assert_false(f->timer_on[NP_PUNCH_TIMER_CONFIRM]);

	/* A new attempt, or a reset, stops them; while a strategy runs, or
	 * without a pairing, they do not start. */
	np_punch_confirm_start(&f->pu, 0, &peer);
	assert_true(f->timer_on[NP_PUNCH_TIMER_CONFIRM]);
	assert_int_equal(start(f, S_SILENT, 1, 1), 0);
	assert_false(f->timer_on[NP_PUNCH_TIMER_CONFIRM]);
	np_punch_confirm_start(&f->pu, 0, &peer);
	assert_false(f->timer_on[NP_PUNCH_TIMER_CONFIRM]);
	np_punch_stop(&f->pu);
	np_punch_confirm_start(&f->pu, 0, &peer);
	assert_true(f->timer_on[NP_PUNCH_TIMER_CONFIRM]);
	np_punch_reset(&f->pu);
	assert_false(f->timer_on[NP_PUNCH_TIMER_CONFIRM]);
	np_punch_confirm_start(&f->pu, 0, &peer);
	assert_false(f->timer_on[NP_PUNCH_TIMER_CONFIRM]);
	fake_free(f);
	fake_free(b);
}

/* np_punch_follow: the handshake initiator, after DONE, told of a probe or
 * ack from another address of the peer. Its own path, nothing, or a
 * verdict NONE: 0. An address never proven: one probe back, 0. Once that
 * probe's ack came (RX_ACK): 1. Not while a strategy runs or unpaired. */
static void test_follow(void **state)
{
	struct fake *f = fake_new("scripted", NULL), *b = fake_new("scripted", NULL);
	np_addr_t cur, other, from_a;
	unsigned n;

	addr4(&cur, 2, 5000);
	addr4(&other, 2, 5001);
	addr4(&from_a, 1, 4000);
	assert_int_equal(start(f, S_ANSWER, 1, 1), 0);
	assert_int_equal(np_punch_follow(&f->pu, 0, &cur, NP_PUNCH_RX_PROBE, &other), 0); /* RUNNING */
	deliver_ack(f, 0);
	run_until(f, f->now);
	assert_int_equal(f->pu.st, NP_PUNCH_DONE);
	n = f->nsent;
	assert_int_equal(np_punch_follow(&f->pu, 0, &cur, NP_PUNCH_RX_PROBE, &cur), 0);
	assert_int_equal(np_punch_follow(&f->pu, 0, &cur, NP_PUNCH_RX_NONE, &other), 0);
	assert_int_equal(f->nsent, n);
	/* Unproven: one probe back, no move. */
	assert_int_equal(np_punch_follow(&f->pu, 0, &cur, NP_PUNCH_RX_PROBE, &other), 0);
	assert_int_equal(f->nsent, n + 1);
	assert_int_equal(msg_type(&f->sent[n]), NP_MSG_PROBE);
	assert_true(np_addr_equal(&f->sent[n].to, &other));
	assert_int_equal(f->sent[n].ttl, 0);
	/* The peer acks it from there: proven, the handshake moves. */
	assert_int_equal(start(b, S_SILENT, 0, 1), 0);
	b->nsent = 0;
	np_punch_handle_probe(&b->pu, 0, f->sent[n].buf, f->sent[n].len, &from_a);
	assert_int_equal(b->nsent, 1);
	assert_int_equal(np_punch_handle_probe(&f->pu, 0, b->sent[0].buf, b->sent[0].len, &other), NP_PUNCH_RX_ACK);
	assert_int_equal(np_punch_follow(&f->pu, 0, &cur, NP_PUNCH_RX_ACK, &other), 1);
	assert_int_equal(np_punch_follow(&f->pu, 0, &cur, NP_PUNCH_RX_PROBE, &other), 1);
	/* ...on that socket only. */
	f->sock_open[1] = 1;
	assert_int_equal(np_punch_follow(&f->pu, 1, &cur, NP_PUNCH_RX_PROBE, &other), 0);
	np_punch_reset(&f->pu);
	assert_int_equal(np_punch_follow(&f->pu, 0, &cur, NP_PUNCH_RX_PROBE, &other), 0);
	fake_free(f);
	fake_free(b);
}

/* A new attempt before the reap timer fired: the old reap must not touch
 * the new strategy. */
static void test_restart_before_reap(void **state)
{
	struct fake *f = fake_new("scripted", NULL);

	assert_int_equal(start(f, S_ANSWER, 1, 1), 0);
	deliver_ack(f, 0);
	assert_true(f->timer_on[NP_PUNCH_TIMER_REAP]);
	assert_int_equal(start(f, S_SILENT, 1, 1), 0);
	assert_false(f->timer_on[NP_PUNCH_TIMER_REAP]);
	assert_true(np_punch_running(&f->pu));
	assert_non_null(f->pu.strat);
	fake_free(f);
}

/* The attempt timeout (the strategy's own, 3000 ms) ends a silent attempt. */
static void test_attempt_timeout(void **state)
{
	struct fake *f = fake_new("scripted", NULL);
	uint64_t t0 = f->now;

	assert_int_equal(start(f, S_SILENT, 1, 1), 0);
	assert_true(f->timer_on[NP_PUNCH_TIMER_ATTEMPT]);
	run_until(f, t0 + 2999);
	assert_true(np_punch_running(&f->pu));
	assert_int_equal(f->failed, 0);
	run_until(f, t0 + 3000);
	assert_int_equal(f->failed, 1);
	assert_string_equal(f->reason, "no authenticated answer after 0 probes");
	assert_null(f->pu.strat);
	assert_int_equal(f->pu.st, NP_PUNCH_DONE);
	fake_free(f);
}

/* fail() from a strategy timer is reported once, by the reap timer. */
static void test_fail_from_timer(void **state)
{
	struct fake *f = fake_new("scripted", NULL);
	uint64_t t0 = f->now;

	assert_int_equal(start(f, S_TIMER_FAIL, 1, 1), 0);
	run_until(f, t0 + 49);
	assert_true(np_punch_running(&f->pu));
	run_until(f, t0 + 50);
	assert_int_equal(f->failed, 1);
	assert_string_equal(f->reason, "gave up");
	assert_false(f->timer_on[NP_PUNCH_TIMER_ATTEMPT]);
	run_until(f, t0 + 60000);
	assert_int_equal(f->failed, 1);
	fake_free(f);
}

/* The peer's handshake proves the path while a failure is pending: the
 * tunnel ends the punch, and the failure is never reported. */
static void test_end_cancels_failure(void **state)
{
	struct fake *f = fake_new("scripted", NULL);
	uint64_t t0 = f->now;

	assert_int_equal(start(f, S_TIMER_FAIL, 1, 1), 0);
	f->timer_on[0] = 0;
	np_punch_on_timer(&f->pu, 0); /* the strategy calls fail() */
	assert_int_equal(f->pu.st, NP_PUNCH_FAILING);
	np_punch_end(&f->pu);
	assert_int_equal(f->pu.st, NP_PUNCH_ENDING);
	run_until(f, t0 + 60000);
	assert_int_equal(f->failed, 0);
	assert_null(f->pu.strat);
	/* Ending a running punch stops its timers. */
	assert_int_equal(start(f, S_TIMER_FAIL, 1, 1), 0);
	np_punch_end(&f->pu);
	assert_false(f->timer_on[0]);
	assert_false(f->timer_on[NP_PUNCH_TIMER_ATTEMPT]);
	run_until(f, f->now + 60000);
	assert_int_equal(f->failed, 0);
	fake_free(f);
}

/* start() errors: reported at once, np_punch_start returns the error. */
static void test_start_errors(void **state)
{
	struct fake *f = fake_new("scripted", NULL);

	assert_true(start(f, S_START_ERR, 1, 1) < 0);
	assert_int_equal(f->failed, 1);
	assert_string_equal(f->reason, "strategy could not start");
	assert_null(f->pu.strat);
	assert_false(f->timer_on[NP_PUNCH_TIMER_ATTEMPT]);
	/* fail() then an error from start(): the fail() reason, once. */
	assert_int_equal(start(f, S_FAIL_START, 1, 1), 0);
	run_until(f, f->now);
	assert_int_equal(f->failed, 2);
	assert_string_equal(f->reason, "failed in start");
	assert_false(f->timer_on[NP_PUNCH_TIMER_ATTEMPT]);
	fake_free(f);
}

/* succeed() on a socket the strategy closed is ignored; on an open one the
 * tunnel is told which. */
static void test_sockets(void **state)
{
	struct fake *f = fake_new("scripted", NULL);

	assert_int_equal(start(f, S_SOCKETS, 1, 1), 0);
	assert_int_equal(f->opened, 2);
	assert_false(f->sock_open[1]);
	assert_int_equal(f->path_found, 0);
	deliver_ack(f, 2);
	assert_int_equal(f->path_found, 1);
	assert_int_equal(f->path_sock, 2);
	run_until(f, f->now);
	fake_free(f);
}

/* --strategy=auto between two random-port NATs: no path, said once, with
 * the reason kept for the status report. */
static void test_auto_no_path(void **state)
{
	struct fake *f = fake_new("auto", NULL);
	struct np_punch_attempt a;
	np_nat_info_t rnd = { .known = 1, .mapping = NP_NAT_MAP_APDM, .allocation = NP_NAT_ALLOC_RANDOM, .depth = 1 };

	attempt_for(f, &a, 1, 1, 1);
	a.self_nat = a.peer_nat = rnd;
	assert_string_equal(np_punch_strategy_name(&f->pu), "auto");
	assert_int_equal(np_punch_start(&f->pu, &a), -EHOSTUNREACH);
	assert_int_equal(f->no_path, 1);
	assert_int_equal(f->failed, 0);
	assert_non_null(strstr(f->reason, "no direct path possible"));
	assert_string_equal(f->pu.fail_reason, f->reason);
	assert_int_equal(f->nsent, 0);
	fake_free(f);
}

/* A strategy that cannot be found: a one-line error from np_punch_init. */
/* --strategy=auto behind the peer's own public address: simple, whose
 * openers stop at the shared NAT (TTL = depth) and whose attempt ends after
 * 5 s (NP_PUNCH_SAME_NAT_ATTEMPT_MS), not simple's own 10 s. */
static void test_auto_same_nat(void **state)
{
	struct fake *f = fake_new("auto", NULL);
	struct np_punch_attempt a;
	uint64_t t0 = f->now;
	const char *dir = getenv("NP_STRATEGY_BUILD_DIR");

	f->pu.strategy_path = dir && *dir ? dir : NP_BUILD_DIR "/strategies"; /* the real simple.so */
	attempt_for(f, &a, 1, 1, 2);
	a.peer_public = a.self_public;
	a.peer_public.port = 5000;
	memcpy(a.peer_local.ip, (const uint8_t[4]){ 192, 168, 2, 2 }, 4);
	assert_int_equal(np_punch_start(&f->pu, &a), 0);
	assert_string_equal(np_punch_strategy_name(&f->pu), "simple");
	assert_true(f->timer_on[NP_PUNCH_TIMER_ATTEMPT]);
	assert_int_equal(f->timer_at[NP_PUNCH_TIMER_ATTEMPT] - t0, NP_PUNCH_SAME_NAT_ATTEMPT_MS);
	run_until(f, t0 + 200); /* simple's first tick: openers */
	assert_true(f->nsent >= 1);
	assert_int_equal(f->sent[0].ttl, 2);
	run_until(f, t0 + NP_PUNCH_SAME_NAT_ATTEMPT_MS);
	assert_int_equal(f->failed, 1);
	assert_non_null(strstr(f->reason, "no hairpin through NAT 203.0.113.1"));
	fake_free(f);
}

/* Behind one public address with exactly one home NAT mapping per
 * destination: the hairpin strategy on odd attempts, simple on even ones;
 * both hard: simple (no direct path but the LAN). */
static void test_auto_same_nat_hard(void **state)
{
	struct fake *f = fake_new("auto", NULL);
	struct np_punch_attempt a;
	const char *dir = getenv("NP_STRATEGY_BUILD_DIR");
	np_nat_info_t easy = { .known = 1, .mapping = NP_NAT_MAP_EIM, .allocation = NP_NAT_ALLOC_STABLE, .depth = 2 };
	np_nat_info_t rnd = { .known = 1, .mapping = NP_NAT_MAP_APDM, .allocation = NP_NAT_ALLOC_RANDOM, .depth = 2 };
	static const struct {
		unsigned attempt;
		int self_hard, peer_hard;
		const char *want;
	} cases[] = {
		{ 1, 0, 1, "hairpin" }, { 2, 0, 1, "simple" }, { 3, 1, 0, "hairpin" },
		{ 1, 1, 1, "simple" },  { 1, 0, 0, "simple" },
	};

	f->pu.strategy_path = dir && *dir ? dir : NP_BUILD_DIR "/strategies";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		attempt_for(f, &a, cases[i].attempt, 1, 2);
		a.peer_public = a.self_public;
		a.peer_public.port = 5000;
		memcpy(a.peer_local.ip, (const uint8_t[4]){ 192, 168, 2, 2 }, 4);
		a.self_nat = cases[i].self_hard ? rnd : easy;
		a.peer_nat = cases[i].peer_hard ? rnd : easy;
		assert_int_equal(np_punch_start(&f->pu, &a), 0);
		assert_string_equal(np_punch_strategy_name(&f->pu), cases[i].want);
		np_punch_reset(&f->pu);
	}
	fake_free(f);
}

static void test_missing_strategy(void **state)
{
	struct np_punch_cfg cfg = {
		.strategy = "no-such-strategy",
		.strategy_path = NP_TEST_STRATEGY_DIR,
	};
	struct np_punch pu;
	char err[256] = "";

	assert_true(np_punch_init(&pu, &cfg, &fake_upcalls, NULL, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "no-such-strategy"));
	assert_null(strchr(err, '\n'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_unanswered_bound),
		cmocka_unit_test(test_old_round_replay),
		cmocka_unit_test(test_openers),
		cmocka_unit_test(test_openers_same_public),
		cmocka_unit_test(test_ack_rules),
		cmocka_unit_test(test_succeed_then_reap),
		cmocka_unit_test(test_confirm_probes),
		cmocka_unit_test(test_follow),
		cmocka_unit_test(test_restart_before_reap),
		cmocka_unit_test(test_attempt_timeout),
		cmocka_unit_test(test_fail_from_timer),
		cmocka_unit_test(test_end_cancels_failure),
		cmocka_unit_test(test_start_errors),
		cmocka_unit_test(test_sockets),
		cmocka_unit_test(test_auto_no_path),
		cmocka_unit_test(test_auto_same_nat),
		cmocka_unit_test(test_auto_same_nat_hard),
		cmocka_unit_test(test_missing_strategy),
	};

	np_log_set_level(getenv("NP_TEST_VERBOSE") ? NP_LOG_DEBUG : NP_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
