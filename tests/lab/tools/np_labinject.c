/* np_labinject: crafted datagrams for the lab's security tests (tests/lab/).
 *
 *   np_labinject [--spoof SRC_IP:SRC_PORT] [--count N] [--gap-us N] MODE DST_IP DST_PORT [MODE ARGS]
 *
 * Sends to DST_IP:DST_PORT (a peer's public endpoint), from an ordinary UDP
 * socket, or with --spoof from a forged IPv4 source through a raw socket
 * (root), so the datagrams pass the target NAT's filter as if they came from
 * the mapped peer. COUNT (default 10, at most 1000) is how often each crafted
 * datagram is sent; GAP_US (default 200) paces them. Modes:
 *
 *   rawip TUN_SRC TUN_DST MARKER   a bare IPv4 packet (UDP to port 9 with
 *                                   MARKER as payload, and an ICMP echo with
 *                                   MARKER), as the pre-encryption protocol
 *                                   would have carried it
 *   data TUN_SRC TUN_DST MARKER    the same packets framed as insecure DATA
 *                                   ([1][0x30][0][0] + IP packet)
 *   replay FILE|-                  the UDP payloads of an IPv4 pcap file
 *                                   (Ethernet, raw IP, Linux cooked v1/v2), or
 *                                   one hex datagram per line on stdin ("-");
 *                                   at most 512 datagrams, each sent COUNT times
 *   probe                          PROBE and PROBE_ACK with random rounds,
 *                                   nonces and MACs, both flag values
 *   handshake                      HANDSHAKE_INIT and HANDSHAKE_RESP: every
 *                                   truncation, random bodies of the right
 *                                   length, and overlong ones
 *   register SESSION               REGISTER (to a server port) claiming a
 *                                   "random" NAT and a public LAN endpoint,
 *                                   without a cookie and with a random one
 *   natprobe                       NAT_PROBE with each CHANGE flag combination
 *
 *   np_labinject grep FILE HEX     counts the records of a pcap file that
 *                                   contain the byte string HEX; prints it
 *
 * Prints "sent N bytes B" on success (B: UDP payload bytes). Only for the lab: every loop is bounded. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "np_session.h"
#include "np_wire.h"

#define INJ_MAX_COUNT 1000
#define INJ_MAX_REPLAY 512
#define INJ_BUF 2048
#define INJ_PCAP_MAX_RECORDS 100000

struct inj {
	int fd;
	int spoof;
	struct sockaddr_in src, dst;
	long count, gap_us;
	long sent, bytes;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: np_labinject [--spoof SRC_IP:SRC_PORT] [--count N] [--gap-us N] MODE DST_IP DST_PORT [ARGS]\n"
		"  modes: rawip TUN_SRC TUN_DST MARKER | data TUN_SRC TUN_DST MARKER | replay FILE|- | probe |\n"
		"         handshake | register SESSION | natprobe\n"
		"       np_labinject grep PCAP_FILE HEX\n");
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "np_labinject: bad number '%s' (expected %ld..%ld)\n", s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_ip_port(const char *ip, const char *port, struct sockaddr_in *sin)
{
	long p;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1) {
		fprintf(stderr, "np_labinject: bad IPv4 address '%s'\n", ip);
		return -1;
	}
	if (parse_long(port, 1, 65535, &p) < 0)
		return -1;
	sin->sin_port = htons((uint16_t)p);
	return 0;
}

static int parse_endpoint(const char *s, struct sockaddr_in *sin)
{
	char ip[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(ip)) {
		fprintf(stderr, "np_labinject: bad endpoint '%s' (want IP:PORT)\n", s);
		return -1;
	}
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = '\0';
	return parse_ip_port(ip, colon + 1, sin);
}

/* RFC 1071 checksum over len bytes, starting from sum. */
static uint16_t np_csum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* An IPv4 header for a payload of plen bytes; returns 20. */
static size_t ip4_header(uint8_t *p, uint8_t proto, const struct in_addr *src, const struct in_addr *dst,
			 size_t plen)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)(20 + plen));
	put16(p + 4, (uint16_t)randombytes_uniform(65536));
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	put16(p + 10, np_csum(p, 20, 0));
	return 20;
}

/* Inner packets for rawip/data: a UDP datagram and an ICMP echo, both
 * carrying the marker, with valid checksums (so a kernel would take them). */
