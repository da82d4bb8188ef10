/* test_server: np_server on loopback. Registrations are fed with
 * np_server_handle from synthetic 127.0.0.x sources; replies are read on
 * client sockets bound to 127.0.0.1, so nothing leaves the host. Covers
 * pairing by session (PEER_INFO to both with the other's endpoints), no
 * pairing across sessions, token checks (unauthenticated and stale
 * registrations dropped and counted, answers MAC'd), NAT probe answers, and
 * the per-source rate limit (a flood from one address does not stop another);
 * return routability (a spoofed REGISTER gets one cookie no larger than
 * itself and nothing else, and is never paired), MACs that cover the server
 * port (a REGISTER replayed to the other port is refused), replays refused
 * by (session, role) even after the registration expired, fresh pairing
 * identifiers (also for a peer that registers anew from the same endpoint), IPv6 rate limits per /64. */
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
#include "np_ratelimit.h"
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

static struct fixture *make_ex(int token, double rate, uint32_t expire_ms)
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
	cfg.expire_ms = expire_ms;
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

static struct fixture *make(int token, double rate)
{
	return make_ex(token, rate, 10000);
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

/* The MAPPED field the next REGISTERs carry (family 0: none), and extra
 * flags (NP_REG_F_LEG). */
static np_addr_t g_mapped;
static uint8_t g_reg_flags;

/* Encodes a REGISTER (cookie may be NULL); returns its length. */
static int reg_encode(struct fixture *f, int idx, uint8_t *buf, size_t cap, const char *session, uint32_t nonce,
		      const np_addr_t *local, int mac, uint64_t ts, const uint8_t *cookie)
{
	static uint64_t last_ts;
	struct np_msg_register m = { 0 };
	int n;

	m.flags = (mac ? NP_REG_F_MAC : 0) | (cookie ? NP_REG_F_COOKIE : 0) | g_reg_flags;
	m.nonce = nonce;
	if (!ts) {
		/* Strictly increasing, as a real peer's are across seconds. */
		ts = wall_ms();
		if (ts <= last_ts)
			ts = last_ts + 1;
		last_ts = ts;
	}
	m.timestamp_ms = ts;
	snprintf(m.session, sizeof(m.session), "%s", session);
	if (local)
		m.local = *local;
	if (cookie)
		memcpy(m.cookie, cookie, NP_COOKIE_LEN);
	m.mapped = g_mapped;
	n = np_wire_encode_register(buf, cap, &m);
	assert_true(n > 0);
	if (mac)
		np_auth_server_mac(f->token_key, f->port[idx], buf, (size_t)n - NP_MAC_LEN, buf + n - NP_MAC_LEN);
	return n;
}

static void handle(struct fixture *f, int idx, const uint8_t *buf, size_t len, const np_addr_t *from)
{
	np_addr_t to = loopback(1, f->port[idx]);

	np_server_handle(f->srv, idx, buf, len, from, &to);
}

/* The client whose address is `from`, or -1. */
static int client_of(struct fixture *f, const np_addr_t *from)
{
	for (int c = 0; c < 2; c++)
		if (np_addr_equal(from, &f->caddr[c]))
			return c;
	return -1;
}

/* A cookie for client c on server port idx: a REGISTER without one, and the
 * REGISTER_COOKIE it draws. 0, or -1 if none came. */
static int get_cookie(struct fixture *f, int c, int idx, int mac, uint8_t cookie[NP_COOKIE_LEN])
{
	struct np_msg_register_cookie ck;
	uint8_t buf[256];
	int n = reg_encode(f, idx, buf, sizeof(buf), "cookie-please", 1, NULL, mac, 0, NULL);

	handle(f, idx, buf, (size_t)n, &f->caddr[c]);
	n = recv_on(f, c, buf, sizeof(buf), 300);
	if (n < 0 || np_wire_parse_register_cookie(buf, (size_t)n, &ck) < 0)
		return -1;
	memcpy(cookie, ck.cookie, NP_COOKIE_LEN);
	return 0;
}

/* A REGISTER from `from` arriving on server port idx, as a peer sends it:
 * when `from` is one of our clients, first without a cookie, then with the
 * cookie the server answered (the answer to that is left for the test). */
static void reg(struct fixture *f, int idx, const np_addr_t *from, const char *session, uint32_t nonce,
		const np_addr_t *local, int mac, uint64_t ts)
{
	uint8_t buf[256], cookie[NP_COOKIE_LEN];
	int c = client_of(f, from), n;

	if (c >= 0) {
		if (get_cookie(f, c, idx, mac, cookie) < 0)
			return; /* refused before the cookie: the test looks at why */
		n = reg_encode(f, idx, buf, sizeof(buf), session, nonce, local, mac, ts, cookie);
		handle(f, idx, buf, (size_t)n, from);
		return;
	}
	n = reg_encode(f, idx, buf, sizeof(buf), session, nonce, local, mac, ts, NULL);
	handle(f, idx, buf, (size_t)n, from);
}

/* The next datagram to client c (within 1 s), which must be a PEER_INFO. */
static void recv_peer_info(struct fixture *f, int c, struct np_msg_peer_info *pi)
{
	uint8_t buf[512];
	int n = recv_on(f, c, buf, sizeof(buf), 1000);

	assert_true(n > 0);
	assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, pi), 0);
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
		/* A new pairing's PEER_INFO goes out twice (a lost one would
		 * start this side late): the copy is identical. */
		{
			uint8_t copy[512];
			int m = recv_on(f, c, copy, sizeof(copy), 1000);

			assert_int_equal(m, n);
			assert_memory_equal(copy, buf, (size_t)n);
		}
	}
	drain(f);
	/* And a third time 200 ms later (a burst that took both), the same
	 * round, once. */
	usleep(300 * 1000);
	ev_run(f->loop, EVRUN_NOWAIT);
	for (int c = 0; c < 2; c++) {
		struct np_msg_peer_info late;

		n = recv_on(f, c, buf, sizeof(buf), 1000);
		assert_true(n > 0);
		assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &late), 0);
		assert_int_equal(late.role, c);
		assert_int_equal(late.round, pi.round);
		assert_int_equal(recv_on(f, c, buf, sizeof(buf), 100), -1);
	}
	stats(f, &st);
	assert_int_equal(st.pairs, 1);
	assert_int_equal(st.registers, 2);
	assert_int_equal(st.sessions, 1);
	/* A refresh from the same endpoint re-sends PEER_INFO to it, with the same round. */
	reg(f, 0, &f->caddr[0], "pair", 0x1001, &lan0, 0, 0);
	recv_peer_info(f, 0, &pi);
	stats(f, &st);
	assert_int_equal(st.pairs, 1);
	destroy(f);
}

