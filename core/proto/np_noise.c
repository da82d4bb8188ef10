/* np_noise: Noise IK / IKpsk2 handshake state over libsodium (see np_noise.h).
 *
 * Layout follows the specification: the AEAD helpers, then the CipherState,
 * the SymmetricState (HMAC, HKDF, MixKey, MixHash, ...), then the two IK
 * message patterns. Every secret intermediate is wiped before returning. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "np_noise.h"

#define BLAKE2B_BLOCK 128
#define NONCE_MAX UINT64_MAX /* 2^64-1 is reserved by Noise */

int np_noise_cipher_available(int cipher)
{
	if (sodium_init() < 0)
		return 0;
	if (cipher == NP_NOISE_CHACHAPOLY)
		return 1;
	if (cipher == NP_NOISE_AESGCM)
		return crypto_aead_aes256gcm_is_available() ? 1 : 0;
	return 0;
}

const char *np_noise_cipher_str(int cipher)
{
	switch (cipher) {
	case NP_NOISE_CHACHAPOLY:
		return "ChaChaPoly";
	case NP_NOISE_AESGCM:
		return "AESGCM";
	}
	return "?";
}

/* ---- AEAD ------------------------------------------------------------- */

static void make_nonce(int cipher, uint64_t n, uint8_t nonce[12])
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++) {
		if (cipher == NP_NOISE_AESGCM)
			nonce[4 + i] = (uint8_t)(n >> (56 - 8 * i)); /* big-endian */
		else
			nonce[4 + i] = (uint8_t)(n >> (8 * i));      /* little-endian */
	}
}

int np_noise_aead_init(struct np_noise_aead *a, int cipher, const uint8_t key[NP_NOISE_KEY_LEN])
{
	if (!np_noise_cipher_available(cipher))
		return cipher == NP_NOISE_AESGCM ? -ENOTSUP : -EINVAL;
	a->cipher = cipher;
	memcpy(a->key, key, NP_NOISE_KEY_LEN);
	if (cipher == NP_NOISE_AESGCM && crypto_aead_aes256gcm_beforenm(&a->aes, key) != 0)
		return -ENOTSUP;
	return 0;
}

void np_noise_aead_wipe(struct np_noise_aead *a)
{
	sodium_memzero(a, sizeof(*a));
}

int np_noise_aead_seal(const struct np_noise_aead *a, uint64_t n, const uint8_t *ad, size_t ad_len,
		       const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[NP_NOISE_TAG_LEN])
{
	uint8_t nonce[12];
	int rc;

	make_nonce(a->cipher, n, nonce);
	if (a->cipher == NP_NOISE_AESGCM)
		rc = crypto_aead_aes256gcm_encrypt_detached_afternm(ct, tag, NULL, pt, len,
								     ad, ad_len, NULL, nonce, &a->aes);
	else
		rc = crypto_aead_chacha20poly1305_ietf_encrypt_detached(ct, tag, NULL, pt, len,
									 ad, ad_len, NULL, nonce, a->key);
	return rc == 0 ? 0 : -EINVAL;
}

int np_noise_aead_open(const struct np_noise_aead *a, uint64_t n, const uint8_t *ad, size_t ad_len,
		       const uint8_t *ct, size_t len, const uint8_t tag[NP_NOISE_TAG_LEN], uint8_t *pt)
{
	uint8_t nonce[12];
	int rc;

	make_nonce(a->cipher, n, nonce);
	if (a->cipher == NP_NOISE_AESGCM)
		rc = crypto_aead_aes256gcm_decrypt_detached_afternm(pt, NULL, ct, len, tag,
								     ad, ad_len, nonce, &a->aes);
	else
		rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(pt, NULL, ct, len, tag,
									 ad, ad_len, nonce, a->key);
	return rc == 0 ? 0 : -EKEYREJECTED;
}

/* ---- CipherState ------------------------------------------------------ */

static int cs_init_key(struct np_noise_cs *cs, int cipher, const uint8_t key[NP_NOISE_KEY_LEN])
{
	int rc = np_noise_aead_init(&cs->aead, cipher, key);

	if (rc < 0)
		return rc;
	cs->has_key = 1;
	cs->n = 0;
	return 0;
}

/* Before a key exists, Noise's EncryptWithAd/DecryptWithAd copy the data. */
static int cs_passthrough(const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	if (cap < len)
		return -ENOSPC;
	if (len)
		memmove(out, in, len);
	*out_len = len;
	return 0;
}