static size_t inner_udp(uint8_t *out, size_t cap, const struct in_addr *src, const struct in_addr *dst,
			const char *marker)
{
	size_t mlen = strlen(marker), ulen = 8 + mlen;
	uint8_t *u = out + 20;
	uint32_t sum = 0;

	if (20 + ulen > cap)
		return 0;
	put16(u, 40000);
	put16(u + 2, 9);
	put16(u + 4, (uint16_t)ulen);
	put16(u + 6, 0);
	memcpy(u + 8, marker, mlen);
	/* pseudo header */
	sum += (uint32_t)(((const uint8_t *)src)[0] << 8 | ((const uint8_t *)src)[1]);
	sum += (uint32_t)(((const uint8_t *)src)[2] << 8 | ((const uint8_t *)src)[3]);
	sum += (uint32_t)(((const uint8_t *)dst)[0] << 8 | ((const uint8_t *)dst)[1]);
	sum += (uint32_t)(((const uint8_t *)dst)[2] << 8 | ((const uint8_t *)dst)[3]);
	sum += 17u + (uint32_t)ulen;
	put16(u + 6, np_csum(u, ulen, sum));
	ip4_header(out, 17, src, dst, ulen);
	return 20 + ulen;
}

static size_t inner_icmp(uint8_t *out, size_t cap, const struct in_addr *src, const struct in_addr *dst,
			 const char *marker)
{
	size_t mlen = strlen(marker), ilen = 8 + mlen;
	uint8_t *c = out + 20;

	if (20 + ilen > cap)
		return 0;
	memset(c, 0, 8);
	c[0] = 8; /* echo request */
	put16(c + 4, 0x4e50);
	put16(c + 6, 1);
	memcpy(c + 8, marker, mlen);
	put16(c + 2, np_csum(c, ilen, 0));
	ip4_header(out, 1, src, dst, ilen);
	return 20 + ilen;
}

static int send_one(struct inj *j, const uint8_t *data, size_t len)
{
	ssize_t r;

	if (j->spoof) {
		uint8_t pkt[INJ_BUF + 28];
		uint8_t *u = pkt + 20;

		if (len > INJ_BUF)
			return -1;
		ip4_header(pkt, 17, &j->src.sin_addr, &j->dst.sin_addr, 8 + len);
		memcpy(u, &j->src.sin_port, 2);
		memcpy(u + 2, &j->dst.sin_port, 2);
		put16(u + 4, (uint16_t)(8 + len));
		put16(u + 6, 0); /* no UDP checksum (allowed over IPv4) */
		memcpy(u + 8, data, len);
		r = sendto(j->fd, pkt, 28 + len, 0, (const struct sockaddr *)&j->dst, sizeof(j->dst));
	} else {
		r = sendto(j->fd, data, len, 0, (const struct sockaddr *)&j->dst, sizeof(j->dst));
		/* Drain ICMP errors so a refused port does not stop the run. */
		for (int k = 0; k < 16; k++) {
			char sink[64];
			if (recv(j->fd, sink, sizeof(sink), MSG_DONTWAIT) < 0 && errno != ECONNREFUSED)
				break;
		}
	}
	if (r >= 0) {
		j->sent++;
		j->bytes += (long)len;
	}
	if (j->gap_us > 0) {
		struct timespec ts = { j->gap_us / 1000000, (j->gap_us % 1000000) * 1000 };
		nanosleep(&ts, NULL);
	}
	return r < 0 ? -1 : 0;
}

static void send_count(struct inj *j, const uint8_t *data, size_t len)
{
	for (long i = 0; i < j->count; i++)
		send_one(j, data, len);
}

static int mode_ip(struct inj *j, int framed, int argc, char **argv)
{
	struct in_addr src, dst;
	uint8_t buf[INJ_BUF];
	size_t off = framed ? NP_DATA_HDR_LEN : 0, n;

	if (argc != 3 || inet_pton(AF_INET, argv[0], &src) != 1 || inet_pton(AF_INET, argv[1], &dst) != 1 ||
	    strlen(argv[2]) == 0 || strlen(argv[2]) > 1000) {
		usage();
		return 2;
	}
	buf[0] = NP_WIRE_VERSION;
	buf[1] = NP_MSG_DATA;
	buf[2] = buf[3] = 0;
	n = inner_udp(buf + off, sizeof(buf) - off, &src, &dst, argv[2]);
	send_count(j, buf, off + n);
	n = inner_icmp(buf + off, sizeof(buf) - off, &src, &dst, argv[2]);
	send_count(j, buf, off + n);
	if (framed) {
		/* An insecure keepalive too: it must not count as a sign of life. */
		buf[1] = NP_MSG_KEEPALIVE;
		send_count(j, buf, NP_DATA_HDR_LEN);
	}
	return 0;
}

