/* test_noise: np_noise against the cacophony vectors in
 * testdata/noise-vectors.json (IK and IKpsk2 with ChaChaPoly and BLAKE2b):
 * the handshake hash and every message, handshake and transport, both ways.
 * Also round trips for the AESGCM variants, which have no public vectors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "np_noise.h"

#define MAX_MSGS 8
#define MAX_HEX 1024

struct vector {
	uint8_t prologue[64];
	size_t prologue_len;
	uint8_t init_static[32], init_ephemeral[32], resp_static[32], resp_ephemeral[32];
	uint8_t psk[32];
	int has_psk;
	uint8_t hash[64];
	size_t nmsg;
	uint8_t payload[MAX_MSGS][MAX_HEX];
	size_t payload_len[MAX_MSGS];
	uint8_t ct[MAX_MSGS][MAX_HEX];
	size_t ct_len[MAX_MSGS];
};

static char *read_json(void)
{
	FILE *f = fopen(NP_TESTDATA_DIR "/noise-vectors.json", "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Decode the hex string value that follows `key` at or after *p, before end;
 * advances *p past it. Returns the byte count or -1. */
static long hex_field(const char **p, const char *end, const char *key, uint8_t *out, size_t cap)
{
	char pat[64];
	const char *s, *q;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	s = strstr(*p, pat);
	if (!s || s >= end)
		return -1;
	s = strchr(s + strlen(pat), '"');
	if (!s || s >= end)
		return -1;
	s++;
	for (q = s; *q && *q != '"'; q += 2) {
		unsigned v;

		if (n >= cap || sscanf(q, "%2x", &v) != 1)
			return -1;
		out[n++] = (uint8_t)v;
	}
	*p = q + 1;
	return (long)n;
}

static void load_vector(const char *name, struct vector *v)
{
	char *json = read_json();
	char pat[128];
	const char *start, *end, *p;
	long n;

	memset(v, 0, sizeof(*v));
	snprintf(pat, sizeof(pat), "\"protocol_name\": \"%s\"", name);
	start = strstr(json, pat);
	assert_non_null(start);
	end = strstr(start + 1, "\"protocol_name\"");
	if (!end)
		end = json + strlen(json);

	p = start;
	n = hex_field(&p, end, "init_prologue", v->prologue, sizeof(v->prologue));
	assert_true(n >= 0);
	v->prologue_len = (size_t)n;
	p = start;
	v->has_psk = hex_field(&p, end, "init_psks", v->psk, 32) == 32;
	p = start;
	assert_int_equal(hex_field(&p, end, "init_static", v->init_static, 32), 32);
	p = start;
	assert_int_equal(hex_field(&p, end, "init_ephemeral", v->init_ephemeral, 32), 32);
	p = start;
	assert_int_equal(hex_field(&p, end, "resp_static", v->resp_static, 32), 32);
	p = start;
	assert_int_equal(hex_field(&p, end, "resp_ephemeral", v->resp_ephemeral, 32), 32);
	p = start;
	assert_int_equal(hex_field(&p, end, "handshake_hash", v->hash, 64), 64);
	p = strstr(start, "\"messages\"");
	assert_true(p && p < end);
	while (v->nmsg < MAX_MSGS) {
		n = hex_field(&p, end, "payload", v->payload[v->nmsg], MAX_HEX);
		if (n < 0)
			break;
		v->payload_len[v->nmsg] = (size_t)n;
		n = hex_field(&p, end, "ciphertext", v->ct[v->nmsg], MAX_HEX);
		assert_true(n >= 0);
		v->ct_len[v->nmsg] = (size_t)n;
		v->nmsg++;
	}
	free(json);
}