/* What a peer's discovery just saw (MAPPED) reaches the other peer in
 * PEER_INFO, and a registration without it clears it. */
static void test_mapped_forwarded(void **state)
{
	struct fixture *f = make(0, 0);
	struct np_msg_peer_info pi;
	np_addr_t seen = loopback(1, 40404);
	uint8_t buf[512];
	int n;

	(void)state;
	g_mapped = seen;
	reg(f, 0, &f->caddr[0], "mapped", 0x1001, NULL, 0, 0);
	drain(f);
	memset(&g_mapped, 0, sizeof(g_mapped));
	reg(f, 1, &f->caddr[1], "mapped", 0x2002, NULL, 0, 0);
	for (int c = 0; c < 2; c++) {
		recv_peer_info(f, c, &pi);
		if (c == 1)
			assert_true(np_addr_equal(&pi.peer_mapped, &seen));
		else
			assert_int_equal(pi.peer_mapped.family, 0);
	}
	drain(f);
	/* Peer 0 registers again after a discovery that failed: no MAPPED. */
	reg(f, 0, &f->caddr[0], "mapped", 0x1001, NULL, 0, 0);
	n = recv_on(f, 0, buf, sizeof(buf), 1000);
	assert_true(n > 0);
	reg(f, 1, &f->caddr[1], "mapped", 0x2002, NULL, 0, 0);
	recv_peer_info(f, 1, &pi);
	assert_int_equal(pi.peer_mapped.family, 0);
	destroy(f);
}