/* ---- pcap ---------------------------------------------------------------- */

struct pcap {
	FILE *f;
	int swap;
	uint32_t linktype;
};

static uint32_t pcap_u32(const struct pcap *pc, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return pc->swap ? __builtin_bswap32(v) : v;
}

static int pcap_open(struct pcap *pc, const char *path)
{
	uint8_t gh[24];
	uint32_t magic;

	memset(pc, 0, sizeof(*pc));
	pc->f = fopen(path, "rb");
	if (!pc->f) {
		fprintf(stderr, "np_labinject: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fread(gh, 1, sizeof(gh), pc->f) != sizeof(gh)) {
		fprintf(stderr, "np_labinject: %s: no pcap header\n", path);
		goto bad;
	}
	memcpy(&magic, gh, 4);
	if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du)
		pc->swap = 0;
	else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u)
		pc->swap = 1;
	else {
		fprintf(stderr, "np_labinject: %s: not a pcap file (pcapng is not supported)\n", path);
		goto bad;
	}
	pc->linktype = pcap_u32(pc, gh + 20) & 0x0fffffffu;
	return 0;
bad:
	fclose(pc->f);
	pc->f = NULL;
	return -1;
}

/* Next record into buf; returns its captured length, 0 at the end, -1 on a bad file. */
static long pcap_next(struct pcap *pc, uint8_t *buf, size_t cap)
{
	uint8_t rh[16];
	uint32_t incl;

	if (fread(rh, 1, sizeof(rh), pc->f) != sizeof(rh))
		return 0;
	incl = pcap_u32(pc, rh + 8);
	if (incl > cap || incl > 262144) {
		fprintf(stderr, "np_labinject: pcap record of %u bytes is too large\n", incl);
		return -1;
	}
	if (fread(buf, 1, incl, pc->f) != incl)
		return 0; /* a truncated last record: tcpdump was stopped mid-write */
	return (long)incl;
}

/* The UDP payload of one IPv4 record, or NULL. */
static const uint8_t *pcap_udp_payload(uint32_t linktype, const uint8_t *rec, size_t len, size_t *plen)
{
	size_t off, ihl, ulen;
	uint16_t proto;

	switch (linktype) {
	case 1: /* Ethernet */
		if (len < 14)
			return NULL;
		proto = (uint16_t)(rec[12] << 8 | rec[13]);
		off = 14;
		if (proto == 0x8100 && len >= 18) {
			proto = (uint16_t)(rec[16] << 8 | rec[17]);
			off = 18;
		}
		break;
	case 12:
	case 101: /* raw IP */
		proto = 0x0800;
		off = 0;
		break;
	case 113: /* Linux cooked v1 */
		if (len < 16)
			return NULL;
		proto = (uint16_t)(rec[14] << 8 | rec[15]);
		off = 16;
		break;
	case 276: /* Linux cooked v2 */
		if (len < 20)
			return NULL;
		proto = (uint16_t)(rec[0] << 8 | rec[1]);
		off = 20;
		break;
	default:
		return NULL;
	}
	if (proto != 0x0800 || len < off + 20 || (rec[off] >> 4) != 4)
		return NULL;
	ihl = (size_t)(rec[off] & 0x0f) * 4;
	if (ihl < 20 || len < off + ihl + 8 || rec[off + 9] != 17)
		return NULL;
	if ((rec[off + 6] & 0x3f) || rec[off + 7]) /* a fragment */
		return NULL;
	off += ihl;
	ulen = (size_t)(rec[off + 4] << 8 | rec[off + 5]);
	if (ulen < 8 || off + ulen > len)
		return NULL;
	*plen = ulen - 8;
	return rec + off + 8;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex text (spaces and ':' ignored) into out; returns the length or -1. */
static long unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v = hexval((unsigned char)*s);
		if (v < 0) {
			if (*s == ' ' || *s == ':' || *s == '\t' || *s == '\n' || *s == '\r')
				continue;
			return -1;
		}
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= cap)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? (long)n : -1;
}

