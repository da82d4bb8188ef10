/* test_wire: the np_wire control-message format. Every message round-trips;
 * every truncation and any trailing byte is rejected; a foreign version gives
 * -EPROTONOSUPPORT; bad address families, session names, reserved bits and
 * NAT values are rejected; the MAC offset points at the MAC. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "np_wire.h"

static np_addr_t addr4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	np_addr_t x;

	memset(&x, 0, sizeof(x));
	x.family = 4;
	x.ip[0] = a;
	x.ip[1] = b;
	x.ip[2] = c;
	x.ip[3] = d;
	x.port = port;
	return x;
}

static np_addr_t addr6(uint8_t last, uint16_t port)
{
	np_addr_t x;

	memset(&x, 0, sizeof(x));
	x.family = 6;
	x.ip[0] = 0x20;
	x.ip[1] = 0x01;
	x.ip[2] = 0x0d;
	x.ip[3] = 0xb8;
	x.ip[15] = last;
	x.port = port;
	return x;
}

static np_nat_info_t nat_sample(void)
{
	np_nat_info_t n;

	memset(&n, 0, sizeof(n));
	n.known = 1;
	n.mapping = NP_NAT_MAP_APDM;
	n.filtering = NP_NAT_FILTER_APDF;
	n.allocation = NP_NAT_ALLOC_SEQUENTIAL;
	n.depth = 2;
	n.step = -3;
	n.noise = 7;
	return n;
}

/* ---- one sample of every message, encoded ------------------------------------ */

enum { M_REGISTER, M_REGISTER_MAC, M_REGISTER6, M_REGISTER_COOKIE, M_ACK, M_ACK_MAC, M_PEER_INFO, M_PEER_INFO_MAC,
       M_NAT_PROBE, M_NAT_PROBE_REPLY, M_NAT_PROBE_REPLY_MAC, M_PROBE, M_PROBE_ACK, M_COOKIE, M_COOKIE_MAC, M_COUNT };

static struct np_msg_register s_reg;
static struct np_msg_register_ack s_ack;
static struct np_msg_peer_info s_pi;
static struct np_msg_nat_probe s_np;
static struct np_msg_nat_probe_reply s_npr;
static struct np_msg_probe s_probe;
static struct np_msg_register_cookie s_ck;

static void fill_register(struct np_msg_register *m, int mac, int v6, int cookie)
{
	memset(m, 0, sizeof(*m));
	m->flags = (mac ? NP_REG_F_MAC : 0) | (cookie ? NP_REG_F_COOKIE : 0);
	if (cookie)
		memset(m->cookie, 0x5c, sizeof(m->cookie));
	m->nonce = 0xdeadbeef;
	m->timestamp_ms = 0x0123456789abcdefull;
	strcpy(m->session, "lab-session_1");
	m->local = v6 ? addr6(9, 4000) : addr4(192, 168, 1, 2, 4000);
	m->nat = nat_sample();
	if (mac)
		memset(m->mac, 0xab, sizeof(m->mac));
}