/* A leg (a registration-only REGISTER on the family a dual-stack peer does
 * not punch on) learns whether the other role is there; PEER_LEG says the
 * other's registration is a leg too (both peers' main family is the other
 * one), so the peer must not move here for it. */
static void test_leg_flag(void **state)
{
	struct fixture *f = make(0, 0);
	struct np_msg_peer_info pi;
	struct np_server_stats st;

	(void)state;
	/* Both legs: the second one is told, flagged. */
	g_reg_flags = NP_REG_F_LEG;
	reg(f, 0, &f->caddr[0], "legs", 0x1001, NULL, 0, 0);
	drain(f);
	reg(f, 1, &f->caddr[1], "legs", 0x2002, NULL, 0, 0);
	recv_peer_info(f, 1, &pi);
	assert_true(pi.flags & NP_PI_F_PEER_LEG);
	assert_true(np_addr_equal(&pi.peer_public, &f->caddr[0]));
	drain(f);
	stats(f, &st);
	assert_int_equal(st.pairs, 0); /* legs are never paired */
	/* A main registration there: a leg facing it is told, unflagged (the
	 * peer is registered on this family only). */
	g_reg_flags = 0;
	reg(f, 0, &f->caddr[0], "legmain", 0x3003, NULL, 0, 0);
	drain(f);
	g_reg_flags = NP_REG_F_LEG;
	reg(f, 1, &f->caddr[1], "legmain", 0x4004, NULL, 0, 0);
	recv_peer_info(f, 1, &pi);
	assert_false(pi.flags & NP_PI_F_PEER_LEG);
	g_reg_flags = 0;
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
	assert_int_equal(np_auth_server_verify(f->token_key, f->port[0], buf, ack.mac_offset, ack.mac), 0);
	/* ... over the server port: the other port's MAC does not verify. */
	assert_int_equal(np_auth_server_verify(f->token_key, f->port[1], buf, ack.mac_offset, ack.mac), -EBADMSG);
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
		assert_int_equal(np_auth_server_verify(f->token_key, f->port[c], buf, pi.mac_offset, pi.mac), 0);
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
	assert_true(n <= NP_NAT_PROBE_LEN);
	assert_int_equal(np_wire_parse_nat_probe_reply(buf, (size_t)n, &r), 0);
	assert_int_equal(r.txid, 0x77);
	assert_int_equal(r.answered, NP_NATP_F_CHANGE_PORT);
	assert_int_equal(r.other_port, f->port[1]);
	assert_int_equal(r.flags & NP_NATP_F_MAC, 0);
	assert_true(np_addr_equal(&r.observed, &f->caddr[0]));
	/* An unpadded (v1-sized) probe is not answered. */
	np_server_handle(f->srv, 0, buf, 8, &f->caddr[0], &to);
	assert_int_equal(recv_on(f, 0, buf, sizeof(buf), 100), -1);
	destroy(f);

	/* With a token the reply carries the server's MAC over the probed port. */
	f = make(1, 0);
	to.port = f->port[0];
	n = np_wire_encode_nat_probe(buf, sizeof(buf), &m);
	np_server_handle(f->srv, 0, buf, (size_t)n, &f->caddr[0], &to);
	n = recv_on(f, 0, buf, sizeof(buf), 1000);
	assert_true(n > 0 && n <= NP_NAT_PROBE_LEN);
	assert_int_equal(np_wire_parse_nat_probe_reply(buf, (size_t)n, &r), 0);
	assert_true(r.flags & NP_NATP_F_MAC);
	assert_int_equal(np_auth_server_verify(f->token_key, f->port[0], buf, r.mac_offset, r.mac), 0);
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
	/* { 1, 0x30 } and { 1, 0x01 ... } are the previous wire version's DATA
	 * and REGISTER: counted as such. */
	assert_int_equal(st.other_version, 2);
	/* A version-1 REGISTER gets no answer, and is counted. */
	{
		uint8_t buf[256];
		int n = reg_encode(f, 0, buf, sizeof(buf), "old", 1, NULL, 0, 0, NULL);
		buf[0] = 1;
		handle(f, 0, buf, (size_t)n, &f->caddr[0]);
		assert_int_equal(recv_on(f, 0, buf, sizeof(buf), 100), -1);
		stats(f, &st);
		assert_int_equal(st.other_version, 3);
		assert_int_equal(st.cookies, 0);
	}
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
	assert_int_equal(st.cookies, 10); /* it never echoes one: nothing registered */
	assert_int_equal(st.registers, 0);
	assert_int_equal(st.limited, 990);
	/* Another address registers at once. */
	reg(f, 1, &f->caddr[1], "victim", 42, NULL, 0, 0);
	n = recv_on(f, 1, buf, sizeof(buf), 1000);
	assert_true(n > 0);
	assert_int_equal(np_wire_parse_register_ack(buf, (size_t)n, &ack), 0);
	assert_int_equal(ack.nonce, 42);
	stats(f, &st);
	assert_int_equal(st.registers, 1);
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

/* Return routability. A REGISTER whose source is a victim (client 1, which
 * never asked) draws one REGISTER_COOKIE no larger than itself, and nothing
 * is stored. A REGISTER from the victim's address echoing a cookie made for
 * someone else (client 0) is refused. The real peer on the other port is
 * never paired with the victim, so no peer is told to send to it. */
static void test_spoofed_register(void **state)
{
	struct fixture *f = make(0, 0);
	struct np_msg_register_cookie ck;
	struct np_server_stats st;
	uint8_t buf[512], req[256], cookie0[NP_COOKIE_LEN];
	size_t victim_bytes = 0, sent_bytes = 0;
	int n, rlen;

	(void)state;
	/* The real peer A (client 0) registers on PORT1 and waits. */
	reg(f, 0, &f->caddr[0], "victimized", 0xa, NULL, 0, 0);
	n = recv_on(f, 0, buf, sizeof(buf), 1000);
	assert_int_equal(np_wire_type(buf, (size_t)n), NP_MSG_REGISTER_ACK);
	/* 100 spoofed REGISTERs "from" the victim on PORT2, claiming kind random. */
	for (int i = 0; i < 100; i++) {
		struct np_msg_register m = { 0 };
		m.nonce = (uint32_t)i;
		m.timestamp_ms = wall_ms();
		strcpy(m.session, "victimized");
		m.nat.known = 1;
		m.nat.mapping = NP_NAT_MAP_APDM;
		m.nat.allocation = NP_NAT_ALLOC_RANDOM;
		rlen = np_wire_encode_register(req, sizeof(req), &m);
		handle(f, 1, req, (size_t)rlen, &f->caddr[1]);
		sent_bytes += (size_t)rlen;
	}
	for (int i = 0; i < 200 && (n = recv_on(f, 1, buf, sizeof(buf), 50)) > 0; i++) {
		assert_int_equal(np_wire_parse_register_cookie(buf, (size_t)n, &ck), 0);
		victim_bytes += (size_t)n;
	}
	assert_true(victim_bytes > 0);
	assert_true(victim_bytes <= sent_bytes);
	/* A cookie made for A, echoed from the victim's address: refused. */
	assert_int_equal(get_cookie(f, 0, 1, 0, cookie0), 0);
	rlen = reg_encode(f, 1, req, sizeof(req), "victimized", 77, NULL, 0, 0, cookie0);
	handle(f, 1, req, (size_t)rlen, &f->caddr[1]);
	n = recv_on(f, 1, buf, sizeof(buf), 300);
	assert_true(n > 0 && n <= rlen);
	assert_int_equal(np_wire_type(buf, (size_t)n), NP_MSG_REGISTER_COOKIE);
	/* A garbage cookie: refused the same way. */
	memset(cookie0, 0x42, sizeof(cookie0));
	rlen = reg_encode(f, 1, req, sizeof(req), "victimized", 78, NULL, 0, 0, cookie0);
	handle(f, 1, req, (size_t)rlen, &f->caddr[1]);
	assert_true(recv_on(f, 1, buf, sizeof(buf), 300) > 0);
	/* A was never told about the victim. */
	assert_int_equal(recv_on(f, 0, buf, sizeof(buf), 200), -1);
	stats(f, &st);
	assert_int_equal(st.pairs, 0);
	assert_int_equal(st.registers, 1);
	assert_int_equal(st.bad_cookie, 2);
	assert_int_equal(st.sessions, 1);
	destroy(f);
}

/* With a token, A's genuine REGISTER (cookie and MAC) captured on PORT1 and
 * replayed to PORT2, from A's own address or another one, is refused: the
 * MAC covers the server port. Replayed to PORT1 from another address its
 * cookie does not fit. Replayed to PORT1 from A's address after the
 * registration expired, it is refused by (session, role). */
static void test_cross_port_replay(void **state)
{
	struct fixture *f = make_ex(1, 0, 1);
	struct np_server_stats st;
	uint8_t buf[512], req[256], cookie[NP_COOKIE_LEN], cookie_b[NP_COOKIE_LEN];
	int n, rlen;

	(void)state;
	assert_int_equal(get_cookie(f, 0, 0, 1, cookie), 0);
	rlen = reg_encode(f, 0, req, sizeof(req), "xport", 5, NULL, 1, 0, cookie);
	handle(f, 0, req, (size_t)rlen, &f->caddr[0]);
	n = recv_on(f, 0, buf, sizeof(buf), 1000);
	assert_int_equal(np_wire_type(buf, (size_t)n), NP_MSG_REGISTER_ACK);
	stats(f, &st);
	assert_int_equal(st.registers, 1);
	/* To PORT2 from A's address, and from the attacker's (client 1). */
	handle(f, 1, req, (size_t)rlen, &f->caddr[0]);
	handle(f, 1, req, (size_t)rlen, &f->caddr[1]);
	/* Even with a valid PORT2 cookie for the attacker, the MAC fails. */
	assert_int_equal(get_cookie(f, 1, 1, 1, cookie_b), 0);
	{
		struct np_msg_register m;
		uint8_t fake[256];
		assert_int_equal(np_wire_parse_register(req, (size_t)rlen, &m), 0);
		memcpy(fake, req, (size_t)rlen);
		memcpy(fake + m.mac_offset - NP_COOKIE_LEN, cookie_b, NP_COOKIE_LEN);
		handle(f, 1, fake, (size_t)rlen, &f->caddr[1]);
	}
	/* To PORT1 from the attacker: the cookie is A's. */
	handle(f, 0, req, (size_t)rlen, &f->caddr[1]);
	assert_int_equal(recv_on(f, 0, buf, sizeof(buf), 200), -1);
	stats(f, &st);
	assert_int_equal(st.registers, 1);
	assert_int_equal(st.pairs, 0);
	assert_int_equal(st.unauth, 3);
	assert_int_equal(st.bad_cookie, 1);
	/* A goes silent and expires; its capture, replayed from its own
	 * address with its own (still valid) cookie, is not newer. */
	usleep(5000);
	np_server_sweep(f->srv);
	handle(f, 0, req, (size_t)rlen, &f->caddr[0]);
	stats(f, &st);
	assert_int_equal(st.registers, 1);
	assert_int_equal(st.replays, 1);
	drain(f);
	destroy(f);
}

/* Every pairing gets a new round (growing) and a fresh random identifier. */
static void test_pairing_identifier(void **state)
{
	struct fixture *f = make(0, 0);
	struct np_msg_peer_info pi[2], again;
	uint8_t buf[512];
	np_addr_t moved;
	int n;

	(void)state;
	reg(f, 0, &f->caddr[0], "pid", 1, NULL, 0, 0);
	drain(f);
	reg(f, 1, &f->caddr[1], "pid", 2, NULL, 0, 0);
	for (int c = 0; c < 2; c++) {
		n = recv_on(f, c, buf, sizeof(buf), 1000);
		assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &pi[c]), 0);
	}
	assert_int_equal(pi[0].round, pi[1].round);
	assert_memory_equal(pi[0].pairing, pi[1].pairing, NP_PAIRING_LEN);
	drain(f);
	/* A moves (new source port on the same client? use another address
	 * that is not a socket): a new pairing for B, newer round, new id. */
	moved = loopback(1, (uint16_t)(f->caddr[0].port ^ 0x4000));
	{
		uint8_t req[256];
		int rlen = reg_encode(f, 0, req, sizeof(req), "pid", 3, NULL, 0, 0, NULL);
		handle(f, 0, req, (size_t)rlen, &moved); /* cookie only: no new pairing */
	}
	assert_int_equal(recv_on(f, 1, buf, sizeof(buf), 200), -1);
	/* B refreshes: the same pairing again. */
	reg(f, 1, &f->caddr[1], "pid", 2, NULL, 0, 0);
	n = recv_on(f, 1, buf, sizeof(buf), 1000);
	assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &again), 0);
	assert_int_equal(again.round, pi[1].round);
	assert_memory_equal(again.pairing, pi[1].pairing, NP_PAIRING_LEN);
	/* B restarts on the same endpoint (a fixed --port on a public
	 * address): a new registration nonce is a new pairing, pushed to both,
	 * so B is never handed the key of the pairing before its restart. */
	reg(f, 1, &f->caddr[1], "pid", 6, NULL, 0, 0);
	for (int c = 0; c < 2; c++) {
		n = recv_on(f, c, buf, sizeof(buf), 1000);
		while (n > 0 && np_wire_type(buf, (size_t)n) != NP_MSG_PEER_INFO)
			n = recv_on(f, c, buf, sizeof(buf), 1000);
		assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &again), 0);
		assert_int_equal(again.nonce, c ? 6 : 1);
		assert_true((int32_t)(again.round - pi[1].round) > 0);
		assert_memory_not_equal(again.pairing, pi[1].pairing, NP_PAIRING_LEN);
	}
	drain(f);
	pi[1] = again;
	/* Its next REGISTER (same nonce) is a refresh: the same pairing. */
	reg(f, 1, &f->caddr[1], "pid", 6, NULL, 0, 0);
	n = recv_on(f, 1, buf, sizeof(buf), 1000);
	assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &again), 0);
	assert_int_equal(again.round, pi[1].round);
	assert_memory_equal(again.pairing, pi[1].pairing, NP_PAIRING_LEN);
	assert_int_equal(recv_on(f, 0, buf, sizeof(buf), 200), -1);
	/* Swap the roles of the two clients: each side's endpoint changes, a
	 * new pairing. */
	reg(f, 0, &f->caddr[1], "pid", 4, NULL, 0, 0);
	reg(f, 1, &f->caddr[0], "pid", 5, NULL, 0, 0);
	n = recv_on(f, 0, buf, sizeof(buf), 1000);
	while (n > 0 && np_wire_type(buf, (size_t)n) != NP_MSG_PEER_INFO)
		n = recv_on(f, 0, buf, sizeof(buf), 1000);
	assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &again), 0);
	assert_true((int32_t)(again.round - pi[0].round) > 0);
	assert_memory_not_equal(again.pairing, pi[0].pairing, NP_PAIRING_LEN);
	drain(f);
	destroy(f);
}

