/* np_labping: ICMP echo of every size, for the NAT lab's path MTU tests.
 *
 *   np_labping [--min N] [--max N] [--tries N] [--wait-ms N] DST_IPV4
 *       For each ICMP payload size from MIN (default 0) to MAX (default
 *       1372), send an echo request and wait up to WAIT_MS (default 1000)
 *       for its reply; retry up to TRIES times (default 2). Prints
 *       "sizes=N ok=N failed=LIST" and exits 0 only if every size was
 *       answered. The socket keeps the kernel's default path MTU
 *       behaviour (DF until it learns a smaller MTU, then local
 *       fragmentation), as ping does.
 *
 * Needs root (raw socket). Only for the lab: it talks to addresses inside
 * lab namespaces; every loop is bounded (at most 65508 sizes x TRIES x
 * WAIT_MS, each at most 10 x 5000 ms). */
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

#define MAX_PAYLOAD 65507

static uint16_t csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int arg_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* 1 if the reply to (id, seq) arrived within wait_ms. */
static int wait_reply(int fd, uint16_t id, uint16_t seq, int wait_ms, uint8_t *buf, size_t cap)
{
	long end = now_ms() + wait_ms;

	for (;;) {
		long left = end - now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;
		size_t hl;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return 0;
		r = recv(fd, buf, cap, 0);
		if (r < 20)
			continue;
		hl = (size_t)(buf[0] & 0x0f) * 4;
		if ((size_t)r < hl + 8)
			continue;
		if (buf[hl] == 0 && (buf[hl + 4] << 8 | buf[hl + 5]) == id && (buf[hl + 6] << 8 | buf[hl + 7]) == seq)
			return 1;
	}
}

int main(int argc, char **argv)
{
	int min = 0, max = 1372, tries = 2, wait_ms = 1000, fd, ok = 0, n = 0, i;
	static uint8_t pkt[8 + MAX_PAYLOAD], buf[65536];
	struct sockaddr_in dst = { .sin_family = AF_INET };
	uint16_t id = (uint16_t)getpid();
	char *failed;
	size_t flen = 0, fcap;

	for (i = 1; i < argc - 1; i += 2) {
		int *t = !strcmp(argv[i], "--min")       ? &min
			 : !strcmp(argv[i], "--max")     ? &max
			 : !strcmp(argv[i], "--tries")   ? &tries
			 : !strcmp(argv[i], "--wait-ms") ? &wait_ms
							 : NULL;
		int hi = t == &tries ? 10 : t == &wait_ms ? 5000 : MAX_PAYLOAD;

		if (!t || arg_int(argv[i + 1], t == &tries || t == &wait_ms ? 1 : 0, hi, t) < 0) {
			fprintf(stderr, "np_labping: bad option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (i != argc - 1 || inet_pton(AF_INET, argv[argc - 1], &dst.sin_addr) != 1 || min > max) {
		fprintf(stderr, "usage: np_labping [--min N] [--max N] [--tries N] [--wait-ms N] DST_IPV4\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0) {
		fprintf(stderr, "np_labping: raw socket: %s (needs root)\n", strerror(errno));
		return 2;
	}
	fcap = (size_t)(max - min + 1) * 7 + 1;
	failed = calloc(1, fcap);
	if (!failed)
		return 2;
	for (int s = min; s <= max; s++) {
		int got = 0;

		n++;
		for (int t = 0; t < tries && !got; t++) {
			uint16_t seq = (uint16_t)(s * 4 + t);

			memset(pkt, 0, 8);
			pkt[0] = 8; /* echo request */
			pkt[4] = (uint8_t)(id >> 8);
			pkt[5] = (uint8_t)id;
			pkt[6] = (uint8_t)(seq >> 8);
			pkt[7] = (uint8_t)seq;
			for (int j = 0; j < s; j++)
				pkt[8 + j] = (uint8_t)(j * 7 + s);
			{
				uint16_t c = csum(pkt, 8 + (size_t)s);
				pkt[2] = (uint8_t)(c >> 8);
				pkt[3] = (uint8_t)c;
			}
			/* EMSGSIZE: the kernel just learnt a smaller path MTU; retry. */
			if (sendto(fd, pkt, 8 + (size_t)s, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
				continue;
			got = wait_reply(fd, id, seq, wait_ms, buf, sizeof(buf));
		}
		if (got)
			ok++;
		else
			flen += (size_t)snprintf(failed + flen, fcap - flen, "%s%d", flen ? "," : "", s);
	}
	printf("sizes=%d ok=%d failed=%s\n", n, ok, flen ? failed : "none");
	free(failed);
	close(fd);
	return ok == n ? 0 : 1;
}
