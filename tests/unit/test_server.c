/* test_server: np_server on loopback. Registrations are fed with
 * np_server_handle from synthetic 127.0.0.x sources; replies are read on
 * client sockets bound to 127.0.0.1, so nothing leaves the host. Covers
 * pairing by session (PEER_INFO to both with the other's endpoints), no
 * pairing across sessions, token checks (unauthenticated and stale
 * registrations dropped and counted, answers MAC'd), NAT probe answers, and
 * the per-source rate limit (a flood from one address does not stop another). */
#include <errno.h>
#include <ev.h>
#include <poll.h>
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
#include <sodium.h>

#include "np_auth.h"
#include "np_log.h"
#include "np_server.h"
#include "np_udp.h"
#include "np_wire.h"

struct fixture {
	struct ev_loop *loop;
	struct np_server *srv;
	uint16_t port[2];
	int cfd[2];          /* two clients on 127.0.0.1 */
	np_addr_t caddr[2];
	uint8_t token_key[32];
};

static np_addr_t loopback(uint8_t last, uint16_t port)
{
	np_addr_t a;

	memset(&a, 0, sizeof(a));
	a.family = 4;
	a.ip[0] = 127;
	a.ip[3] = last;
	a.port = port;
	return a;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct fixture *make(int token, double rate)
{
	static struct fixture f;
	struct np_server_config cfg = { 0 };
	char err[256];
	int rc = -1;

	memset(&f, 0, sizeof(f));
	assert_true(sodium_init() >= 0);
	np_log_set_level(NP_LOG_ERR);
	f.loop = ev_default_loop(EVFLAG_AUTO);
	cfg.bind = loopback(1, 0);
	cfg.rate = rate;
	cfg.burst = rate * 2;
	cfg.expire_ms = 10000;
	cfg.max_sessions = 100;
	if (token) {
		static const char tok[] = "unit-test-token-0123456789";
		np_auth_token_key((const uint8_t *)tok, sizeof(tok) - 1, f.token_key);
		memcpy(cfg.token_key, f.token_key, 32);
		cfg.has_token = 1;
	}
	for (int tries = 0; tries < 50 && rc < 0; tries++) {
		cfg.port[0] = (uint16_t)(20000 + randombytes_uniform(40000));
		cfg.port[1] = (uint16_t)(cfg.port[0] + 1);
		rc = np_server_new(f.loop, &cfg, &f.srv, err, sizeof(err));
	}
	if (rc < 0) {
		print_error("cannot start a loopback server: %s\n", err);
		fail();
	}
	f.port[0] = cfg.port[0];
	f.port[1] = cfg.port[1];
	for (int i = 0; i < 2; i++) {
		np_addr_t lo = loopback(1, 0);
		f.cfd[i] = np_udp_open(4, &lo, 0, 0, err, sizeof(err));
		assert_true(f.cfd[i] >= 0);
		assert_int_equal(np_udp_local(f.cfd[i], &f.caddr[i]), 0);
		f.caddr[i] = loopback(1, f.caddr[i].port);
	}
	return &f;
}

static void destroy(struct fixture *f)
{
	np_server_free(f->srv);
	close(f->cfd[0]);
	close(f->cfd[1]);
}

/* One datagram on client c, or -1 after timeout_ms. */
static int recv_on(struct fixture *f, int c, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct pollfd pfd = { .fd = f->cfd[c], .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	n = recv(f->cfd[c], buf, cap, 0);
	return n < 0 ? -1 : (int)n;
}

static void drain(struct fixture *f)
{
	uint8_t buf[512];

	for (int c = 0; c < 2; c++)
		for (int i = 0; i < 1000 && recv_on(f, c, buf, sizeof(buf), 0) >= 0; i++)
			;
}

/* A REGISTER from `from` arriving on server port idx. */
static void reg(struct fixture *f, int idx, const np_addr_t *from, const char *session, uint32_t nonce,
		const np_addr_t *local, int mac, uint64_t ts)
{
	struct np_msg_register m = { 0 };
	uint8_t buf[256];
	np_addr_t to = loopback(1, f->port[idx]);
	int n;

	m.flags = mac ? NP_REG_F_MAC : 0;
	m.nonce = nonce;
	m.timestamp_ms = ts ? ts : wall_ms();
	snprintf(m.session, sizeof(m.session), "%s", session);
	if (local)
		m.local = *local;
	n = np_wire_encode_register(buf, sizeof(buf), &m);
	assert_true(n > 0);
	if (mac)
		np_auth_mac(f->token_key, buf, (size_t)n - NP_MAC_LEN, buf + n - NP_MAC_LEN);
	np_server_handle(f->srv, idx, buf, (size_t)n, from, &to);
}

static void stats(struct fixture *f, struct np_server_stats *st)
{
	np_server_get_stats(f->srv, st);
}

static void test_pairing(void **state)
{
	struct fixture *f = make(0, 0);
	np_addr_t lan0 = loopback(1, 0), lan1 = loopback(1, 0);
	struct np_msg_register_ack ack;
	struct np_msg_peer_info pi;
	struct np_server_stats st;
	uint8_t buf[512];
	int n;

	(void)state;
	lan0.ip[0] = 192, lan0.ip[1] = 168, lan0.ip[2] = 1, lan0.ip[3] = 2, lan0.port = 1111;
	lan1.ip[0] = 192, lan1.ip[1] = 168, lan1.ip[2] = 2, lan1.ip[3] = 2, lan1.port = 2222;
	/* First registration: an ACK with the observed endpoint. */
	reg(f, 0, &f->caddr[0], "pair", 0x1001, &lan0, 0, 0);
	n = recv_on(f, 0, buf, sizeof(buf), 1000);
	assert_true(n > 0);
	assert_int_equal(np_wire_parse_register_ack(buf, (size_t)n, &ack), 0);
	assert_int_equal(ack.nonce, 0x1001);
	assert_true(np_addr_equal(&ack.observed, &f->caddr[0]));
	/* Second registration on the other port: PEER_INFO to both. */
	reg(f, 1, &f->caddr[1], "pair", 0x2002, &lan1, 0, 0);
	for (int c = 0; c < 2; c++) {
		n = recv_on(f, c, buf, sizeof(buf), 1000);
		assert_true(n > 0);
		assert_int_equal(np_wire_type(buf, (size_t)n), NP_MSG_PEER_INFO);
		assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &pi), 0);
		assert_int_equal(pi.role, c);
		assert_int_equal(pi.nonce, c ? 0x2002 : 0x1001);
		assert_true(np_addr_equal(&pi.observed, &f->caddr[c]));
		assert_true(np_addr_equal(&pi.peer_public, &f->caddr[1 - c]));
		assert_true(np_addr_equal(&pi.peer_local, c ? &lan0 : &lan1));
		assert_int_equal(pi.flags & NP_REG_F_MAC, 0);
	}
	stats(f, &st);
	assert_int_equal(st.pairs, 1);
	assert_int_equal(st.registers, 2);
	assert_int_equal(st.sessions, 1);
	/* A refresh from the same endpoint re-sends PEER_INFO to it, with the same round. */
	reg(f, 0, &f->caddr[0], "pair", 0x1001, &lan0, 0, 0);
	n = recv_on(f, 0, buf, sizeof(buf), 1000);
	assert_true(n > 0);
	assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &pi), 0);
	stats(f, &st);
	assert_int_equal(st.pairs, 1);
	destroy(f);
}