static int encode_sample(int which, uint8_t *buf, size_t cap)
{
	switch (which) {
	case M_REGISTER:
	case M_REGISTER_MAC:
	case M_REGISTER6:
	case M_REGISTER_COOKIE:
		fill_register(&s_reg, which == M_REGISTER_MAC || which == M_REGISTER_COOKIE, which == M_REGISTER6,
			      which == M_REGISTER_COOKIE);
		return np_wire_encode_register(buf, cap, &s_reg);
	case M_COOKIE:
	case M_COOKIE_MAC:
		memset(&s_ck, 0, sizeof(s_ck));
		s_ck.flags = which == M_COOKIE_MAC ? NP_REG_F_MAC : 0;
		s_ck.nonce = 0x01020304;
		memset(s_ck.cookie, 0x77, sizeof(s_ck.cookie));
		if (s_ck.flags)
			memset(s_ck.mac, 0x99, sizeof(s_ck.mac));
		return np_wire_encode_register_cookie(buf, cap, &s_ck);
	case M_ACK:
	case M_ACK_MAC:
		memset(&s_ack, 0, sizeof(s_ack));
		s_ack.flags = which == M_ACK_MAC ? NP_REG_F_MAC : 0;
		s_ack.nonce = 77;
		s_ack.observed = addr4(198, 51, 100, 18, 33333);
		memset(s_ack.mac, 0xcd, sizeof(s_ack.mac));
		if (!s_ack.flags)
			memset(s_ack.mac, 0, sizeof(s_ack.mac));
		return np_wire_encode_register_ack(buf, cap, &s_ack);
	case M_PEER_INFO:
	case M_PEER_INFO_MAC:
		memset(&s_pi, 0, sizeof(s_pi));
		s_pi.flags = which == M_PEER_INFO_MAC ? NP_REG_F_MAC : 0;
		s_pi.role = 1;
		s_pi.nonce = 0x11223344;
		s_pi.round = 9;
		s_pi.start_in_ms = 250;
		for (int i = 0; i < NP_PAIRING_LEN; i++)
			s_pi.pairing[i] = (uint8_t)(0xa0 + i);
		s_pi.observed = addr4(198, 51, 100, 34, 2001);
		s_pi.peer_public = addr6(1, 5555);
		s_pi.peer_local = addr4(10, 0, 0, 2, 5556);
		s_pi.peer_nat = nat_sample();
		if (s_pi.flags)
			memset(s_pi.mac, 0xef, sizeof(s_pi.mac));
		return np_wire_encode_peer_info(buf, cap, &s_pi);
	case M_NAT_PROBE:
		memset(&s_np, 0, sizeof(s_np));
		s_np.flags = NP_NATP_F_CHANGE_PORT | NP_NATP_F_CHANGE_IP;
		s_np.txid = 0xcafef00d;
		return np_wire_encode_nat_probe(buf, cap, &s_np);
	case M_NAT_PROBE_REPLY:
	case M_NAT_PROBE_REPLY_MAC:
		memset(&s_npr, 0, sizeof(s_npr));
		s_npr.flags = NP_NATP_F_CHANGE_IP | (which == M_NAT_PROBE_REPLY_MAC ? NP_NATP_F_MAC : 0);
		s_npr.other_port = 3479;
		if (which == M_NAT_PROBE_REPLY_MAC)
			memset(s_npr.mac, 0x31, sizeof(s_npr.mac));
		s_npr.answered = NP_NATP_F_CHANGE_IP;
		s_npr.txid = 5;
		s_npr.observed = addr4(203, 0, 113, 7, 1234);
		s_npr.alt = addr4(203, 0, 113, 11, 0);
		return np_wire_encode_nat_probe_reply(buf, cap, &s_npr);
	case M_PROBE:
	case M_PROBE_ACK:
		memset(&s_probe, 0, sizeof(s_probe));
		s_probe.type = which == M_PROBE ? NP_MSG_PROBE : NP_MSG_PROBE_ACK;
		s_probe.flags = NP_PROBE_F_HIGH;
		s_probe.round = 3;
		s_probe.nonce = 0xfedcba9876543210ull;
		memset(s_probe.mac, 0x42, sizeof(s_probe.mac));
		return np_wire_encode_probe(buf, cap, &s_probe);
	}
	return -1;
}

