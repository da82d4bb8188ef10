/* test_turn_renew: renewal of TURN REST credentials. The pure part: the
 * expiry in a REST user name, and when an allocation made as one user must
 * be replaced by one made as the next. Then np_turn against a scripted relay
 * on loopback that checks each request's MESSAGE-INTEGRITY with the key of
 * the user it names: an allocation made as a user expiring within the
 * renewal margin is replaced, as soon as renewed credentials are given, by
 * a new allocation made as the new user (a new relayed address, on_down then
 * on_ready); with credentials that are not about to expire, nothing happens. */
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "np_evtest.h"

#include "np_stun.h"
#include "np_turn.h"
#include "np_turn_cred.h"

static void test_rest_expiry(void **state)
{
	assert_int_equal(np_turn_rest_expiry("1767225600:alice"), 1767225600u);
	assert_int_equal(np_turn_rest_expiry("1767225600"), 1767225600u);
	assert_int_equal(np_turn_rest_expiry("alice"), 0);
	assert_int_equal(np_turn_rest_expiry(":alice"), 0);
	assert_int_equal(np_turn_rest_expiry("12x:alice"), 0);
	assert_int_equal(np_turn_rest_expiry(""), 0);
	assert_int_equal(np_turn_rest_expiry("99999999999999999999999:a"), 0);
}

static void test_renew_due(void **state)
{
	/* cur expires at 10000; margin 300. */
	assert_false(np_turn_renew_due("10000:a", "13600:a", 9000, 300));  /* not yet */
	assert_true(np_turn_renew_due("10000:a", "13600:a", 9700, 300));   /* within the margin */
	assert_true(np_turn_renew_due("10000:a", "13600:a", 10500, 300));  /* already expired */
	assert_false(np_turn_renew_due("10000:a", "10000:a", 9900, 300));  /* not newer */
	assert_false(np_turn_renew_due("10000:a", "9000:a", 9900, 300));   /* older */
	assert_false(np_turn_renew_due("10000:a", "", 9900, 300));         /* nothing new */
	assert_false(np_turn_renew_due("10000:a", NULL, 9900, 300));
	assert_false(np_turn_renew_due("alice", "13600:a", 9900, 300));    /* long-term: never */
	assert_false(np_turn_renew_due("10000:a", "bob", 9900, 300));
}

/* ---- a relay that knows two users ---------------------------------------- */

struct relay {
	int fd;
	ev_io io;
	char users[2][64];
	const char *pass[2];
	int allocs_as[2], refreshes;
	uint16_t next_port;
};

struct client {
	int ready, down;
	np_addr_t relayed;
};

static void answer(struct relay *r, struct np_stun_builder *b, struct sockaddr_in *to, socklen_t tl)
{
	int n = np_stun_finish(b);

	assert_true(n > 0);
	sendto(r->fd, b->buf, (size_t)n, 0, (struct sockaddr *)to, tl);
}