static int mode_replay(struct inj *j, int argc, char **argv)
{
	static uint8_t store[INJ_MAX_REPLAY][INJ_BUF];
	static size_t lens[INJ_MAX_REPLAY];
	static uint8_t rec[262144];
	size_t n = 0;

	if (argc != 1) {
		usage();
		return 2;
	}
	if (strcmp(argv[0], "-") == 0) {
		static char line[2 * INJ_BUF + 64];
		while (n < INJ_MAX_REPLAY && fgets(line, sizeof(line), stdin)) {
			long l = unhex(line, store[n], INJ_BUF);
			if (l < 0) {
				fprintf(stderr, "np_labinject: bad hex line %zu on stdin\n", n + 1);
				return 2;
			}
			if (l > 0)
				lens[n++] = (size_t)l;
		}
	} else {
		struct pcap pc;
		long l;

		if (pcap_open(&pc, argv[0]) < 0)
			return 2;
		for (long i = 0; i < INJ_PCAP_MAX_RECORDS && n < INJ_MAX_REPLAY; i++) {
			const uint8_t *pl;
			size_t plen;

			l = pcap_next(&pc, rec, sizeof(rec));
			if (l <= 0)
				break;
			pl = pcap_udp_payload(pc.linktype, rec, (size_t)l, &plen);
			if (!pl || plen == 0 || plen > INJ_BUF)
				continue;
			memcpy(store[n], pl, plen);
			lens[n++] = plen;
		}
		fclose(pc.f);
		if (l < 0)
			return 2;
	}
	if (n == 0) {
		fprintf(stderr, "np_labinject: no datagrams to replay in %s\n", argv[0]);
		return 1;
	}
	fprintf(stderr, "np_labinject: replaying %zu datagrams %ld times each\n", n, j->count);
	/* Round by round, so each round replays the whole flow in order. */
	for (long c = 0; c < j->count; c++)
		for (size_t i = 0; i < n; i++)
			send_one(j, store[i], lens[i]);
	return 0;
}

static int mode_probe(struct inj *j)
{
	uint8_t buf[NP_PROBE_WIRE_LEN];

	for (long i = 0; i < j->count; i++) {
		for (int k = 0; k < 4; k++) {
			struct np_msg_probe m = { 0 };
			int len;

			m.type = (k & 1) ? NP_MSG_PROBE_ACK : NP_MSG_PROBE;
			m.flags = (k & 2) ? NP_PROBE_F_HIGH : 0;
			m.round = randombytes_uniform(8);
			randombytes_buf(&m.nonce, sizeof(m.nonce));
			randombytes_buf(m.mac, sizeof(m.mac));
			len = np_wire_encode_probe(buf, sizeof(buf), &m);
			if (len < 0)
				return 1;
			send_one(j, buf, (size_t)len);
		}
	}
	return 0;
}

static int mode_handshake(struct inj *j)
{
	static const struct {
		uint8_t type;
		size_t len;
	} shapes[] = {
		{ NP_MSG_HANDSHAKE_INIT, NP_SESSION_INIT_LEN },
		{ NP_MSG_HANDSHAKE_RESP, NP_SESSION_RESP_LEN },
	};
	uint8_t buf[INJ_BUF];

	for (long i = 0; i < j->count; i++) {
		for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
			size_t full = shapes[s].len;

			/* Every truncation, the right length, and a few overlong ones. */
			for (size_t len = 2; len <= full + 8; len++) {
				randombytes_buf(buf, len);
				buf[0] = NP_WIRE_VERSION;
				buf[1] = shapes[s].type;
				if (len > 3)
					buf[2] = buf[3] = 0;
				send_one(j, buf, len);
			}
		}
	}
	return 0;
}

static int mode_register(struct inj *j, const char *session)
{
	uint8_t buf[256];

	for (long i = 0; i < j->count; i++) {
		struct np_msg_register m = { 0 };
		int len;

		randombytes_buf(&m.nonce, sizeof(m.nonce));
		m.timestamp_ms = (uint64_t)time(NULL) * 1000u;
		snprintf(m.session, sizeof(m.session), "%s", session);
		m.local.family = 4;
		m.local.port = 9;
		m.local.ip[0] = 192, m.local.ip[1] = 0, m.local.ip[2] = 2, m.local.ip[3] = 99;
		m.nat.known = 1;
		m.nat.mapping = NP_NAT_MAP_APDM;
		m.nat.filtering = NP_NAT_FILTER_APDF;
		m.nat.allocation = NP_NAT_ALLOC_RANDOM;
		m.nat.depth = 1;
		if (i & 1) {
			m.flags = NP_REG_F_COOKIE;
			randombytes_buf(m.cookie, sizeof(m.cookie));
		}
		len = np_wire_encode_register(buf, sizeof(buf), &m);
		if (len < 0)
			return 1;
		send_one(j, buf, (size_t)len);
	}
	return 0;
}

