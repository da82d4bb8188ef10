/* test_allowedips: --allowed-ips. Parsing (one-line errors for bad entries,
 * host bits, too many), the default (the peer's tunnel address only, from
 * np_config_parse), and the check every authenticated packet passes before
 * the tun: an inner packet with a foreign source is refused, a widened list
 * (routed subnets) admits it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "np_allowedips.h"
#include "np_config.h"

/* A minimal IPv4 or IPv6 header with source src (4 or 16 bytes). */
static size_t packet(uint8_t *buf, int family, const uint8_t *src)
{
	memset(buf, 0, 64);
	if (family == 4) {
		buf[0] = 0x45;
		buf[3] = 20;
		buf[8] = 64;
		buf[9] = 17;
		memcpy(buf + 12, src, 4);
		return 20;
	}
	buf[0] = 0x60;
	buf[7] = 64;
	memcpy(buf + 8, src, 16);
	return 40;
}

static void test_default_is_peer_tunnel_address(void **state)
{
	char *argv[] = { "natpunch", "--insecure", "server", "3478", "np0", "10.9.0.1", "10.9.0.2", "1400", NULL };
	static struct np_config cfg;
	char err[256];
	uint8_t pkt[64], peer[4] = { 10, 9, 0, 2 }, foreign[4] = { 10, 9, 0, 3 }, outside[4] = { 192, 168, 1, 1 };

	(void)state;
	assert_int_equal(np_config_parse(8, argv, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.allowed.n, 1);
	assert_int_equal(np_allowedips_match_packet(&cfg.allowed, pkt, packet(pkt, 4, peer)), 1);
	/* The finding: any authenticated packet reached the tun, whatever its
	 * inner source. A neighbour address and an outside one are refused. */
	assert_int_equal(np_allowedips_match_packet(&cfg.allowed, pkt, packet(pkt, 4, foreign)), 0);
	assert_int_equal(np_allowedips_match_packet(&cfg.allowed, pkt, packet(pkt, 4, outside)), 0);
	/* An IPv6 packet in an IPv4 tunnel, a truncated header, a non-IP byte. */
	{
		uint8_t v6[16] = { 0xfe, 0x80, [15] = 2 };
		assert_int_equal(np_allowedips_match_packet(&cfg.allowed, pkt, packet(pkt, 6, v6)), 0);
	}
	packet(pkt, 4, peer);
	assert_int_equal(np_allowedips_match_packet(&cfg.allowed, pkt, 19), 0);
	pkt[0] = 0x00;
	assert_int_equal(np_allowedips_match_packet(&cfg.allowed, pkt, 20), 0);
}

static void test_widened_for_routed_subnets(void **state)
{
	char *argv[] = { "natpunch", "--insecure", "--allowed-ips", "10.9.0.2/32,192.168.50.0/24,fd00:1::/64",
			 "server", "3478", "np0", "10.9.0.1", "10.9.0.2", "1400", NULL };
	static struct np_config cfg;
	char err[256], s[256];
	uint8_t pkt[64], in_lan[4] = { 192, 168, 50, 77 }, next_lan[4] = { 192, 168, 51, 1 };
	uint8_t v6in[16] = { 0xfd, 0, 0, 1, [15] = 9 }, v6out[16] = { 0xfd, 0, 0, 2, [15] = 9 };

	(void)state;
	assert_int_equal(np_config_parse(10, argv, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.allowed.n, 3);
	assert_int_equal(np_allowedips_match_packet(&cfg.allowed, pkt, packet(pkt, 4, in_lan)), 1);
	assert_int_equal(np_allowedips_match_packet(&cfg.allowed, pkt, packet(pkt, 4, next_lan)), 0);
	assert_int_equal(np_allowedips_match_packet(&cfg.allowed, pkt, packet(pkt, 6, v6in)), 1);
	assert_int_equal(np_allowedips_match_packet(&cfg.allowed, pkt, packet(pkt, 6, v6out)), 0);
	assert_string_equal(np_allowedips_str(&cfg.allowed, s, sizeof(s)), "10.9.0.2/32,192.168.50.0/24,fd00:1::/64");
}

static void test_parse_errors(void **state)
{
	static const char *bad[] = { "", "10.0.0.0/33", "10.0.0.1/24", "fd00::/129", "nonsense", "10.0.0.0/",
				     "10.0.0.0/8,", ",10.0.0.0/8", "10.0.0.0/-1", "10.0.0.0/8x", "::1/12a" };
	struct np_allowedips a;
	char err[256], many[2048] = "";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(np_allowedips_parse(bad[i], &a, err, sizeof(err)), -EINVAL);
		assert_true(strlen(err) > 10);
		assert_null(strchr(err, '\n'));
	}
	assert_int_equal(np_allowedips_parse("10.0.0.1/24", &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "host bits"));
	for (int i = 0; i <= NP_ALLOWEDIPS_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s10.0.%d.0/24", i ? "," : "", i);
	assert_int_equal(np_allowedips_parse(many, &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(np_allowedips_parse("0.0.0.0/0,::/0", &a, err, sizeof(err)), 0);
	{
		uint8_t pkt[64], any[4] = { 8, 8, 8, 8 };
		assert_int_equal(np_allowedips_match_packet(&a, pkt, packet(pkt, 4, any)), 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_is_peer_tunnel_address),
		cmocka_unit_test(test_widened_for_routed_subnets),
		cmocka_unit_test(test_parse_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
