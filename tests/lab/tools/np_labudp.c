/* np_labudp: a tiny, bounded UDP tool for the NAT lab (tests/lab/).
 *
 *   np_labudp echo [--max-seconds N] [--bind ADDR] PORT
 *       Answer every datagram with the text "IP:PORT" of its sender, as seen
 *       here (that is, after every NAT on the way). Exits after N seconds
 *       (default 30).
 *
 *   np_labudp send [--sport N] [--ttl N] [--count N] [--wait-ms N] [--data TEXT]
 *                  DST_IP DST_PORT [DST_IP DST_PORT ...]
 *       From ONE socket, send COUNT datagrams (default 1) to each destination
 *       in turn and print every reply as one line. After each datagram it
 *       waits up to WAIT_MS (default 500) for a reply. Exit 0 if at least one
 *       reply arrived, else 1. With several destinations, the same local port
 *       talks to all of them: that is how the lab tells cone from symmetric.
 *       --linger-ms N keeps the socket open N ms more (max 10000) and prints
 *       every datagram that still arrives, from anyone.
 *
 *   np_labudp junk [--sport N] [--count N] [--seed N] [--max-seconds N]
 *                  [--spoof SRC_IP:SRC_PORT] DST_IP DST_PORT
 *       Send COUNT (default 2000) junk datagrams: every type byte 0..255 after
 *       a valid version byte with garbage bodies, truncated headers of every
 *       length, a wrong version byte, empty datagrams, and random bytes of
 *       random length. Paced (about 10k/s at most) and bounded in count and
 *       time. Prints how many were sent. Never reads answers.
 *       --spoof sends from a forged source through a raw socket (root), so
 *       junk can pass a NAT's filter as if it came from the mapped peer.
 *
 * Only for the lab: it talks to addresses inside lab namespaces. Every loop
 * is bounded. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LABUDP_MAX_DST 16
#define LABUDP_BUF 2048

static void usage(void)
{
	fprintf(stderr,
		"usage: np_labudp echo [--max-seconds N] [--bind ADDR] PORT\n"
		"       np_labudp send [--sport N] [--ttl N] [--count N] [--wait-ms N] [--linger-ms N] [--data TEXT]\n"
		"                      DST_IP DST_PORT [DST_IP DST_PORT ...]\n"
		"       np_labudp junk [--sport N] [--count N] [--seed N] [--max-seconds N]\n"
		"                      [--spoof SRC_IP:SRC_PORT] DST_IP DST_PORT\n");
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "np_labudp: bad number '%s' (want %ld..%ld)\n", s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_dst(const char *ip, const char *port, struct sockaddr_in *sin)
{
	long p;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1) {
		fprintf(stderr, "np_labudp: bad IPv4 address '%s'\n", ip);
		return -1;
	}
	if (parse_long(port, 1, 65535, &p) < 0)
		return -1;
	sin->sin_port = htons((uint16_t)p);
	return 0;
}

static int open_socket(long sport, long ttl, const char *bind_ip)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("np_labudp: socket");
		return -1;
	}
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)sport) };
	if (bind_ip && inet_pton(AF_INET, bind_ip, &sin.sin_addr) != 1) {
		fprintf(stderr, "np_labudp: bad bind address '%s'\n", bind_ip);
		goto fail;
	}
	if (sport > 0 || bind_ip) {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			perror("np_labudp: bind");
			goto fail;
		}
	}
	if (ttl > 0) {
		int t = (int)ttl;
		if (setsockopt(fd, IPPROTO_IP, IP_TTL, &t, sizeof(t)) < 0) {
			perror("np_labudp: IP_TTL");
			goto fail;
		}
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* ---- echo --------------------------------------------------------------- */

static int cmd_echo(int argc, char **argv)
{
	long max_s = 30, port = -1;
	const char *bind_ip = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--max-seconds") && i + 1 < argc) {
			if (parse_long(argv[++i], 1, 86400, &max_s) < 0)
				return 2;
		} else if (!strcmp(argv[i], "--bind") && i + 1 < argc) {
			bind_ip = argv[++i];
		} else if (port < 0 && argv[i][0] != '-') {
			if (parse_long(argv[i], 1, 65535, &port) < 0)
				return 2;
		} else {
			usage();
			return 2;
		}
	}
	if (port < 0) {
		usage();
		return 2;
	}
	int fd = open_socket(port, 0, bind_ip ? bind_ip : "0.0.0.0");
	if (fd < 0)
		return 1;
	int64_t deadline = now_ms() + max_s * 1000;
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			break;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
		if (n < 0 && errno != EINTR) {
			perror("np_labudp: poll");
			break;
		}
		if (n <= 0)
			continue;
		uint8_t buf[LABUDP_BUF];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		if (r < 0)
			continue;
		char ip[INET_ADDRSTRLEN], text[64];
		inet_ntop(AF_INET, &from.sin_addr, ip, sizeof(ip));
		int tl = snprintf(text, sizeof(text), "%s:%u", ip, ntohs(from.sin_port));
		if (sendto(fd, text, (size_t)tl, 0, (struct sockaddr *)&from, flen) < 0)
			perror("np_labudp: sendto");
	}
	close(fd);
	return 0;
}

