/* np_discovery: NAT behaviour discovery against natpunch-server, on libev.
 *
 * What it does (all in parallel, retransmitting every 300 ms, done within
 * ~1 s): from one "main" socket it asks the server what endpoint it sees
 * toward PORT1, PORT2 and, when the server announces an alternate address,
 * ALT:PORT1 (mapping); from two sockets that only ever talk to PORT1 it asks
 * for replies from the other port and from the other address (filtering);
 * it opens NP_DISCOVERY_FRESH fresh sockets in quick succession, each asking
 * PORT1 (port allocation pattern); and, when behind NAT, it sends UDP probes
 * with TTL 1..4 toward the server and reads the ICMP time-exceeded
 * offenders from the error queue (IP_RECVERR): the NAT depth is the number
 * of leading hops with private/CGNAT/link-local addresses (at least 1
 * behind NAT; 1 when no hop answers; IPv6: 0 or 1 only). The observations
 * go through np_natclass. Every socket it opens it closes; it never uses the
 * caller's sockets, so the daemon can register from a fresh socket after it
 * (behind a sequential NAT the server then sees the newest mapping).
 *
 * A reply counts only if it comes from where the question went (or, for the
 * filtering questions, from the server's other port or its announced
 * alternate address, on one of its two ports) and, with a server token,
 * only if it carries the server's MAC; the alternate address and the other
 * port are believed only from such a reply to the first question. */
#ifndef NP_DISCOVERY_H
#define NP_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <natpunch/strategy.h>

#include "np_natclass.h"

struct ev_loop;

#define NP_DISCOVERY_FRESH 5
#define NP_DISCOVERY_MAX_TTL 4

struct np_discovery_result {
	int error;                  /* 0, or -errno (-ETIMEDOUT: server silent) */
	char message[192];          /* on error: one line for people */
	np_nat_info_t nat;          /* nat.known == 0 on error */
	np_addr_t public_ep;        /* the main socket as the server saw it (PORT1) */
	np_addr_t latest_ep;        /* the NAT's newest mapping seen (np_natclass_latest) */
	np_addr_t local;            /* the main socket's local endpoint */
	np_addr_t server_alt;       /* the server's alternate address, family 0 if none */
	np_addr_t hops[NP_DISCOVERY_MAX_TTL]; /* ICMP offenders for TTL 1..4 */
	char kind[32];              /* np_natclass_kind_str() */
	char text[128];             /* np_natclass_describe() */
	struct np_nat_obs obs;      /* the raw observations */
};

struct np_discovery;

/* Called exactly once (unless cancelled). `d` is freed right after the
 * callback returns: do not touch it from then on. */
typedef void (*np_discovery_cb)(const struct np_discovery_result *res, void *arg);

/* Start discovery. token_key: the server token key (32 bytes) or NULL.
 * 0 and *out, or -errno (nothing started, cb never called). */
int np_discovery_start(struct ev_loop *loop, const struct sockaddr *server, socklen_t server_len,
		       uint16_t port1, uint16_t port2, const uint8_t *token_key, np_discovery_cb cb, void *arg,
		       struct np_discovery **out);

/* Stop early and free; the callback is not called. */
void np_discovery_cancel(struct np_discovery *d);

/* Pure helper: NAT depth from ICMP offenders of TTL 1..n (family 0: no
 * answer), when behind NAT. */
unsigned np_discovery_depth(const np_addr_t *hops, unsigned n);

#endif
