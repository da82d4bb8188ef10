/* test_turn_client: np_turn against a scripted TURN server on loopback.
 * The server answers the first Allocate 401 (realm, nonce), the
 * authenticated one 438 (stale nonce, a new nonce), then accepts; the test
 * checks that each retry carries USERNAME, REALM, the newest NONCE and a
 * MESSAGE-INTEGRITY made with MD5(user:realm:password). A ChannelBind is
 * accepted, data flows both ways as ChannelData, and a Refresh answered 437
 * (allocation lost) brings on_down and a new allocation. */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "np_evtest.h"

#include "np_stun.h"
#include "np_turn.h"

struct fake {
	int fd;
	ev_io io;
	int allocs, auth_ok, stale_sent, binds, refreshes, lose_next_refresh;
	struct sockaddr_in client;
	socklen_t clen;
	uint8_t key[NP_STUN_KEY_LEN];
	char got_data[64];
	uint16_t channel;
	const char *nonce;           /* the server's current nonce */
};

struct client {
	int ready, down;
	np_addr_t relayed;
	char data[64];
};

static void reply(struct fake *f, struct np_stun_builder *b)
{
	int n = np_stun_finish(b);
	assert_true(n > 0);
	sendto(f->fd, b->buf, (size_t)n, 0, (struct sockaddr *)&f->client, f->clen);
}

static void on_fake(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake *f = w->data;
	uint8_t buf[2048], out[2048];
	struct np_stun_msg m;
	struct np_stun_builder b;
	char s[128];
	ssize_t n;

	f->clen = sizeof(f->client);
	n = recvfrom(f->fd, buf, sizeof(buf), 0, (struct sockaddr *)&f->client, &f->clen);
	if (n <= 0)
		return;
	if ((buf[0] & 0xc0) == 0x40) { /* ChannelData: echo it back on the same channel */
		uint16_t ch;
		const uint8_t *d;
		size_t dl;
		assert_int_equal(np_stun_channel_parse(buf, (size_t)n, &ch, &d, &dl), 0);
		assert_int_equal(ch, f->channel);
		memcpy(f->got_data, d, dl < sizeof(f->got_data) - 1 ? dl : sizeof(f->got_data) - 1);
		sendto(f->fd, buf, (size_t)n, 0, (struct sockaddr *)&f->client, f->clen);
		return;
	}
	if (np_stun_parse(buf, (size_t)n, &m) < 0 || m.cls != NP_STUN_REQUEST)
		return; /* Send indications and junk */
	if (m.method == NP_STUN_ALLOCATE) {
		f->allocs++;
		if (!np_stun_find(&m, NP_STUN_A_MESSAGE_INTEGRITY)) {
			np_stun_build(&b, out, sizeof(out), m.method, NP_STUN_ERROR, m.txid);
			np_stun_put_error(&b, 401, "Unauthorized");
			np_stun_put_str(&b, NP_STUN_A_REALM, "lab");
			np_stun_put_str(&b, NP_STUN_A_NONCE, f->nonce);
			reply(f, &b);
			return;
		}
		assert_int_equal(np_stun_get_str(np_stun_find(&m, NP_STUN_A_USERNAME), s, sizeof(s)), 0);
		assert_string_equal(s, "alice");
		assert_int_equal(np_stun_get_str(np_stun_find(&m, NP_STUN_A_REALM), s, sizeof(s)), 0);
		assert_string_equal(s, "lab");
		assert_int_equal(np_stun_check_integrity(&m, f->key, sizeof(f->key)), 0);
		assert_int_equal(np_stun_get_str(np_stun_find(&m, NP_STUN_A_NONCE), s, sizeof(s)), 0);
		assert_string_equal(s, f->nonce);
		if (!f->stale_sent) {
			f->stale_sent = 1;
			f->nonce = "nonce-2";
			np_stun_build(&b, out, sizeof(out), m.method, NP_STUN_ERROR, m.txid);
			np_stun_put_error(&b, 438, "Stale Nonce");
			np_stun_put_str(&b, NP_STUN_A_REALM, "lab");
			np_stun_put_str(&b, NP_STUN_A_NONCE, "nonce-2");
			reply(f, &b);
			return;
		}
		f->auth_ok++;
		{
			np_addr_t relayed = { .family = 4, .port = (uint16_t)(50000 + f->auth_ok), .ip = { 203, 0, 113, 9 } };
			np_stun_build(&b, out, sizeof(out), m.method, NP_STUN_SUCCESS, m.txid);
			np_stun_put_addr(&b, NP_STUN_A_XOR_RELAYED_ADDRESS, &relayed, 1);
			np_stun_put_u32(&b, NP_STUN_A_LIFETIME, 600);
			np_stun_put_integrity(&b, f->key, sizeof(f->key));
			reply(f, &b);
		}
		return;
	}
	assert_int_equal(np_stun_check_integrity(&m, f->key, sizeof(f->key)), 0);
	np_stun_build(&b, out, sizeof(out), m.method, NP_STUN_SUCCESS, m.txid);
	if (m.method == NP_STUN_CHANNEL_BIND) {
		uint32_t v;
		assert_int_equal(np_stun_get_u32(np_stun_find(&m, NP_STUN_A_CHANNEL_NUMBER), &v), 0);
		f->channel = (uint16_t)(v >> 16);
		f->binds++;
	} else if (m.method == NP_STUN_REFRESH) {
		f->refreshes++;
		if (f->lose_next_refresh) {
			f->lose_next_refresh = 0;
			np_stun_build(&b, out, sizeof(out), m.method, NP_STUN_ERROR, m.txid);
			np_stun_put_error(&b, 437, "Allocation Mismatch");
		}
	}
	np_stun_put_integrity(&b, f->key, sizeof(f->key));
	reply(f, &b);
}

