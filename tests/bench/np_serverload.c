/* np_serverload: load generator for natpunch-server (tests/bench/server).
 *
 *   np_serverload [--sessions N] [--window W] [--max-seconds S] SERVER_IP PORT1 PORT2
 *
 * Simulates 2 * N peers: for each session "b<i>" one peer registers on
 * PORT1 and one on PORT2 (socket 1 and socket 2, so the server must run
 * with --rate 0). At most W sessions are in flight; a session counts as
 * paired when both sides got their PEER_INFO. Unanswered registrations are
 * sent again after 250 ms. Prints one line:
 *   sessions=N paired=P seconds=T pairings_per_s=R registrations_sent=K
 * Bounded by --max-seconds (default 120). Loopback only. Built by the
 * bench script with cc against build/libnp_core.a (np_wire encoders). */
#include "np_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(int wall)
{
	struct timespec ts;

	clock_gettime(wall ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int open_sock(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), sz = 8 << 20;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* The server's cookie for each side's socket (wire version 2). */
static uint8_t cookie[2][NP_COOKIE_LEN];
static int have_cookie[2];

/* REGISTER for session i, side r (0: PORT1, 1: PORT2). */
static int send_register(int fd, const struct sockaddr_in *srv, uint32_t i, int r)
{
	struct np_msg_register m = { 0 };
	uint8_t buf[256];
	int len;

	if (have_cookie[r]) {
		m.flags = NP_REG_F_COOKIE;
		memcpy(m.cookie, cookie[r], NP_COOKIE_LEN);
	}
	m.nonce = i * 2u + (uint32_t)r;
	m.timestamp_ms = now_ms(1);
	snprintf(m.session, sizeof(m.session), "b%u", i);
	m.local.family = 4;
	m.local.port = (uint16_t)(10000 + r);
	m.local.ip[0] = 10;
	m.local.ip[1] = (uint8_t)(i >> 16);
	m.local.ip[2] = (uint8_t)(i >> 8);
	m.local.ip[3] = (uint8_t)i;
	len = np_wire_encode_register(buf, sizeof(buf), &m);
	if (len < 0)
		return len;
	if (sendto(fd, buf, (size_t)len, 0, (const struct sockaddr *)srv, sizeof(*srv)) < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	uint32_t n = 100000, window = 64, max_s = 120, next = 0, paired = 0, done_low = 0;
	uint64_t sent = 0, t0, deadline;
	struct sockaddr_in srv[2];
	uint8_t *state;   /* bit 0/1: side r has its PEER_INFO; bit 7: counted */
	uint64_t *last;   /* when session i was last sent */
	int fd[2], i;

	for (i = 1; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--sessions") == 0)
			n = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--window") == 0)
			window = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--max-seconds") == 0)
			max_s = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else
			break;
	}
	if (argc - i != 3 || n == 0 || n > 10000000 || window == 0 || max_s == 0 || max_s > 3600) {
		fprintf(stderr, "usage: np_serverload [--sessions N] [--window W] [--max-seconds S] SERVER_IP PORT1 PORT2\n");
		return 2;
	}
	for (int r = 0; r < 2; r++) {
		memset(&srv[r], 0, sizeof(srv[r]));
		srv[r].sin_family = AF_INET;
		srv[r].sin_port = htons((uint16_t)atoi(argv[i + 1 + r]));
		if (inet_pton(AF_INET, argv[i], &srv[r].sin_addr) != 1 ||
		    (ntohl(srv[r].sin_addr.s_addr) >> 24) != 127) {
			fprintf(stderr, "np_serverload: the server must be a 127.x.y.z address\n");
			return 2;
		}
		fd[r] = open_sock();
		if (fd[r] < 0) {
			fprintf(stderr, "np_serverload: socket: %s\n", strerror(-fd[r]));
			return 1;
		}
	}
	state = calloc(n, 1);
	last = calloc(n, sizeof(*last));
	if (!state || !last)
		return 1;
	t0 = now_ms(0);
	deadline = t0 + (uint64_t)max_s * 1000u;
	while (paired < n && now_ms(0) < deadline) {
		struct pollfd pfd[2] = { { fd[0], POLLIN, 0 }, { fd[1], POLLIN, 0 } };
		uint64_t now = now_ms(0);

		/* New sessions while the window has room. */
		while (next < n && next - done_low < window) {
			if (send_register(fd[0], &srv[0], next, 0) < 0 || send_register(fd[1], &srv[1], next, 1) < 0)
				break;
			last[next++] = now;
			sent += 2;
		}
		/* Resend what is unanswered after 250 ms (a full socket buffer drops). */
		for (uint32_t k = done_low; k < next; k++) {
			if ((state[k] & 0x80) || now - last[k] < 250)
				continue;
			for (int r = 0; r < 2; r++)
				if (!(state[k] & (1 << r)) && send_register(fd[r], &srv[r], k, r) == 0)
					sent++;
			last[k] = now;
		}
		poll(pfd, 2, 10);
		for (int r = 0; r < 2; r++) {
			for (int burst = 0; burst < 4096; burst++) {
				uint8_t buf[512];
				struct np_msg_peer_info pi;
				struct np_msg_register_cookie ck;
				ssize_t len = recv(fd[r], buf, sizeof(buf), 0);
				uint32_t k;

				if (len < 0)
					break;
				if (np_wire_parse_register_cookie(buf, (size_t)len, &ck) == 0) {
					/* Echo the cookie at once, as a peer does. */
					memcpy(cookie[r], ck.cookie, NP_COOKIE_LEN);
					have_cookie[r] = 1;
					k = ck.nonce / 2;
					if (k < n && (int)(ck.nonce & 1) == r && send_register(fd[r], &srv[r], k, r) == 0)
						sent++;
					continue;
				}
				if (np_wire_type(buf, (size_t)len) != NP_MSG_PEER_INFO ||
				    np_wire_parse_peer_info(buf, (size_t)len, &pi) < 0)
					continue;
				k = pi.nonce / 2;
				if (k >= n || (int)(pi.nonce & 1) != r)
					continue;
				state[k] |= (uint8_t)(1 << r);
				if ((state[k] & 3) == 3 && !(state[k] & 0x80)) {
					state[k] |= 0x80;
					paired++;
				}
			}
		}
		while (done_low < next && (state[done_low] & 0x80))
			done_low++;
	}
	{
		double s = (double)(now_ms(0) - t0) / 1000.0;

		printf("sessions=%u paired=%u seconds=%.2f pairings_per_s=%.0f registrations_sent=%llu\n", n, paired, s,
		       s > 0 ? paired / s : 0.0, (unsigned long long)sent);
	}
	free(state);
	free(last);
	close(fd[0]);
	close(fd[1]);
	return paired == n ? 0 : 1;
}