/* IPv6 sources share one bucket per /64. */
static void test_rate_limit_v6_prefix(void **state)
{
	struct np_ratelimit rl;
	np_addr_t a = { 0 };
	int allowed = 0;

	(void)state;
	assert_int_equal(np_ratelimit_init(&rl, 1, 10), 0);
	a.family = 6;
	a.ip[0] = 0x20, a.ip[1] = 0x01, a.ip[2] = 0x0d, a.ip[3] = 0xb8;
	for (int i = 0; i < 1000; i++) {
		a.ip[8] = (uint8_t)(i >> 8);
		a.ip[15] = (uint8_t)i;
		allowed += np_ratelimit_allow(&rl, &a, 1000);
	}
	assert_int_equal(allowed, 10);
	/* Another /64 has its own bucket. */
	a.ip[7] = 1;
	assert_int_equal(np_ratelimit_allow(&rl, &a, 1000), 1);
	np_ratelimit_free(&rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairing),
		cmocka_unit_test(test_sessions_do_not_mix),
		cmocka_unit_test(test_mapped_forwarded),
		cmocka_unit_test(test_leg_flag),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_nat_probe),
		cmocka_unit_test(test_garbage_counted),
		cmocka_unit_test(test_rate_limit_per_source),
		cmocka_unit_test(test_spoofed_register),
		cmocka_unit_test(test_cross_port_replay),
		cmocka_unit_test(test_pairing_identifier),
		cmocka_unit_test(test_rate_limit_v6_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