/* Parses buf with the parser for `which`; 0 and memcmp-equal to the sample, or the error. */
static int parse_sample(int which, const uint8_t *buf, size_t len, int compare)
{
	int rc;

	switch (which) {
	case M_REGISTER:
	case M_REGISTER_MAC:
	case M_REGISTER6:
	case M_REGISTER_COOKIE: {
		struct np_msg_register m;
		rc = np_wire_parse_register(buf, len, &m);
		if (rc == 0 && compare) {
			s_reg.mac_offset = m.mac_offset;
			assert_memory_equal(&m, &s_reg, sizeof(m));
		}
		return rc;
	}
	case M_ACK:
	case M_ACK_MAC: {
		struct np_msg_register_ack m;
		rc = np_wire_parse_register_ack(buf, len, &m);
		if (rc == 0 && compare) {
			s_ack.mac_offset = m.mac_offset;
			assert_memory_equal(&m, &s_ack, sizeof(m));
		}
		return rc;
	}
	case M_PEER_INFO:
	case M_PEER_INFO_MAC: {
		struct np_msg_peer_info m;
		rc = np_wire_parse_peer_info(buf, len, &m);
		if (rc == 0 && compare) {
			s_pi.mac_offset = m.mac_offset;
			assert_memory_equal(&m, &s_pi, sizeof(m));
		}
		return rc;
	}
	case M_NAT_PROBE: {
		struct np_msg_nat_probe m;
		rc = np_wire_parse_nat_probe(buf, len, &m);
		if (rc == 0 && compare)
			assert_memory_equal(&m, &s_np, sizeof(m));
		return rc;
	}
	case M_NAT_PROBE_REPLY:
	case M_NAT_PROBE_REPLY_MAC: {
		struct np_msg_nat_probe_reply m;
		rc = np_wire_parse_nat_probe_reply(buf, len, &m);
		if (rc == 0 && compare) {
			s_npr.mac_offset = m.mac_offset;
			assert_memory_equal(&m, &s_npr, sizeof(m));
		}
		return rc;
	}
	case M_COOKIE:
	case M_COOKIE_MAC: {
		struct np_msg_register_cookie m;
		rc = np_wire_parse_register_cookie(buf, len, &m);
		if (rc == 0 && compare) {
			s_ck.mac_offset = m.mac_offset;
			assert_memory_equal(&m, &s_ck, sizeof(m));
		}
		return rc;
	}
	case M_PROBE:
	case M_PROBE_ACK: {
		struct np_msg_probe m;
		rc = np_wire_parse_probe(buf, len, &m);
		if (rc == 0 && compare)
			assert_memory_equal(&m, &s_probe, sizeof(m));
		return rc;
	}
	}
	return -1;
}

static void test_round_trip_all(void **state)
{
	uint8_t buf[512];

	(void)state;
	for (int w = 0; w < M_COUNT; w++) {
		int n = encode_sample(w, buf, sizeof(buf));
		assert_true(n > 4);
		assert_int_equal(buf[0], NP_WIRE_VERSION);
		assert_int_equal(parse_sample(w, buf, (size_t)n, 1), 0);
	}
}

static void test_truncated_every_length(void **state)
{
	uint8_t buf[512];

	(void)state;
	for (int w = 0; w < M_COUNT; w++) {
		int n = encode_sample(w, buf, sizeof(buf));
		assert_true(n > 0);
		for (int l = 0; l < n; l++) {
			int rc = parse_sample(w, buf, (size_t)l, 0);
			if (rc != -EBADMSG) {
				print_error("message %d truncated to %d of %d bytes: rc %d\n", w, l, n, rc);
				fail();
			}
		}
	}
}

static void test_trailing_bytes(void **state)
{
	uint8_t buf[512];

	(void)state;
	for (int w = 0; w < M_COUNT; w++) {
		int n = encode_sample(w, buf, sizeof(buf));
		for (int extra = 1; extra <= 17; extra++) {
			memset(buf + n, 0, (size_t)extra);
			assert_int_equal(parse_sample(w, buf, (size_t)(n + extra), 0), -EBADMSG);
		}
	}
}

static void test_encode_no_space(void **state)
{
	uint8_t buf[512];

	(void)state;
	for (int w = 0; w < M_COUNT; w++) {
		int n = encode_sample(w, buf, sizeof(buf));
		for (int cap = 0; cap < n; cap++)
			assert_int_equal(encode_sample(w, buf, (size_t)cap), -ENOSPC);
	}
}

