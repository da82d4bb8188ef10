/* test_server_tcp: natpunch-server's TCP listeners on loopback, and the
 * stream framing (np_frame). A peer registers over TCP (cookie, ACK), is
 * paired with a peer registered over UDP, and each gets PEER_INFO on its
 * own transport, the UDP one flagged NP_PI_F_PEER_TCP. Hostile clients:
 * a zero or oversized frame length closes the connection; a client that
 * sends part of a frame and stalls (slowloris) is closed after the first
 * frame timeout, one that goes silent after the idle timeout; at most
 * tcp_max_per_ip connections per address; when all slots are taken the
 * oldest connection that never sent a frame makes room, and when every
 * connection has sent one a new one is refused. The framer reassembles
 * frames split at every byte. */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
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

#include "np_frame.h"
#include "np_log.h"
#include "np_server.h"
#include "np_udp.h"
#include "np_wire.h"

static struct ev_loop *loop;
static struct np_server *srv;
static uint16_t ports[2];

static np_addr_t lo(uint8_t last, uint16_t port)
{
	np_addr_t a = { 0 };

	a.family = 4;
	a.ip[0] = 127;
	a.ip[3] = last;
	a.port = port;
	return a;
}

static void start(size_t max_conns, size_t per_ip, double first_s, double idle_s)
{
	struct np_server_config cfg = { 0 };
	char err[256];
	int rc = -1;

	assert_true(sodium_init() >= 0);
	np_log_set_level(NP_LOG_ERR);
	loop = ev_default_loop(EVFLAG_AUTO);
	cfg.bind = lo(1, 0);
	cfg.max_sessions = 100;
	cfg.expire_ms = 10000;
	cfg.tcp_max_conns = max_conns;
	cfg.tcp_max_per_ip = per_ip;
	cfg.tcp_first_s = first_s;
	cfg.tcp_idle_s = idle_s;
	for (int tries = 0; tries < 50 && rc < 0; tries++) {
		cfg.port[0] = (uint16_t)(20000 + randombytes_uniform(40000));
		cfg.port[1] = (uint16_t)(cfg.port[0] + 1);
		rc = np_server_new(loop, &cfg, &srv, err, sizeof(err));
	}
	assert_int_equal(rc, 0);
	ports[0] = cfg.port[0];
	ports[1] = cfg.port[1];
}

static void stop(void)
{
	np_server_free(srv);
	srv = NULL;
}

/* Runs the server's loop for ms milliseconds. */
static void pump(int ms)
{
	struct timespec ts = { 0, 5 * 1000000 };

	for (int i = 0; i < ms / 5; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		nanosleep(&ts, NULL);
	}
	ev_run(loop, EVRUN_NOWAIT);
}

/* A TCP client from 127.0.0.src to the server's port idx. */
static int connect_from(uint8_t src, int idx)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, b = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(0x7f000000u | src);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	b.sin_addr.s_addr = htonl(0x7f000001u);
	b.sin_port = htons(ports[idx]);
	assert_int_equal(connect(fd, (struct sockaddr *)&b, sizeof(b)), 0);
	pump(20); /* accepted */
	return fd;
}

/* 1 if the server closed fd (EOF or reset) within wait_ms, 0 if it is
 * still open and quiet. */
static int closed_within(int fd, int wait_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t b[2048];

	for (int t = 0; t <= wait_ms; t += 20) {
		pump(20);
		if (poll(&p, 1, 0) <= 0)
			continue;
		for (;;) {
			ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				return 1;
			if (n < 0)
				break;
		}
	}
	return 0;
}

/* Expecting a close: waits up to 2 s (a loaded machine). */
static int closed(int fd)
{
	return closed_within(fd, 2000);
}

/* Expecting none: a short look. */
static int open_still(int fd)
{
	return !closed_within(fd, 40);
}