int np_noise_cs_encrypt(struct np_noise_cs *cs, const uint8_t *ad, size_t ad_len,
			const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	int rc;

	if (!cs->has_key)
		return cs_passthrough(in, len, out, cap, out_len);
	if (len > SIZE_MAX - NP_NOISE_TAG_LEN || cap < len + NP_NOISE_TAG_LEN)
		return -ENOSPC;
	if (cs->n == NONCE_MAX)
		return -EOVERFLOW;
	rc = np_noise_aead_seal(&cs->aead, cs->n, ad, ad_len, in, len, out, out + len);
	if (rc < 0)
		return rc;
	cs->n++;
	*out_len = len + NP_NOISE_TAG_LEN;
	return 0;
}

int np_noise_cs_decrypt(struct np_noise_cs *cs, const uint8_t *ad, size_t ad_len,
			const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	int rc;

	if (!cs->has_key)
		return cs_passthrough(in, len, out, cap, out_len);
	if (len < NP_NOISE_TAG_LEN)
		return -EBADMSG;
	if (cap < len - NP_NOISE_TAG_LEN)
		return -ENOSPC;
	if (cs->n == NONCE_MAX)
		return -EOVERFLOW;
	rc = np_noise_aead_open(&cs->aead, cs->n, ad, ad_len, in, len - NP_NOISE_TAG_LEN,
				in + len - NP_NOISE_TAG_LEN, out);
	if (rc < 0)
		return rc;
	cs->n++;
	*out_len = len - NP_NOISE_TAG_LEN;
	return 0;
}

/* ---- SymmetricState --------------------------------------------------- */