static void run_vector(const char *name)
{
	static struct vector v;
	struct np_noise_hs ini, rsp;
	struct np_noise_cs i_send, i_recv, r_send, r_recv;
	uint8_t resp_pub[32], out[MAX_HEX], pl[MAX_HEX], h1[64], h2[64], rs[32], ipub[32];
	size_t n, m;

	load_vector(name, &v);
	assert_true(v.nmsg >= 4);
	crypto_scalarmult_base(resp_pub, v.resp_static);
	crypto_scalarmult_base(ipub, v.init_static);

	assert_int_equal(np_noise_init(&ini, 1, NP_NOISE_CHACHAPOLY, v.init_static, resp_pub,
				       v.has_psk ? v.psk : NULL, v.prologue, v.prologue_len), 0);
	assert_int_equal(np_noise_init(&rsp, 0, NP_NOISE_CHACHAPOLY, v.resp_static, NULL,
				       v.has_psk ? v.psk : NULL, v.prologue, v.prologue_len), 0);
	np_noise_set_ephemeral(&ini, v.init_ephemeral);
	np_noise_set_ephemeral(&rsp, v.resp_ephemeral);
	assert_int_equal(np_noise_remote_static(&rsp, rs), -ENOKEY);

	/* Message 1: initiator -> responder. */
	assert_int_equal(np_noise_write_message(&ini, v.payload[0], v.payload_len[0], out, sizeof(out), &n), 0);
	assert_int_equal(n, v.ct_len[0]);
	assert_memory_equal(out, v.ct[0], n);
	assert_int_equal(np_noise_read_message(&rsp, out, n, pl, sizeof(pl), &m), 0);
	assert_int_equal(m, v.payload_len[0]);
	assert_memory_equal(pl, v.payload[0], m);
	assert_int_equal(np_noise_remote_static(&rsp, rs), 0);
	assert_memory_equal(rs, ipub, 32);

	/* Message 2: responder -> initiator. */
	assert_int_equal(np_noise_write_message(&rsp, v.payload[1], v.payload_len[1], out, sizeof(out), &n), 0);
	assert_int_equal(n, v.ct_len[1]);
	assert_memory_equal(out, v.ct[1], n);
	assert_int_equal(np_noise_read_message(&ini, out, n, pl, sizeof(pl), &m), 0);
	assert_int_equal(m, v.payload_len[1]);
	assert_memory_equal(pl, v.payload[1], m);

	assert_true(np_noise_is_done(&ini) && np_noise_is_done(&rsp));
	np_noise_handshake_hash(&ini, h1);
	np_noise_handshake_hash(&rsp, h2);
	assert_memory_equal(h1, v.hash, 64);
	assert_memory_equal(h2, v.hash, 64);

	/* Transport: messages alternate, initiator first. */
	assert_int_equal(np_noise_split(&ini, NP_NOISE_CHACHAPOLY, &i_send, &i_recv), 0);
	assert_int_equal(np_noise_split(&rsp, NP_NOISE_CHACHAPOLY, &r_send, &r_recv), 0);
	for (size_t i = 2; i < v.nmsg; i++) {
		struct np_noise_cs *tx = (i % 2 == 0) ? &i_send : &r_send;
		struct np_noise_cs *rx = (i % 2 == 0) ? &r_recv : &i_recv;

		assert_int_equal(np_noise_cs_encrypt(tx, NULL, 0, v.payload[i], v.payload_len[i],
						     out, sizeof(out), &n), 0);
		assert_int_equal(n, v.ct_len[i]);
		assert_memory_equal(out, v.ct[i], n);
		assert_int_equal(np_noise_cs_decrypt(rx, NULL, 0, out, n, pl, sizeof(pl), &m), 0);
		assert_int_equal(m, v.payload_len[i]);
		assert_memory_equal(pl, v.payload[i], m);
	}
	np_noise_wipe(&ini);
	np_noise_wipe(&rsp);
}

static void test_ik_vector(void **state)
{
	(void)state;
	run_vector("Noise_IK_25519_ChaChaPoly_BLAKE2b");
}

static void test_ikpsk2_vector(void **state)
{
	(void)state;
	run_vector("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b");
}

/* A full handshake with random keys; returns 0 or the first error. */
static int handshake(int cipher, const uint8_t *psk_i, const uint8_t *psk_r, int corrupt)
{
	struct np_noise_hs ini, rsp;
	struct np_noise_cs is, ir, rs_, rr;
	uint8_t i_priv[32], r_priv[32], r_pub[32], out[256], pl[64];
	size_t n, m;
	int rc;

	randombytes_buf(i_priv, 32);
	randombytes_buf(r_priv, 32);
	crypto_scalarmult_base(r_pub, r_priv);
	rc = np_noise_init(&ini, 1, cipher, i_priv, r_pub, psk_i, (const uint8_t *)"p", 1);
	if (rc < 0)
		return rc;
	assert_int_equal(np_noise_init(&rsp, 0, cipher, r_priv, NULL, psk_r, (const uint8_t *)"p", 1), 0);
	assert_int_equal(np_noise_write_message(&ini, (const uint8_t *)"hi", 2, out, sizeof(out), &n), 0);
	assert_int_equal(n, 96 + 2);
	if (corrupt == 1)
		out[n - 1] ^= 1;
	rc = np_noise_read_message(&rsp, out, n, pl, sizeof(pl), &m);
	if (rc < 0)
		return rc;
	assert_int_equal(np_noise_write_message(&rsp, NULL, 0, out, sizeof(out), &n), 0);
	assert_int_equal(n, 48);
	if (corrupt == 2)
		out[3] ^= 1;
	rc = np_noise_read_message(&ini, out, n, NULL, 0, &m);
	if (rc < 0)
		return rc;
	assert_int_equal(np_noise_split(&ini, cipher, &is, &ir), 0);
	assert_int_equal(np_noise_split(&rsp, cipher, &rs_, &rr), 0);
	assert_memory_equal(is.aead.key, rr.aead.key, 32);
	assert_memory_equal(ir.aead.key, rs_.aead.key, 32);
	assert_int_equal(np_noise_cs_encrypt(&is, NULL, 0, (const uint8_t *)"data", 4, out, sizeof(out), &n), 0);
	assert_int_equal(np_noise_cs_decrypt(&rr, NULL, 0, out, n, pl, sizeof(pl), &m), 0);
	assert_int_equal(m, 4);
	assert_memory_equal(pl, "data", 4);
	return 0;
}