static void send_frame(int fd, const uint8_t *msg, size_t len)
{
	uint8_t f[NP_FRAME_HDR + NP_FRAME_MAX];
	int n = np_frame_encode(f, sizeof(f), msg, len);

	assert_true(n > 0);
	assert_int_equal(send(fd, f, (size_t)n, MSG_NOSIGNAL), n);
}

/* One message from the server on fd, within about 2 s; its length or -1. */
static int recv_frame(int fd, uint8_t *out, size_t cap)
{
	struct np_frame_rx rx = { 0 };

	for (int i = 0; i < 400; i++) {
		uint8_t b[256];
		ssize_t n;

		pump(5);
		n = recv(fd, b, 1, MSG_DONTWAIT); /* byte by byte: the framer must cope */
		if (n == 0)
			return -1;
		if (n < 0)
			continue;
		const uint8_t *in = b, *msg;
		size_t inlen = 1, mlen;
		int rc = np_frame_take(&rx, &in, &inlen, &msg, &mlen);

		if (rc < 0)
			return -1;
		if (rc == 1) {
			assert_true(mlen <= cap);
			memcpy(out, msg, mlen);
			return (int)mlen;
		}
		i = 0;
	}
	return -1;
}

static int reg_msg(uint8_t *buf, size_t cap, const char *session, uint32_t nonce, const uint8_t *cookie)
{
	struct np_msg_register m = { 0 };

	m.flags = cookie ? NP_REG_F_COOKIE : 0;
	m.nonce = nonce;
	m.timestamp_ms = 1;
	snprintf(m.session, sizeof(m.session), "%s", session);
	if (cookie)
		memcpy(m.cookie, cookie, NP_COOKIE_LEN);
	return np_wire_encode_register(buf, cap, &m);
}

static void test_register_over_tcp(void **state)
{
	uint8_t buf[1024], cookie[NP_COOKIE_LEN];
	struct np_msg_register_cookie ck;
	struct np_msg_register_ack ack;
	struct np_msg_peer_info pi;
	char err[128];
	np_addr_t ulo = lo(1, 0), uaddr, to;
	int fd, ufd, n;

	start(8, 4, 30, 30);
	fd = connect_from(1, 0);
	n = reg_msg(buf, sizeof(buf), "tcp-sess", 7, NULL);
	send_frame(fd, buf, (size_t)n);
	n = recv_frame(fd, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(np_wire_parse_register_cookie(buf, (size_t)n, &ck), 0);
	assert_int_equal(ck.nonce, 7);
	memcpy(cookie, ck.cookie, NP_COOKIE_LEN);
	n = reg_msg(buf, sizeof(buf), "tcp-sess", 7, cookie);
	send_frame(fd, buf, (size_t)n);
	n = recv_frame(fd, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(np_wire_parse_register_ack(buf, (size_t)n, &ack), 0);
	assert_int_equal(ack.nonce, 7);

	/* The other peer over UDP on PORT2: its PEER_INFO says the peer is on TCP. */
	ufd = np_udp_open(4, &ulo, 0, 0, err, sizeof(err));
	assert_true(ufd >= 0);
	assert_int_equal(np_udp_local(ufd, &uaddr), 0);
	uaddr = lo(1, uaddr.port);
	to = lo(1, ports[1]);
	n = reg_msg(buf, sizeof(buf), "tcp-sess", 9, NULL);
	np_server_handle(srv, 1, buf, (size_t)n, &uaddr, &to);
	{
		struct pollfd p = { .fd = ufd, .events = POLLIN };
		assert_int_equal(poll(&p, 1, 500), 1);
	}
	n = (int)recv(ufd, buf, sizeof(buf), 0);
	assert_int_equal(np_wire_parse_register_cookie(buf, (size_t)n, &ck), 0);
	n = reg_msg(buf, sizeof(buf), "tcp-sess", 9, ck.cookie);
	np_server_handle(srv, 1, buf, (size_t)n, &uaddr, &to);
	{
		struct pollfd p = { .fd = ufd, .events = POLLIN };
		assert_int_equal(poll(&p, 1, 500), 1);
	}
	n = (int)recv(ufd, buf, sizeof(buf), 0);
	assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &pi), 0);
	assert_int_equal(pi.nonce, 9);
	assert_true(pi.flags & NP_PI_F_PEER_TCP);
	/* ... and the TCP peer gets its PEER_INFO on its connection, unflagged. */
	n = recv_frame(fd, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &pi), 0);
	assert_int_equal(pi.nonce, 7);
	assert_false(pi.flags & NP_PI_F_PEER_TCP);
	assert_true(np_addr_equal(&pi.peer_public, &uaddr));
	close(ufd);
	close(fd);
	stop();
}