static void test_sessions_do_not_mix(void **state)
{
	struct fixture *f = make(0, 0);
	struct np_server_stats st;
	uint8_t buf[512];
	int n;

	(void)state;
	reg(f, 0, &f->caddr[0], "alpha", 1, NULL, 0, 0);
	reg(f, 1, &f->caddr[1], "beta", 2, NULL, 0, 0);
	for (int c = 0; c < 2; c++) {
		n = recv_on(f, c, buf, sizeof(buf), 1000);
		assert_true(n > 0);
		assert_int_equal(np_wire_type(buf, (size_t)n), NP_MSG_REGISTER_ACK);
		assert_int_equal(recv_on(f, c, buf, sizeof(buf), 100), -1);
	}
	/* Same session, same port: no pair either. */
	reg(f, 0, &f->caddr[1], "alpha-2", 3, NULL, 0, 0);
	reg(f, 0, &f->caddr[0], "alpha-2", 4, NULL, 0, 0);
	stats(f, &st);
	assert_int_equal(st.pairs, 0);
	assert_int_equal(st.sessions, 3);
	drain(f);
	destroy(f);
}

static void test_token(void **state)
{
	struct fixture *f = make(1, 0);
	struct np_msg_register_ack ack;
	struct np_msg_peer_info pi;
	struct np_server_stats st;
	uint8_t buf[512];
	int n;

	(void)state;
	/* No MAC: dropped and counted, no answer. */
	reg(f, 0, &f->caddr[0], "tok", 1, NULL, 0, 0);
	assert_int_equal(recv_on(f, 0, buf, sizeof(buf), 200), -1);
	stats(f, &st);
	assert_int_equal(st.unauth, 1);
	assert_int_equal(st.registers, 0);
	/* A MAC from the wrong key: dropped. */
	{
		uint8_t right[32];
		memcpy(right, f->token_key, 32);
		f->token_key[0] ^= 1;
		reg(f, 0, &f->caddr[0], "tok", 2, NULL, 1, 0);
		memcpy(f->token_key, right, 32);
	}
	assert_int_equal(recv_on(f, 0, buf, sizeof(buf), 200), -1);
	/* The right MAC but a timestamp an hour old: dropped (replay window). */
	reg(f, 0, &f->caddr[0], "tok", 3, NULL, 1, wall_ms() - 3600 * 1000);
	assert_int_equal(recv_on(f, 0, buf, sizeof(buf), 200), -1);
	stats(f, &st);
	assert_int_equal(st.unauth, 3);
	assert_int_equal(st.sessions, 0);
	/* Authenticated: an ACK that carries a valid MAC. */
	reg(f, 0, &f->caddr[0], "tok", 4, NULL, 1, 0);
	n = recv_on(f, 0, buf, sizeof(buf), 1000);
	assert_true(n > 0);
	assert_int_equal(np_wire_parse_register_ack(buf, (size_t)n, &ack), 0);
	assert_true(ack.flags & NP_REG_F_MAC);
	assert_int_equal(np_auth_verify(f->token_key, buf, ack.mac_offset, ack.mac), 0);
	/* An unauthenticated peer on the other port never completes the pair. */
	reg(f, 1, &f->caddr[1], "tok", 5, NULL, 0, 0);
	assert_int_equal(recv_on(f, 0, buf, sizeof(buf), 200), -1);
	assert_int_equal(recv_on(f, 1, buf, sizeof(buf), 200), -1);
	/* With the token it does, and PEER_INFO is MAC'd. */
	reg(f, 1, &f->caddr[1], "tok", 6, NULL, 1, 0);
	for (int c = 0; c < 2; c++) {
		n = recv_on(f, c, buf, sizeof(buf), 1000);
		assert_true(n > 0);
		assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &pi), 0);
		assert_true(pi.flags & NP_REG_F_MAC);
		assert_int_equal(np_auth_verify(f->token_key, buf, pi.mac_offset, pi.mac), 0);
	}
	stats(f, &st);
	assert_int_equal(st.unauth, 4);
	assert_int_equal(st.pairs, 1);
	destroy(f);
}

