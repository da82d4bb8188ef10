/* np_labtcp: a bounded TCP bulk transfer with a checksum, for the NAT lab.
 *
 *   np_labtcp recv [--max-seconds N] [--bind ADDR] PORT
 *       Accept one connection, read until EOF and print
 *       "bytes=N sha256=HEX" of everything received. Exits after N seconds
 *       (default 300) even if the sender never finishes (status 1).
 *
 *   np_labtcp send [--max-seconds N] [--seed N] DST_IP DST_PORT BYTES
 *       Connect, send BYTES (suffixes K, M, G: powers of 1024) of a
 *       deterministic pseudo-random stream (ChaCha20 keyed by the seed), and
 *       print "bytes=N sha256=HEX" of what it sent.
 *
 * Both sides hash independently, so equal lines prove the stream arrived
 * intact. Only for the lab: it talks to addresses inside lab namespaces. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#define CHUNK (256u * 1024u)

static unsigned max_seconds = 300;
static uint64_t seed = 1;

static int usage(void)
{
	fprintf(stderr, "usage: np_labtcp recv [--max-seconds N] [--bind ADDR] PORT\n"
			"       np_labtcp send [--max-seconds N] [--seed N] DST_IP DST_PORT BYTES\n");
	return 2;
}

static void on_alarm(int sig)
{
	static const char msg[] = "np_labtcp: time limit reached\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing left to do */
	}
	_exit(1);
}

static int parse_bytes(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'G': v <<= 30; end++; break;
	case 'M': v <<= 20; end++; break;
	case 'K': v <<= 10; end++; break;
	default: break;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static void print_result(uint64_t n, crypto_hash_sha256_state *st)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];

	crypto_hash_sha256_final(st, h);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	printf("bytes=%llu sha256=%s\n", (unsigned long long)n, hex);
	fflush(stdout);
}

static int resolve(const char *host, const char *port, int passive, struct addrinfo **res)
{
	struct addrinfo hints = { 0 };
	int rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	rc = getaddrinfo(host, port, &hints, res);
	if (rc) {
		fprintf(stderr, "np_labtcp: %s port %s: %s\n", host ? host : "*", port, gai_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

static int do_recv(const char *bind_addr, const char *port)
{
	struct addrinfo *ai = NULL;
	crypto_hash_sha256_state st;
	uint64_t total = 0;
	unsigned char *buf = malloc(CHUNK);
	int ls = -1, cs = -1, one = 1, rc = 1;

	if (!buf || resolve(bind_addr ? bind_addr : "::", port, 1, &ai) < 0)
		goto out;
	ls = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, ai->ai_addr, ai->ai_addrlen) < 0 || listen(ls, 1) < 0) {
		perror("np_labtcp: listen");
		goto out;
	}
	printf("listening\n");
	fflush(stdout);
	cs = accept(ls, NULL, NULL);
	if (cs < 0) {
		perror("np_labtcp: accept");
		goto out;
	}
	crypto_hash_sha256_init(&st);
	for (;;) {
		ssize_t n = read(cs, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("np_labtcp: read");
			goto out;
		}
		if (n == 0)
			break;
		crypto_hash_sha256_update(&st, buf, (size_t)n);
		total += (uint64_t)n;
	}
	print_result(total, &st);
	rc = 0;
out:
	if (cs >= 0)
		close(cs);
	if (ls >= 0)
		close(ls);
	if (ai)
		freeaddrinfo(ai);
	free(buf);
	return rc;
}

static int do_send(const char *host, const char *port, uint64_t bytes)
{
	struct addrinfo *ai = NULL;
	crypto_hash_sha256_state st;
	unsigned char key[crypto_stream_chacha20_KEYBYTES] = { 0 };
	unsigned char *buf = malloc(CHUNK);
	uint64_t sent = 0, chunk_no = 0;
	int s = -1, rc = 1;

	if (!buf || resolve(host, port, 0, &ai) < 0)
		goto out;
	memcpy(key, &seed, sizeof(seed));
	s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, ai->ai_addr, ai->ai_addrlen) < 0) {
		perror("np_labtcp: connect");
		goto out;
	}
	crypto_hash_sha256_init(&st);
	while (sent < bytes) {
		unsigned char nonce[crypto_stream_chacha20_NONCEBYTES] = { 0 };
		size_t len = bytes - sent < CHUNK ? (size_t)(bytes - sent) : CHUNK, off = 0;

		memcpy(nonce, &chunk_no, sizeof(chunk_no));
		chunk_no++;
		crypto_stream_chacha20(buf, len, nonce, key);
		crypto_hash_sha256_update(&st, buf, len);
		while (off < len) {
			ssize_t n = write(s, buf + off, len - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				perror("np_labtcp: write");
				goto out;
			}
			off += (size_t)n;
		}
		sent += len;
	}
	if (shutdown(s, SHUT_WR) < 0) {
		perror("np_labtcp: shutdown");
		goto out;
	}
	/* Wait for the receiver to close, so everything was acknowledged. */
	while (read(s, buf, CHUNK) > 0) {
	}
	print_result(sent, &st);
	rc = 0;
out:
	if (s >= 0)
		close(s);
	if (ai)
		freeaddrinfo(ai);
	free(buf);
	return rc;
}

int main(int argc, char **argv)
{
	const char *bind_addr = NULL, *mode;
	int i = 2;

	if (argc < 2 || sodium_init() < 0)
		return usage();
	mode = argv[1];
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (i + 1 >= argc)
			return usage();
		if (strcmp(argv[i], "--max-seconds") == 0)
			max_seconds = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--seed") == 0)
			seed = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--bind") == 0)
			bind_addr = argv[i + 1];
		else
			return usage();
	}
	if (max_seconds == 0 || max_seconds > 3600)
		max_seconds = 300;
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm(max_seconds);
	if (strcmp(mode, "recv") == 0 && argc - i == 1)
		return do_recv(bind_addr, argv[i]);
	if (strcmp(mode, "send") == 0 && argc - i == 3) {
		uint64_t bytes;

		if (parse_bytes(argv[i + 2], &bytes) < 0)
			return usage();
		return do_send(argv[i], argv[i + 1], bytes);
	}
	return usage();
}