static void test_bad_version(void **state)
{
	uint8_t buf[512];

	(void)state;
	for (int w = 0; w < M_COUNT; w++) {
		int n = encode_sample(w, buf, sizeof(buf));
		/* Version 1 (the previous format) is recognised as natpunch of
		 * another version, for a clear message; 3 is refused too. */
		buf[0] = 1;
		assert_int_equal(parse_sample(w, buf, (size_t)n, 0), -EPROTONOSUPPORT);
		if (buf[1] != NP_MSG_REGISTER_COOKIE)
			assert_int_equal(np_wire_other_version(buf, (size_t)n), 1);
		buf[0] = 3;
		assert_int_equal(parse_sample(w, buf, (size_t)n, 0), -EPROTONOSUPPORT);
		buf[0] = 0;
		assert_int_equal(parse_sample(w, buf, (size_t)n, 0), -EPROTONOSUPPORT);
		/* The old plaintext protocol started with an IPv4 header. */
		buf[0] = 0x45;
		assert_int_equal(np_wire_type(buf, (size_t)n), -EPROTONOSUPPORT);
	}
	assert_int_equal(np_wire_type(buf, 0), -EBADMSG);
	assert_int_equal(np_wire_type(buf, 1), -EBADMSG);
	assert_int_equal(np_wire_type(NULL, 0), -EBADMSG);
}

static void test_wrong_type(void **state)
{
	uint8_t buf[512];

	(void)state;
	/* Each parser refuses every other message. */
	for (int w = 0; w < M_COUNT; w++) {
		int n = encode_sample(w, buf, sizeof(buf));
		assert_int_equal(np_wire_type(buf, (size_t)n), buf[1]);
		for (int p = 0; p < M_COUNT; p++) {
			int same = p == w || (buf[1] == NP_MSG_REGISTER && p <= M_REGISTER_COOKIE) ||
				   (buf[1] == NP_MSG_REGISTER_COOKIE && (p == M_COOKIE || p == M_COOKIE_MAC)) ||
				   (buf[1] == NP_MSG_NAT_PROBE_REPLY && (p == M_NAT_PROBE_REPLY || p == M_NAT_PROBE_REPLY_MAC)) ||
				   (buf[1] == NP_MSG_REGISTER_ACK && (p == M_ACK || p == M_ACK_MAC)) ||
				   (buf[1] == NP_MSG_PEER_INFO && (p == M_PEER_INFO || p == M_PEER_INFO_MAC)) ||
				   ((buf[1] == NP_MSG_PROBE || buf[1] == NP_MSG_PROBE_ACK) &&
				    (p == M_PROBE || p == M_PROBE_ACK));
			if (!same)
				assert_int_equal(parse_sample(p, buf, (size_t)n, 0), -EBADMSG);
		}
	}
}

/* Offset of the first address in each sample. */
static void test_bad_address_family(void **state)
{
	static const struct {
		int which;
		size_t off;
	} at[] = {
		{ M_REGISTER, 4 + 4 + 8 + 13 }, /* after the session name "lab-session_1" */
		{ M_ACK, 4 + 4 },
		{ M_PEER_INFO, 4 + 4 + 4 + 2 + NP_PAIRING_LEN },
		{ M_NAT_PROBE_REPLY, 4 + 4 },
	};
	uint8_t buf[512];

	(void)state;
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		int n = encode_sample(at[i].which, buf, sizeof(buf));
		assert_int_equal(buf[at[i].off], 4);
		for (int fam = 0; fam < 256; fam++) {
			if (fam == 4)
				continue;
			buf[at[i].off] = (uint8_t)fam;
			assert_int_equal(parse_sample(at[i].which, buf, (size_t)n, 0), -EBADMSG);
		}
	}
	/* The address helper: family 0 only with port 0; unknown families refused. */
	{
		const uint8_t none[] = { 0, 0, 0 }, none_port[] = { 0, 0, 5 }, fam5[] = { 5, 0, 1, 1, 2, 3, 4 };
		np_addr_t a;
		assert_int_equal(np_wire_get_addr(none, sizeof(none), &a), 3);
		assert_int_equal(a.family, 0);
		assert_int_equal(np_wire_get_addr(none_port, sizeof(none_port), &a), -EBADMSG);
		assert_int_equal(np_wire_get_addr(fam5, sizeof(fam5), &a), -EBADMSG);
	}
}