/* ---- send --------------------------------------------------------------- */

/* Wait up to wait_ms for replies, print each; returns how many arrived. */
static int read_replies(int fd, long wait_ms, int stop_after_one)
{
	int got = 0;
	int64_t deadline = now_ms() + wait_ms;
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			break;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		char buf[LABUDP_BUF];
		ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);
		if (r < 0)
			continue; /* e.g. ECONNREFUSED from an ICMP error: keep waiting */
		buf[r] = 0;
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == 0)
				buf[i] = ' ';
		printf("%s\n", buf);
		fflush(stdout);
		got++;
		/* One reply per datagram is what echo sends: stop early. */
		if (stop_after_one)
			break;
	}
	return got;
}

static int cmd_send(int argc, char **argv)
{
	long sport = 0, ttl = 0, count = 1, wait_ms = 500, linger_ms = 0;
	const char *data = "np_labudp";
	const char *pos[2 * LABUDP_MAX_DST];
	int npos = 0;
	for (int i = 0; i < argc; i++) {
		long *target = NULL, lo = 0, hi = 0;
		if (!strcmp(argv[i], "--sport"))
			target = &sport, lo = 1, hi = 65535;
		else if (!strcmp(argv[i], "--ttl"))
			target = &ttl, lo = 1, hi = 255;
		else if (!strcmp(argv[i], "--count"))
			target = &count, lo = 1, hi = 1000;
		else if (!strcmp(argv[i], "--wait-ms"))
			target = &wait_ms, lo = 0, hi = 10000;
		else if (!strcmp(argv[i], "--linger-ms"))
			target = &linger_ms, lo = 0, hi = 10000;
		if (target) {
			if (i + 1 >= argc || parse_long(argv[++i], lo, hi, target) < 0)
				return 2;
		} else if (!strcmp(argv[i], "--data") && i + 1 < argc) {
			data = argv[++i];
		} else if (argv[i][0] != '-' && npos < 2 * LABUDP_MAX_DST) {
			pos[npos++] = argv[i];
		} else {
			usage();
			return 2;
		}
	}
	if (npos < 2 || npos % 2) {
		usage();
		return 2;
	}
	struct sockaddr_in dst[LABUDP_MAX_DST];
	int ndst = npos / 2;
	for (int d = 0; d < ndst; d++)
		if (parse_dst(pos[2 * d], pos[2 * d + 1], &dst[d]) < 0)
			return 2;
	int fd = open_socket(sport, ttl, NULL);
	if (fd < 0)
		return 1;
	int replies = 0;
	for (int d = 0; d < ndst; d++) {
		for (long c = 0; c < count; c++) {
			if (sendto(fd, data, strlen(data), 0, (struct sockaddr *)&dst[d], sizeof(dst[d])) < 0)
				perror("np_labudp: sendto");
			replies += read_replies(fd, wait_ms, 1);
		}
	}
	if (linger_ms > 0)
		replies += read_replies(fd, linger_ms, 0);
	close(fd);
	return replies > 0 ? 0 : 1;
}

/* ---- junk --------------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rng(void)
{
	/* xorshift64*: fine for junk, deterministic per seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static size_t fill_random(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rng();
	return len;
}

/* Build junk datagram number i into buf; returns its length. */
static size_t make_junk(long i, uint8_t *buf, size_t cap)
{
	static const uint8_t known_types[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x10, 0x11,
					       0x20, 0x21, 0x30, 0x31, 0x40 };
	const long ntypes = (long)sizeof(known_types);
	if (i < 256) { /* every type byte, valid version, garbage body */
		buf[0] = 2; /* wire version 2 */
		buf[1] = (uint8_t)i;
		return 2 + fill_random(buf + 2, rng() % 200);
	}
	i -= 256;
	if (i < ntypes * 64) { /* truncated headers of every length 0..63 */
		size_t len = (size_t)(i % 64);
		buf[0] = 2; /* wire version 2 */
		buf[1] = known_types[i / 64];
		memset(buf + 2, 0, 62);
		if (len > 2 && (i / 64) % 2)
			fill_random(buf + 2, len - 2);
		return len;
	}
	i -= ntypes * 64;
	if (i < 256) { /* wrong version bytes */
		buf[0] = (uint8_t)i;
		buf[1] = known_types[i % ntypes];
		return 2 + fill_random(buf + 2, rng() % 100);
	}
	i -= 256;
	switch (i % 4) {
	case 0: /* big all-ones transport-looking datagram */
		buf[0] = 2; /* wire version 2 */
		buf[1] = 0x40;
		memset(buf + 2, 0xff, 1398);
		return 1400;
	case 1: /* tiny */
		return fill_random(buf, rng() % 3);
	default: /* random bytes, random length */
		return fill_random(buf, rng() % (cap < 1500 ? cap : 1500));
	}
}

