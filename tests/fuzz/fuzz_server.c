/* fuzz_server: arbitrary datagrams into np_server_handle, on two servers
 * (one without and one with a token) bound to 127.0.0.1 on random high
 * ports. Every source address is 127.0.0.1, so every reply the server sends
 * stays on loopback. Input layout: byte 0 picks the server, the port index,
 * whether to sweep (0x80) and whether a REGISTER's cookie is replaced by the
 * valid one (0x40: the fuzzer cannot receive cookies, and without one the
 * registration and pairing code would be out of its reach); bytes 1-2 are
 * the source port; the rest is the datagram. */
#include <ev.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np_auth.h"
#include "np_log.h"
#include "np_server.h"
#include "np_wire.h"

static struct np_server *np_fuzz_srv[2];
static uint16_t np_fuzz_ports[2][2];
static struct ev_loop *np_fuzz_loop;

static void np_fuzz_loopback(np_addr_t *a, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	a->ip[0] = 127;
	a->ip[3] = 1;
	a->port = port;
}

static void np_fuzz_setup(void)
{
	static const char token[] = "fuzz-token-0123456789abcdef";
	char err[256];

	if (sodium_init() < 0)
		abort();
	np_log_set_level(NP_LOG_ERR);
	np_fuzz_loop = ev_default_loop(EVFLAG_AUTO);
	for (int k = 0; k < 2; k++) {
		struct np_server_config cfg = { 0 };
		int rc = -1;

		np_fuzz_loopback(&cfg.bind, 0);
		cfg.rate = k ? 50 : 0; /* the token server also rate-limits */
		cfg.burst = 100;
		cfg.expire_ms = 1;
		cfg.max_sessions = 4096;
		if (k) {
			cfg.has_token = 1;
			np_auth_token_key((const uint8_t *)token, sizeof(token) - 1, cfg.token_key);
		}
		for (int tries = 0; tries < 50 && rc < 0; tries++) {
			cfg.port[0] = (uint16_t)(20000 + randombytes_uniform(40000));
			cfg.port[1] = (uint16_t)(cfg.port[0] + 1);
			rc = np_server_new(np_fuzz_loop, &cfg, &np_fuzz_srv[k], err, sizeof(err));
		}
		if (rc < 0) {
			fprintf(stderr, "fuzz_server: cannot bind a loopback server: %s\n", err);
			abort();
		}
		np_fuzz_ports[k][0] = cfg.port[0];
		np_fuzz_ports[k][1] = cfg.port[1];
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	np_addr_t from, to;
	uint16_t sport;
	int k, idx;

	if (!np_fuzz_loop)
		np_fuzz_setup();
	if (size < 3)
		return 0;
	k = data[0] & 1;
	idx = (data[0] >> 1) & 1;
	/* Source ports 1024..65535, never one of our own server ports. */
	sport = (uint16_t)(1024 + ((data[1] << 8 | data[2]) % (65536 - 1024)));
	if (sport == np_fuzz_ports[k][0] || sport == np_fuzz_ports[k][1])
		sport = 1024;
	np_fuzz_loopback(&from, sport);
	np_fuzz_loopback(&to, np_fuzz_ports[k][idx]);
	if ((data[0] & 0x40) && size - 3 <= 512) {
		static uint8_t pkt[512];
		struct np_msg_register m;

		memcpy(pkt, data + 3, size - 3);
		if (np_wire_parse_register(pkt, size - 3, &m) == 0 && (m.flags & NP_REG_F_COOKIE))
			np_server_cookie(np_fuzz_srv[k], idx, &from, pkt + m.mac_offset - NP_COOKIE_LEN);
		np_server_handle(np_fuzz_srv[k], idx, pkt, size - 3, &from, &to);
	} else {
		np_server_handle(np_fuzz_srv[k], idx, data + 3, size - 3, &from, &to);
	}
	if (data[0] & 0x80) {
		ev_now_update(np_fuzz_loop);
		np_server_sweep(np_fuzz_srv[k]);
	}
	return 0;
}