static void on_ready(void *arg, const np_addr_t *relayed, const np_addr_t *mapped)
{
	struct client *c = arg;
	c->ready++;
	c->relayed = *relayed;
}

static void on_data(void *arg, const np_addr_t *peer, uint8_t *buf, size_t len)
{
	struct client *c = arg;
	memcpy(c->data, buf, len < sizeof(c->data) - 1 ? len : sizeof(c->data) - 1);
}

static void on_down(void *arg, const char *msg)
{
	struct client *c = arg;
	c->down++;
	assert_non_null(strstr(msg, "437"));
}

static void test_allocate_stale_nonce_channel_and_loss(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fake f = { 0 };
	struct client c = { 0 };
	struct np_turn_config cfg = { 0 };
	struct np_turn_callbacks cb = { on_ready, on_data, on_down, NULL };
	struct np_turn *t = NULL;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	np_addr_t peer = { .family = 4, .port = 7000, .ip = { 192, 0, 2, 18 } };
	char err[256];

	f.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(f.fd >= 0);
	assert_int_equal(bind(f.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(f.fd, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(np_stun_long_term_key("alice", "lab", "secret", f.key), 0);
	f.nonce = "nonce-1";
	ev_io_init(&f.io, on_fake, f.fd, EV_READ);
	f.io.data = &f;
	ev_io_start(loop, &f.io);

	snprintf(cfg.uri.host, sizeof(cfg.uri.host), "127.0.0.1");
	cfg.uri.port = ntohs(sa.sin_port);
	cfg.uri.transport = NP_TURN_UDP;
	snprintf(cfg.user, sizeof(cfg.user), "alice");
	snprintf(cfg.password, sizeof(cfg.password), "secret");
	assert_int_equal(np_turn_new(loop, &cfg, &cb, &c, &t, err, sizeof(err)), 0);

	NP_RUN_UNTIL(loop, c.ready == 1, 5.0);
	assert_int_equal(c.ready, 1);
	assert_int_equal(f.allocs, 3); /* plain, 401 -> authenticated, 438 -> new nonce */
	assert_int_equal(c.relayed.port, 50001);
	assert_int_equal(np_turn_get_state(t), NP_TURN_READY);

	/* A channel, and data both ways through it. */
	assert_int_equal(np_turn_add_peer(t, &peer), 0);
	NP_RUN_UNTIL(loop, f.binds == 1, 5.0);
	NP_RUN_UNTIL(loop, 0, 0.1); /* let the bind answer in */
	assert_int_equal(np_turn_send(t, &peer, "hello", 5), 0);
	NP_RUN_UNTIL(loop, c.data[0], 5.0);
	assert_string_equal(f.got_data, "hello");
	assert_string_equal(c.data, "hello");
	assert_int_equal(np_turn_send(t, &(np_addr_t){ .family = 4, .port = 1 }, "x", 1), -ENOENT);

	/* The allocation is lost: on_down, then a new one (and the channel again). */
	f.lose_next_refresh = 1;
	np_turn_check(t);
	NP_RUN_UNTIL(loop, c.ready == 2, 8.0);
	assert_int_equal(c.down, 1);
	assert_int_equal(c.ready, 2);
	assert_int_equal(c.relayed.port, 50002);
	NP_RUN_UNTIL(loop, f.binds == 2, 5.0);
	assert_int_equal(f.binds, 2);
	assert_true(np_turn_get_stats(t)->rtt_ms > 0);

	np_turn_free(t);
	ev_io_stop(loop, &f.io);
	close(f.fd);
	ev_loop_destroy(loop);
}

/* A wrong password: 401 twice is a fatal error in words, and no on_ready. */
static void test_wrong_password(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fake f = { 0 };
	struct client c = { 0 };
	struct np_turn_config cfg = { 0 };
	struct np_turn_callbacks cb = { on_ready, on_data, NULL, NULL };
	struct np_turn *t = NULL;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	char err[256];

	f.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_int_equal(bind(f.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(f.fd, (struct sockaddr *)&sa, &sl), 0);
	/* The server's key is for another password: every MI check fails. */
	assert_int_equal(np_stun_long_term_key("alice", "lab", "other", f.key), 0);
	f.stale_sent = 1;
	snprintf(cfg.uri.host, sizeof(cfg.uri.host), "127.0.0.1");
	cfg.uri.port = ntohs(sa.sin_port);
	snprintf(cfg.user, sizeof(cfg.user), "alice");
	snprintf(cfg.password, sizeof(cfg.password), "secret");
	(void)f;
	/* A scripted server that always answers 401. */
	{
		uint8_t buf[2048], out[512];
		struct np_stun_msg m;
		struct np_stun_builder b;
		struct sockaddr_in from;
		socklen_t fl;

		assert_int_equal(np_turn_new(loop, &cfg, &cb, &c, &t, err, sizeof(err)), 0);
		for (int i = 0; i < 40 && np_turn_get_state(t) != NP_TURN_FAILED; i++) {
			ssize_t n;
			NP_RUN_UNTIL(loop, 0, 0.05);
			fl = sizeof(from);
			n = recvfrom(f.fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
			if (n <= 0 || np_stun_parse(buf, (size_t)n, &m) < 0)
				continue;
			np_stun_build(&b, out, sizeof(out), m.method, NP_STUN_ERROR, m.txid);
			np_stun_put_error(&b, 401, "Unauthorized");
			np_stun_put_str(&b, NP_STUN_A_REALM, "lab");
			np_stun_put_str(&b, NP_STUN_A_NONCE, "n");
			n = np_stun_finish(&b);
			sendto(f.fd, out, (size_t)n, 0, (struct sockaddr *)&from, fl);
		}
	}
	assert_int_equal(np_turn_get_state(t), NP_TURN_FAILED);
	assert_int_equal(c.ready, 0);
	assert_non_null(strstr(np_turn_last_error(t), "401 Unauthorized"));
	assert_non_null(strstr(np_turn_last_error(t), "does not accept user 'alice'"));
	np_turn_free(t);
	close(f.fd);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocate_stale_nonce_channel_and_loss),
		cmocka_unit_test(test_wrong_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
