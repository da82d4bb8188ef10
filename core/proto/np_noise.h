/* np_noise: the Noise Protocol Framework handshake for natpunch.
 *
 * Patterns IK and IKpsk2 with DH 25519, cipher ChaChaPoly or AESGCM, and hash
 * BLAKE2b, i.e. the protocol names
 *   Noise_IK_25519_ChaChaPoly_BLAKE2b     Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b
 *   Noise_IK_25519_AESGCM_BLAKE2b         Noise_IKpsk2_25519_AESGCM_BLAKE2b
 * All primitives come from libsodium; HMAC-BLAKE2b and HKDF are built on top
 * of crypto_generichash_blake2b exactly as the Noise specification (rev 34,
 * sections 4.3 and 5.2) defines them. Nonces: ChaChaPoly is 32 zero bits and
 * the 64-bit counter little-endian; AESGCM is 32 zero bits and the counter
 * big-endian.
 *
 * Also here: np_noise_aead, the explicit-nonce AEAD used for the transport
 * keys produced by split(); np_session uses it for data packets.
 *
 * Errors: -EINVAL (bad arguments or wrong message order), -ENOSPC (output
 * buffer too small), -EBADMSG (message too short), -EKEYREJECTED
 * (authentication failed or a DH gave the all-zero output), -ENOTSUP (AESGCM
 * without AES-NI), -EOVERFLOW (nonce exhausted). */
#ifndef NP_NOISE_H
#define NP_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define NP_NOISE_KEY_LEN 32   /* DH keys, cipher keys, PSK */
#define NP_NOISE_HASH_LEN 64  /* BLAKE2b */
#define NP_NOISE_TAG_LEN 16
#define NP_NOISE_MAX_MSG 65535

enum np_noise_cipher {
	NP_NOISE_CHACHAPOLY = 0,
	NP_NOISE_AESGCM = 1,
};

/* An AEAD key with its cipher; AESGCM keeps libsodium's precomputed state. */
struct np_noise_aead {
	int cipher;
	uint8_t key[NP_NOISE_KEY_LEN];
	crypto_aead_aes256gcm_state aes;
};

/* Noise CipherState: a key (maybe empty) and the implicit nonce. */
struct np_noise_cs {
	int has_key;
	uint64_t n;
	struct np_noise_aead aead;
};

struct np_noise_hs {
	int initiator;
	int psk_mode;          /* IKpsk2 */
	int msg_index;         /* next handshake message: 0, 1, then 2 = done */
	uint8_t ck[NP_NOISE_HASH_LEN];
	uint8_t h[NP_NOISE_HASH_LEN];
	struct np_noise_cs cs;
	uint8_t s_priv[NP_NOISE_KEY_LEN], s_pub[NP_NOISE_KEY_LEN];
	uint8_t e_priv[NP_NOISE_KEY_LEN], e_pub[NP_NOISE_KEY_LEN];
	int e_fixed;           /* set_ephemeral was called */
	uint8_t rs[NP_NOISE_KEY_LEN], re[NP_NOISE_KEY_LEN];
	int has_rs;
	uint8_t psk[NP_NOISE_KEY_LEN];
};

/* 1 if cipher can be used here (AESGCM needs AES-NI). Calls sodium_init(). */
int np_noise_cipher_available(int cipher);
/* "ChaChaPoly" or "AESGCM" (or "?"). */
const char *np_noise_cipher_str(int cipher);

/* Start a handshake. s_priv: our static private key. rs_pub: the responder's
 * static public key (required for the initiator, must be NULL or is ignored
 * for the responder, who learns it from message 1). psk: NULL for IK, 32
 * bytes for IKpsk2. The prologue is hashed in. */
int np_noise_init(struct np_noise_hs *hs, int initiator, int cipher,
		  const uint8_t s_priv[NP_NOISE_KEY_LEN],
		  const uint8_t *rs_pub, const uint8_t *psk,
		  const uint8_t *prologue, size_t prologue_len);
/* Tests only: use this ephemeral private key instead of a random one. */
int np_noise_set_ephemeral(struct np_noise_hs *hs, const uint8_t e_priv[NP_NOISE_KEY_LEN]);

/* Message lengths: message 1 is 96 + payload, message 2 is 48 + payload. */
size_t np_noise_message_overhead(const struct np_noise_hs *hs);
int np_noise_write_message(struct np_noise_hs *hs, const uint8_t *payload, size_t payload_len,
			   uint8_t *out, size_t cap, size_t *out_len);
/* payload_out may be NULL when cap is 0 and the payload is empty. On failure
 * the handshake state is unusable: callers that must survive forgeries run
 * it on a copy. */
int np_noise_read_message(struct np_noise_hs *hs, const uint8_t *msg, size_t len,
			  uint8_t *payload_out, size_t cap, size_t *payload_len);
/* 1 once both messages went through. */
int np_noise_is_done(const struct np_noise_hs *hs);
/* Split into transport cipher states: send is ours, recv is the peer's. The
 * cipher of the split keys is `cipher` (it may differ from the handshake's,
 * see np_session.c). */
int np_noise_split(const struct np_noise_hs *hs, int cipher,
		   struct np_noise_cs *send, struct np_noise_cs *recv);
void np_noise_handshake_hash(const struct np_noise_hs *hs, uint8_t out[NP_NOISE_HASH_LEN]);
/* The peer's static key: 0, or -ENOKEY if not known yet. */
int np_noise_remote_static(const struct np_noise_hs *hs, uint8_t out[NP_NOISE_KEY_LEN]);
void np_noise_wipe(struct np_noise_hs *hs);

/* CipherState EncryptWithAd/DecryptWithAd with the implicit nonce. out gets
 * len + 16 bytes (encrypt) or len - 16 bytes (decrypt). */
int np_noise_cs_encrypt(struct np_noise_cs *cs, const uint8_t *ad, size_t ad_len,
			const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);
int np_noise_cs_decrypt(struct np_noise_cs *cs, const uint8_t *ad, size_t ad_len,
			const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* Explicit-nonce AEAD. Seal and open work in place (ct == pt). */
int np_noise_aead_init(struct np_noise_aead *a, int cipher, const uint8_t key[NP_NOISE_KEY_LEN]);
int np_noise_aead_seal(const struct np_noise_aead *a, uint64_t n, const uint8_t *ad, size_t ad_len,
		       const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[NP_NOISE_TAG_LEN]);
/* -EKEYREJECTED if the tag does not verify; pt is then unspecified (AESGCM
 * zeroes it), so an in-place caller must drop the packet. */
int np_noise_aead_open(const struct np_noise_aead *a, uint64_t n, const uint8_t *ad, size_t ad_len,
		       const uint8_t *ct, size_t len, const uint8_t tag[NP_NOISE_TAG_LEN], uint8_t *pt);
void np_noise_aead_wipe(struct np_noise_aead *a);

#endif
