/* scripted: a strategy for test_punch only. It does one scripted thing per
 * attempt number (view->attempt), so the unit test can drive each rule of
 * the real host (np_punch.c): the probe budget, openers, sockets, timers,
 * succeed and fail from every place. Results it cannot return otherwise go
 * into its fail() reason. Not installed. */
#include <natpunch/strategy.h>

#include <stdio.h>
#include <stdlib.h>

enum {
	S_FLOOD = 1,      /* probe distinct ports of the peer's IP until refused; fail("sent=N rc=R") */
	S_OPENER = 2,     /* one opener, one probe; fail("opener=R probe=R") */
	S_ANSWER = 3,     /* one probe; succeed on the first ack */
	S_SUCCEED = 4,    /* succeed(0, peer_public) inside start(), no ack: refused */
	S_SILENT = 5,     /* nothing: the attempt timeout ends it */
	S_START_ERR = 6,  /* start() returns an error */
	S_SOCKETS = 7,    /* open two, close the first, probe from the second;
			   * on its ack succeed on both */
	S_TIMER_FAIL = 8, /* timer 0 after 50 ms, then fail("gave up") */
	S_FAIL_START = 9, /* fail() inside start(), then return an error */
	S_ONE_ADDR = 10,  /* probe the peer's public endpoint until refused; fail("sent=N rc=R") */
	S_OTHER = 11,     /* probe an address that is not the peer's; fail("sent=N rc=R") */
};

struct scripted {
	const np_host_api_t *api;
	void *host;
	np_strategy_view_t v;
	int socks[2];
};

static int sc_create(const np_host_api_t *api, void *host, void **out)
{
	struct scripted *s = calloc(1, sizeof(*s));

	if (!s)
		return -12;
	s->api = api;
	s->host = host;
	*out = s;
	return 0;
}

static int sc_start(void *st, const np_strategy_view_t *v)
{
	struct scripted *s = st;
	const np_host_api_t *h = s->api;
	char why[64];
	int rc, rc2, a, b;
	unsigned n = 0;

	s->v = *v;
	switch (v->attempt) {
	case S_FLOOD: {
		np_addr_t to = v->peer_public;

		do {
			to.port = (uint16_t)(1024 + n % 60000);
		} while ((rc = h->send_probe(s->host, 0, &to, 0)) == 0 && ++n < 100000);
		snprintf(why, sizeof(why), "sent=%u rc=%d", n, rc);
		h->fail(s->host, why);
		return 0;
	}
	case S_ONE_ADDR:
	case S_OTHER: {
		np_addr_t to = v->peer_public;

		if (v->attempt == S_OTHER)
			to.ip[3] ^= 0x40;
		while ((rc = h->send_probe(s->host, 0, &to, 0)) == 0 && n < 100000)
			n++;
		snprintf(why, sizeof(why), "sent=%u rc=%d", n, rc);
		h->fail(s->host, why);
		return 0;
	}
	case S_OPENER:
		rc = h->send_probe(s->host, 0, &v->peer_public, NP_PROBE_OPENER);
		rc2 = h->send_probe(s->host, 0, &v->peer_public, 0);
		snprintf(why, sizeof(why), "opener=%d probe=%d", rc, rc2);
		h->fail(s->host, why);
		return 0;
	case S_ANSWER:
		return h->send_probe(s->host, 0, &v->peer_public, 0);
	case S_SUCCEED:
		h->succeed(s->host, 0, &v->peer_public);
		return 0;
	case S_SILENT:
		return 0;
	case S_START_ERR:
		return -5;
	case S_SOCKETS:
		a = h->open_socket(s->host);
		b = h->open_socket(s->host);
		h->close_socket(s->host, a);
		s->socks[0] = a;
		s->socks[1] = b;
		return h->send_probe(s->host, b, &v->peer_public, 0);
	case S_TIMER_FAIL:
		return h->timer_start(s->host, 0, 50);
	case S_FAIL_START:
		h->fail(s->host, "failed in start");
		return -5;
	}
	return -22;
}

static void sc_timer(void *st, int id)
{
	struct scripted *s = st;

	if (s->v.attempt == S_TIMER_FAIL)
		s->api->fail(s->host, "gave up");
}

static void sc_answer(void *st, int sock, const np_addr_t *from, int is_ack)
{
	struct scripted *s = st;

	if (s->v.attempt == S_ANSWER && is_ack)
		s->api->succeed(s->host, sock, from);
	if (s->v.attempt == S_SOCKETS && is_ack) {
		s->api->succeed(s->host, s->socks[0], from); /* closed: ignored */
		s->api->succeed(s->host, s->socks[1], from);
	}
}

static void sc_destroy(void *st)
{
	free(st);
}

NP_STRATEGY_DECLARE_EX("scripted", "test_punch's scripted strategy", sc_create, sc_start, sc_timer, sc_answer,
		       sc_destroy, 3000);
