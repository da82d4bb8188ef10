/* np_session: the encrypted transport session between two peers.
 *
 * Pure state machine: no sockets, no timers, no libev. Every call takes the
 * caller's monotonic clock in milliseconds (now_ms) and works on caller
 * buffers. It owns the static keys, the peer's public key, the optional PSK,
 * the Noise IK / IKpsk2 handshake framing, the current / previous / next
 * transport keypairs, the replay windows and the rekey timing.
 *
 * Roles are fixed: the side whose static public key is lower (memcmp) is the
 * initiator and the only one that sends HANDSHAKE_INIT, so two peers that
 * start at the same time still converge on one handshake.
 *
 * Wire framing (big-endian integers):
 *   HANDSHAKE_INIT  [2][0x20][cipher_pref][0] sender_index(4) noise_msg1(96+12) mac1(16) mac2(16)
 *                   noise payload: 12-byte TAI64N timestamp of the initiator
 *   HANDSHAKE_RESP  [2][0x21][cipher][0] sender_index(4) receiver_index(4) noise_msg2(48+5) mac1 mac2
 *   HANDSHAKE_COOKIE [2][0x22][0][0] receiver_index(4) nonce(24) sealed cookie(32)
 *   TRANSPORT       [2][0x40][0][0] receiver_index(4) counter(8) ciphertext tag(16)
 * mac1/mac2 and the cookie reply are np_hscookie's (WireGuard's scheme).
 *                   AAD = the 16-byte header, nonce = counter; empty = keepalive
 *
 * Typical use:
 *   initiator: create_init -> send; on RESP handle_resp, then send a keepalive
 *              (np_session_encrypt with payload_len 0) at once, which confirms
 *              the new keys to the responder. Poll needs_rekey to re-handshake.
 *   responder: on INIT handle_init -> send the RESP; it can send once the
 *              first transport packet under the new keys arrived.
 *
 * Errors (negative errno):
 *   -EBADMSG       malformed packet (length, version, type, reserved bytes)
 *   -EKEYREJECTED  handshake or AEAD authentication failed, or the peer's
 *                  static key is not the configured one; log it as
 *                  "handshake failed: peer key mismatch or corrupted packet"
 *   -EALREADY      replay: an old handshake timestamp or a counter already seen
 *   -ENOKEY        no session: no usable key for this index or direction, or
 *                  no handshake pending that matches a response
 *   -EACCES        mac1 does not verify (not made with our public key)
 *   -EPERM         create_init called on the responder
 *   -ENOSPC        output buffer too small */
#ifndef NP_SESSION_H
#define NP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "np_hscookie.h"
#include "np_noise.h"
#include "np_replay.h"
#include "np_wire.h"

#define NP_SESSION_INIT_LEN (8 + 96 + 12 + NP_HS_MACS_LEN) /* HANDSHAKE_INIT on the wire */
#define NP_SESSION_RESP_LEN (12 + 48 + 5 + NP_HS_MACS_LEN) /* HANDSHAKE_RESP (payload: cipher, index) */
#define NP_SESSION_OVERHEAD (NP_TRANSPORT_HDR_LEN + NP_TRANSPORT_TAG_LEN)

#define NP_SESSION_REKEY_AFTER_MS 120000ull   /* initiator re-handshakes */
#define NP_SESSION_REJECT_AFTER_MS 540000ull  /* keys unusable after this */
#define NP_SESSION_KEEP_PREVIOUS_MS 180000ull /* old keys still decrypt */
#define NP_SESSION_REKEY_TIMEOUT_MS 5000ull   /* retry an unanswered init */
#define NP_SESSION_REKEY_AFTER_MESSAGES (1ull << 60)
#define NP_SESSION_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ull << 13))

struct np_keypair {
	int valid;
	int cipher;                  /* enum np_noise_cipher */
	struct np_noise_aead send, recv;
	uint64_t send_counter;
	struct np_replay replay;
	uint32_t local_index;        /* peer puts this in packets to us */
	uint32_t remote_index;       /* we put this in packets to the peer */
	uint64_t created_ms;
};

struct np_session {
	uint8_t s_priv[NP_NOISE_KEY_LEN], s_pub[NP_NOISE_KEY_LEN];
	uint8_t peer_pub[NP_NOISE_KEY_LEN];
	uint8_t psk[NP_NOISE_KEY_LEN];
	int has_psk;
	int initiator;
	int cipher_offer;            /* best cipher we offer / accept */

	/* Initiator: the handshake in flight. */
	int hs_pending;
	uint32_t hs_index;
	uint8_t hs_pref;
	uint64_t hs_sent_ms;
	struct np_noise_hs hs;
	uint64_t ts_sent_ns;         /* last TAI64N sent, as ns since the epoch */

	/* Responder: the greatest TAI64N accepted from the peer. */
	uint8_t ts_seen[12];
	int have_ts;

	struct np_hscookie hc;       /* mac1/mac2 keys and cookies */

	uint64_t (*wall_clock_ns)(void *ctx);
	void *wall_clock_ctx;

