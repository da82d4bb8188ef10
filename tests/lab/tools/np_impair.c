/* np_impair: delay, jitter and loss for the NAT lab, in user space (this
 * kernel has no sch_netem). It takes the packets that iptables NFQUEUE
 * rules hand to one queue of the current network namespace, drops some,
 * and gives the others back (NF_ACCEPT) after a delay. Run it with
 * `ip netns exec NS np_impair ...`; tests/lab/nplab.sh (lab_impair) writes
 * the rules and starts it.
 *
 *   np_impair -q QUEUE [-d DELAY_MS] [-j JITTER_MS] [-l LOSS_PCT] [-t SECONDS] [-s SEED]
 *     -q  NFQUEUE number (0..65535)
 *     -d  delay added to every packet (0..10000 ms)
 *     -j  jitter: the delay varies uniformly in [d - j, d + j] (0..d ms); packets may reorder
 *     -l  loss: drop this share of packets (0..100 %, decimals allowed)
 *     -t  exit after this many seconds (1..86400, default 600); pending packets are let through
 *     -s  seed of the loss and jitter draws (default: from the clock)
 *
 * Bounds: at most NPI_MAX_PENDING packets held (more are dropped, as a full
 * router queue would), and the run ends after -t seconds. The rules should
 * use --queue-bypass, so that packets pass unimpaired once the tool is gone.
 * On SIGTERM/SIGINT it lets the held packets through and exits 0. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NPI_MAX_PENDING 8192
#define NPI_QUEUE_MAXLEN 8192

struct held {
	uint64_t due_us;
	uint32_t id;
};

struct impair {
	struct nfq_q_handle *qh;
	uint64_t delay_us, jitter_us;
	double loss;                 /* 0..1 */
	uint64_t rng;
	struct held heap[NPI_MAX_PENDING]; /* min-heap on due_us */
	size_t n;
	uint64_t seen, dropped, overflow, passed;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* xorshift64*: plenty for loss and jitter draws. */
static uint64_t rnd(struct impair *im)
{
	im->rng ^= im->rng >> 12;
	im->rng ^= im->rng << 25;
	im->rng ^= im->rng >> 27;
	return im->rng * 0x2545F4914F6CDD1DULL;
}

static double rnd01(struct impair *im)
{
	return (double)(rnd(im) >> 11) / (double)(1ULL << 53);
}

static void heap_push(struct impair *im, uint64_t due, uint32_t id)
{
	size_t i = im->n++;

	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (im->heap[up].due_us <= due)
			break;
		im->heap[i] = im->heap[up];
		i = up;
	}
	im->heap[i].due_us = due;
	im->heap[i].id = id;
}

static struct held heap_pop(struct impair *im)
{
	struct held top = im->heap[0], last = im->heap[--im->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= im->n)
			break;
		if (c + 1 < im->n && im->heap[c + 1].due_us < im->heap[c].due_us)
			c++;
		if (im->heap[c].due_us >= last.due_us)
			break;
		im->heap[i] = im->heap[c];
		i = c;
	}
	if (im->n)
		im->heap[i] = last;
	return top;
}

static void verdict(struct impair *im, uint32_t id, int v)
{
	if (nfq_set_verdict(im->qh, id, (uint32_t)v, 0, NULL) < 0)
		fprintf(stderr, "np_impair: verdict for packet %u failed: %s\n", id, strerror(errno));
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
	struct impair *im = data;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	uint32_t id;
	uint64_t d;

	(void)qh;
	(void)msg;
	if (!ph)
		return 0;
	id = ntohl(ph->packet_id);
	im->seen++;
	if (im->loss > 0 && rnd01(im) < im->loss) {
		im->dropped++;
		verdict(im, id, NF_DROP);
		return 0;
	}
	d = im->delay_us;
	if (im->jitter_us) {
		uint64_t span = 2 * im->jitter_us + 1;
		d = d - im->jitter_us + rnd(im) % span;
	}
	if (d == 0) {
		im->passed++;
		verdict(im, id, NF_ACCEPT);
		return 0;
	}
	if (im->n >= NPI_MAX_PENDING) {
		im->overflow++;
		verdict(im, id, NF_DROP);
		return 0;
	}
	heap_push(im, now_us() + d, id);
	return 0;
}

