/* test_session: np_session handshakes, transport, replay, rekey and roles,
 * driven with a fake clock and packets held "in flight" in buffers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "np_session.h"

#define NKEYS 4
#define PKT_MAX 1600

/* Static keys sorted by public key: keys[0] is the lowest. */
static uint8_t priv[NKEYS][32], pub[NKEYS][32];
static struct np_session A, B; /* A = keys[0] (initiator), B = keys[1] */

struct pkt {
	uint8_t b[PKT_MAX];
	size_t len;
};

static uint64_t fake_wall(void *ctx)
{
	uint64_t *t = ctx;

	return *t += 1000;
}
static uint64_t wall_a = 1700000000ull * 1000000000ull;

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static int setup_keys(void **state)
{
	uint8_t both[NKEYS][64];

	(void)state;
	if (sodium_init() < 0)
		return -1;
	for (int i = 0; i < NKEYS; i++) {
		randombytes_buf(both[i] + 32, 32);
		crypto_scalarmult_base(both[i], both[i] + 32);
	}
	qsort(both, NKEYS, sizeof(both[0]), cmp_key);
	for (int i = 0; i < NKEYS; i++) {
		memcpy(pub[i], both[i], 32);
		memcpy(priv[i], both[i] + 32, 32);
	}
	sodium_memzero(both, sizeof(both));
	return 0;
}

static int setup_pair(void **state)
{
	(void)state;
	if (np_session_init(&A, priv[0], pub[1], NULL) < 0 ||
	    np_session_init(&B, priv[1], pub[0], NULL) < 0)
		return -1;
	np_session_set_wall_clock(&A, fake_wall, &wall_a);
	return 0;
}

static int teardown_pair(void **state)
{
	(void)state;
	np_session_destroy(&A);
	np_session_destroy(&B);
	return 0;
}

static void seal(struct np_session *s, uint64_t now, const char *text, struct pkt *p)
{
	size_t n = strlen(text);

	memcpy(p->b + NP_TRANSPORT_HDR_LEN, text, n);
	assert_int_equal(np_session_encrypt(s, now, p->b, n, sizeof(p->b), &p->len), 0);
	assert_int_equal(p->len, n + NP_SESSION_OVERHEAD);
}

/* Decrypt a copy of p (so the caller may replay it) and check the text. */
static int open_expect(struct np_session *s, uint64_t now, const struct pkt *p, const char *text)
{
	struct pkt c = *p;
	size_t off, n;
	int rc = np_session_decrypt(s, now, c.b, c.len, &off, &n);

	if (rc == 0 && text) {
		assert_int_equal(n, strlen(text));
		assert_memory_equal(c.b + off, text, n);
	}
	return rc;
}

/* A complete handshake, including the confirming keepalive. */
static void handshake(struct np_session *ini, struct np_session *rsp, uint64_t now)
{
	struct pkt init, resp, ka;

	if (!np_session_can_send(ini, now))
		assert_int_equal(np_session_needs_rekey(ini, now), 1);
	assert_int_equal(np_session_create_init(ini, now, init.b, sizeof(init.b), &init.len), 0);
	assert_int_equal(init.len, NP_SESSION_INIT_LEN);
	assert_int_equal(np_session_needs_rekey(ini, now), 0); /* init in flight */
	assert_int_equal(np_session_handle_init(rsp, now, init.b, init.len, resp.b, sizeof(resp.b), &resp.len), 0);
	assert_int_equal(resp.len, NP_SESSION_RESP_LEN);
	assert_int_equal(np_session_handle_resp(ini, now, resp.b, resp.len), 0);
	assert_true(np_session_can_send(ini, now));
	seal(ini, now, "", &ka);
	assert_int_equal(open_expect(rsp, now, &ka, ""), 0);
	assert_true(np_session_can_send(rsp, now));
	assert_int_equal(np_session_needs_rekey(ini, now), 0);
}

static void test_roles(void **state)
{
	struct np_session s;
	struct pkt p;

	(void)state;
	assert_true(np_session_is_initiator(&A));
	assert_false(np_session_is_initiator(&B));
	assert_int_equal(np_session_init(&s, priv[0], pub[0], NULL), -EINVAL);
	/* The responder never initiates. */
	assert_int_equal(np_session_create_init(&B, 0, p.b, sizeof(p.b), &p.len), -EPERM);
	assert_int_equal(np_session_needs_rekey(&B, 0), 0);
	assert_int_equal(np_session_create_init(&A, 0, p.b, 10, &p.len), -ENOSPC);
}

