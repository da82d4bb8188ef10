/* np_probeguard: what the punch may send, and which path it may take, in
 * one attempt. Pure bookkeeping (no sockets, no clock), reset per attempt,
 * used by np_punch.c whatever the strategy .so asks for:
 *
 * - No amplification. Until an address has answered (an authenticated
 *   PROBE_ACK came from it), at most NP_PG_UNANSWERED_MAX probes per
 *   attempt go to it if it is on the peer's public IP (the endpoint the
 *   server saw, any port: predicted and sprayed ports included) or is the
 *   peer's LAN endpoint (which must be private or link-local); to any other
 *   address, only one probe per authenticated probe received from it. Low-TTL
 *   openers to public addresses die before the peer's NAT and are not
 *   counted here (they are in the attempt's budget); openers to private
 *   addresses are.
 * - No steering. succeed(sock, addr) is accepted only if an authenticated
 *   PROBE_ACK to a probe we sent arrived on that socket from that address.
 *
 * The address table holds NP_PG_SLOTS addresses; when it is full, new
 * addresses are refused (the attempt's probe budget is smaller). */
#ifndef NP_PROBEGUARD_H
#define NP_PROBEGUARD_H

#include <stdint.h>

#include <natpunch/strategy.h>

#define NP_PG_UNANSWERED_MAX 64  /* probes per unanswered peer address per attempt */
#define NP_PG_SLOTS 8192         /* distinct addresses per attempt */
#define NP_PG_PATHS 64           /* acknowledged (socket, address) paths remembered */

struct np_pg_entry {
	np_addr_t a;
	uint16_t sent;               /* probes sent while unanswered */
	uint16_t credit;             /* authenticated probes received from it */
	uint8_t used, answered;
};

struct np_pg_path {
	int sock;
	np_addr_t a;
};

struct np_probeguard {
	np_addr_t peer_public, peer_local;
	struct np_pg_entry *tab;     /* NP_PG_SLOTS entries */
	struct np_pg_path paths[NP_PG_PATHS];
	int npaths;
	unsigned used;
	uint64_t refused_sends, refused_succeed;
};

int np_probeguard_init(struct np_probeguard *g);
void np_probeguard_free(struct np_probeguard *g);
/* A new attempt toward the peer whose endpoints the server gave. */
void np_probeguard_reset(struct np_probeguard *g, const np_addr_t *peer_public, const np_addr_t *peer_local);
/* 1 if a LAN endpoint is acceptable as a candidate (private or link-local). */
int np_probeguard_lan_ok(const np_addr_t *lan);
/* 1 (and counted) if a probe may go to `to` now; 0 if refused. */
int np_probeguard_send(struct np_probeguard *g, const np_addr_t *to, int opener);
/* An authenticated PROBE arrived from `from`: one more probe may go there. */
void np_probeguard_probe_rx(struct np_probeguard *g, const np_addr_t *from);
/* An authenticated PROBE_ACK to one of our probes arrived on sock from `from`. */
void np_probeguard_ack_rx(struct np_probeguard *g, int sock, const np_addr_t *from);
/* 1 if an authenticated ack to our probe came on sock from `peer` (no count). */
int np_probeguard_has_path(const struct np_probeguard *g, int sock, const np_addr_t *peer);
/* 1 if succeed(sock, peer) may be honoured. */
int np_probeguard_may_succeed(struct np_probeguard *g, int sock, const np_addr_t *peer);

#endif
