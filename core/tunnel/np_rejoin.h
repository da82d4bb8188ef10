/* np_rejoin: how a tunnel that is up lets a restarted peer back in without
 * waiting for its dead timer. Pure bookkeeping on the caller's clock (no
 * sockets, no libev): np_peer_rejoin.c drives it, the unit test runs the
 * same decisions on a fake clock.
 *
 * A peer that restarts (a new process, the same static key) has no session:
 * it registers with the server and punches again, perhaps from a new port.
 * The surviving side, still up, keeps registering every few seconds (so the
 * server can pair the newcomer with it at once), and two hints start a
 * "rejoin" toward an address E:
 *   - np_rejoin_start: the server's PEER_INFO of a newer round names the
 *     peer at E, which is neither the tunnel's path nor where the server saw
 *     the peer before (the caller records the new pairing first);
 *   - np_rejoin_probe_rx: an authenticated probe of our pairing arrives from
 *     E while up, at least NP_RJ_SETTLE_MS after up and NP_RJ_QUIET_MS after
 *     the last authenticated packet from the peer (so the tail of the punch
 *     that brought the tunnel up starts nothing).
 * A rejoin first sends NP_RJ_OPENERS low-TTL openers to E (they open our NAT
 * toward E and die before the peer's: a full probe that reached the peer's
 * NAT before the peer's own first packet would leave the unreplied entry
 * that makes its NAT pick another port, "the conntrack clash" of
 * core/DESIGN.md; the peer's punch starts the same way at the same moment),
 * then, after NP_RJ_PAUSE_MS, a probe every NP_RJ_PROBE_MS until
 * NP_RJ_SPAN_MS: they give the peer's punch its acks (np_probeguard bounds
 * them like any probe). An authenticated ack to one of them (bound to
 * our probe's nonce: replayed from anywhere else it does not match) makes
 * the initiator send a HANDSHAKE_INIT to E, at most one per NP_RJ_INIT_MS;
 * the responder waits for the peer's own INIT, which np_peer.c answers at
 * any endpoint, behind np_hsgate.
 *
 * Nothing here moves the tunnel's endpoint. Only an authenticated handshake
 * response, or the first transport packet under the new keys, does
 * (np_peer.c); an INIT, even a valid one, is answered where it came from
 * and changes nothing else (a replayed old one fails its timestamp). */
#ifndef NP_REJOIN_H
#define NP_REJOIN_H

#include <stdint.h>

#include <natpunch/strategy.h>

#define NP_RJ_OPENERS 2        /* low-TTL openers first (as the simple strategy) */
#define NP_RJ_PAUSE_MS 150     /* then a pause */
#define NP_RJ_PROBE_MS 200     /* then one probe toward the candidate this often */
#define NP_RJ_SPAN_MS 5000     /* for this long */
#define NP_RJ_INIT_MS 1000     /* initiator: at most one INIT this often */
#define NP_RJ_SETTLE_MS 2000   /* probes this soon after up start nothing */
#define NP_RJ_QUIET_MS 1000    /* nor while the peer's packets still arrive */

struct np_rejoin {
	int active;
	np_addr_t target;            /* where the peer may be now */
	uint64_t until_ms, next_probe_ms, last_init_ms;
	int opened;                  /* the openers went out */
	int have_init;
	uint64_t starts, probes, inits; /* for the status report */
};

void np_rejoin_reset(struct np_rejoin *r);
/* The server names the peer at `at` (a newer round): probe there from now. */
void np_rejoin_start(struct np_rejoin *r, const np_addr_t *at, uint64_t now_ms);
/* An authenticated probe of our pairing from `from` while up; since_up_ms
 * and since_rx_ms: how long the tunnel has been up, and since the last
 * authenticated packet. 1 if a rejoin toward `from` started. */
int np_rejoin_probe_rx(struct np_rejoin *r, const np_addr_t *from, uint64_t now_ms, uint64_t since_up_ms,
		       uint64_t since_rx_ms);
/* What to send to r->target now: NP_RJ_NOTHING, NP_RJ_OPENERS_NOW (that
 * many openers) or NP_RJ_PROBE_NOW (one probe). *next_ms: when to call
 * again (0: the rejoin is over). */
enum { NP_RJ_NOTHING = 0, NP_RJ_OPENERS_NOW, NP_RJ_PROBE_NOW };
int np_rejoin_tick(struct np_rejoin *r, uint64_t now_ms, uint64_t *next_ms);
/* An authenticated ack to one of our probes came from `from`. 1 if we (the
 * initiator) should send a HANDSHAKE_INIT there now. */
int np_rejoin_ack_rx(struct np_rejoin *r, const np_addr_t *from, uint64_t now_ms, int initiator);
/* The peer is back (an authenticated packet): stop. */
void np_rejoin_done(struct np_rejoin *r);

#endif