static int mode_natprobe(struct inj *j)
{
	uint8_t buf[NP_NAT_PROBE_LEN];

	for (long i = 0; i < j->count; i++) {
		struct np_msg_nat_probe m = { .flags = (uint8_t)(i & 3), .txid = randombytes_random() };
		int len = np_wire_encode_nat_probe(buf, sizeof(buf), &m);

		if (len < 0)
			return 1;
		send_one(j, buf, (size_t)len);
	}
	return 0;
}

static int cmd_grep(int argc, char **argv)
{
	static uint8_t rec[262144];
	uint8_t pat[256];
	struct pcap pc;
	long plen, l, hits = 0;

	if (argc != 2) {
		usage();
		return 2;
	}
	plen = unhex(argv[1], pat, sizeof(pat));
	if (plen <= 0) {
		fprintf(stderr, "np_labinject: bad hex pattern '%s'\n", argv[1]);
		return 2;
	}
	if (pcap_open(&pc, argv[0]) < 0)
		return 2;
	for (long i = 0; i < INJ_PCAP_MAX_RECORDS; i++) {
		l = pcap_next(&pc, rec, sizeof(rec));
		if (l <= 0)
			break;
		if (l >= plen && memmem(rec, (size_t)l, pat, (size_t)plen))
			hits++;
	}
	fclose(pc.f);
	if (l < 0)
		return 2;
	printf("%ld\n", hits);
	return 0;
}

int main(int argc, char **argv)
{
	struct inj j = { .fd = -1, .count = 10, .gap_us = 200 };
	const char *spoof = NULL, *mode;
	int i = 1, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sodium_init() < 0)
		return 1;
	if (argc >= 2 && strcmp(argv[1], "grep") == 0)
		return cmd_grep(argc - 2, argv + 2);
	for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (i + 1 >= argc) {
			usage();
			return 2;
		}
		if (strcmp(argv[i], "--spoof") == 0)
			spoof = argv[++i];
		else if (strcmp(argv[i], "--count") == 0) {
			if (parse_long(argv[++i], 1, INJ_MAX_COUNT, &j.count) < 0)
				return 2;
		} else if (strcmp(argv[i], "--gap-us") == 0) {
			if (parse_long(argv[++i], 0, 1000000, &j.gap_us) < 0)
				return 2;
		} else {
			usage();
			return 2;
		}
	}
	if (argc - i < 3) {
		usage();
		return 2;
	}
	mode = argv[i];
	if (parse_ip_port(argv[i + 1], argv[i + 2], &j.dst) < 0)
		return 2;
	if (spoof && parse_endpoint(spoof, &j.src) < 0)
		return 2;
	j.spoof = spoof != NULL;
	j.fd = j.spoof ? socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW)
		       : socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (j.fd < 0) {
		perror(j.spoof ? "np_labinject: raw socket (needs root)" : "np_labinject: socket");
		return 1;
	}
	argc -= i + 3;
	argv += i + 3;
	if (strcmp(mode, "rawip") == 0)
		rc = mode_ip(&j, 0, argc, argv);
	else if (strcmp(mode, "data") == 0)
		rc = mode_ip(&j, 1, argc, argv);
	else if (strcmp(mode, "replay") == 0)
		rc = mode_replay(&j, argc, argv);
	else if (strcmp(mode, "probe") == 0 && argc == 0)
		rc = mode_probe(&j);
	else if (strcmp(mode, "handshake") == 0 && argc == 0)
		rc = mode_handshake(&j);
	else if (strcmp(mode, "register") == 0 && argc == 1)
		rc = mode_register(&j, argv[0]);
	else if (strcmp(mode, "natprobe") == 0 && argc == 0)
		rc = mode_natprobe(&j);
	else {
		usage();
		rc = 2;
	}
	close(j.fd);
	if (rc == 0)
		printf("sent %ld bytes %ld\n", j.sent, j.bytes);
	return rc;
}