static void test_address_helpers(void **state)
{
	np_addr_t a = addr6(7, 443), b, v4 = addr4(203, 0, 113, 5, 80);
	uint8_t buf[NP_WIRE_ADDR_MAX];
	struct sockaddr_storage ss;
	char s[NP_ADDR_STRLEN];

	(void)state;
	assert_int_equal(np_wire_put_addr(buf, sizeof(buf), &a), NP_WIRE_ADDR_MAX);
	assert_int_equal(np_wire_get_addr(buf, NP_WIRE_ADDR_MAX, &b), NP_WIRE_ADDR_MAX);
	assert_true(np_addr_equal(&a, &b));
	assert_int_equal(np_wire_put_addr(buf, 18, &a), -ENOSPC);
	assert_string_equal(np_addr_str(&v4, s, sizeof(s)), "203.0.113.5:80");
	assert_string_equal(np_addr_str(&a, s, sizeof(s)), "[2001:db8::7]:443");
	assert_true(np_addr_to_sockaddr(&v4, &ss) > 0);
	assert_int_equal(np_addr_from_sockaddr(&b, (struct sockaddr *)&ss), 0);
	assert_true(np_addr_equal(&v4, &b));
	assert_true(np_addr_is_private(&(np_addr_t){ .family = 4, .ip = { 192, 168, 0, 1 } }));
	assert_true(np_addr_is_private(&(np_addr_t){ .family = 4, .ip = { 100, 64, 1, 1 } }));
	assert_false(np_addr_is_private(&v4));
}

static void test_session_names(void **state)
{
	struct np_msg_register m, out;
	uint8_t buf[512];
	int n;

	(void)state;
	/* The longest name is fine; one more byte is refused by the encoder. */
	fill_register(&m, 0, 0, 0);
	memset(m.session, 'x', NP_SESSION_MAX);
	m.session[NP_SESSION_MAX] = '\0';
	n = np_wire_encode_register(buf, sizeof(buf), &m);
	assert_true(n > 0);
	assert_int_equal(np_wire_parse_register(buf, (size_t)n, &out), 0);
	assert_int_equal(strlen(out.session), NP_SESSION_MAX);
	/* A length byte above the maximum is refused by the parser. */
	buf[3] = NP_SESSION_MAX + 1;
	assert_int_equal(np_wire_parse_register(buf, (size_t)n, &out), -EBADMSG);
	/* So is an empty name: peers always send one ("default" at least). */
	m.session[0] = '\0';
	n = np_wire_encode_register(buf, sizeof(buf), &m);
	assert_true(n > 0);
	assert_int_equal(np_wire_parse_register(buf, (size_t)n, &out), -EBADMSG);

	/* Spaces, control characters, DEL, high bytes and NUL inside the name. */
	{
		static const char bad[] = { ' ', '\t', '\n', 0x1b, 0x7f, (char)0x80, (char)0xff, '\0' };
		for (size_t i = 0; i < sizeof(bad); i++) {
			fill_register(&m, 0, 0, 0);
			n = np_wire_encode_register(buf, sizeof(buf), &m);
			assert_true(n > 0);
			buf[4 + 4 + 8 + 3] = (uint8_t)bad[i]; /* "lab-session_1"[3] */
			assert_int_equal(np_wire_parse_register(buf, (size_t)n, &out), -EBADMSG);
		}
	}
}