static void hash2(uint8_t out[NP_NOISE_HASH_LEN], const uint8_t *a, size_t alen,
		  const uint8_t *b, size_t blen)
{
	crypto_generichash_blake2b_state st;

	crypto_generichash_blake2b_init(&st, NULL, 0, NP_NOISE_HASH_LEN);
	crypto_generichash_blake2b_update(&st, a, alen);
	if (blen)
		crypto_generichash_blake2b_update(&st, b, blen);
	crypto_generichash_blake2b_final(&st, out, NP_NOISE_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
}

/* HMAC-BLAKE2b (RFC 2104 with a 128-byte block) over the concatenation of
 * data1 and data2; the key is always HASHLEN bytes here. */
static void hmac(uint8_t out[NP_NOISE_HASH_LEN], const uint8_t key[NP_NOISE_HASH_LEN],
		 const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2)
{
	crypto_generichash_blake2b_state st;
	uint8_t pad[BLAKE2B_BLOCK], inner[NP_NOISE_HASH_LEN];

	memset(pad, 0x36, sizeof(pad));
	for (int i = 0; i < NP_NOISE_HASH_LEN; i++)
		pad[i] ^= key[i];
	crypto_generichash_blake2b_init(&st, NULL, 0, NP_NOISE_HASH_LEN);
	crypto_generichash_blake2b_update(&st, pad, sizeof(pad));
	if (l1)
		crypto_generichash_blake2b_update(&st, d1, l1);
	if (l2)
		crypto_generichash_blake2b_update(&st, d2, l2);
	crypto_generichash_blake2b_final(&st, inner, sizeof(inner));

	memset(pad, 0x5c, sizeof(pad));
	for (int i = 0; i < NP_NOISE_HASH_LEN; i++)
		pad[i] ^= key[i];
	crypto_generichash_blake2b_init(&st, NULL, 0, NP_NOISE_HASH_LEN);
	crypto_generichash_blake2b_update(&st, pad, sizeof(pad));
	crypto_generichash_blake2b_update(&st, inner, sizeof(inner));
	crypto_generichash_blake2b_final(&st, out, NP_NOISE_HASH_LEN);

	sodium_memzero(&st, sizeof(st));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
}

/* HKDF(chaining_key, ikm, n) for n = 2 or 3; out3 may be NULL. */
static void hkdf(const uint8_t ck[NP_NOISE_HASH_LEN], const uint8_t *ikm, size_t ikm_len,
		 uint8_t out1[NP_NOISE_HASH_LEN], uint8_t out2[NP_NOISE_HASH_LEN],
		 uint8_t out3[NP_NOISE_HASH_LEN])
{
	uint8_t temp[NP_NOISE_HASH_LEN];
	const uint8_t one = 1, two = 2, three = 3;

	hmac(temp, ck, ikm, ikm_len, NULL, 0);
	hmac(out1, temp, &one, 1, NULL, 0);
	hmac(out2, temp, out1, NP_NOISE_HASH_LEN, &two, 1);
	if (out3)
		hmac(out3, temp, out2, NP_NOISE_HASH_LEN, &three, 1);
	sodium_memzero(temp, sizeof(temp));
}

static void mix_hash(struct np_noise_hs *hs, const uint8_t *data, size_t len)
{
	hash2(hs->h, hs->h, NP_NOISE_HASH_LEN, data, len);
}

/* The handshake always encrypts with the cipher of hs->cs.aead.cipher,
 * fixed by np_noise_init. */
static int mix_key(struct np_noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t ck[NP_NOISE_HASH_LEN], k[NP_NOISE_HASH_LEN];
	int rc;

	hkdf(hs->ck, ikm, len, ck, k, NULL);
	memcpy(hs->ck, ck, sizeof(ck));
	rc = cs_init_key(&hs->cs, hs->cs.aead.cipher, k); /* truncated to 32 bytes */
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(k, sizeof(k));
	return rc;
}

static int mix_key_and_hash(struct np_noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t ck[NP_NOISE_HASH_LEN], th[NP_NOISE_HASH_LEN], k[NP_NOISE_HASH_LEN];
	int rc;

	hkdf(hs->ck, ikm, len, ck, th, k);
	memcpy(hs->ck, ck, sizeof(ck));
	mix_hash(hs, th, sizeof(th));
	rc = cs_init_key(&hs->cs, hs->cs.aead.cipher, k);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(th, sizeof(th));
	sodium_memzero(k, sizeof(k));
	return rc;
}

/* EncryptAndHash into out (cap bytes left); advances *pos. */
static int encrypt_and_hash(struct np_noise_hs *hs, const uint8_t *pt, size_t len,
			    uint8_t *out, size_t cap, size_t *pos)
{
	size_t n;
	int rc;

	if (*pos > cap)
		return -ENOSPC;
	rc = np_noise_cs_encrypt(&hs->cs, hs->h, NP_NOISE_HASH_LEN, pt, len,
				 out + *pos, cap - *pos, &n);
	if (rc < 0)
		return rc;
	mix_hash(hs, out + *pos, n);
	*pos += n;
	return 0;
}

/* DecryptAndHash of exactly len bytes at in. */
static int decrypt_and_hash(struct np_noise_hs *hs, const uint8_t *in, size_t len,
			    uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t h[NP_NOISE_HASH_LEN];
	int rc;

	memcpy(h, hs->h, sizeof(h));
	rc = np_noise_cs_decrypt(&hs->cs, h, sizeof(h), in, len, out, cap, out_len);
	if (rc == 0)
		mix_hash(hs, in, len);
	return rc;
}

static int dh(uint8_t out[NP_NOISE_KEY_LEN], const uint8_t priv[NP_NOISE_KEY_LEN],
	      const uint8_t pub[NP_NOISE_KEY_LEN])
{
	/* libsodium refuses an all-zero result (low-order peer point). */
	return crypto_scalarmult(out, priv, pub) == 0 ? 0 : -EKEYREJECTED;
}

static int mix_dh(struct np_noise_hs *hs, const uint8_t priv[NP_NOISE_KEY_LEN],
		  const uint8_t pub[NP_NOISE_KEY_LEN])
{
	uint8_t shared[NP_NOISE_KEY_LEN];
	int rc = dh(shared, priv, pub);

	if (rc == 0)
		rc = mix_key(hs, shared, sizeof(shared));
	sodium_memzero(shared, sizeof(shared));
	return rc;
}

/* ---- HandshakeState --------------------------------------------------- */

int np_noise_init(struct np_noise_hs *hs, int initiator, int cipher,
		  const uint8_t s_priv[NP_NOISE_KEY_LEN],
		  const uint8_t *rs_pub, const uint8_t *psk,
		  const uint8_t *prologue, size_t prologue_len)
{
	char name[NP_NOISE_HASH_LEN + 1];
	int n;

	memset(hs, 0, sizeof(*hs));
	if (sodium_init() < 0)
		return -EINVAL;
	if (!np_noise_cipher_available(cipher))
		return cipher == NP_NOISE_AESGCM ? -ENOTSUP : -EINVAL;
	if (!s_priv || (initiator && !rs_pub) || (prologue_len && !prologue))
		return -EINVAL;

	hs->initiator = initiator ? 1 : 0;
	hs->psk_mode = psk != NULL;
	hs->cs.aead.cipher = cipher;
	n = snprintf(name, sizeof(name), "Noise_%s_25519_%s_BLAKE2b",
		     psk ? "IKpsk2" : "IK", np_noise_cipher_str(cipher));
	if (n < 0 || (size_t)n > NP_NOISE_HASH_LEN)
		return -EINVAL;
	/* InitializeSymmetric: names up to HASHLEN bytes are zero-padded. */
	memcpy(hs->h, name, (size_t)n);
	memcpy(hs->ck, hs->h, NP_NOISE_HASH_LEN);
	if (psk)
		memcpy(hs->psk, psk, NP_NOISE_KEY_LEN);
	memcpy(hs->s_priv, s_priv, NP_NOISE_KEY_LEN);
	crypto_scalarmult_base(hs->s_pub, hs->s_priv);
	mix_hash(hs, prologue, prologue_len);
	/* Pre-message "<- s": the responder's static key. */
	if (initiator) {
		memcpy(hs->rs, rs_pub, NP_NOISE_KEY_LEN);
		hs->has_rs = 1;
		mix_hash(hs, hs->rs, NP_NOISE_KEY_LEN);
	} else {
		mix_hash(hs, hs->s_pub, NP_NOISE_KEY_LEN);
	}
	return 0;
}

int np_noise_set_ephemeral(struct np_noise_hs *hs, const uint8_t e_priv[NP_NOISE_KEY_LEN])
{
	memcpy(hs->e_priv, e_priv, NP_NOISE_KEY_LEN);
	crypto_scalarmult_base(hs->e_pub, hs->e_priv);
	hs->e_fixed = 1;
	return 0;
}

size_t np_noise_message_overhead(const struct np_noise_hs *hs)
{
	if (hs->msg_index == 0)
		return NP_NOISE_KEY_LEN + NP_NOISE_KEY_LEN + 2 * NP_NOISE_TAG_LEN;
	return NP_NOISE_KEY_LEN + NP_NOISE_TAG_LEN;
}

int np_noise_is_done(const struct np_noise_hs *hs)
{
	return hs->msg_index >= 2;
}

/* Token "e" when writing. */
static int write_e(struct np_noise_hs *hs, uint8_t *out, size_t cap, size_t *pos)
{
	if (cap - *pos < NP_NOISE_KEY_LEN)
		return -ENOSPC;
	if (!hs->e_fixed) {
		randombytes_buf(hs->e_priv, NP_NOISE_KEY_LEN);
		crypto_scalarmult_base(hs->e_pub, hs->e_priv);
	}
	memcpy(out + *pos, hs->e_pub, NP_NOISE_KEY_LEN);
	*pos += NP_NOISE_KEY_LEN;
	mix_hash(hs, hs->e_pub, NP_NOISE_KEY_LEN);
	return hs->psk_mode ? mix_key(hs, hs->e_pub, NP_NOISE_KEY_LEN) : 0;
}

/* Token "e" when reading. */
static int read_e(struct np_noise_hs *hs, const uint8_t *msg, size_t *pos)
{
	memcpy(hs->re, msg + *pos, NP_NOISE_KEY_LEN);
	*pos += NP_NOISE_KEY_LEN;
	mix_hash(hs, hs->re, NP_NOISE_KEY_LEN);
	return hs->psk_mode ? mix_key(hs, hs->re, NP_NOISE_KEY_LEN) : 0;
}

int np_noise_write_message(struct np_noise_hs *hs, const uint8_t *payload, size_t payload_len,
			   uint8_t *out, size_t cap, size_t *out_len)
{
	size_t pos = 0;
	int rc;

	if (hs->msg_index >= 2 || hs->initiator != (hs->msg_index == 0))
		return -EINVAL;
	if (payload_len && !payload)
		return -EINVAL;
	if (payload_len > NP_NOISE_MAX_MSG ||
	    np_noise_message_overhead(hs) + payload_len > NP_NOISE_MAX_MSG)
		return -EMSGSIZE;
	if (cap < np_noise_message_overhead(hs) + payload_len)
		return -ENOSPC;

	rc = write_e(hs, out, cap, &pos);
	if (rc < 0)
		goto out;
	if (hs->msg_index == 0) {
		/* -> e, es, s, ss */
		rc = mix_dh(hs, hs->e_priv, hs->rs);
		if (rc < 0)
			goto out;
		rc = encrypt_and_hash(hs, hs->s_pub, NP_NOISE_KEY_LEN, out, cap, &pos);
		if (rc < 0)
			goto out;
		rc = mix_dh(hs, hs->s_priv, hs->rs);
		if (rc < 0)
			goto out;
	} else {
		/* <- e, ee, se [, psk] */
		rc = mix_dh(hs, hs->e_priv, hs->re);
		if (rc < 0)
			goto out;
		rc = mix_dh(hs, hs->e_priv, hs->rs);
		if (rc < 0)
			goto out;
		if (hs->psk_mode) {
			rc = mix_key_and_hash(hs, hs->psk, NP_NOISE_KEY_LEN);
			if (rc < 0)
				goto out;
		}
	}
	rc = encrypt_and_hash(hs, payload, payload_len, out, cap, &pos);
	if (rc < 0)
		goto out;
	hs->msg_index++;
	*out_len = pos;
out:
	return rc;
}

int np_noise_read_message(struct np_noise_hs *hs, const uint8_t *msg, size_t len,
			  uint8_t *payload_out, size_t cap, size_t *payload_len)
{
	size_t pos = 0, n;
	int rc;

	if (hs->msg_index >= 2 || hs->initiator == (hs->msg_index == 0))
		return -EINVAL;
	if (!msg || len < np_noise_message_overhead(hs) || len > NP_NOISE_MAX_MSG)
		return -EBADMSG;

	rc = read_e(hs, msg, &pos);
	if (rc < 0)
		goto out;
	if (hs->msg_index == 0) {
		/* -> e, es, s, ss */
		rc = mix_dh(hs, hs->s_priv, hs->re);
		if (rc < 0)
			goto out;
		rc = decrypt_and_hash(hs, msg + pos, NP_NOISE_KEY_LEN + NP_NOISE_TAG_LEN,
				      hs->rs, NP_NOISE_KEY_LEN, &n);
		if (rc < 0)
			goto out;
		pos += NP_NOISE_KEY_LEN + NP_NOISE_TAG_LEN;
		hs->has_rs = 1;
		rc = mix_dh(hs, hs->s_priv, hs->rs);
		if (rc < 0)
			goto out;
	} else {
		/* <- e, ee, se [, psk] */
		rc = mix_dh(hs, hs->e_priv, hs->re);
		if (rc < 0)
			goto out;
		rc = mix_dh(hs, hs->s_priv, hs->re);
		if (rc < 0)
			goto out;
		if (hs->psk_mode) {
			rc = mix_key_and_hash(hs, hs->psk, NP_NOISE_KEY_LEN);
			if (rc < 0)
				goto out;
		}
	}
	if (len - pos - NP_NOISE_TAG_LEN > cap) {
		rc = -ENOSPC;
		goto out;
	}
	rc = decrypt_and_hash(hs, msg + pos, len - pos, payload_out, cap, &n);
	if (rc < 0)
		goto out;
	hs->msg_index++;
	*payload_len = n;
out:
	return rc;
}

int np_noise_split(const struct np_noise_hs *hs, int cipher,
		   struct np_noise_cs *send, struct np_noise_cs *recv)
{
	uint8_t k1[NP_NOISE_HASH_LEN], k2[NP_NOISE_HASH_LEN];
	int rc;

	if (!np_noise_is_done(hs))
		return -EINVAL;
	memset(send, 0, sizeof(*send));
	memset(recv, 0, sizeof(*recv));
	hkdf(hs->ck, NULL, 0, k1, k2, NULL);
	/* k1 is initiator -> responder, k2 responder -> initiator. */
	rc = cs_init_key(send, cipher, hs->initiator ? k1 : k2);
	if (rc == 0)
		rc = cs_init_key(recv, cipher, hs->initiator ? k2 : k1);
	if (rc < 0) {
		sodium_memzero(send, sizeof(*send));
		sodium_memzero(recv, sizeof(*recv));
	}
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	return rc;
}

void np_noise_handshake_hash(const struct np_noise_hs *hs, uint8_t out[NP_NOISE_HASH_LEN])
{
	memcpy(out, hs->h, NP_NOISE_HASH_LEN);
}

int np_noise_remote_static(const struct np_noise_hs *hs, uint8_t out[NP_NOISE_KEY_LEN])
{
	if (!hs->has_rs)
		return -ENOKEY;
	memcpy(out, hs->rs, NP_NOISE_KEY_LEN);
	return 0;
}

void np_noise_wipe(struct np_noise_hs *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}
