/* test_stun: the STUN/TURN codec against the RFC 5769 test vectors, the
 * builder, ChannelData and stream framing, the TURN REST credential scheme
 * (checked against RFC 2202's HMAC-SHA1 values) and RFC 7065 URIs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "np_stun.h"
#include "np_turn_cred.h"
#include "np_turn_uri.h"

/* RFC 5769 section 2.1: sample request (short-term credentials). */
static const uint8_t req21[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
	0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
	0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
	0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* Section 2.2: IPv4 response, 192.0.2.1 port 32853. */
static const uint8_t resp22[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
	0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* Section 2.3: IPv6 response, 2001:db8:1234:5678:11:2233:4455:6677 port 32853. */
static const uint8_t resp23[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
	0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
	0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
	0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

/* Section 2.4: request with long-term credentials. */
static const uint8_t req24[] = {
	0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0,
	0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83,
	0xaa, 0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00, 0x15, 0x00, 0x1c,
	0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36, 0x4f, 0x4c, 0x33, 0x34,
	0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36, 0x34, 0x73, 0x41, 0x00, 0x14, 0x00, 0x0b,
	0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x08, 0x00, 0x14,
	0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71, 0x2e, 0x85, 0xc9, 0xa2,
	0x8c, 0xa8, 0x96, 0x66,
};

static const char short_pw[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const char lt_user[] = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";

static void test_rfc5769_request(void **state)
{
	struct np_stun_msg m;
	char user[64];

	assert_int_equal(np_stun_parse(req21, sizeof(req21), &m), 0);
	assert_int_equal(m.method, NP_STUN_BINDING);
	assert_int_equal(m.cls, NP_STUN_REQUEST);
	assert_int_equal(m.nattrs, 6);
	assert_true(m.mi >= 0 && m.fp == 5);
	assert_int_equal(np_stun_get_str(np_stun_find(&m, NP_STUN_A_USERNAME), user, sizeof(user)), 0);
	assert_string_equal(user, "evtj:h6vY");
	assert_int_equal(np_stun_check_integrity(&m, (const uint8_t *)short_pw, strlen(short_pw)), 0);
	assert_int_equal(np_stun_check_integrity(&m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBT", 22), -EKEYREJECTED);
}

static void test_rfc5769_ipv4_response(void **state)
{
	struct np_stun_msg m;
	np_addr_t a;
	static const uint8_t ip[4] = { 192, 0, 2, 1 };

	assert_int_equal(np_stun_parse(resp22, sizeof(resp22), &m), 0);
	assert_int_equal(m.cls, NP_STUN_SUCCESS);
	assert_int_equal(np_stun_get_addr(&m, np_stun_find(&m, NP_STUN_A_XOR_MAPPED_ADDRESS), 1, &a), 0);
	assert_int_equal(a.family, 4);
	assert_int_equal(a.port, 32853);
	assert_memory_equal(a.ip, ip, 4);
	assert_int_equal(np_stun_check_integrity(&m, (const uint8_t *)short_pw, strlen(short_pw)), 0);
}

static void test_rfc5769_ipv6_response(void **state)
{
	struct np_stun_msg m;
	np_addr_t a;
	static const uint8_t ip[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
					0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 };

	assert_int_equal(np_stun_parse(resp23, sizeof(resp23), &m), 0);
	assert_int_equal(np_stun_get_addr(&m, np_stun_find(&m, NP_STUN_A_XOR_MAPPED_ADDRESS), 1, &a), 0);
	assert_int_equal(a.family, 6);
	assert_int_equal(a.port, 32853);
	assert_memory_equal(a.ip, ip, 16);
	assert_int_equal(np_stun_check_integrity(&m, (const uint8_t *)short_pw, strlen(short_pw)), 0);
}

static void test_rfc5769_long_term(void **state)
{
	struct np_stun_msg m;
	uint8_t key[NP_STUN_KEY_LEN];
	char realm[64], nonce[64];

	assert_int_equal(np_stun_parse(req24, sizeof(req24), &m), 0);
	assert_int_equal(m.fp, -1);
	assert_int_equal(np_stun_get_str(np_stun_find(&m, NP_STUN_A_REALM), realm, sizeof(realm)), 0);
	assert_int_equal(np_stun_get_str(np_stun_find(&m, NP_STUN_A_NONCE), nonce, sizeof(nonce)), 0);
	assert_string_equal(realm, "example.org");
	assert_string_equal(nonce, "f//499k954d6OL34oL9FSTvy64sA");
	/* The password after SASLprep is "TheMatrIX". */
	assert_int_equal(np_stun_long_term_key(lt_user, realm, "TheMatrIX", key), 0);
	assert_int_equal(np_stun_check_integrity(&m, key, sizeof(key)), 0);
	assert_int_equal(np_stun_long_term_key(lt_user, realm, "TheMatrix", key), 0);
	assert_int_equal(np_stun_check_integrity(&m, key, sizeof(key)), -EKEYREJECTED);
}

/* The builder reproduces section 2.4 byte for byte (its padding is zeros). */
static void test_build_long_term(void **state)
{
	struct np_stun_builder b;
	uint8_t buf[256], key[NP_STUN_KEY_LEN];

	assert_int_equal(np_stun_long_term_key(lt_user, "example.org", "TheMatrIX", key), 0);
	np_stun_build(&b, buf, sizeof(buf), NP_STUN_BINDING, NP_STUN_REQUEST, req24 + 8);
	np_stun_put_str(&b, NP_STUN_A_USERNAME, lt_user);
	np_stun_put_str(&b, NP_STUN_A_NONCE, "f//499k954d6OL34oL9FSTvy64sA");
	np_stun_put_str(&b, NP_STUN_A_REALM, "example.org");
	np_stun_put_integrity(&b, key, sizeof(key));
	assert_int_equal(np_stun_finish(&b), (int)sizeof(req24));
	assert_memory_equal(buf, req24, sizeof(req24));
	/* One byte short fails as a whole. */
	np_stun_build(&b, buf, sizeof(req24) - 1, NP_STUN_BINDING, NP_STUN_REQUEST, req24 + 8);
	np_stun_put_str(&b, NP_STUN_A_USERNAME, lt_user);
	np_stun_put_str(&b, NP_STUN_A_NONCE, "f//499k954d6OL34oL9FSTvy64sA");
	np_stun_put_str(&b, NP_STUN_A_REALM, "example.org");
	np_stun_put_integrity(&b, key, sizeof(key));
	assert_int_equal(np_stun_finish(&b), -ENOSPC);
}

/* A TURN exchange built and parsed again: addresses, lifetime, error, FINGERPRINT. */
static void test_build_turn_roundtrip(void **state)
{
	struct np_stun_builder b;
	struct np_stun_msg m;
	uint8_t buf[512], tx[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	np_addr_t relay = { .family = 4, .port = 50000, .ip = { 203, 0, 113, 7 } }, peer6 = { .family = 6, .port = 1 },
		  got;
	uint32_t lt;
	int code, n;
	char reason[64];

	peer6.ip[0] = 0x20;
	peer6.ip[1] = 0x01;
	peer6.ip[15] = 9;
	np_stun_build(&b, buf, sizeof(buf), NP_STUN_ALLOCATE, NP_STUN_SUCCESS, tx);
	np_stun_put_addr(&b, NP_STUN_A_XOR_RELAYED_ADDRESS, &relay, 1);
	np_stun_put_addr(&b, NP_STUN_A_XOR_PEER_ADDRESS, &peer6, 1);
	np_stun_put_u32(&b, NP_STUN_A_LIFETIME, 600);
	np_stun_put_error(&b, 438, "Stale Nonce");
	np_stun_put_integrity(&b, (const uint8_t *)"k", 1);
	np_stun_put_fingerprint(&b);
	n = np_stun_finish(&b);
	assert_true(n > 0);
	assert_int_equal(np_stun_parse(buf, (size_t)n, &m), 0);
	assert_int_equal(m.method, NP_STUN_ALLOCATE);
	assert_int_equal(m.cls, NP_STUN_SUCCESS);
	assert_memory_equal(m.txid, tx, 12);
	assert_int_equal(np_stun_get_addr(&m, np_stun_find(&m, NP_STUN_A_XOR_RELAYED_ADDRESS), 1, &got), 0);
	assert_memory_equal(&got, &relay, sizeof(got));
	assert_int_equal(np_stun_get_addr(&m, np_stun_find(&m, NP_STUN_A_XOR_PEER_ADDRESS), 1, &got), 0);
	assert_memory_equal(&got, &peer6, sizeof(got));
	assert_int_equal(np_stun_get_u32(np_stun_find(&m, NP_STUN_A_LIFETIME), &lt), 0);
	assert_int_equal(lt, 600);
	assert_int_equal(np_stun_get_error(np_stun_find(&m, NP_STUN_A_ERROR_CODE), &code, reason, sizeof(reason)), 0);
	assert_int_equal(code, 438);
	assert_string_equal(reason, "Stale Nonce");
	assert_string_equal(np_stun_error_text(code), "Stale Nonce");
	assert_int_equal(np_stun_check_integrity(&m, (const uint8_t *)"k", 1), 0);
	assert_int_equal(np_stun_check_integrity(&m, (const uint8_t *)"K", 1), -EKEYREJECTED);
}

/* Every single-byte change and every truncation of a FINGERPRINTed message is refused. */
static void test_parse_rejects_damage(void **state)
{
	struct np_stun_msg m;
	uint8_t buf[sizeof(req21)];

	for (size_t i = 0; i < sizeof(req21); i++) {
		memcpy(buf, req21, sizeof(buf));
		buf[i] ^= 0x01;
		assert_int_not_equal(np_stun_parse(buf, sizeof(buf), &m), 0);
	}
	for (size_t n = 0; n < sizeof(req21); n++)
		assert_int_equal(np_stun_parse(req21, n, &m), -EBADMSG);
}

static void test_parse_structure(void **state)
{
	struct np_stun_msg m;
	struct np_stun_builder b;
	uint8_t buf[128], tx[12] = { 0 };
	int n;

	/* An attribute after FINGERPRINT. */
	np_stun_build(&b, buf, sizeof(buf), NP_STUN_BINDING, NP_STUN_REQUEST, tx);
	np_stun_put_fingerprint(&b);
	np_stun_put_u32(&b, NP_STUN_A_LIFETIME, 1);
	n = np_stun_finish(&b);
	assert_int_equal(np_stun_parse(buf, (size_t)n, &m), -EBADMSG);
	/* An attribute after MESSAGE-INTEGRITY. */
	np_stun_build(&b, buf, sizeof(buf), NP_STUN_BINDING, NP_STUN_REQUEST, tx);
	np_stun_put_integrity(&b, (const uint8_t *)"x", 1);
	np_stun_put_u32(&b, NP_STUN_A_LIFETIME, 1);
	n = np_stun_finish(&b);
	assert_int_equal(np_stun_parse(buf, (size_t)n, &m), -EBADMSG);
	/* An attribute running past the end. */
	np_stun_build(&b, buf, sizeof(buf), NP_STUN_BINDING, NP_STUN_REQUEST, tx);
	np_stun_put_u32(&b, NP_STUN_A_LIFETIME, 1);
	n = np_stun_finish(&b);
	buf[NP_STUN_HDR_LEN + 3] = 8;
	assert_int_equal(np_stun_parse(buf, (size_t)n, &m), -EBADMSG);
	/* Bad address families and lengths. */
	buf[NP_STUN_HDR_LEN + 3] = 4;
	assert_int_equal(np_stun_parse(buf, (size_t)n, &m), 0);
	{
		np_addr_t a;
		assert_int_equal(np_stun_get_addr(&m, &m.attrs[0], 1, &a), -EBADMSG);
		assert_int_equal(np_stun_get_addr(&m, NULL, 1, &a), -EBADMSG);
	}
	/* A text attribute holding a NUL, or too long for the buffer. */
	{
		char s[4];
		np_stun_build(&b, buf, sizeof(buf), NP_STUN_BINDING, NP_STUN_REQUEST, tx);
		np_stun_put(&b, NP_STUN_A_REALM, "a\0b", 3);
		n = np_stun_finish(&b);
		assert_int_equal(np_stun_parse(buf, (size_t)n, &m), 0);
		assert_int_equal(np_stun_get_str(np_stun_find(&m, NP_STUN_A_REALM), s, sizeof(s)), -EBADMSG);
		np_stun_build(&b, buf, sizeof(buf), NP_STUN_BINDING, NP_STUN_REQUEST, tx);
		np_stun_put_str(&b, NP_STUN_A_REALM, "abcd");
		n = np_stun_finish(&b);
		assert_int_equal(np_stun_parse(buf, (size_t)n, &m), 0);
		assert_int_equal(np_stun_get_str(np_stun_find(&m, NP_STUN_A_REALM), s, sizeof(s)), -EBADMSG);
	}
	/* Not STUN at all: the top bits, the cookie. */
	memcpy(buf, resp22, sizeof(resp22));
	buf[0] |= 0x40;
	assert_int_equal(np_stun_looks_like(buf, sizeof(resp22)), 0);
	assert_int_equal(np_stun_parse(buf, sizeof(resp22), &m), -EBADMSG);
}

static void test_channel_data(void **state)
{
	uint8_t buf[16] = { 0 };
	const uint8_t *d;
	size_t dl;
	uint16_t ch;

	assert_int_equal(np_stun_channel_hdr(buf, 0x4001, 5), 0);
	memcpy(buf + 4, "hello", 5);
	assert_int_equal(np_stun_channel_parse(buf, 9, &ch, &d, &dl), 0);
	assert_int_equal(ch, 0x4001);
	assert_int_equal(dl, 5);
	assert_memory_equal(d, "hello", 5);
	/* Up to 3 bytes of padding (TCP), not 4; never shorter than its length. */
	assert_int_equal(np_stun_channel_parse(buf, 12, &ch, &d, &dl), 0);
	assert_int_equal(np_stun_channel_parse(buf, 13, &ch, &d, &dl), -EBADMSG);
	assert_int_equal(np_stun_channel_parse(buf, 8, &ch, &d, &dl), -EBADMSG);
	assert_int_equal(np_stun_channel_hdr(buf, 0x3fff, 5), -EINVAL);
	assert_int_equal(np_stun_channel_hdr(buf, 0x5000, 5), -EINVAL);
	buf[0] = 0x50;
	assert_int_equal(np_stun_channel_parse(buf, 9, &ch, &d, &dl), -EBADMSG);
	/* Stream framing: a padded ChannelData frame and a STUN message. */
	buf[0] = 0x40;
	assert_int_equal(np_stun_stream_frame_len(buf, 3), 0);
	assert_int_equal(np_stun_stream_frame_len(buf, 4), 12);
	assert_int_equal(np_stun_stream_frame_len(req21, 4), (long)sizeof(req21));
	assert_int_equal(np_stun_stream_frame_len(req21, sizeof(req21)), (long)sizeof(req21));
	buf[0] = 0x80;
	assert_int_equal(np_stun_stream_frame_len(buf, 4), -EBADMSG);
}

/* The TURN REST scheme. HMAC-SHA1 is RFC 2202 test case 2; the second value
 * is what `openssl dgst -sha1 -hmac north -binary | base64` gives. */
static void test_rest_credentials(void **state)
{
	char user[NP_TURN_USER_MAX], pass[NP_TURN_PASS_MAX];

	assert_int_equal(np_turn_rest_password((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", pass,
					       sizeof(pass)),
			 0);
	assert_string_equal(pass, "7/zfauXrL6LSdBbV8YTfnCWafHk=");
	assert_int_equal(np_turn_rest_username(1700000000, "alice", user, sizeof(user)), 0);
	assert_string_equal(user, "1700000000:alice");
	assert_int_equal(np_turn_rest_password((const uint8_t *)"north", 5, user, pass, sizeof(pass)), 0);
	assert_string_equal(pass, "Cd/49soE35ICqcJF/bCTn8Z4OyE=");
	assert_int_equal(np_turn_rest_username(1, "a:b", user, sizeof(user)), -EINVAL);
	assert_int_equal(np_turn_rest_username(1, "", user, sizeof(user)), -EINVAL);
	assert_int_equal(np_turn_rest_username(1700000000, "alice", user, 16), -ENOSPC);
	assert_int_equal(np_turn_rest_password((const uint8_t *)"k", 1, "u", pass, 28), -ENOSPC);
}

static void test_uri(void **state)
{
	struct np_turn_uri u;
	char err[256], s[300];

	assert_int_equal(np_turn_uri_parse("turn:203.0.113.5", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "203.0.113.5");
	assert_int_equal(u.port, 3478);
	assert_int_equal(u.transport, NP_TURN_UDP);
	assert_int_equal(np_turn_uri_parse("turn:relay.example:3479?transport=tcp", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "relay.example");
	assert_int_equal(u.port, 3479);
	assert_int_equal(u.transport, NP_TURN_TCP);
	assert_int_equal(np_turn_uri_parse("turns:[2001:db8::1]", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "2001:db8::1");
	assert_int_equal(u.port, 5349);
	assert_int_equal(u.transport, NP_TURN_TLS);
	assert_string_equal(np_turn_uri_str(&u, s, sizeof(s)), "turns:[2001:db8::1]:5349");
	assert_int_equal(np_turn_uri_parse("turns:h:443?transport=tcp", &u, err, sizeof(err)), 0);
	assert_int_equal(u.transport, NP_TURN_TLS);
	static const char *bad[] = { "stun:h", "turn:", "turn:h:0", "turn:h:65536", "turn:h:12x",
				     "turn:h?transport=sctp", "turns:h?transport=udp", "turn:[::1", "turn:a b",
				     "turn:h:1?", "turn:user@h" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(np_turn_uri_parse(bad[i], &u, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "bad TURN URI"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5769_request),     cmocka_unit_test(test_rfc5769_ipv4_response),
		cmocka_unit_test(test_rfc5769_ipv6_response), cmocka_unit_test(test_rfc5769_long_term),
		cmocka_unit_test(test_build_long_term),     cmocka_unit_test(test_build_turn_roundtrip),
		cmocka_unit_test(test_parse_rejects_damage), cmocka_unit_test(test_parse_structure),
		cmocka_unit_test(test_channel_data),        cmocka_unit_test(test_rest_credentials),
		cmocka_unit_test(test_uri),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
