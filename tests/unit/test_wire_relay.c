/* test_wire_relay: the optional trailing fields (TLVs) of REGISTER and
 * PEER_INFO that carry TURN relayed addresses (core/proto/PROTOCOL.md). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "np_wire.h"

static struct np_msg_register reg(void)
{
	struct np_msg_register m = { 0 };

	m.nonce = 7;
	m.timestamp_ms = 1234;
	strcpy(m.session, "s");
	m.local = (np_addr_t){ .family = 4, .port = 5, .ip = { 192, 168, 1, 2 } };
	return m;
}

static void test_register_relay(void **state)
{
	struct np_msg_register m = reg(), got;
	uint8_t buf[256];
	int base, n;

	base = np_wire_encode_register(buf, sizeof(buf), &m);
	assert_true(base > 0);
	m.relay = (np_addr_t){ .family = 4, .port = 49152, .ip = { 203, 0, 113, 12 } };
	n = np_wire_encode_register(buf, sizeof(buf), &m);
	assert_int_equal(n, base + 2 + 7);
	assert_int_equal(buf[base], 0x01);
	assert_int_equal(buf[base + 1], 7);
	assert_int_equal(np_wire_parse_register(buf, (size_t)n, &got), 0);
	assert_memory_equal(&got.relay, &m.relay, sizeof(m.relay));
	/* With a MAC the fields come before it, and the MAC covers them. */
	m.flags = NP_REG_F_MAC;
	memset(m.mac, 0xab, sizeof(m.mac));
	n = np_wire_encode_register(buf, sizeof(buf), &m);
	assert_int_equal(np_wire_parse_register(buf, (size_t)n, &got), 0);
	assert_int_equal(got.mac_offset, (size_t)n - NP_MAC_LEN);
	assert_memory_equal(&got.relay, &m.relay, sizeof(m.relay));
	assert_memory_equal(got.mac, m.mac, NP_MAC_LEN);
}

static void test_peer_info_relay(void **state)
{
	struct np_msg_peer_info m = { 0 }, got;
	uint8_t buf[256];
	int n;

	m.peer_public = (np_addr_t){ .family = 4, .port = 9, .ip = { 198, 51, 100, 18 } };
	m.peer_relay.family = 6;
	m.peer_relay.port = 50000;
	m.peer_relay.ip[0] = 0x20;
	m.peer_relay.ip[1] = 0x01;
	m.peer_relay.ip[15] = 1;
	n = np_wire_encode_peer_info(buf, sizeof(buf), &m);
	assert_true(n > 0);
	assert_int_equal(np_wire_parse_peer_info(buf, (size_t)n, &got), 0);
	assert_memory_equal(&got.peer_relay, &m.peer_relay, sizeof(m.peer_relay));
	/* Without a relay nothing trails. */
	memset(&m.peer_relay, 0, sizeof(m.peer_relay));
	assert_int_equal(np_wire_encode_peer_info(buf, sizeof(buf), &m), n - 2 - 19);
}

static void test_bad_fields(void **state)
{
	struct np_msg_register m = reg(), got;
	uint8_t buf[256], bad[300];
	int base = np_wire_encode_register(buf, sizeof(buf), &m);
	static const uint8_t relay[] = { 0x01, 7, 4, 0xc0, 0x00, 203, 0, 113, 12 };

	/* unknown type, wrong length, family 0, duplicate, past the end, half a header */
	static const struct {
		uint8_t b[24];
		size_t n;
	} cases[] = {
		{ { 0x02, 0 }, 2 },
		{ { 0x01, 8, 4, 0xc0, 0x00, 203, 0, 113, 12, 0 }, 10 },
		{ { 0x01, 3, 0, 0, 0 }, 5 },
		{ { 0x01, 7, 4, 0xc0, 0x00, 203, 0, 113, 12, 0x01, 7, 4, 0xc0, 0x00, 203, 0, 113, 12 }, 18 },
		{ { 0x01, 7, 4, 0xc0, 0x00, 203, 0 }, 7 },
		{ { 0x01 }, 1 },
		{ { 0x01, 7, 5, 0xc0, 0x00, 203, 0, 113, 12 }, 9 },
	};

	memcpy(bad, buf, (size_t)base);
	memcpy(bad + base, relay, sizeof(relay));
	assert_int_equal(np_wire_parse_register(bad, (size_t)base + sizeof(relay), &got), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad + base, cases[i].b, cases[i].n);
		assert_int_equal(np_wire_parse_register(bad, (size_t)base + cases[i].n, &got), -EBADMSG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_relay),
		cmocka_unit_test(test_peer_info_relay),
		cmocka_unit_test(test_bad_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