static void on_relay(struct ev_loop *loop, ev_io *w, int revents)
{
	struct relay *r = w->data;
	uint8_t buf[2048], out[1024], key[NP_STUN_KEY_LEN];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	struct np_stun_msg m;
	struct np_stun_builder b;
	char user[128];
	int u = -1;
	ssize_t n = recvfrom(r->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

	if (n <= 0 || np_stun_parse(buf, (size_t)n, &m) < 0 || m.cls != NP_STUN_REQUEST)
		return;
	if (!np_stun_find(&m, NP_STUN_A_MESSAGE_INTEGRITY)) {
		np_stun_build(&b, out, sizeof(out), m.method, NP_STUN_ERROR, m.txid);
		np_stun_put_error(&b, 401, "Unauthorized");
		np_stun_put_str(&b, NP_STUN_A_REALM, "lab");
		np_stun_put_str(&b, NP_STUN_A_NONCE, "n1");
		answer(r, &b, &from, fl);
		return;
	}
	assert_int_equal(np_stun_get_str(np_stun_find(&m, NP_STUN_A_USERNAME), user, sizeof(user)), 0);
	for (int i = 0; i < 2; i++)
		if (strcmp(user, r->users[i]) == 0)
			u = i;
	assert_true(u >= 0);
	assert_int_equal(np_stun_long_term_key(user, "lab", r->pass[u], key), 0);
	assert_int_equal(np_stun_check_integrity(&m, key, sizeof(key)), 0);
	np_stun_build(&b, out, sizeof(out), m.method, NP_STUN_SUCCESS, m.txid);
	if (m.method == NP_STUN_ALLOCATE) {
		np_addr_t relayed = { .family = 4, .port = r->next_port++, .ip = { 203, 0, 113, 9 } };

		r->allocs_as[u]++;
		np_stun_put_addr(&b, NP_STUN_A_XOR_RELAYED_ADDRESS, &relayed, 1);
		np_stun_put_u32(&b, NP_STUN_A_LIFETIME, 600);
	} else if (m.method == NP_STUN_REFRESH) {
		r->refreshes++;
	}
	np_stun_put_integrity(&b, key, sizeof(key));
	answer(r, &b, &from, fl);
}

static void on_ready(void *arg, const np_addr_t *relayed, const np_addr_t *mapped)
{
	struct client *c = arg;

	c->ready++;
	c->relayed = *relayed;
}

static void on_data(void *arg, const np_addr_t *peer, uint8_t *buf, size_t len)
{
}

static void on_down(void *arg, const char *msg)
{
	struct client *c = arg;

	c->down++;
	assert_non_null(strstr(msg, "renewing"));
}

/* expires_in: seconds from now of the first user's expiry. */
static void run_renewal(long expires_in, int want_renewal)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct relay r = { 0 };
	struct client c = { 0 };
	struct np_turn_config cfg = { 0 };
	struct np_turn_callbacks cb = { on_ready, on_data, on_down, NULL };
	struct np_turn *t = NULL;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	long now = (long)time(NULL);
	char err[256];

	r.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(r.fd >= 0);
	assert_int_equal(bind(r.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(r.fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(r.users[0], sizeof(r.users[0]), "%ld:pair", now + expires_in);
	snprintf(r.users[1], sizeof(r.users[1]), "%ld:pair", now + expires_in + 3600);
	r.pass[0] = "first-password";
	r.pass[1] = "second-password";
	r.next_port = 50000;
	ev_io_init(&r.io, on_relay, r.fd, EV_READ);
	r.io.data = &r;
	ev_io_start(loop, &r.io);

	snprintf(cfg.uri.host, sizeof(cfg.uri.host), "127.0.0.1");
	cfg.uri.port = ntohs(sa.sin_port);
	cfg.uri.transport = NP_TURN_UDP;
	snprintf(cfg.user, sizeof(cfg.user), "%s", r.users[0]);
	snprintf(cfg.password, sizeof(cfg.password), "%s", r.pass[0]);
	assert_int_equal(np_turn_new(loop, &cfg, &cb, &c, &t, err, sizeof(err)), 0);
	NP_RUN_UNTIL(loop, c.ready == 1, 5.0);
	assert_int_equal(c.ready, 1);
	assert_int_equal(r.allocs_as[0], 1);
	assert_int_equal(c.relayed.port, 50000);

	/* The rendezvous server hands out the next hour's credentials. */
	np_turn_set_credentials(t, r.users[1], r.pass[1]);
	NP_RUN_UNTIL(loop, c.ready == 2, 3.0);
	if (want_renewal) {
		assert_int_equal(c.down, 1);
		assert_int_equal(c.ready, 2);
		assert_int_equal(r.allocs_as[1], 1);    /* made as the new user */
		assert_int_equal(c.relayed.port, 50001); /* a new allocation */
		assert_int_equal(np_turn_get_state(t), NP_TURN_READY);
		/* ... and it stays: the new user is far from expiry. */
		NP_RUN_UNTIL(loop, 0, 1.0);
		assert_int_equal(c.ready, 2);
	} else {
		assert_int_equal(c.down, 0);
		assert_int_equal(c.ready, 1);
		assert_int_equal(r.allocs_as[1], 0);
	}
	np_turn_free(t);
	ev_io_stop(loop, &r.io);
	close(r.fd);
	ev_loop_destroy(loop);
}

static void test_renewal_before_expiry(void **state)
{
	run_renewal(120, 1);  /* expires in 2 min: inside the 5-min margin */
}

static void test_no_renewal_far_from_expiry(void **state)
{
	run_renewal(3600, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rest_expiry),
		cmocka_unit_test(test_renew_due),
		cmocka_unit_test(test_renewal_before_expiry),
		cmocka_unit_test(test_no_renewal_far_from_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