static void test_mac_offset(void **state)
{
	uint8_t buf[512];
	int n;

	(void)state;
	n = encode_sample(M_REGISTER_MAC, buf, sizeof(buf));
	{
		struct np_msg_register m;
		assert_int_equal(np_wire_parse_register(buf, (size_t)n, &m), 0);
		assert_int_equal(m.mac_offset, (size_t)n - NP_MAC_LEN);
		assert_memory_equal(buf + m.mac_offset, m.mac, NP_MAC_LEN);
		assert_memory_equal(m.mac, s_reg.mac, NP_MAC_LEN);
	}
	n = encode_sample(M_REGISTER, buf, sizeof(buf));
	{
		struct np_msg_register m;
		assert_int_equal(np_wire_parse_register(buf, (size_t)n, &m), 0);
		assert_int_equal(m.mac_offset, (size_t)n);
	}
	n = encode_sample(M_ACK_MAC, buf, sizeof(buf));
	{
		struct np_msg_register_ack m;
		assert_int_equal(np_wire_parse_register_ack(buf, (size_t)n, &m), 0);
		assert_int_equal(m.mac_offset, (size_t)n - NP_MAC_LEN);
		assert_memory_equal(buf + m.mac_offset, m.mac, NP_MAC_LEN);
	}
	n = encode_sample(M_PEER_INFO_MAC, buf, sizeof(buf));
	{
		struct np_msg_peer_info m;
		assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &m), 0);
		assert_int_equal(m.mac_offset, (size_t)n - NP_MAC_LEN);
		assert_memory_equal(buf + m.mac_offset, m.mac, NP_MAC_LEN);
	}
	n = encode_sample(M_PROBE, buf, sizeof(buf));
	assert_int_equal(n, NP_PROBE_WIRE_LEN);
	assert_int_equal(NP_PROBE_MAC_OFFSET + NP_MAC_LEN, NP_PROBE_WIRE_LEN);
	assert_memory_equal(buf + NP_PROBE_MAC_OFFSET, s_probe.mac, NP_MAC_LEN);
	/* The MAC flag without the MAC bytes is a truncation. */
	n = encode_sample(M_REGISTER_MAC, buf, sizeof(buf));
	assert_int_equal(parse_sample(M_REGISTER_MAC, buf, (size_t)n - NP_MAC_LEN, 0), -EBADMSG);
}

static void test_reserved_and_ranges(void **state)
{
	uint8_t buf[512];
	int n;

	(void)state;
	/* Unknown flag bits. */
	n = encode_sample(M_REGISTER, buf, sizeof(buf));
	buf[2] = 0x02;
	assert_int_equal(parse_sample(M_REGISTER, buf, (size_t)n, 0), -EBADMSG);
	n = encode_sample(M_PROBE, buf, sizeof(buf));
	buf[2] = 0x02;
	assert_int_equal(parse_sample(M_PROBE, buf, (size_t)n, 0), -EBADMSG);
	n = encode_sample(M_PROBE, buf, sizeof(buf));
	buf[3] = 1; /* reserved byte */
	assert_int_equal(parse_sample(M_PROBE, buf, (size_t)n, 0), -EBADMSG);
	n = encode_sample(M_NAT_PROBE, buf, sizeof(buf));
	buf[2] = 0x04;
	assert_int_equal(parse_sample(M_NAT_PROBE, buf, (size_t)n, 0), -EBADMSG);
	n = encode_sample(M_ACK, buf, sizeof(buf));
	buf[3] = 1;
	assert_int_equal(parse_sample(M_ACK, buf, (size_t)n, 0), -EBADMSG);
	/* PEER_INFO: role 0 or 1 only; the peer's public endpoint is required. */
	n = encode_sample(M_PEER_INFO, buf, sizeof(buf));
	buf[3] = 2;
	assert_int_equal(parse_sample(M_PEER_INFO, buf, (size_t)n, 0), -EBADMSG);
	{
		struct np_msg_peer_info m;
		encode_sample(M_PEER_INFO, buf, sizeof(buf));
		memset(&s_pi.peer_public, 0, sizeof(s_pi.peer_public));
		n = np_wire_encode_peer_info(buf, sizeof(buf), &s_pi);
		assert_true(n > 0);
		assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &m), -EBADMSG);
	}
	/* NAT_PROBE_REPLY needs an observed endpoint. */
	{
		struct np_msg_nat_probe_reply m;
		encode_sample(M_NAT_PROBE_REPLY, buf, sizeof(buf));
		memset(&s_npr.observed, 0, sizeof(s_npr.observed));
		n = np_wire_encode_nat_probe_reply(buf, sizeof(buf), &s_npr);
		assert_int_equal(np_wire_parse_nat_probe_reply(buf, (size_t)n, &m), -EBADMSG);
	}
	/* NAT info values out of range. */
	{
		struct np_msg_register m;
		fill_register(&m, 0, 0, 0);
		m.nat.mapping = 16;
		n = np_wire_encode_register(buf, sizeof(buf), &m);
		assert_int_equal(np_wire_parse_register(buf, (size_t)n, &m), -EBADMSG);
		fill_register(&m, 0, 0, 0);
		m.nat.depth = 9;
		n = np_wire_encode_register(buf, sizeof(buf), &m);
		assert_int_equal(np_wire_parse_register(buf, (size_t)n, &m), -EBADMSG);
	}
	/* The probe encoder only makes probes. */
	{
		struct np_msg_probe m = { .type = NP_MSG_DATA };
		assert_int_equal(np_wire_encode_probe(buf, sizeof(buf), &m), -EINVAL);
	}
}

