/* test_hsgate: the handshake admission order (np_hsgate) and the mac1/mac2
 * cookie mechanism (np_hscookie), on two real np_sessions.
 *
 * The finding it closes: the global initiation bucket used to be charged
 * before the length check, so 2-byte junk at a few kpps starved a real
 * INIT, and a spoofed flood could block rekeys. Here a flood of junk of
 * every kind arrives in the same millisecond as a real INIT: junk and
 * forged-mac1 packets never touch the bucket; well-formed initiations with
 * a valid mac1 from spoofed sources only push the gate into "under load",
 * where they get cookie replies (smaller than themselves) and the real
 * initiator gets through after one cookie round trip, with mac2. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "np_hsgate.h"
#include "np_session.h"

static struct np_session I, R; /* initiator, responder */
static struct np_hsgate gate;

static np_addr_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	np_addr_t x = { 0 };

	x.family = 4;
	x.ip[0] = a, x.ip[1] = b, x.ip[2] = c, x.ip[3] = d;
	x.port = port;
	return x;
}

static int setup(void **state)
{
	uint8_t k[2][32], p[2][32];

	(void)state;
	if (sodium_init() < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		randombytes_buf(k[i], 32);
		crypto_scalarmult_base(p[i], k[i]);
	}
	if (memcmp(p[0], p[1], 32) > 0) {
		uint8_t t[32];
		memcpy(t, k[0], 32), memcpy(k[0], k[1], 32), memcpy(k[1], t, 32);
		memcpy(t, p[0], 32), memcpy(p[0], p[1], 32), memcpy(p[1], t, 32);
	}
	if (np_session_init(&I, k[0], p[1], NULL) < 0 || np_session_init(&R, k[1], p[0], NULL) < 0)
		return -1;
	return np_hsgate_init(&gate);
}

static int teardown(void **state)
{
	(void)state;
	np_hsgate_free(&gate);
	np_session_destroy(&I);
	np_session_destroy(&R);
	return 0;
}

/* Everything an attacker who knows the responder's public key can send,
 * from spoofed sources, n of each kind, at time now. Returns the number of
 * cookie-reply bytes the responder would send for them, and checks that no
 * junk is ever processed. */
static size_t flood(uint64_t now, int n, size_t *sent_bytes)
{
	uint8_t pkt[NP_SESSION_INIT_LEN], ck[NP_HS_COOKIE_MSG_LEN];
	size_t reply_bytes = 0;

	for (int i = 0; i < n; i++) {
		np_addr_t from = ip4(198, 51, 100, (uint8_t)i, (uint16_t)(1000 + i));
		enum np_hsgate_verdict v;

		/* 2-byte junk, a wrong length, random bytes of the right length. */
		randombytes_buf(pkt, sizeof(pkt));
		assert_int_equal(np_hsgate_check(&gate, &R, pkt, 2, &from, now), NP_HSG_BAD);
		assert_int_equal(np_hsgate_check(&gate, &R, pkt, sizeof(pkt) - 1, &from, now), NP_HSG_BAD);
		pkt[0] = NP_WIRE_VERSION, pkt[1] = NP_MSG_HANDSHAKE_INIT, pkt[2] = 0, pkt[3] = 0;
		assert_int_equal(np_hsgate_check(&gate, &R, pkt, sizeof(pkt), &from, now), NP_HSG_BAD_MAC1);
		/* Right length, valid mac1 (the attacker knows R's public key),
		 * garbage Noise: the expensive kind. */
		np_hscookie_add_macs(&I.hc, pkt, sizeof(pkt), now);
		v = np_hsgate_check(&gate, &R, pkt, sizeof(pkt), &from, now);
		assert_true(v == NP_HSG_PROCESS || v == NP_HSG_COOKIE);
		if (v == NP_HSG_PROCESS) {
			size_t rl;
			uint8_t resp[NP_SESSION_RESP_LEN];
			assert_true(np_session_handle_init(&R, now, pkt, sizeof(pkt), resp, sizeof(resp), &rl) < 0);
		} else {
			int rc = np_session_cookie_reply(&R, now, pkt, sizeof(pkt), &from, ck, sizeof(ck));
			assert_int_equal(rc, NP_HS_COOKIE_MSG_LEN);
			reply_bytes += (size_t)rc;
		}
		*sent_bytes += 2 + sizeof(pkt) - 1 + 2 * sizeof(pkt);
	}
	return reply_bytes;
}

