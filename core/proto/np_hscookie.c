/* np_hscookie: mac1, mac2 and cookie replies of the handshake (see
 * np_hscookie.h), over libsodium's BLAKE2b and XChaCha20-Poly1305. */
#include "np_hscookie.h"

#include "np_wire.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

static void label_key(const char *label, const uint8_t pub[32], uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)label, 8);
	crypto_generichash_update(&st, pub, 32);
	crypto_generichash_final(&st, out, 32);
}

void np_hscookie_init(struct np_hscookie *c, const uint8_t self_pub[32], const uint8_t peer_pub[32])
{
	memset(c, 0, sizeof(*c));
	label_key("mac1----", self_pub, c->mac1_self);
	label_key("mac1----", peer_pub, c->mac1_peer);
	label_key("cookie--", self_pub, c->cookie_self);
	label_key("cookie--", peer_pub, c->cookie_peer);
}

void np_hscookie_wipe(struct np_hscookie *c)
{
	sodium_memzero(c, sizeof(*c));
}

static void mac(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len, uint8_t out[NP_HS_MAC_LEN])
{
	crypto_generichash(out, NP_HS_MAC_LEN, msg, len, key, keylen);
}

void np_hscookie_add_macs(struct np_hscookie *c, uint8_t *msg, size_t len, uint64_t now_ms)
{
	uint8_t *m1 = msg + len - NP_HS_MACS_LEN, *m2 = m1 + NP_HS_MAC_LEN;

	mac(c->mac1_peer, 32, msg, len - NP_HS_MACS_LEN, m1);
	memcpy(c->last_mac1, m1, NP_HS_MAC_LEN);
	c->have_last_mac1 = 1;
	if (c->have_cookie && now_ms - c->cookie_at_ms < NP_HS_COOKIE_SECRET_MS)
		mac(c->cookie, NP_HS_MAC_LEN, msg, len - NP_HS_MAC_LEN, m2);
	else
		memset(m2, 0, NP_HS_MAC_LEN);
}

int np_hscookie_check_mac1(const struct np_hscookie *c, const uint8_t *msg, size_t len)
{
	uint8_t want[NP_HS_MAC_LEN];

	if (len < NP_HS_MACS_LEN + 4)
		return -EBADMSG;
	mac(c->mac1_self, 32, msg, len - NP_HS_MACS_LEN, want);
	return sodium_memcmp(want, msg + len - NP_HS_MACS_LEN, NP_HS_MAC_LEN) == 0 ? 0 : -EACCES;
}

static void rotate(struct np_hscookie *c, uint64_t now_ms)
{
	if (c->have_secret && now_ms - c->secret_at_ms < NP_HS_COOKIE_SECRET_MS)
		return;
	if (c->have_secret) {
		memcpy(c->prev_secret, c->secret, sizeof(c->secret));
		c->have_prev = now_ms - c->secret_at_ms < 2 * NP_HS_COOKIE_SECRET_MS;
	}
	randombytes_buf(c->secret, sizeof(c->secret));
	c->secret_at_ms = now_ms;
	c->have_secret = 1;
}

static void cookie_for(const uint8_t secret[32], const np_addr_t *from, uint8_t out[NP_HS_MAC_LEN])
{
	uint8_t in[19];

	memset(in, 0, sizeof(in));
	in[0] = from->family;
	in[1] = (uint8_t)(from->port >> 8);
	in[2] = (uint8_t)from->port;
	memcpy(in + 3, from->ip, from->family == 4 ? 4 : 16);
	mac(secret, 32, in, sizeof(in), out);
}

int np_hscookie_check_mac2(struct np_hscookie *c, const uint8_t *msg, size_t len, const np_addr_t *from,
			   uint64_t now_ms)
{
	uint8_t ck[NP_HS_MAC_LEN], want[NP_HS_MAC_LEN];
	const uint8_t *m2 = msg + len - NP_HS_MAC_LEN;

	if (len < NP_HS_MACS_LEN + 4)
		return -EBADMSG;
	rotate(c, now_ms);
	cookie_for(c->secret, from, ck);
	mac(ck, sizeof(ck), msg, len - NP_HS_MAC_LEN, want);
	if (sodium_memcmp(want, m2, NP_HS_MAC_LEN) == 0)
		return 0;
	if (!c->have_prev)
		return -EACCES;
	cookie_for(c->prev_secret, from, ck);
	mac(ck, sizeof(ck), msg, len - NP_HS_MAC_LEN, want);
	return sodium_memcmp(want, m2, NP_HS_MAC_LEN) == 0 ? 0 : -EACCES;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

int np_hscookie_make_reply(struct np_hscookie *c, const uint8_t *msg, size_t len, uint32_t receiver_index,
			   const np_addr_t *from, uint64_t now_ms, uint8_t *out, size_t cap)
{
	uint8_t ck[NP_HS_MAC_LEN];
	unsigned long long clen;

	if (cap < NP_HS_COOKIE_MSG_LEN || len < NP_HS_MACS_LEN + 4)
		return -ENOSPC;
	rotate(c, now_ms);
	cookie_for(c->secret, from, ck);
	out[0] = NP_WIRE_VERSION;
	out[1] = NP_MSG_HANDSHAKE_COOKIE;
	out[2] = 0;
	out[3] = 0;
	put_be32(out + 4, receiver_index);
	randombytes_buf(out + 8, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 32, &clen, ck, sizeof(ck),
						   msg + len - NP_HS_MACS_LEN, NP_HS_MAC_LEN, NULL, out + 8,
						   c->cookie_self);
	sodium_memzero(ck, sizeof(ck));
	return NP_HS_COOKIE_MSG_LEN;
}

int np_hscookie_take_reply(struct np_hscookie *c, const uint8_t *pkt, size_t len, uint32_t want_index,
			   uint64_t now_ms)
{
	uint8_t ck[NP_HS_MAC_LEN];
	unsigned long long n;
	uint32_t idx;

	if (!pkt || len != NP_HS_COOKIE_MSG_LEN || pkt[0] != NP_WIRE_VERSION || pkt[1] != NP_MSG_HANDSHAKE_COOKIE ||
	    pkt[2] || pkt[3])
		return -EBADMSG;
	idx = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 | (uint32_t)pkt[6] << 8 | pkt[7];
	if (!c->have_last_mac1 || idx != want_index)
		return -ENOKEY;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(ck, &n, NULL, pkt + 32, 32, c->last_mac1, NP_HS_MAC_LEN,
						       pkt + 8, c->cookie_peer) != 0 ||
	    n != sizeof(ck))
		return -EACCES;
	memcpy(c->cookie, ck, sizeof(ck));
	c->cookie_at_ms = now_ms;
	c->have_cookie = 1;
	/* One cookie reply per message: a replay of it changes nothing. */
	c->have_last_mac1 = 0;
	sodium_memzero(ck, sizeof(ck));
	return 0;
}