static void test_nat_probe(void **state)
{
	struct fixture *f = make(0, 0);
	struct np_msg_nat_probe m = { .flags = NP_NATP_F_CHANGE_PORT, .txid = 0x77 };
	struct np_msg_nat_probe_reply r;
	np_addr_t to = loopback(1, 0);
	uint8_t buf[512];
	int n;

	(void)state;
	to.port = f->port[0];
	n = np_wire_encode_nat_probe(buf, sizeof(buf), &m);
	np_server_handle(f->srv, 0, buf, (size_t)n, &f->caddr[0], &to);
	n = recv_on(f, 0, buf, sizeof(buf), 1000);
	assert_true(n > 0);
	assert_int_equal(np_wire_parse_nat_probe_reply(buf, (size_t)n, &r), 0);
	assert_int_equal(r.txid, 0x77);
	assert_int_equal(r.answered, NP_NATP_F_CHANGE_PORT);
	assert_true(np_addr_equal(&r.observed, &f->caddr[0]));
	destroy(f);
}

static void test_garbage_counted(void **state)
{
	struct fixture *f = make(0, 0);
	static const uint8_t junk[][8] = { { 0 }, { 1, 0x30 }, { 1, 0x01, 0, 99 }, { 2, 0x01 }, { 0x45, 0 } };
	struct np_server_stats st;
	np_addr_t to = loopback(1, 0);

	(void)state;
	to.port = f->port[0];
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		np_server_handle(f->srv, 0, junk[i], sizeof(junk[i]), &f->caddr[0], &to);
	np_server_handle(f->srv, 0, junk[0], 0, &f->caddr[0], &to);
	stats(f, &st);
	assert_int_equal(st.rx, 6);
	assert_int_equal(st.bad, 6);
	assert_int_equal(st.sessions, 0);
	destroy(f);
}

static void test_rate_limit_per_source(void **state)
{
	struct fixture *f = make(0, 5); /* 5/s, burst 10 */
	np_addr_t flooder = loopback(2, 9); /* 127.0.0.2: still loopback */
	struct np_msg_register_ack ack;
	struct np_server_stats st;
	uint8_t buf[512];
	int n;

	(void)state;
	/* The loop clock stands still: the flooder gets its burst and no more. */
	for (int i = 0; i < 1000; i++)
		reg(f, 0, &flooder, "flood", (uint32_t)i, NULL, 0, 0);
	stats(f, &st);
	assert_int_equal(st.registers, 10);
	assert_int_equal(st.limited, 990);
	/* Another address registers at once. */
	reg(f, 1, &f->caddr[1], "victim", 42, NULL, 0, 0);
	n = recv_on(f, 1, buf, sizeof(buf), 1000);
	assert_true(n > 0);
	assert_int_equal(np_wire_parse_register_ack(buf, (size_t)n, &ack), 0);
	assert_int_equal(ack.nonce, 42);
	stats(f, &st);
	assert_int_equal(st.registers, 11);
	assert_int_equal(st.limited, 990);
	/* NAT probes count against the same bucket. */
	{
		struct np_msg_nat_probe m = { .txid = 1 };
		np_addr_t to = loopback(1, f->port[0]);
		n = np_wire_encode_nat_probe(buf, sizeof(buf), &m);
		np_server_handle(f->srv, 0, buf, (size_t)n, &flooder, &to);
		stats(f, &st);
		assert_int_equal(st.nat_probes, 0);
		assert_int_equal(st.limited, 991);
	}
	destroy(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairing),
		cmocka_unit_test(test_sessions_do_not_mix),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_nat_probe),
		cmocka_unit_test(test_garbage_counted),
		cmocka_unit_test(test_rate_limit_per_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