/* Answers to unproven sources are never larger than what asked for them:
 * the smallest REGISTER against the largest REGISTER_COOKIE, and the padded
 * NAT_PROBE against the largest NAT_PROBE_REPLY (IPv6 endpoints, MAC). */
static void test_no_amplification(void **state)
{
	struct np_msg_register r = { 0 };
	struct np_msg_register_cookie c = { 0 };
	struct np_msg_nat_probe np = { 0 };
	struct np_msg_nat_probe_reply rep = { 0 };
	uint8_t buf[512];
	int reg_min, reg_mac_min, cookie_max, cookie_mac, probe, reply_max;

	(void)state;
	strcpy(r.session, "x");
	reg_min = np_wire_encode_register(buf, sizeof(buf), &r);
	r.flags = NP_REG_F_MAC;
	reg_mac_min = np_wire_encode_register(buf, sizeof(buf), &r);
	cookie_max = np_wire_encode_register_cookie(buf, sizeof(buf), &c);
	c.flags = NP_REG_F_MAC;
	cookie_mac = np_wire_encode_register_cookie(buf, sizeof(buf), &c);
	assert_true(reg_min > 0 && cookie_max > 0);
	assert_true(cookie_max <= reg_min);
	assert_true(cookie_mac <= reg_mac_min);
	probe = np_wire_encode_nat_probe(buf, sizeof(buf), &np);
	assert_int_equal(probe, NP_NAT_PROBE_LEN);
	rep.flags = NP_NATP_F_MAC;
	rep.observed = addr6(1, 1);
	rep.alt = addr6(2, 0);
	reply_max = np_wire_encode_nat_probe_reply(buf, sizeof(buf), &rep);
	assert_true(reply_max > 0 && reply_max <= probe);
	/* A short or non-zero padded NAT_PROBE is refused. */
	probe = np_wire_encode_nat_probe(buf, sizeof(buf), &np);
	assert_int_equal(np_wire_parse_nat_probe(buf, 8, &np), -EBADMSG);
	buf[40] = 1;
	assert_int_equal(np_wire_parse_nat_probe(buf, (size_t)probe, &np), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_all),
		cmocka_unit_test(test_truncated_every_length),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_encode_no_space),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_bad_address_family),
		cmocka_unit_test(test_address_helpers),
		cmocka_unit_test(test_session_names),
		cmocka_unit_test(test_mac_offset),
		cmocka_unit_test(test_reserved_and_ranges),
		cmocka_unit_test(test_no_amplification),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
