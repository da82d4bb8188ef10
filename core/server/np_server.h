/* np_server: the rendezvous server's state and packet handling.
 *
 * Peers register on PORT1 or PORT2 with a session name; the server pairs the
 * PORT1 and PORT2 registrations of one session and pushes PEER_INFO to both
 * the moment the pair is complete (and again whenever either side's endpoint
 * changes). It answers NAT probes with the observed endpoint, from the other
 * port or the alternate address on request. It never sees tunnel keys.
 * A REGISTER counts only once its source echoed a cookie (return
 * routability); until then the answer is a cookie no larger than the request.
 * Peers without UDP register over TCP on the same ports (np_server_tcp.h):
 * the same REGISTER, framed; the answers come back on that connection. */
#ifndef NP_SERVER_H
#define NP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <natpunch/strategy.h>

struct ev_loop;
struct np_server;

struct np_server_config {
	np_addr_t bind;          /* family 4 or 6; ip all-zero for any */
	uint16_t port[2];
	np_addr_t alt;           /* alternate address for NAT discovery, family 0 if none */
	int has_token;
	uint8_t token_key[32];
	double rate, burst;      /* per source address, messages per second; rate 0: off */
	uint32_t expire_ms;      /* a registration expires after this much silence */
	size_t max_sessions;
	/* TURN relays handed to each pair in PEER_INFO (--turn, --turn-secret):
	 * space-separated URIs, and coturn's static-auth-secret for the REST
	 * credentials ("" / length 0: none). */
	char turn_uris[201];
	uint8_t turn_secret[128];
	size_t turn_secret_len;
	uint32_t turn_ttl_s;
	/* TCP listeners on the same addresses and ports (0: none), with at
	 * most this many connections, and tcp_max_per_ip per source address
	 * (0: 64). See np_server_tcp.h. */
	size_t tcp_max_conns, tcp_max_per_ip;
	double tcp_first_s, tcp_idle_s; /* 0: 10 s for the first frame, 60 s between frames */
};

struct np_server_stats {
	uint64_t rx, bad, unauth, limited, registers, pairs, nat_probes, sessions;
	uint64_t cookies;        /* REGISTER_COOKIE sent (first contact, or a stale cookie) */
	uint64_t bad_cookie;     /* REGISTERs echoing a cookie that is wrong or too old */
	uint64_t replays;        /* token: REGISTERs not newer than their (session, role) */
	uint64_t other_version;  /* datagrams of another natpunch wire version */
	uint64_t tcp_accepted, tcp_refused, tcp_closed_idle, tcp_bad_frames;
};

int np_server_new(struct ev_loop *loop, const struct np_server_config *cfg, struct np_server **out,
		  char *err, size_t errlen);
void np_server_free(struct np_server *s);
void np_server_get_stats(const struct np_server *s, struct np_server_stats *st);
/* Handles one datagram that arrived on socket `port_idx` (0 or 1). Exposed for fuzzing. */
void np_server_handle(struct np_server *s, int port_idx, const uint8_t *buf, size_t len, const np_addr_t *from,
		      const np_addr_t *to);
/* The cookie the server expects now from `from` on port index port_idx.
 * For fuzzing and tests, which cannot receive the REGISTER_COOKIE. */
void np_server_cookie(struct np_server *s, int port_idx, const np_addr_t *from, uint8_t cookie[16]);
/* Expires silent registrations (run by a timer every second). */
void np_server_sweep(struct np_server *s);

#endif