static void release_due(struct impair *im, int all)
{
	uint64_t t = now_us();

	while (im->n && (all || im->heap[0].due_us <= t)) {
		struct held h = heap_pop(im);
		im->passed++;
		verdict(im, h.id, NF_ACCEPT);
	}
}

static int num_arg(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: np_impair -q QUEUE [-d DELAY_MS] [-j JITTER_MS] [-l LOSS_PCT] [-t SECONDS] [-s SEED]\n");
}

int main(int argc, char **argv)
{
	static struct impair im;
	double q = -1, d = 0, j = 0, l = 0, t = 600, s = -1;
	struct nfq_handle *h = NULL;
	char buf[65536] __attribute__((aligned));
	uint64_t end;
	int o, fd, rc = 1;

	while ((o = getopt(argc, argv, "q:d:j:l:t:s:h")) != -1) {
		int bad = 0;
		switch (o) {
		case 'q': bad = num_arg(optarg, 0, 65535, &q); break;
		case 'd': bad = num_arg(optarg, 0, 10000, &d); break;
		case 'j': bad = num_arg(optarg, 0, 10000, &j); break;
		case 'l': bad = num_arg(optarg, 0, 100, &l); break;
		case 't': bad = num_arg(optarg, 1, 86400, &t); break;
		case 's': bad = num_arg(optarg, 0, 4e9, &s); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "np_impair: bad value '%s' for -%c\n", optarg, o);
			return 2;
		}
	}
	if (q < 0 || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (j > d) {
		fprintf(stderr, "np_impair: jitter (%g ms) larger than the delay (%g ms)\n", j, d);
		return 2;
	}
	im.delay_us = (uint64_t)(d * 1000);
	im.jitter_us = (uint64_t)(j * 1000);
	im.loss = l / 100.0;
	im.rng = s >= 0 ? (uint64_t)s * 2654435761u + 1 : now_us() ^ ((uint64_t)getpid() << 32);
	if (!im.rng)
		im.rng = 1;

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	h = nfq_open();
	if (!h) {
		fprintf(stderr, "np_impair: nfq_open failed: %s (root? nfnetlink_queue?)\n", strerror(errno));
		return 1;
	}
	im.qh = nfq_create_queue(h, (uint16_t)q, on_packet, &im);
	if (!im.qh) {
		fprintf(stderr, "np_impair: cannot bind NFQUEUE %g: %s (in use by another program?)\n", q,
			strerror(errno));
		goto out;
	}
	/* The verdict needs only the packet id: copy no payload. */
	if (nfq_set_mode(im.qh, NFQNL_COPY_META, 0) < 0 || nfq_set_queue_maxlen(im.qh, NPI_QUEUE_MAXLEN) < 0) {
		fprintf(stderr, "np_impair: cannot configure queue %g: %s\n", q, strerror(errno));
		goto out;
	}
	fd = nfq_fd(h);
	nfnl_rcvbufsiz(nfq_nfnlh(h), 4 << 20);
	fprintf(stderr, "np_impair: queue %g: delay %g ms, jitter %g ms, loss %g %%, for %g s\n", q, d, j, l, t);
	end = now_us() + (uint64_t)(t * 1e6);
	while (!stop_flag) {
		uint64_t n = now_us();
		int wait_ms = 200;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (n >= end)
			break;
		if (im.n) {
			uint64_t due = im.heap[0].due_us;
			wait_ms = due <= n ? 0 : (int)((due - n + 999) / 1000);
			if (wait_ms > 200)
				wait_ms = 200;
		}
		if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR) {
			fprintf(stderr, "np_impair: poll: %s\n", strerror(errno));
			break;
		}
		if (pfd.revents & POLLIN) {
			/* Drain what is there without blocking. */
			for (int k = 0; k < 64; k++) {
				ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (r < 0) {
					if (errno == ENOBUFS) {
						im.overflow++; /* the kernel dropped some: loss */
						continue;
					}
					break;
				}
				nfq_handle_packet(h, buf, (int)r);
			}
		}
		release_due(&im, 0);
	}
	release_due(&im, 1);
	fprintf(stderr, "np_impair: queue %g: %llu packets, %llu dropped (loss), %llu dropped (queue full), %llu passed\n",
		q, (unsigned long long)im.seen, (unsigned long long)im.dropped, (unsigned long long)im.overflow,
		(unsigned long long)im.passed);
	rc = 0;
out:
	if (im.qh)
		nfq_destroy_queue(im.qh);
	nfq_close(h);
	return rc;
}
