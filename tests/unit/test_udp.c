/* test_udp: address parsing, name resolution and port parsing helpers of
 * core/io/np_udp.c, and one loopback datagram with a TTL and packet info. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "np_parse.h"
#include "np_udp.h"
#include "np_wire.h"

static void test_parse_port(void **state)
{
	uint16_t p = 7;

	(void)state;
	assert_int_equal(np_parse_port("1", 0, &p), 0);
	assert_int_equal(p, 1);
	assert_int_equal(np_parse_port("65535", 0, &p), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(np_parse_port("0", 1, &p), 0);
	assert_int_equal(p, 0);
	p = 9;
	assert_int_equal(np_parse_port("0", 0, &p), -EINVAL);
	assert_int_equal(np_parse_port("65536", 0, &p), -EINVAL);
	assert_int_equal(np_parse_port("-1", 1, &p), -EINVAL);
	assert_int_equal(np_parse_port("+5", 0, &p), -EINVAL);
	assert_int_equal(np_parse_port("12x", 0, &p), -EINVAL);
	assert_int_equal(np_parse_port("", 0, &p), -EINVAL);
	assert_int_equal(np_parse_port("99999999999999999999", 0, &p), -EINVAL);
	assert_int_equal(p, 9); /* untouched on error */
}

static void test_addr_parse_and_str(void **state)
{
	np_addr_t a = { .port = 2000 };
	char buf[NP_ADDR_STRLEN];

	(void)state;
	assert_int_equal(np_addr_parse("192.0.2.1", &a), 0);
	assert_int_equal(a.family, 4);
	assert_int_equal(a.port, 2000);
	assert_string_equal(np_addr_str(&a, buf, sizeof(buf)), "192.0.2.1:2000");
	assert_int_equal(np_addr_parse("2001:db8::1", &a), 0);
	assert_int_equal(a.family, 6);
	assert_string_equal(np_addr_str(&a, buf, sizeof(buf)), "[2001:db8::1]:2000");
	assert_int_equal(np_addr_parse("192.0.2.256", &a), -EINVAL);
	assert_int_equal(np_addr_parse("example.org", &a), -EINVAL);
	assert_int_equal(np_addr_parse("", &a), -EINVAL);
}

static void test_resolve_keeps_port(void **state)
{
	np_addr_t a = { .port = 4242 };
	char err[128];

	(void)state;
	assert_int_equal(np_resolve("localhost", 4, &a, err, sizeof(err)), 0);
	assert_int_equal(a.family, 4);
	assert_int_equal(a.port, 4242);
	assert_int_equal(a.ip[0], 127);
	a.port = 5;
	assert_int_equal(np_resolve("::1", 0, &a, err, sizeof(err)), 0);
	assert_int_equal(a.family, 6);
	assert_int_equal(a.port, 5);
	assert_true(np_resolve("", 0, &a, err, sizeof(err)) < 0);
	assert_true(np_resolve("no-such-host.invalid", 0, &a, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "no-such-host.invalid"));
}

static void test_private_ranges(void **state)
{
	static const struct {
		const char *ip;
		int priv;
	} cases[] = {
		{ "10.1.2.3", 1 },     { "172.16.0.1", 1 },  { "172.31.255.255", 1 }, { "172.32.0.1", 0 },
		{ "192.168.1.1", 1 },  { "100.64.0.1", 1 },  { "100.127.255.1", 1 },  { "100.128.0.1", 0 },
		{ "169.254.1.1", 1 },  { "198.51.100.1", 0 }, { "203.0.113.10", 0 },  { "fd00::1", 1 },
		{ "fe80::1", 1 },      { "2001:db8::1", 0 },
	};
	np_addr_t a = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(np_addr_parse(cases[i].ip, &a), 0);
		assert_int_equal(np_addr_is_private(&a), cases[i].priv);
	}
}

static void test_loopback_datagram(void **state)
{
	np_addr_t lo = { 0 }, rx_local, from, dst, route;
	char err[128];
	uint8_t buf[64];
	int a, b;
	ssize_t n = -1;

	(void)state;
	assert_int_equal(np_addr_parse("127.0.0.1", &lo), 0);
	a = np_udp_open(4, &lo, 0, 0, err, sizeof(err));
	b = np_udp_open(4, &lo, 0, NP_UDP_PKTINFO, err, sizeof(err));
	assert_true(a >= 0 && b >= 0);
	assert_int_equal(np_udp_local(b, &rx_local), 0);
	assert_int_equal(np_udp_send(a, &rx_local, "hello", 5, 3, NULL), 0);
	for (int i = 0; i < 100 && n < 0; i++) {
		n = np_udp_recv(b, buf, sizeof(buf), &from, &dst);
		if (n < 0)
			usleep(1000);
	}
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(dst.family, 4);
	assert_int_equal(dst.ip[0], 127);
	assert_int_equal(np_udp_recv(b, buf, sizeof(buf), &from, NULL), -EAGAIN);
	assert_int_equal(np_route_source(&rx_local, &route), 0);
	assert_int_equal(route.ip[0], 127);
	close(a);
	close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_port),
		cmocka_unit_test(test_addr_parse_and_str),
		cmocka_unit_test(test_resolve_keeps_port),
		cmocka_unit_test(test_private_ranges),
		cmocka_unit_test(test_loopback_datagram),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