static void run_roundtrip(int cipher_a, int cipher_b, const char *want)
{
	struct pkt p;
	char big[1400];

	np_session_reset(&A);
	np_session_reset(&B);
	assert_int_equal(np_session_set_cipher(&A, cipher_a), 0);
	assert_int_equal(np_session_set_cipher(&B, cipher_b), 0);
	assert_false(np_session_can_send(&A, 0));
	assert_string_equal(np_session_cipher_name(&A), "none");
	handshake(&A, &B, 1000);
	assert_string_equal(np_session_cipher_name(&A), want);
	assert_string_equal(np_session_cipher_name(&B), want);
	for (int i = 0; i < 50; i++) {
		seal(&A, 1000, "ping", &p);
		assert_int_equal(open_expect(&B, 1000, &p, "ping"), 0);
		seal(&B, 1000, "pong", &p);
		assert_int_equal(open_expect(&A, 1000, &p, "pong"), 0);
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	seal(&B, 1000, big, &p);
	assert_int_equal(open_expect(&A, 1000, &p, big), 0);
}

static void test_roundtrip_both_ciphers(void **state)
{
	(void)state;
	run_roundtrip(NP_NOISE_CHACHAPOLY, NP_NOISE_CHACHAPOLY, "ChaChaPoly");
	if (!np_noise_cipher_available(NP_NOISE_AESGCM)) {
		assert_int_equal(np_session_set_cipher(&A, NP_NOISE_AESGCM), -ENOTSUP);
		return;
	}
	run_roundtrip(NP_NOISE_AESGCM, NP_NOISE_AESGCM, "AESGCM");
	/* AESGCM only when both offer it. */
	run_roundtrip(NP_NOISE_AESGCM, NP_NOISE_CHACHAPOLY, "ChaChaPoly");
	run_roundtrip(NP_NOISE_CHACHAPOLY, NP_NOISE_AESGCM, "ChaChaPoly");
}

static void test_psk(void **state)
{
	struct np_session a, b;
	uint8_t psk[32];
	struct pkt p;

	(void)state;
	randombytes_buf(psk, 32);
	assert_int_equal(np_session_init(&a, priv[0], pub[1], psk), 0);
	assert_int_equal(np_session_init(&b, priv[1], pub[0], psk), 0);
	handshake(&a, &b, 0);
	seal(&b, 1, "with psk", &p);
	assert_int_equal(open_expect(&a, 1, &p, "with psk"), 0);
	np_session_destroy(&a);
	np_session_destroy(&b);
}

static void test_tampered(void **state)
{
	struct pkt p, t, init, resp;

	(void)state;
	handshake(&A, &B, 0);
	seal(&A, 0, "secret data", &p);
	for (size_t i = 0; i < p.len; i++) {
		int rc;

		t = p;
		t.b[i] ^= 0x01;
		rc = open_expect(&B, 0, &t, NULL);
		if (i < 4)
			assert_int_equal(rc, -EBADMSG);
		else if (i < 8)
			assert_int_equal(rc, -ENOKEY);
		else if (i < 16) /* counter: fresh and forged, or already seen */
			assert_true(rc == -EKEYREJECTED || rc == -EALREADY);
		else
			assert_int_equal(rc, -EKEYREJECTED);
	}
	/* Truncated. */
	assert_int_equal(open_expect(&B, 0, &(struct pkt){ .len = 31 }, NULL), -EBADMSG);
	/* The original still decrypts: forgeries do not move the window. */
	assert_int_equal(open_expect(&B, 0, &p, "secret data"), 0);
	assert_int_equal(open_expect(&B, 0, &p, "secret data"), -EALREADY);

	/* Tampered handshake messages. */
	assert_int_equal(np_session_create_init(&A, 10, init.b, sizeof(init.b), &init.len), 0);
	/* mac2 (the last 16 bytes) is only looked at under load (np_hsgate). */
	for (size_t i = 0; i < init.len - NP_HS_MAC_LEN; i++) {
		t = init;
		t.b[i] ^= 0x80;
		assert_true(np_session_handle_init(&B, 10, t.b, t.len, resp.b, sizeof(resp.b), &resp.len) < 0);
	}
	assert_int_equal(np_session_handle_init(&B, 10, init.b, init.len - 1, resp.b, sizeof(resp.b), &resp.len), -EBADMSG);
	assert_int_equal(np_session_handle_init(&B, 10, init.b, init.len, resp.b, sizeof(resp.b), &resp.len), 0);
	for (size_t i = 0; i < resp.len; i++) {
		int rc;

		t = resp;
		t.b[i] ^= 0x80;
		/* The cipher byte and sender_index are outside Noise (see
		 * test_tampered_resp_header); everything else is checked. */
		if (i == 2 || (i >= 4 && i < 8) || i >= resp.len - NP_HS_MAC_LEN)
			continue;
		rc = np_session_handle_resp(&A, 10, t.b, t.len);
		assert_true(rc < 0);
	}
	/* The real response still works after all those forgeries. */
	assert_int_equal(np_session_handle_resp(&A, 10, resp.b, resp.len), 0);
	seal(&A, 10, "after", &p);
	assert_int_equal(open_expect(&B, 10, &p, "after"), 0);
}

/* A flipped cipher choice in the response is detected: the choice also
 * travels inside the encrypted payload, so the initiator rejects it. */
static void test_tampered_cipher_choice(void **state)
{
	struct pkt init, resp, p;

	(void)state;
	if (!np_noise_cipher_available(NP_NOISE_AESGCM))
		skip();
	assert_int_equal(np_session_create_init(&A, 0, init.b, sizeof(init.b), &init.len), 0);
	assert_int_equal(np_session_handle_init(&B, 0, init.b, init.len, resp.b, sizeof(resp.b), &resp.len), 0);
	assert_int_equal(resp.b[2], NP_NOISE_AESGCM);
	resp.b[2] = NP_NOISE_CHACHAPOLY;
	/* mac1 covers the header ... */
	assert_int_equal(np_session_handle_resp(&A, 0, resp.b, resp.len), -EACCES);
	/* ... and so does Noise, for someone who can recompute mac1. */
	np_hscookie_add_macs(&B.hc, resp.b, resp.len, 0);
	assert_int_equal(np_session_handle_resp(&A, 0, resp.b, resp.len), -EKEYREJECTED);
	assert_false(np_session_can_send(&B, 0));
	/* The untouched response still completes the handshake. */
	resp.b[2] = NP_NOISE_AESGCM;
	np_hscookie_add_macs(&B.hc, resp.b, resp.len, 0);
	assert_int_equal(np_session_handle_resp(&A, 0, resp.b, resp.len), 0);
	seal(&A, 0, "", &p);
	assert_int_equal(open_expect(&B, 0, &p, ""), 0);
	/* A changed offer in the init breaks the handshake (prologue). */
	assert_int_equal(np_session_create_init(&A, 0, init.b, sizeof(init.b), &init.len), 0);
	init.b[2] = NP_NOISE_CHACHAPOLY;
	assert_int_equal(np_session_handle_init(&B, 0, init.b, init.len, resp.b, sizeof(resp.b), &resp.len),
			 -EACCES);
	np_hscookie_add_macs(&A.hc, init.b, init.len, 0);
	assert_int_equal(np_session_handle_init(&B, 0, init.b, init.len, resp.b, sizeof(resp.b), &resp.len),
			 -EKEYREJECTED);
}

/* A changed sender_index in the response is detected by the initiator
 * (the index is bound inside the encrypted payload). */
static void test_tampered_resp_header(void **state)
{
	struct pkt init, resp, p;

	(void)state;
	assert_int_equal(np_session_create_init(&A, 0, init.b, sizeof(init.b), &init.len), 0);
	assert_int_equal(np_session_handle_init(&B, 0, init.b, init.len, resp.b, sizeof(resp.b), &resp.len), 0);
	resp.b[5] ^= 0x10;
	assert_int_equal(np_session_handle_resp(&A, 0, resp.b, resp.len), -EACCES);
	np_hscookie_add_macs(&B.hc, resp.b, resp.len, 0);
	assert_int_equal(np_session_handle_resp(&A, 0, resp.b, resp.len), -EKEYREJECTED);
	assert_false(np_session_can_send(&B, 0));
	resp.b[5] ^= 0x10;
	np_hscookie_add_macs(&B.hc, resp.b, resp.len, 0);
	assert_int_equal(np_session_handle_resp(&A, 0, resp.b, resp.len), 0);
	seal(&A, 0, "", &p);
	assert_int_equal(open_expect(&B, 0, &p, ""), 0);
}

static void test_wrong_peer_key(void **state)
{
	struct np_session a, b;
	struct pkt init, resp;
	uint8_t psk1[32], psk2[32];

	(void)state;
	/* Responder side: B expects keys[1] but keys[0] shows up. */
	assert_int_equal(np_session_init(&a, priv[0], pub[2], NULL), 0);
	assert_int_equal(np_session_init(&b, priv[2], pub[1], NULL), 0);
	assert_false(np_session_is_initiator(&b));
	assert_int_equal(np_session_create_init(&a, 0, init.b, sizeof(init.b), &init.len), 0);
	assert_int_equal(np_session_handle_init(&b, 0, init.b, init.len, resp.b, sizeof(resp.b), &resp.len),
			 -EKEYREJECTED);
	np_session_destroy(&b);

	/* The initiator has the wrong key for the responder: the init is
	 * made for someone else, and its mac1 says so before any DH. */
	assert_int_equal(np_session_init(&b, priv[1], pub[0], NULL), 0);
	assert_int_equal(np_session_handle_init(&b, 0, init.b, init.len, resp.b, sizeof(resp.b), &resp.len),
			 -EACCES);
	np_session_destroy(&a);
	np_session_destroy(&b);

	/* Initiator side: a PSK mismatch shows in message 2. */
	randombytes_buf(psk1, 32);
	randombytes_buf(psk2, 32);
	assert_int_equal(np_session_init(&a, priv[0], pub[1], psk1), 0);
	assert_int_equal(np_session_init(&b, priv[1], pub[0], psk2), 0);
	assert_int_equal(np_session_create_init(&a, 0, init.b, sizeof(init.b), &init.len), 0);
	assert_int_equal(np_session_handle_init(&b, 0, init.b, init.len, resp.b, sizeof(resp.b), &resp.len), 0);
	assert_int_equal(np_session_handle_resp(&a, 0, resp.b, resp.len), -EKEYREJECTED);
	assert_false(np_session_can_send(&a, 0));
	np_session_destroy(&b);
	/* PSK on one side only. */
	assert_int_equal(np_session_init(&b, priv[1], pub[0], NULL), 0);
	assert_int_equal(np_session_handle_init(&b, 0, init.b, init.len, resp.b, sizeof(resp.b), &resp.len),
			 -EKEYREJECTED);
	np_session_destroy(&a);
	np_session_destroy(&b);

	/* Initiator side: a peer configured with another key thinks it is the
	 * initiator and sends us an init. */
	assert_int_equal(np_session_init(&a, priv[1], pub[2], NULL), 0);
	assert_true(np_session_is_initiator(&a));
	assert_int_equal(np_session_create_init(&a, 0, init.b, sizeof(init.b), &init.len), 0);
	assert_int_equal(np_session_handle_init(&A, 0, init.b, init.len, resp.b, sizeof(resp.b), &resp.len),
			 -EACCES);
	np_session_destroy(&a);
}

static void test_replayed_init(void **state)
{
	struct pkt init1, init2, resp;

	(void)state;
	assert_int_equal(np_session_create_init(&A, 0, init1.b, sizeof(init1.b), &init1.len), 0);
	assert_int_equal(np_session_create_init(&A, 0, init2.b, sizeof(init2.b), &init2.len), 0);
	assert_int_equal(np_session_handle_init(&B, 0, init1.b, init1.len, resp.b, sizeof(resp.b), &resp.len), 0);
	assert_int_equal(np_session_handle_init(&B, 0, init1.b, init1.len, resp.b, sizeof(resp.b), &resp.len),
			 -EALREADY);
	assert_int_equal(np_session_handle_init(&B, 0, init2.b, init2.len, resp.b, sizeof(resp.b), &resp.len), 0);
	/* Older than the newest seen: dropped, even after a reset. */
	assert_int_equal(np_session_handle_init(&B, 0, init1.b, init1.len, resp.b, sizeof(resp.b), &resp.len),
			 -EALREADY);
	np_session_reset(&B);
	assert_int_equal(np_session_handle_init(&B, 0, init2.b, init2.len, resp.b, sizeof(resp.b), &resp.len),
			 -EALREADY);
	/* A response arriving without a pending handshake. */
	assert_int_equal(np_session_handle_resp(&B, 0, resp.b, resp.len), -ENOKEY);
}

/* The response may be written over the init it answers. */
static void test_handle_init_in_place(void **state)
{
	struct pkt p;

	(void)state;
	assert_int_equal(np_session_create_init(&A, 0, p.b, sizeof(p.b), &p.len), 0);
	assert_int_equal(np_session_handle_init(&B, 0, p.b, p.len, p.b, sizeof(p.b), &p.len), 0);
	assert_int_equal(np_session_handle_resp(&A, 0, p.b, p.len), 0);
	seal(&A, 0, "in place", &p);
	assert_int_equal(open_expect(&B, 0, &p, "in place"), 0);
}

static void test_no_session(void **state)
{
	struct pkt p = { .len = 0 };
	size_t off, n;

	(void)state;
	assert_int_equal(np_session_encrypt(&A, 0, p.b, 4, sizeof(p.b), &p.len), -ENOKEY);
	memset(p.b, 0, 48);
	p.b[0] = NP_WIRE_VERSION;
	p.b[1] = NP_MSG_TRANSPORT;
	assert_int_equal(np_session_decrypt(&B, 0, p.b, 48, &off, &n), -ENOKEY);
	assert_string_equal(np_session_cipher_name(&B), "none");
}

static void test_responder_waits_for_confirmation(void **state)
{
	struct pkt init, resp, p;

	(void)state;
	assert_int_equal(np_session_create_init(&A, 0, init.b, sizeof(init.b), &init.len), 0);
	assert_int_equal(np_session_handle_init(&B, 0, init.b, init.len, resp.b, sizeof(resp.b), &resp.len), 0);
	assert_false(np_session_can_send(&B, 0));
	assert_int_equal(np_session_encrypt(&B, 0, p.b, 0, sizeof(p.b), &p.len), -ENOKEY);
	assert_int_equal(np_session_handle_resp(&A, 0, resp.b, resp.len), 0);
	seal(&A, 5, "data confirms too", &p);
	assert_int_equal(open_expect(&B, 5, &p, "data confirms too"), 0);
	assert_true(np_session_can_send(&B, 5));
	seal(&B, 5, "x", &p);
	assert_int_equal(open_expect(&A, 5, &p, "x"), 0);
	/* Replayed transport packet. */
	assert_int_equal(open_expect(&A, 5, &p, "x"), -EALREADY);
}

static void test_rekey_no_loss(void **state)
{
	struct pkt q[3], pb[3], p4, p5, ka, d1, init, resp, late;
	char text[16];
	uint64_t t = 0;

	(void)state;
	np_session_set_rekey_after_ms(&A, 1000);
	handshake(&A, &B, t);
	t = 999;
	assert_int_equal(np_session_needs_rekey(&A, t), 0);
	t = 1000;
	assert_int_equal(np_session_needs_rekey(&A, t), 1);
	assert_int_equal(np_session_needs_rekey(&B, t), 0);

	/* Packets under the old keys, still in flight during the rekey. */
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "q%d", i);
		seal(&A, t, text, &q[i]);
		snprintf(text, sizeof(text), "p%d", i);
		seal(&B, t, text, &pb[i]);
	}

	assert_int_equal(np_session_create_init(&A, t, init.b, sizeof(init.b), &init.len), 0);
	/* A keeps sending with the old keys while the init is in flight. */
	seal(&A, t, "late old", &late);
	assert_int_equal(np_session_handle_init(&B, t, init.b, init.len, resp.b, sizeof(resp.b), &resp.len), 0);
	/* B has not seen the new keys used: it still sends with the old ones. */
	seal(&B, t, "p4", &p4);
	assert_int_equal(np_session_handle_resp(&A, t, resp.b, resp.len), 0);
	assert_int_equal(np_session_needs_rekey(&A, t), 0);
	seal(&A, t, "", &ka);
	seal(&A, t, "d1", &d1);

	/* Deliver out of order: old before new, data before the keepalive. */
	assert_int_equal(open_expect(&A, t, &p4, "p4"), 0);
	assert_int_equal(open_expect(&B, t, &q[0], "q0"), 0);
	assert_int_equal(open_expect(&B, t, &d1, "d1"), 0); /* confirms the new keys */
	assert_int_equal(open_expect(&B, t, &ka, ""), 0);
	assert_int_equal(open_expect(&B, t, &q[2], "q2"), 0);
	assert_int_equal(open_expect(&B, t, &late, "late old"), 0);
	assert_int_equal(open_expect(&B, t, &q[1], "q1"), 0);
	seal(&B, t, "p5", &p5); /* new keys now */
	assert_int_equal(open_expect(&A, t, &p5, "p5"), 0);
	for (int i = 2; i >= 0; i--) {
		snprintf(text, sizeof(text), "p%d", i);
		assert_int_equal(open_expect(&A, t, &pb[i], text), 0);
	}
	/* Nothing twice. */
	assert_int_equal(open_expect(&B, t, &q[1], NULL), -EALREADY);
	assert_int_equal(open_expect(&A, t, &pb[1], NULL), -EALREADY);

	/* The old keys go away after keep_previous_ms. */
	seal(&B, t, "p6", &p5);
	assert_int_equal(np_session_needs_rekey(&A, t + 999), 0);
	assert_int_equal(np_session_needs_rekey(&A, t + 1000), 1);
	/* Not again while the retry timer runs, then again. */
	assert_int_equal(np_session_create_init(&A, t + 1000, init.b, sizeof(init.b), &init.len), 0);
	assert_int_equal(np_session_needs_rekey(&A, t + 1000 + NP_SESSION_REKEY_TIMEOUT_MS - 1), 0);
	assert_int_equal(np_session_needs_rekey(&A, t + 1000 + NP_SESSION_REKEY_TIMEOUT_MS), 1);
	/* Nothing replaced the keys, so they expire after reject_after_ms. */
	assert_true(np_session_can_send(&A, t + NP_SESSION_REJECT_AFTER_MS - 1));
	assert_false(np_session_can_send(&A, t + NP_SESSION_REJECT_AFTER_MS));
	assert_int_equal(open_expect(&A, t + NP_SESSION_REJECT_AFTER_MS, &p5, NULL), -ENOKEY);
}