static void test_junk_ahead_of_real_init(void **state)
{
	uint8_t init[NP_SESSION_INIT_LEN], resp[NP_SESSION_RESP_LEN], ck[NP_HS_COOKIE_MSG_LEN];
	np_addr_t real = ip4(203, 0, 113, 5, 40000);
	size_t len, rl, sent = 0, replied;
	uint64_t now = 1000;
	enum np_hsgate_verdict v;

	(void)state;
	/* Junk alone (no valid mac1) never spends the bucket. */
	for (int i = 0; i < 5000; i++) {
		uint8_t j[NP_SESSION_INIT_LEN];
		np_addr_t from = ip4(192, 0, 2, (uint8_t)i, 9);
		randombytes_buf(j, sizeof(j));
		j[0] = NP_WIRE_VERSION, j[1] = NP_MSG_HANDSHAKE_INIT, j[2] = j[3] = 0;
		assert_int_not_equal(np_hsgate_check(&gate, &R, j, (size_t)(i % 3 ? sizeof(j) : 2), &from, now),
				     NP_HSG_PROCESS);
	}
	assert_int_equal(np_session_create_init(&I, now, init, sizeof(init), &len), 0);
	assert_int_equal(np_hsgate_check(&gate, &R, init, len, &real, now), NP_HSG_PROCESS);
	assert_int_equal(np_session_handle_init(&R, now, init, len, resp, sizeof(resp), &rl), 0);
	assert_int_equal(np_session_handle_resp(&I, now, resp, rl), 0);

	/* Now the expensive flood: 2000 of each kind in the same millisecond. */
	now += 10;
	replied = flood(now, 2000, &sent);
	assert_true(replied > 0);
	assert_true(replied < sent); /* cookie replies: 64 bytes for 148 */
	/* The real initiator rekeys: under load, it is asked for a cookie ... */
	assert_int_equal(np_session_create_init(&I, now, init, sizeof(init), &len), 0);
	v = np_hsgate_check(&gate, &R, init, len, &real, now);
	assert_int_equal(v, NP_HSG_COOKIE);
	assert_int_equal(np_session_cookie_reply(&R, now, init, len, &real, ck, sizeof(ck)), NP_HS_COOKIE_MSG_LEN);
	/* ... a cookie reply replayed to it for another message is refused,
	 * the real one accepted, and the retried INIT carries mac2 ... */
	assert_int_equal(np_session_handle_cookie(&I, now, ck, sizeof(ck)), 0);
	assert_int_equal(np_session_handle_cookie(&I, now, ck, sizeof(ck)), -ENOKEY);
	assert_int_equal(np_session_create_init(&I, now, init, sizeof(init), &len), 0);
	/* ... and gets through while the flood goes on. */
	flood(now, 500, &sent);
	assert_int_equal(np_hsgate_check(&gate, &R, init, len, &real, now), NP_HSG_PROCESS);
	assert_int_equal(np_session_handle_init(&R, now, init, len, resp, sizeof(resp), &rl), 0);
	assert_int_equal(np_session_handle_resp(&I, now, resp, rl), 0);
	/* The cookie is bound to the source: the same INIT from elsewhere is
	 * asked for a cookie again. */
	{
		np_addr_t other = real;
		other.port++;
		assert_int_equal(np_session_create_init(&I, now, init, sizeof(init), &len), 0);
		assert_int_equal(np_hsgate_check(&gate, &R, init, len, &other, now), NP_HSG_COOKIE);
	}
	/* Load passes: a second later the bucket has refilled. */
	assert_int_equal(np_hsgate_check(&gate, &R, init, len, &real, now + 1000), NP_HSG_PROCESS);
	assert_true(gate.n[NP_HSG_BAD] >= 6000);
	assert_true(gate.n[NP_HSG_BAD_MAC1] >= 2000);
}

/* mac1 is keyed with the receiver's public key: a message for someone else
 * (or a changed byte) fails before any DH; a cookie reply is only taken for
 * the message it answers. */
static void test_mac1_and_cookie_binding(void **state)
{
	uint8_t init[NP_SESSION_INIT_LEN], ck[NP_HS_COOKIE_MSG_LEN];
	np_addr_t from = ip4(203, 0, 113, 9, 5000);
	size_t len;

	(void)state;
	assert_int_equal(np_session_create_init(&I, 5000, init, sizeof(init), &len), 0);
	assert_int_equal(np_session_init_precheck(&R, init, len), 0);
	assert_int_equal(np_session_init_precheck(&I, init, len), -EACCES); /* not for I */
	init[20] ^= 1;
	assert_int_equal(np_session_init_precheck(&R, init, len), -EACCES);
	init[20] ^= 1;
	/* A cookie reply tampered with, or for another index, is refused. */
	assert_int_equal(np_session_cookie_reply(&R, 5000, init, len, &from, ck, sizeof(ck)), NP_HS_COOKIE_MSG_LEN);
	ck[40] ^= 1;
	assert_int_equal(np_session_handle_cookie(&I, 5000, ck, sizeof(ck)), -EACCES);
	ck[40] ^= 1;
	ck[5] ^= 1; /* another receiver index */
	assert_int_equal(np_session_handle_cookie(&I, 5000, ck, sizeof(ck)), -ENOKEY);
	ck[5] ^= 1;
	assert_int_equal(np_session_handle_cookie(&I, 5000, ck, sizeof(ck)), 0);
	/* The responder never takes cookies. */
	assert_int_equal(np_session_handle_cookie(&R, 5000, ck, sizeof(ck)), -ENOKEY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_junk_ahead_of_real_init),
		cmocka_unit_test(test_mac1_and_cookie_binding),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
