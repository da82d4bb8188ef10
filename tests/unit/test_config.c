/* test_config: np_config_parse, the peer's command line. The original
 * positional form works (with keys, or with --insecure); every bad argument
 * gets -EINVAL and one line that says what is wrong. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "np_config.h"

#define KEY_B64 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static struct np_config cfg;
static char err[512];

/* Parses a NULL-terminated list of words (argv[0] is added). */
static int parse_v(const char *first, va_list ap)
{
	char *argv[64];
	int argc = 0;
	const char *w;

	argv[argc++] = (char *)"natpunch";
	for (w = first; w && argc < 63; w = va_arg(ap, const char *))
		argv[argc++] = (char *)w;
	argv[argc] = NULL;
	err[0] = '\0';
	np_config_free(&cfg);
	return np_config_parse(argc, argv, &cfg, err, sizeof(err));
}

static int parse(const char *first, ...)
{
	va_list ap;
	int rc;

	va_start(ap, first);
	rc = parse_v(first, ap);
	va_end(ap);
	return rc;
}

/* Expects -EINVAL and a one-line message that contains `want`. */
static void expect_bad(const char *want, const char *first, ...)
{
	va_list ap;
	int rc;

	va_start(ap, first);
	rc = parse_v(first, ap);
	va_end(ap);
	if (rc != -EINVAL || !strstr(err, want) || strchr(err, '\n') || strlen(err) > 300) {
		print_error("rc %d, message '%s' (want -EINVAL and a line containing '%s')\n", rc, err, want);
		fail();
	}
}

#define POS "203.0.113.10", "2000", "tun0", "10.0.0.1", "10.0.0.2", "1400"
#define KEYS "--key", "/etc/natpunch/key", "--peer-key", KEY_B64

static void test_positional_insecure(void **state)
{
	(void)state;
	assert_int_equal(parse("--insecure", POS, NULL), 0);
	assert_string_equal(cfg.server_host, "203.0.113.10");
	assert_int_equal(cfg.server_port, 2000);
	assert_string_equal(cfg.tun_name, "tun0");
	assert_int_equal(cfg.local_ip.family, 4);
	assert_int_equal(cfg.local_ip.ip[3], 1);
	assert_int_equal(cfg.remote_ip.ip[3], 2);
	assert_int_equal(cfg.mtu, 1400);
	assert_true(cfg.insecure);
	/* Defaults. */
	assert_non_null(cfg.strategy);
	assert_string_equal(cfg.session, "default");
	assert_true(cfg.keepalive_s == 5);
	assert_true(cfg.dead_after_s == 15);
	assert_int_equal(cfg.port, 0);
	/* Options may follow the positional arguments. */
	assert_int_equal(parse(POS, "--insecure", NULL), 0);
	assert_true(cfg.insecure);
}

static void test_positional_with_keys(void **state)
{
	(void)state;
	assert_int_equal(parse(KEYS, "--psk", "/p", "--server-token", "/t", "--session", "s-1", "--port", "4000",
			       "--keepalive", "2", "--dead-after", "7", "--rekey-after", "3", "-v", POS, NULL),
			 0);
	assert_string_equal(cfg.key_file, "/etc/natpunch/key");
	assert_string_equal(cfg.peer_key_b64, KEY_B64);
	assert_string_equal(cfg.psk_file, "/p");
	assert_string_equal(cfg.server_token_file, "/t");
	assert_string_equal(cfg.session, "s-1");
	assert_int_equal(cfg.port, 4000);
	assert_true(cfg.rekey_after_s == 3);
	assert_false(cfg.insecure);
	/* IPv6 tunnel addresses with an IPv6 minimum MTU. */
	assert_int_equal(parse(KEYS, "server.example", "2000", "np0", "fd00::1", "fd00::2", "1280", NULL), 0);
	assert_int_equal(cfg.local_ip.family, 6);
	assert_int_equal(cfg.mtu, 1280);
}

static void test_help_version(void **state)
{
	(void)state;
	assert_int_equal(parse("--help", NULL), 1);
	assert_int_equal(parse("-h", NULL), 1);
	assert_int_equal(parse("--version", NULL), 2);
	assert_int_equal(parse("-V", NULL), 2);
	{
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		np_config_usage(f);
		fclose(f);
		assert_non_null(strstr(text, "genkey"));
		assert_non_null(strstr(text, "  --keepalive SEC       send a keepalive after SEC idle seconds (default 5)\n"));
		free(text);
	}
}

static void test_bad_port(void **state)
{
	(void)state;
	expect_bad("PORT", "--insecure", "203.0.113.10", "0", "tun0", "10.0.0.1", "10.0.0.2", "1400", NULL);
	expect_bad("PORT", "--insecure", "203.0.113.10", "65536", "tun0", "10.0.0.1", "10.0.0.2", "1400", NULL);
	expect_bad("PORT", "--insecure", "203.0.113.10", "20x", "tun0", "10.0.0.1", "10.0.0.2", "1400", NULL);
	expect_bad("--port", "--insecure", "--port", "70000", POS, NULL);
	expect_bad("--port", "--insecure", "--port", "abc", POS, NULL);
}