static void test_previous_expires(void **state)
{
	struct pkt old;

	(void)state;
	handshake(&A, &B, 0);
	seal(&B, 0, "old", &old);
	handshake(&A, &B, 10);
	assert_int_equal(open_expect(&A, 10 + NP_SESSION_KEEP_PREVIOUS_MS - 1, &old, "old"), 0);
	seal(&B, 10, "old2", &old); /* B is on the new keys now */
	assert_int_equal(open_expect(&A, 20, &old, "old2"), 0);
	handshake(&A, &B, 30);
	assert_int_equal(open_expect(&A, 30 + NP_SESSION_KEEP_PREVIOUS_MS, &old, NULL), -ENOKEY);
}

static void test_simultaneous_start(void **state)
{
	struct np_session *s[2] = { &B, &A }; /* "B" happens to start first */
	struct pkt init[2], resp[2], p;
	int sent = 0;

	(void)state;
	/* Both sides come up at once and try to start: only the initiator's
	 * init goes out, so there is exactly one handshake to finish. */
	for (int i = 0; i < 2; i++) {
		if (np_session_needs_rekey(s[i], 0)) {
			assert_int_equal(np_session_create_init(s[i], 0, init[sent].b, sizeof(init[sent].b),
								&init[sent].len), 0);
			sent++;
		}
	}
	assert_int_equal(sent, 1);
	/* The init is retransmitted, then the responses arrive in reverse. */
	assert_int_equal(np_session_create_init(&A, 50, init[1].b, sizeof(init[1].b), &init[1].len), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(np_session_handle_init(&B, 60, init[i].b, init[i].len, resp[i].b,
							sizeof(resp[i].b), &resp[i].len), 0);
	assert_int_equal(np_session_handle_resp(&A, 70, resp[1].b, resp[1].len), 0);
	assert_int_equal(np_session_handle_resp(&A, 70, resp[0].b, resp[0].len), -ENOKEY);
	seal(&A, 70, "", &p);
	assert_int_equal(open_expect(&B, 70, &p, ""), 0);
	seal(&B, 70, "converged", &p);
	assert_int_equal(open_expect(&A, 70, &p, "converged"), 0);

	/* The initiator restarts (fresh state, later clock): B accepts the new
	 * init and moves over once confirmed. */
	np_session_destroy(&A);
	assert_int_equal(np_session_init(&A, priv[0], pub[1], NULL), 0);
	np_session_set_wall_clock(&A, fake_wall, &wall_a);
	handshake(&A, &B, 100);
	seal(&B, 100, "again", &p);
	assert_int_equal(open_expect(&A, 100, &p, "again"), 0);
}

static void test_encrypt_bounds(void **state)
{
	struct pkt p;

	(void)state;
	handshake(&A, &B, 0);
	assert_int_equal(np_session_encrypt(&A, 0, p.b, 100, 100 + NP_SESSION_OVERHEAD - 1, &p.len), -ENOSPC);
	assert_int_equal(np_session_encrypt(&A, 0, p.b, 0, 31, &p.len), -ENOSPC);
	assert_int_equal(np_session_encrypt(&A, 0, p.b, SIZE_MAX, sizeof(p.b), &p.len), -ENOSPC);
	/* The message budget: rekey due, then no more sending. */
	A.current.send_counter = NP_SESSION_REKEY_AFTER_MESSAGES;
	assert_int_equal(np_session_needs_rekey(&A, 1), 1);
	A.current.send_counter = NP_SESSION_REJECT_AFTER_MESSAGES;
	assert_int_equal(np_session_encrypt(&A, 1, p.b, 0, sizeof(p.b), &p.len), -ENOKEY);
}

/* The initiator restarts while the responder is up (np_rejoin.h): a new
 * process, the same static key, a later clock, no session. Its first
 * initiation is accepted at once; the responder keeps sending under the old
 * keys until the new ones are confirmed; the old process's initiation,
 * replayed from anywhere, and the new one replayed, are refused. */
static void test_restarted_initiator(void **state)
{
	struct np_session A2;
	struct pkt old_init, init, resp, p;
	uint64_t wall_a2;

	(void)state;
	handshake(&A, &B, 0);
	assert_int_equal(np_session_create_init(&A, 10, old_init.b, sizeof(old_init.b), &old_init.len), 0);
	assert_int_equal(np_session_handle_init(&B, 10, old_init.b, old_init.len, resp.b, sizeof(resp.b), &resp.len), 0);
	assert_int_equal(np_session_handle_resp(&A, 10, resp.b, resp.len), 0);
	seal(&A, 10, "", &p);
	assert_int_equal(open_expect(&B, 10, &p, ""), 0);

	/* A restarts: a fresh session, its clock a few seconds later. */
	wall_a2 = wall_a + 3000000000ull;
	assert_int_equal(np_session_init(&A2, priv[0], pub[1], NULL), 0);
	np_session_set_wall_clock(&A2, fake_wall, &wall_a2);
	assert_int_equal(np_session_create_init(&A2, 0, init.b, sizeof(init.b), &init.len), 0);
	assert_int_equal(np_session_handle_init(&B, 20, init.b, init.len, resp.b, sizeof(resp.b), &resp.len), 0);
	/* Until A2 confirms, B still sends under the old keys (which A2 lacks). */
	seal(&B, 20, "old keys", &p);
	assert_int_equal(open_expect(&A2, 20, &p, NULL), -ENOKEY);
	/* Replays: the old process's last initiation, and the new one again. */
	assert_int_equal(np_session_handle_init(&B, 21, old_init.b, old_init.len, p.b, sizeof(p.b), &p.len),
			 -EALREADY);
	assert_int_equal(np_session_handle_init(&B, 21, init.b, init.len, p.b, sizeof(p.b), &p.len), -EALREADY);
	/* A2 completes; its first packet confirms the new keys to B. */
	assert_int_equal(np_session_handle_resp(&A2, 22, resp.b, resp.len), 0);
	seal(&A2, 22, "", &p);
	assert_int_equal(open_expect(&B, 22, &p, ""), 0);
	seal(&B, 22, "new keys", &p);
	assert_int_equal(open_expect(&A2, 22, &p, "new keys"), 0);
	np_session_destroy(&A2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_pair, teardown_pair)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_roles),
		T(test_roundtrip_both_ciphers),
		T(test_psk),
		T(test_tampered),
		T(test_tampered_cipher_choice),
		T(test_tampered_resp_header),
		T(test_wrong_peer_key),
		T(test_replayed_init),
		T(test_handle_init_in_place),
		T(test_no_session),
		T(test_responder_waits_for_confirmation),
		T(test_rekey_no_loss),
		T(test_previous_expires),
		T(test_simultaneous_start),
		T(test_encrypt_bounds),
		T(test_restarted_initiator),
	};

	return cmocka_run_group_tests(tests, setup_keys, NULL);
}