/* A raw IPv4+UDP socket for forged sources; the kernel fills the IP
 * checksum, total length and id. UDP checksum 0 means "none" over IPv4. */
static int open_raw(void)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		perror("np_labudp: raw socket (needs root)");
	return fd;
}

static ssize_t send_spoofed(int fd, const struct sockaddr_in *src, const struct sockaddr_in *dst,
			    const uint8_t *data, size_t len)
{
	uint8_t pkt[LABUDP_BUF + sizeof(struct iphdr) + sizeof(struct udphdr)];
	struct iphdr *ip = (struct iphdr *)pkt;
	struct udphdr *udp = (struct udphdr *)(pkt + sizeof(*ip));
	size_t total = sizeof(*ip) + sizeof(*udp) + len;
	memset(pkt, 0, sizeof(*ip) + sizeof(*udp));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons((uint16_t)total);
	ip->saddr = src->sin_addr.s_addr;
	ip->daddr = dst->sin_addr.s_addr;
	udp->source = src->sin_port;
	udp->dest = dst->sin_port;
	udp->len = htons((uint16_t)(sizeof(*udp) + len));
	memcpy(pkt + sizeof(*ip) + sizeof(*udp), data, len);
	return sendto(fd, pkt, total, 0, (const struct sockaddr *)dst, sizeof(*dst));
}

static int parse_endpoint(const char *s, struct sockaddr_in *sin)
{
	char ip[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(ip)) {
		fprintf(stderr, "np_labudp: bad endpoint '%s' (want IP:PORT)\n", s);
		return -1;
	}
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = 0;
	return parse_dst(ip, colon + 1, sin);
}

static int cmd_junk(int argc, char **argv)
{
	long sport = 0, count = 2000, seed = 1, max_s = 20;
	const char *spoof = NULL;
	const char *pos[2];
	int npos = 0;
	for (int i = 0; i < argc; i++) {
		long *target = NULL, lo = 0, hi = 0;
		if (!strcmp(argv[i], "--sport"))
			target = &sport, lo = 1, hi = 65535;
		else if (!strcmp(argv[i], "--count"))
			target = &count, lo = 1, hi = 100000;
		else if (!strcmp(argv[i], "--seed"))
			target = &seed, lo = 0, hi = 1L << 30;
		else if (!strcmp(argv[i], "--max-seconds"))
			target = &max_s, lo = 1, hi = 600;
		if (target) {
			if (i + 1 >= argc || parse_long(argv[++i], lo, hi, target) < 0)
				return 2;
		} else if (!strcmp(argv[i], "--spoof") && i + 1 < argc) {
			spoof = argv[++i];
		} else if (argv[i][0] != '-' && npos < 2) {
			pos[npos++] = argv[i];
		} else {
			usage();
			return 2;
		}
	}
	if (npos != 2) {
		usage();
		return 2;
	}
	struct sockaddr_in dst, src;
	if (parse_dst(pos[0], pos[1], &dst) < 0)
		return 2;
	if (spoof && parse_endpoint(spoof, &src) < 0)
		return 2;
	int fd = spoof ? open_raw() : open_socket(sport, 0, NULL);
	if (fd < 0)
		return 1;
	rng_state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)seed;
	int64_t deadline = now_ms() + max_s * 1000;
	long sent = 0;
	uint8_t buf[LABUDP_BUF];
	for (long i = 0; i < count && now_ms() < deadline; i++) {
		size_t len = make_junk(i, buf, sizeof(buf));
		ssize_t r = spoof ? send_spoofed(fd, &src, &dst, buf, len)
				  : sendto(fd, buf, len, 0, (struct sockaddr *)&dst, sizeof(dst));
		if (r >= 0)
			sent++;
		/* Drain ICMP errors (ECONNREFUSED) so they do not stop us. */
		char sink[LABUDP_BUF];
		for (int k = 0; !spoof && k < 64; k++)
			if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) < 0 && errno != ECONNREFUSED)
				break;
		struct timespec ts = { 0, 100 * 1000 }; /* 100 us: at most ~10k/s */
		nanosleep(&ts, NULL);
	}
	close(fd);
	printf("sent %ld\n", sent);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "echo"))
		return cmd_echo(argc - 2, argv + 2);
	if (!strcmp(argv[1], "send"))
		return cmd_send(argc - 2, argv + 2);
	if (!strcmp(argv[1], "junk"))
		return cmd_junk(argc - 2, argv + 2);
	usage();
	return 2;
}