static void test_bad_ip(void **state)
{
	(void)state;
	expect_bad("LOCAL_IP", "--insecure", "203.0.113.10", "2000", "tun0", "10.0.0.300", "10.0.0.2", "1400", NULL);
	expect_bad("REMOTE_IP", "--insecure", "203.0.113.10", "2000", "tun0", "10.0.0.1", "ten", "1400", NULL);
	expect_bad("LOCAL_IP", "--insecure", "203.0.113.10", "2000", "tun0", "", "10.0.0.2", "1400", NULL);
	expect_bad("differ", "--insecure", "203.0.113.10", "2000", "tun0", "10.0.0.1", "10.0.0.1", "1400", NULL);
	expect_bad("SERVER", "--insecure", "", "2000", "tun0", "10.0.0.1", "10.0.0.2", "1400", NULL);
	expect_bad("TUN", "--insecure", "203.0.113.10", "2000", "tun/0", "10.0.0.1", "10.0.0.2", "1400", NULL);
	expect_bad("TUN", "--insecure", "203.0.113.10", "2000", "a-name-that-is-too-long", "10.0.0.1", "10.0.0.2",
		   "1400", NULL);
}

static void test_mixed_families(void **state)
{
	(void)state;
	expect_bad("IPv6", "--insecure", "203.0.113.10", "2000", "tun0", "10.0.0.1", "fd00::2",
		   "1400", NULL);
	expect_bad("IPv6", "--insecure", "203.0.113.10", "2000", "tun0", "fd00::1", "10.0.0.2",
		   "1400", NULL);
}

static void test_mtu_range(void **state)
{
	(void)state;
	expect_bad("MTU", "--insecure", "203.0.113.10", "2000", "tun0", "10.0.0.1", "10.0.0.2", "575", NULL);
	expect_bad("MTU", "--insecure", "203.0.113.10", "2000", "tun0", "10.0.0.1", "10.0.0.2", "65001", NULL);
	expect_bad("MTU", "--insecure", "203.0.113.10", "2000", "tun0", "10.0.0.1", "10.0.0.2", "1400.5", NULL);
	expect_bad("MTU", "--insecure", "203.0.113.10", "2000", "tun0", "10.0.0.1", "10.0.0.2", "big", NULL);
	expect_bad("1280", "--insecure", "203.0.113.10", "2000", "tun0", "fd00::1", "fd00::2", "1279", NULL);
	assert_int_equal(parse("--insecure", "203.0.113.10", "2000", "tun0", "10.0.0.1", "10.0.0.2", "576", NULL), 0);
	assert_int_equal(parse("--insecure", "203.0.113.10", "2000", "tun0", "10.0.0.1", "10.0.0.2", "65000", NULL),
			 0);
}

static void test_unknown_option_and_missing_value(void **state)
{
	(void)state;
	expect_bad("unknown option", "--insecure", "--bogus", POS, NULL);
	expect_bad("unknown option", "--insecure", "-x", POS, NULL);
	expect_bad("needs a value", "--insecure", POS, "--session", NULL);
	expect_bad("needs a value", KEYS, POS, "--key", NULL);
	expect_bad("needs a value", "--insecure", POS, "--keepalive", NULL);
	expect_bad("expected 6 arguments", "--insecure", "203.0.113.10", "2000", NULL);
	expect_bad("expected 6 arguments", "--insecure", POS, "extra", NULL);
}

static void test_option_ranges(void **state)
{
	char longname[80];

	(void)state;
	expect_bad("--keepalive", "--insecure", "--keepalive", "0", POS, NULL);
	expect_bad("--dead-after", "--insecure", "--dead-after", "x", POS, NULL);
	expect_bad("--dead-after", "--insecure", "--keepalive", "10", "--dead-after", "5", POS, NULL);
	expect_bad("--rekey-after", KEYS, "--rekey-after", "0", POS, NULL);
	expect_bad("--rekey-after", KEYS, "--rekey-after", "121", POS, NULL);
	expect_bad("--session", "--insecure", "--session", "has space", POS, NULL);
	expect_bad("--session", "--insecure", "--session", "", POS, NULL);
	memset(longname, 'n', 65);
	longname[65] = '\0';
	expect_bad("--session", "--insecure", "--session", longname, POS, NULL);
	longname[64] = '\0';
	assert_int_equal(parse("--insecure", "--session", longname, POS, NULL), 0);
	expect_bad("--strategy", "--insecure", "--strategy", "Bad Name", POS, NULL);
	expect_bad("--nat-depth", "--insecure", "--nat-depth", "9", POS, NULL);
}

static void test_no_keys(void **state)
{
	(void)state;
	expect_bad("no keys", POS, NULL);
	assert_non_null(strstr(err, "natpunch genkey"));
	assert_non_null(strstr(err, "natpunch pubkey"));
	assert_non_null(strstr(err, "natpunch genpsk"));
	assert_non_null(strstr(err, "--insecure"));
	expect_bad("no keys", "--key", "/k", POS, NULL);
	expect_bad("no keys", "--peer-key", KEY_B64, POS, NULL);
}

static void test_insecure_with_keys(void **state)
{
	(void)state;
	expect_bad("--insecure", "--insecure", "--key", "/k", POS, NULL);
	expect_bad("--insecure", "--insecure", "--peer-key", KEY_B64, POS, NULL);
	expect_bad("--insecure", "--insecure", "--psk", "/p", POS, NULL);
	expect_bad("--insecure", KEYS, "--insecure", POS, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_positional_insecure),
		cmocka_unit_test(test_positional_with_keys),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_bad_port),
		cmocka_unit_test(test_bad_ip),
		cmocka_unit_test(test_mixed_families),
		cmocka_unit_test(test_mtu_range),
		cmocka_unit_test(test_unknown_option_and_missing_value),
		cmocka_unit_test(test_option_ranges),
		cmocka_unit_test(test_no_keys),
		cmocka_unit_test(test_insecure_with_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