static void test_roundtrip_ciphers(void **state)
{
	uint8_t psk[32], psk2[32];

	(void)state;
	randombytes_buf(psk, 32);
	memcpy(psk2, psk, 32);
	psk2[0] ^= 1;
	assert_int_equal(handshake(NP_NOISE_CHACHAPOLY, NULL, NULL, 0), 0);
	assert_int_equal(handshake(NP_NOISE_CHACHAPOLY, psk, psk, 0), 0);
	assert_int_equal(handshake(NP_NOISE_CHACHAPOLY, psk, psk2, 0), -EKEYREJECTED);
	assert_int_equal(handshake(NP_NOISE_CHACHAPOLY, NULL, NULL, 1), -EKEYREJECTED);
	assert_int_equal(handshake(NP_NOISE_CHACHAPOLY, NULL, NULL, 2), -EKEYREJECTED);
	if (np_noise_cipher_available(NP_NOISE_AESGCM)) {
		assert_int_equal(handshake(NP_NOISE_AESGCM, NULL, NULL, 0), 0);
		assert_int_equal(handshake(NP_NOISE_AESGCM, psk, psk, 0), 0);
		assert_int_equal(handshake(NP_NOISE_AESGCM, NULL, NULL, 1), -EKEYREJECTED);
	} else {
		assert_int_equal(handshake(NP_NOISE_AESGCM, NULL, NULL, 0), -ENOTSUP);
	}
}

/* The AESGCM nonce is the counter big-endian, ChaChaPoly's little-endian:
 * check against libsodium's combined API with hand-built nonces. */
static void test_nonce_encoding(void **state)
{
	struct np_noise_aead a;
	uint8_t key[32], nonce[12] = { 0 }, ct[64], tag[16], ref[64];
	unsigned long long rl;
	uint64_t n = 0x0102030405060708ull;

	(void)state;
	randombytes_buf(key, 32);
	assert_int_equal(np_noise_aead_init(&a, NP_NOISE_CHACHAPOLY, key), 0);
	assert_int_equal(np_noise_aead_seal(&a, n, NULL, 0, (const uint8_t *)"abc", 3, ct, tag), 0);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
	crypto_aead_chacha20poly1305_ietf_encrypt(ref, &rl, (const uint8_t *)"abc", 3, NULL, 0, NULL, nonce, key);
	assert_memory_equal(ref, ct, 3);
	assert_memory_equal(ref + 3, tag, 16);
	if (!np_noise_cipher_available(NP_NOISE_AESGCM))
		return;
	assert_int_equal(np_noise_aead_init(&a, NP_NOISE_AESGCM, key), 0);
	assert_int_equal(np_noise_aead_seal(&a, n, NULL, 0, (const uint8_t *)"abc", 3, ct, tag), 0);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (56 - 8 * i));
	crypto_aead_aes256gcm_encrypt(ref, &rl, (const uint8_t *)"abc", 3, NULL, 0, NULL, nonce, key);
	assert_memory_equal(ref, ct, 3);
	assert_memory_equal(ref + 3, tag, 16);
	assert_int_equal(np_noise_aead_open(&a, n, NULL, 0, ct, 3, tag, ref), 0);
	assert_memory_equal(ref, "abc", 3);
	tag[0] ^= 1;
	assert_int_equal(np_noise_aead_open(&a, n, NULL, 0, ct, 3, tag, ref), -EKEYREJECTED);
	np_noise_aead_wipe(&a);
}

static void test_bad_order(void **state)
{
	struct np_noise_hs hs;
	uint8_t k[32] = { 1 }, out[256];
	size_t n;

	(void)state;
	assert_int_equal(np_noise_init(&hs, 1, NP_NOISE_CHACHAPOLY, k, NULL, NULL, NULL, 0), -EINVAL);
	assert_int_equal(np_noise_init(&hs, 0, NP_NOISE_CHACHAPOLY, k, NULL, NULL, NULL, 0), 0);
	assert_int_equal(np_noise_write_message(&hs, NULL, 0, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(np_noise_read_message(&hs, out, 10, NULL, 0, &n), -EBADMSG);
	assert_int_equal(np_noise_split(&hs, 0, NULL, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ik_vector),
		cmocka_unit_test(test_ikpsk2_vector),
		cmocka_unit_test(test_roundtrip_ciphers),
		cmocka_unit_test(test_nonce_encoding),
		cmocka_unit_test(test_bad_order),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
