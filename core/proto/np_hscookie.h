/* np_hscookie: WireGuard-style denial-of-service protection for the Noise
 * handshake (mac1, mac2 and the cookie reply).
 *
 * - Every HANDSHAKE_INIT and HANDSHAKE_RESP ends with mac1 and mac2 (16 bytes
 *   each). mac1 = BLAKE2b-128(key = BLAKE2b-256("mac1----" || receiver's
 *   static public key), message up to mac1). Checking it costs one hash, so a
 *   receiver drops everything not made by someone who knows its public key
 *   before any Diffie-Hellman and before any rate accounting.
 * - A responder under load answers an initiation whose mac2 is not valid with
 *   a HANDSHAKE_COOKIE (64 bytes, smaller than the 148-byte initiation): a
 *   cookie = BLAKE2b-128(key = a secret that changes every 2 minutes, the
 *   sender's address and port), sealed with XChaCha20-Poly1305 under
 *   BLAKE2b-256("cookie--" || responder's public key), the initiation's mac1
 *   as associated data. The initiator stores it for 2 minutes and puts
 *   mac2 = BLAKE2b-128(key = cookie, message up to mac2) in its next
 *   initiations, which proves it receives at its source address.
 * Pure: no sockets, no clock of its own (callers pass now_ms). Returns 0 or
 * -errno: -EBADMSG malformed, -EACCES a MAC that does not verify, -ENOKEY no
 * matching initiation for a cookie reply. */
#ifndef NP_HSCOOKIE_H
#define NP_HSCOOKIE_H

#include <stddef.h>
#include <stdint.h>

#include <natpunch/strategy.h>

#define NP_HS_MAC_LEN 16
#define NP_HS_MACS_LEN (2 * NP_HS_MAC_LEN)
#define NP_HS_COOKIE_MSG_LEN 64          /* HANDSHAKE_COOKIE on the wire */
#define NP_HS_COOKIE_SECRET_MS 120000ull /* responder secret lifetime; initiator keeps a cookie this long */

struct np_hscookie {
	uint8_t mac1_self[32], mac1_peer[32];       /* mac1 keys: messages to us, to the peer */
	uint8_t cookie_self[32], cookie_peer[32];   /* cookie reply keys: ours, the peer's */
	/* responder side */
	uint8_t secret[32], prev_secret[32];
	uint64_t secret_at_ms;
	int have_secret, have_prev;
	/* initiator side */
	uint8_t cookie[NP_HS_MAC_LEN];
	uint64_t cookie_at_ms;
	int have_cookie;
	uint8_t last_mac1[NP_HS_MAC_LEN];
	int have_last_mac1;
};

void np_hscookie_init(struct np_hscookie *c, const uint8_t self_pub[32], const uint8_t peer_pub[32]);
void np_hscookie_wipe(struct np_hscookie *c);
/* Writes mac1 and mac2 into the last NP_HS_MACS_LEN bytes of msg (len counts
 * them); mac2 is zero without a fresh cookie. Remembers mac1. */
void np_hscookie_add_macs(struct np_hscookie *c, uint8_t *msg, size_t len, uint64_t now_ms);
/* mac1 of a message sent to us. */
int np_hscookie_check_mac1(const struct np_hscookie *c, const uint8_t *msg, size_t len);
/* mac2 of a message sent to us from `from` (a cookie we made for it). */
int np_hscookie_check_mac2(struct np_hscookie *c, const uint8_t *msg, size_t len, const np_addr_t *from,
			   uint64_t now_ms);
/* The HANDSHAKE_COOKIE answering msg (whose mac1 was checked) from `from`;
 * receiver_index is the sender index of msg. Writes NP_HS_COOKIE_MSG_LEN bytes. */
int np_hscookie_make_reply(struct np_hscookie *c, const uint8_t *msg, size_t len, uint32_t receiver_index,
			   const np_addr_t *from, uint64_t now_ms, uint8_t *out, size_t cap);
/* A HANDSHAKE_COOKIE for our last message: stores the cookie. want_index is
 * the sender index of that message. */
int np_hscookie_take_reply(struct np_hscookie *c, const uint8_t *pkt, size_t len, uint32_t want_index,
			   uint64_t now_ms);

#endif
