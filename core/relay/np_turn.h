/* np_turn: a TURN client (RFC 8656) on a libev loop.
 *
 * One np_turn holds one allocation on one relay, over UDP, TCP (RFC 8656
 * framing on a stream: STUN messages and ChannelData padded to 4 bytes) or
 * TLS (OpenSSL; the certificate is verified against the system store or a
 * given CA file, and the name or IP in the URI). It answers 401 with the
 * long-term credentials (realm, nonce), follows 438 stale nonces, refreshes
 * the allocation, the permissions and the channels on RFC 8656's timers,
 * checks the allocation every few seconds (which also measures the relay
 * RTT), and when the allocation is lost (437, no answer, the connection
 * closed, the relay restarted) allocates again with a backoff and rebinds
 * every peer. Failures are reported in words through on_event.
 *
 * Peers are added by address; each gets a channel (ChannelData: 4 bytes
 * of overhead). Until the channel is bound, Send indications carry the data. */
#ifndef NP_TURN_H
#define NP_TURN_H

#include <stddef.h>
#include <stdint.h>

#include <natpunch/strategy.h>

#include "np_turn_uri.h"

struct ev_loop;
struct np_turn;

#define NP_TURN_MAX_PEERS 4

enum np_turn_state {
	NP_TURN_IDLE = 0,      /* waiting to (re)connect */
	NP_TURN_CONNECTING,    /* TCP connect or TLS handshake */
	NP_TURN_ALLOCATING,
	NP_TURN_READY,
	NP_TURN_FAILED,        /* the relay refused us; retried slowly */
};

struct np_turn_config {
	struct np_turn_uri uri;
	char user[128];
	char password[128];
	const char *ca_file;         /* TLS: NULL means the system store */
};

struct np_turn_callbacks {
	/* The allocation is ready (again): relayed is the relay's address for us. */
	void (*on_ready)(void *arg, const np_addr_t *relayed, const np_addr_t *mapped);
	/* Data from a peer, through the relay. buf may be modified. */
	void (*on_data)(void *arg, const np_addr_t *peer, uint8_t *buf, size_t len);
	/* The allocation was lost or refused; msg says why, in words. */
	void (*on_down)(void *arg, const char *msg);
	/* Optional (may be NULL): every failed attempt, ready before or not
	 * (unreachable, refused, lost), in words; for failing over to another
	 * relay. The np_turn must not be freed from inside the callback. */
	void (*on_fail)(void *arg, const char *msg);
};

struct np_turn_stats {
	uint64_t tx_bytes, rx_bytes, tx_packets, rx_packets, drops;
	double rtt_ms;               /* last request round trip, 0 if none */
	unsigned allocations;        /* successful allocations so far */
};

/* Resolves the host and starts allocating. Returns 0 or -errno (err set). */
int np_turn_new(struct ev_loop *loop, const struct np_turn_config *cfg, const struct np_turn_callbacks *cb,
		void *arg, struct np_turn **out, char *err, size_t errlen);
void np_turn_free(struct np_turn *t);

/* Keeps a permission and a channel for peer (any port of its IP may send;
 * the channel is for this address). Idempotent. -ENOSPC past NP_TURN_MAX_PEERS. */
int np_turn_add_peer(struct np_turn *t, const np_addr_t *peer);
/* Forgets every peer. */
void np_turn_clear_peers(struct np_turn *t);
/* Sends one datagram to peer through the relay. -ENOTCONN if not ready,
 * -EAGAIN if a stream's send buffer is full (the packet is dropped). */
int np_turn_send(struct np_turn *t, const np_addr_t *peer, const void *buf, size_t len);
/* New credentials (say, renewed by the rendezvous server): used from the
 * next allocation on; the current one keeps the credentials it was made with. */
void np_turn_set_credentials(struct np_turn *t, const char *user, const char *password);
/* Checks the allocation now (a Refresh): after a tunnel went silent. */
void np_turn_check(struct np_turn *t);

enum np_turn_state np_turn_get_state(const struct np_turn *t);
const char *np_turn_state_name(enum np_turn_state st);
const np_addr_t *np_turn_relayed(const struct np_turn *t);
/* Our address as the relay sees it (family 0 if it did not say). */
const np_addr_t *np_turn_mapped(const struct np_turn *t);
const struct np_turn_stats *np_turn_get_stats(const struct np_turn *t);
/* "turn:203.0.113.5:3478?transport=udp" */
const char *np_turn_uri(const struct np_turn *t);
/* The last error in words ("" if none). */
const char *np_turn_last_error(const struct np_turn *t);

#endif
