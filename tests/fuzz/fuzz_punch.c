/* fuzz_punch: arbitrary datagrams into the real punch (np_punch_handle_probe),
 * the path every PROBE and PROBE_ACK takes in the daemon. The punch holds a
 * pairing (round 7, our side "high") without a strategy, as after its side
 * found the path. The first input byte picks a mode: odd inputs are
 * re-MACed with the pairing's key, so the checks past the MAC (reflection,
 * round, nonce) see real traffic too. Whatever comes in: at most one
 * datagram goes out, it is an ack of exactly the wire length that verifies
 * under the key, and only a well-formed, authenticated PROBE of the other
 * side draws one. */
#include <errno.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "np_auth.h"
#include "np_punch.h"
#include "np_wire.h"

static struct np_punch pu;
static int ready, sent, sent_ok;
static uint8_t key[32];

static void up_path_found(void *ctx, int sock_id, const np_addr_t *peer)
{
	abort(); /* no strategy: nothing can succeed */
}

static void up_failed(void *ctx, const char *reason)
{
	abort();
}

static void up_no_path(void *ctx, const char *why)
{
	abort();
}

static int up_send(void *ctx, int sock_id, const np_addr_t *to, const void *buf, size_t len, int ttl)
{
	struct np_msg_probe m;

	sent++;
	if (sock_id != 0 || ttl != 0 || len != NP_PROBE_WIRE_LEN || np_wire_parse_probe(buf, len, &m) < 0 ||
	    m.type != NP_MSG_PROBE_ACK || !(m.flags & NP_PROBE_F_HIGH) || m.round != 7 ||
	    np_auth_verify(key, buf, NP_PROBE_MAC_OFFSET, (const uint8_t *)buf + NP_PROBE_MAC_OFFSET) < 0)
		abort();
	sent_ok++;
	return 0;
}

static int up_open_socket(void *ctx)
{
	abort();
}

static void up_close_socket(void *ctx, int sock_id)
{
}

static void up_timer_start(void *ctx, int id, uint32_t after_ms)
{
	if (id < 0 || id >= NP_PUNCH_TIMERS)
		abort();
}

static void up_timer_stop(void *ctx, int id)
{
	if (id < 0 || id >= NP_PUNCH_TIMERS)
		abort();
}

static uint64_t up_now_ms(void *ctx)
{
	return 1000;
}

static void up_random(void *ctx, void *buf, size_t len)
{
	memset(buf, 0x42, len);
}

static void up_auth_warn(void *ctx, const char *what, const np_addr_t *from)
{
}

static const struct np_punch_upcalls ups = {
	.path_found = up_path_found,
	.failed = up_failed,
	.no_path = up_no_path,
	.send = up_send,
	.open_socket = up_open_socket,
	.close_socket = up_close_socket,
	.timer_start = up_timer_start,
	.timer_stop = up_timer_stop,
	.now_ms = up_now_ms,
	.random = up_random,
	.auth_warn = up_auth_warn,
};

static void setup(void)
{
	struct np_punch_cfg cfg = { .strategy = "auto", .secure = 1 };
	struct np_punch_attempt a = { .attempt = 1, .round = 7, .high = 1, .nat_depth = 1, .family = 4 };
	char err[256];

	if (sodium_init() < 0 || np_punch_init(&pu, &cfg, &ups, NULL, err, sizeof(err)) < 0)
		abort();
	memset(key, 0x3c, sizeof(key));
	memcpy(a.probe_key, key, sizeof(key));
	a.peer_public.family = 4;
	a.peer_public.port = 5000;
	np_punch_pair(&pu, &a);
	ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	np_addr_t from = { .family = 4, .port = 5000, .ip = { 198, 51, 100, 7 } };
	uint8_t buf[512];
	struct np_msg_probe m;
	uint64_t rx0;
	int resign, before;

	if (!ready)
		setup();
	if (size < 1 || size - 1 > sizeof(buf))
		return 0;
	resign = data[0] & 1;
	memcpy(buf, data + 1, size - 1);
	size--;
	if (resign && size >= NP_PROBE_MAC_OFFSET + NP_MAC_LEN)
		np_auth_mac(key, buf, NP_PROBE_MAC_OFFSET, buf + NP_PROBE_MAC_OFFSET);
	before = sent;
	rx0 = pu.stats.probes_rx;
	np_punch_handle_probe(&pu, 0, buf, size, &from);
	if (sent - before > 1 || sent != sent_ok || np_punch_running(&pu) || pu.st != NP_PUNCH_DONE)
		abort();
	if (sent - before == 1) {
		/* Only an authenticated PROBE of the other side is acked. */
		if (np_wire_parse_probe(buf, size, &m) < 0 || m.type != NP_MSG_PROBE || (m.flags & NP_PROBE_F_HIGH) ||
		    np_auth_verify(key, buf, NP_PROBE_MAC_OFFSET, buf + NP_PROBE_MAC_OFFSET) < 0 ||
		    pu.stats.probes_rx != rx0 + 1)
			abort();
	}
	return 0;
}