static void test_bad_frames_close(void **state)
{
	static const uint8_t zero[2] = { 0, 0 }, huge[2] = { 0xff, 0xff };
	uint8_t buf[64];
	struct np_server_stats st;
	int fd;

	start(8, 8, 30, 30);
	fd = connect_from(1, 0);
	assert_int_equal(send(fd, zero, 2, MSG_NOSIGNAL), 2);
	assert_true(closed(fd));
	close(fd);
	fd = connect_from(1, 1);
	assert_int_equal(send(fd, huge, 2, MSG_NOSIGNAL), 2);
	assert_true(closed(fd));
	close(fd);
	/* A NAT probe means nothing over TCP: counted, not answered. */
	fd = connect_from(1, 0);
	memset(buf, 0, sizeof(buf));
	buf[0] = NP_WIRE_VERSION;
	buf[1] = NP_MSG_NAT_PROBE;
	send_frame(fd, buf, NP_NAT_PROBE_LEN);
	assert_int_equal(recv_frame(fd, buf, sizeof(buf)), -1);
	np_server_get_stats(srv, &st);
	assert_int_equal(st.tcp_bad_frames, 2);
	assert_true(st.bad >= 1);
	close(fd);
	stop();
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_slow_and_idle_closed(void **state)
{
	uint8_t buf[256];
	int slow, idle, live, n;
	double idle_at, t;

	start(8, 8, 0.3, 3.0);
	slow = connect_from(1, 0);
	assert_int_equal(send(slow, "\x00", 1, MSG_NOSIGNAL), 1); /* half a header, then nothing */
	idle = connect_from(1, 0);
	n = reg_msg(buf, sizeof(buf), "idle", 1, NULL);
	send_frame(idle, buf, (size_t)n);
	assert_true(recv_frame(idle, buf, sizeof(buf)) > 0);
	idle_at = now_s();
	live = connect_from(1, 1);
	n = reg_msg(buf, sizeof(buf), "live", 2, NULL);
	send_frame(live, buf, (size_t)n);
	assert_true(recv_frame(live, buf, sizeof(buf)) > 0);
	/* The sweep runs every second: after it, the slow one is gone. */
	pump(1100);
	assert_true(closed(slow));
	/* idle is not closed early (the look only counts while the wall
	 * clock, which a loaded machine stretches, is short of 3 s). */
	if (now_s() - idle_at < 2.5)
		assert_true(open_still(idle));
	/* live keeps sending; idle does not, and is closed 3 to 4 s after its
	 * frame (a loaded machine may take longer: bounded at 15 s). */
	for (t = now_s(); now_s() - t < 15 && open_still(idle);) {
		n = reg_msg(buf, sizeof(buf), "live", 2, NULL);
		send_frame(live, buf, (size_t)n);
		assert_true(recv_frame(live, buf, sizeof(buf)) > 0);
		pump(400);
	}
	assert_true(closed(idle));
	assert_true(now_s() - idle_at >= 3.0);
	assert_true(open_still(live));
	close(slow);
	close(idle);
	close(live);
	stop();
}

static void test_connection_limits(void **state)
{
	uint8_t buf[256], ans[256];
	int fd[6], extra, n;

	start(4, 2, 30, 30);
	/* Per address: a third one from 127.0.0.1 is refused. */
	fd[0] = connect_from(1, 0);
	fd[1] = connect_from(1, 0);
	extra = connect_from(1, 0);
	assert_true(closed(extra));
	assert_true(open_still(fd[0]));
	close(extra);
	/* Full (4): the oldest silent one makes room for a newcomer. */
	fd[2] = connect_from(2, 0);
	n = reg_msg(buf, sizeof(buf), "x", 1, NULL);
	send_frame(fd[1], buf, (size_t)n);
	assert_true(recv_frame(fd[1], ans, sizeof(ans)) > 0);
	send_frame(fd[2], buf, (size_t)n);
	assert_true(recv_frame(fd[2], ans, sizeof(ans)) > 0);
	fd[3] = connect_from(3, 0);
	fd[4] = connect_from(4, 0); /* evicts fd[0], silent and oldest */
	assert_true(closed(fd[0]));
	assert_true(open_still(fd[3]));
	assert_true(open_still(fd[4]));
	/* Every connection has spoken: a newcomer is refused. */
	send_frame(fd[3], buf, (size_t)n);
	assert_true(recv_frame(fd[3], ans, sizeof(ans)) > 0);
	send_frame(fd[4], buf, (size_t)n);
	assert_true(recv_frame(fd[4], ans, sizeof(ans)) > 0);
	fd[5] = connect_from(5, 0);
	assert_true(closed(fd[5]));
	for (int i = 1; i < 5; i++)
		assert_true(open_still(fd[i]));
	for (int i = 0; i < 6; i++)
		close(fd[i]);
	stop();
}

static void test_framer(void **state)
{
	uint8_t stream[3 * (NP_FRAME_HDR + NP_FRAME_MAX)], msg[NP_FRAME_MAX];
	size_t len = 0, sizes[3] = { 1, 300, NP_FRAME_MAX };
	struct np_frame_rx rx = { 0 };
	int got = 0;

	for (int k = 0; k < 3; k++) {
		memset(msg, 'a' + k, sizes[k]);
		int n = np_frame_encode(stream + len, sizeof(stream) - len, msg, sizes[k]);
		assert_int_equal(n, (int)(NP_FRAME_HDR + sizes[k]));
		len += (size_t)n;
	}
	assert_int_equal(np_frame_encode(stream, sizeof(stream), msg, 0), -EMSGSIZE);
	assert_int_equal(np_frame_encode(stream, sizeof(stream), msg, NP_FRAME_MAX + 1), -EMSGSIZE);
	assert_int_equal(np_frame_encode(stream, 10, msg, 9), -ENOSPC);
	/* Fed one byte at a time. */
	for (size_t i = 0; i < len; i++) {
		const uint8_t *in = stream + i, *m;
		size_t inlen = 1, mlen;
		int rc = np_frame_take(&rx, &in, &inlen, &m, &mlen);

		assert_true(rc >= 0);
		if (rc == 1) {
			assert_int_equal(mlen, sizes[got]);
			assert_int_equal(m[0], 'a' + got);
			assert_int_equal(m[mlen - 1], 'a' + got);
			got++;
		}
		assert_int_equal(inlen, 0);
	}
	assert_int_equal(got, 3);
	assert_false(np_frame_partial(&rx));
	/* All at once. */
	{
		const uint8_t *in = stream, *m;
		size_t inlen = len, mlen;

		got = 0;
		while (np_frame_take(&rx, &in, &inlen, &m, &mlen) == 1)
			assert_int_equal(mlen, sizes[got++]);
		assert_int_equal(got, 3);
	}
	/* A bad length is an error, not a wait. */
	{
		static const uint8_t bad[3] = { 0x04, 0x01, 0 };
		const uint8_t *in = bad, *m;
		size_t inlen = 3, mlen;
		struct np_frame_rx r2 = { 0 };

		assert_int_equal(np_frame_take(&r2, &in, &inlen, &m, &mlen), -EBADMSG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framer),
		cmocka_unit_test(test_register_over_tcp),
		cmocka_unit_test(test_bad_frames_close),
		cmocka_unit_test(test_slow_and_idle_closed),
		cmocka_unit_test(test_connection_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