	struct np_keypair current;   /* sending (and receiving) */
	struct np_keypair previous;  /* receiving only, until previous_expires_ms */
	struct np_keypair next;      /* responder: not confirmed by the peer yet */
	uint64_t previous_expires_ms;
	uint64_t last_handshake_ms;  /* when the current keys were made */

	/* Tunables (defaults above); tests shorten them. */
	uint64_t rekey_after_ms, reject_after_ms, keep_previous_ms, rekey_timeout_ms;
	uint64_t rekey_after_messages, reject_after_messages;
};

/* s_priv: our static private key; peer_pub: the peer's public key; psk: 32
 * bytes or NULL. -EINVAL if both public keys are equal. */
int np_session_init(struct np_session *sess, const uint8_t s_priv[NP_NOISE_KEY_LEN],
		    const uint8_t peer_pub[NP_NOISE_KEY_LEN], const uint8_t *psk);
/* Wipe everything, including the static keys. */
void np_session_destroy(struct np_session *sess);
/* Drop all transport keys and any handshake in flight (static keys, PSK and
 * the handshake replay state stay). */
void np_session_reset(struct np_session *sess);

int np_session_is_initiator(const struct np_session *sess);
/* Highest cipher to offer or accept: NP_NOISE_CHACHAPOLY or NP_NOISE_AESGCM
 * (the default when AES-NI is present; -ENOTSUP without it). */
int np_session_set_cipher(struct np_session *sess, int cipher);
void np_session_set_rekey_after_ms(struct np_session *sess, uint64_t ms);
/* Source of the TAI64N timestamps; default CLOCK_REALTIME. */
void np_session_set_wall_clock(struct np_session *sess, uint64_t (*fn)(void *ctx), void *ctx);

/* Initiator: write a HANDSHAKE_INIT (NP_SESSION_INIT_LEN bytes). */
int np_session_create_init(struct np_session *sess, uint64_t now_ms,
			   uint8_t *out, size_t cap, size_t *out_len);
/* Responder: consume a HANDSHAKE_INIT and write the HANDSHAKE_RESP
 * (resp_out may be the buffer pkt is in). */
int np_session_handle_init(struct np_session *sess, uint64_t now_ms,
			   const uint8_t *pkt, size_t len,
			   uint8_t *resp_out, size_t cap, size_t *resp_len);
/* The cheap checks of a HANDSHAKE_INIT, before any rate accounting: exact
 * length and header (-EBADMSG), then mac1 (-EACCES). 0 if it may go on. */
int np_session_init_precheck(const struct np_session *sess, const uint8_t *pkt, size_t len);
/* Responder under load: 0 if the init's mac2 proves `from` received our cookie. */
int np_session_check_mac2(struct np_session *sess, uint64_t now_ms, const uint8_t *pkt, size_t len,
			  const np_addr_t *from);
/* Responder under load: the HANDSHAKE_COOKIE for an init that passed the
 * precheck (NP_HS_COOKIE_MSG_LEN bytes into out); returns its length. */
int np_session_cookie_reply(struct np_session *sess, uint64_t now_ms, const uint8_t *pkt, size_t len,
			    const np_addr_t *from, uint8_t *out, size_t cap);
/* Initiator: a HANDSHAKE_COOKIE for the init in flight; on 0 resend the
 * init (np_session_create_init), which now carries mac2. */
int np_session_handle_cookie(struct np_session *sess, uint64_t now_ms, const uint8_t *pkt, size_t len);
/* Initiator: consume a HANDSHAKE_RESP; on 0, send a keepalive right away. */
int np_session_handle_resp(struct np_session *sess, uint64_t now_ms,
			   const uint8_t *pkt, size_t len);

/* Seal in place: the plaintext is at buf + NP_TRANSPORT_HDR_LEN,
 * payload_len bytes, with NP_TRANSPORT_TAG_LEN spare bytes after it; cap is
 * the size of buf. On 0, buf holds *out_len bytes to send. */
int np_session_encrypt(struct np_session *sess, uint64_t now_ms,
		       uint8_t *buf, size_t payload_len, size_t cap, size_t *out_len);
/* Open in place; on 0 the plaintext is buf[*payload_off .. + *payload_len]
 * (length 0: keepalive). Only authenticated packets return 0. */
int np_session_decrypt(struct np_session *sess, uint64_t now_ms,
		       uint8_t *buf, size_t len, size_t *payload_off, size_t *payload_len);

/* 1 if np_session_encrypt would find a usable key. */
int np_session_can_send(struct np_session *sess, uint64_t now_ms);
/* Initiator only: 1 if it should send a (new) HANDSHAKE_INIT now: no usable
 * key, or the current one is older than rekey_after_ms or has sent
 * rekey_after_messages; an init still unanswered after less than
 * rekey_timeout_ms holds it back. Always 0 on the responder. */
int np_session_needs_rekey(struct np_session *sess, uint64_t now_ms);
/* "ChaChaPoly" or "AESGCM" for the keys in use, "none" without keys. */
const char *np_session_cipher_name(const struct np_session *sess);

#endif
