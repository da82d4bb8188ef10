/* test_conffile: natpunch --config FILE. A file says the same as the command
 * line; the command line wins over the file; every bad file gives one line
 * "FILE:LINE: what" (np_opts over libinih, np_config's table). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "np_config.h"

#define KEY_B64 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static struct np_config cfg;
static char err[512];
static char path[64];

static const char *write_file(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/np-conffile-%d.conf", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int parse_argv(const char *first, va_list ap)
{
	char *argv[64];
	int argc = 0;

	argv[argc++] = (char *)"natpunch";
	for (const char *w = first; w && argc < 63; w = va_arg(ap, const char *))
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
	rc = parse_argv(first, ap);
	va_end(ap);
	return rc;
}

/* The dump without comments: what the configuration says, not where from. */
static char *effective(struct np_config *c)
{
	char *text = NULL, *out, *o;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	np_opts_dump(&c->opts, f);
	fclose(f);
	out = o = calloc(1, len + 1);
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *h = line[0] == '#' ? line : strstr(line, " #");
		size_t n = h ? (size_t)(h - line) : strlen(line);

		while (n && line[n - 1] == ' ')
			n--;
		memcpy(o, line, n);
		o += n;
		if (n)
			*o++ = '\n';
	}
	free(text);
	return out;
}

static const char full_file[] =
	"# natpunch@np0\n"
	"server = 203.0.113.10\n"
	"server-port = 2000\n"
	"tun = np0\n"
	"local_ip = 10.0.0.1        # underscores work as well\n"
	"remote-ip = 10.0.0.2\n"
	"mtu = 1400\n"
	"\n"
	"key = /etc/natpunch/np0.key\n"
	"peer-key = " KEY_B64 "\n"
	"psk = /etc/natpunch/np0.psk\n"
	"cipher = chacha20-poly1305\n"
	"session = office\n"
	"server-token = /etc/natpunch/token\n"
	"port = 4000\n"
	"strategy = predict\n"
	"strategy-path = /opt/strategies\n"
	"nat-depth = 2\n"
	"keepalive = 3\n"
	"dead-after = 12.5\n"
	"no-offload = yes\n"
	"rekey-after = 60\n"
	"hook = /etc/natpunch/a.lua\n"
	"hook = /etc/natpunch/b.lua\n"
	"hook-dir = /etc/natpunch/hooks.d\n"
	"hook-timeout = 7\n"
	"control = none\n"
	"log-level = debug\n"
	"syslog = true\n";

/* The same, as a command line. */
#define FULL_CLI                                                                                              \
	"--key", "/etc/natpunch/np0.key", "--peer-key", KEY_B64, "--psk", "/etc/natpunch/np0.psk", "--cipher",     \
		"chacha20-poly1305", "--session", "office", "--server-token", "/etc/natpunch/token", "--port", "4000", \
		"--strategy", "predict", "--strategy-path", "/opt/strategies", "--nat-depth", "2", "--keepalive", "3", \
		"--dead-after", "12.5", "--no-offload", "--rekey-after", "60", "--hook", "/etc/natpunch/a.lua",       \
		"--hook", "/etc/natpunch/b.lua", "--hook-dir", "/etc/natpunch/hooks.d", "--hook-timeout", "7",         \
		"--control", "none", "--log-level", "debug", "--syslog", "203.0.113.10", "2000", "np0", "10.0.0.1",     \
		"10.0.0.2", "1400"

static void test_file_equals_cli(void **state)
{
	struct np_config fromfile;
	char *a, *b;

	(void)state;
	assert_int_equal(parse("--config", write_file(full_file), NULL), 0);
	fromfile = cfg;
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(parse(FULL_CLI, NULL), 0);
	/* Field by field where it matters, and the whole effective configuration. */
	assert_string_equal(fromfile.server_host, cfg.server_host);
	assert_int_equal(fromfile.server_port, 2000);
	assert_string_equal(fromfile.tun_name, "np0");
	assert_memory_equal(&fromfile.local_ip, &cfg.local_ip, sizeof(cfg.local_ip));
	assert_memory_equal(&fromfile.remote_ip, &cfg.remote_ip, sizeof(cfg.remote_ip));
	assert_int_equal(fromfile.mtu, cfg.mtu);
	assert_string_equal(fromfile.key_file, cfg.key_file);
	assert_string_equal(fromfile.peer_key_b64, cfg.peer_key_b64);
	assert_string_equal(fromfile.psk_file, cfg.psk_file);
	assert_int_equal(fromfile.cipher, 0);
	assert_string_equal(fromfile.session, "office");
	assert_int_equal(fromfile.port, 4000);
	assert_string_equal(fromfile.strategy, "predict");
	assert_int_equal(fromfile.nat_depth, 2);
	assert_true(fromfile.keepalive_s == 3 && fromfile.dead_after_s == 12.5 && fromfile.rekey_after_s == 60);
	assert_int_equal(fromfile.offload, 0);
	assert_int_equal(fromfile.nhooks, 2);
	assert_string_equal(fromfile.hooks[1], "/etc/natpunch/b.lua");
	assert_string_equal(fromfile.hook_dir, cfg.hook_dir);
	assert_true(fromfile.hook_timeout_s == 7);
	assert_string_equal(fromfile.control_path, "none");
	assert_int_equal(fromfile.log_level, 3);
	assert_int_equal(fromfile.syslog, 1);
	a = effective(&fromfile);
	b = effective(&cfg);
	assert_string_equal(a, b);
	free(a);
	free(b);
	np_config_free(&fromfile);
	unlink(path);
}

static void test_cli_overrides_file(void **state)
{
	(void)state;
	write_file(full_file);
	assert_int_equal(parse("--config", path, "--keepalive", "1", "--hook", "/c.lua", "--session", "home",
			       "198.51.100.1", "3000", "np1", "10.9.0.1", "10.9.0.2", "1300", NULL),
			 0);
	assert_true(cfg.keepalive_s == 1);
	assert_string_equal(cfg.session, "home");
	assert_int_equal(cfg.nhooks, 1);  /* the command line's list replaces the file's */
	assert_string_equal(cfg.hooks[0], "/c.lua");
	assert_string_equal(cfg.server_host, "198.51.100.1");
	assert_string_equal(cfg.tun_name, "np1");
	assert_int_equal(cfg.mtu, 1300);
	assert_true(cfg.dead_after_s == 12.5);  /* untouched ones come from the file */
	assert_string_equal(cfg.hook_dir, "/etc/natpunch/hooks.d");
	assert_int_equal(cfg.opts.check, 0);
	/* Provenance, for errors found later (an unreadable key file). */
	{
		char w[300];

		assert_non_null(strstr(np_config_where(&cfg, "key", w, sizeof(w)), ".conf:9: "));
		assert_string_equal(np_config_where(&cfg, "keepalive", w, sizeof(w)), "");
		np_opts_where(&cfg.opts, "key", w, sizeof(w));
		assert_non_null(strstr(w, ":9"));
		np_opts_where(&cfg.opts, "keepalive", w, sizeof(w));
		assert_string_equal(w, "the command line");
		np_opts_where(&cfg.opts, "session", w, sizeof(w));
		assert_string_equal(w, "the command line");
		np_opts_where(&cfg.opts, "syslog", w, sizeof(w));
		assert_non_null(strstr(w, ":29"));
	}
	assert_int_equal(parse("--check-config", path, NULL), 0);
	assert_int_equal(cfg.opts.check, 1);
	unlink(path);
}

/* Expects -EINVAL and exactly one line "PATH:LINE: ...want...". */
static void expect_file_error(const char *text, int line, const char *want)
{
	char prefix[96];

	write_file(text);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	if (parse("--config", path, NULL) != -EINVAL || strncmp(err, prefix, strlen(prefix)) || !strstr(err, want) ||
	    strchr(err, '\n')) {
		print_error("message '%s' (want '%s...%s')\n", err, prefix, want);
		fail();
	}
	unlink(path);
}

#define HEAD "server = 203.0.113.10\nserver-port = 2000\ntun = np0\nlocal-ip = 10.0.0.1\nremote-ip = 10.0.0.2\nmtu = 1400\ninsecure = true\n"

static void test_bad_files(void **state)
{
	char longline[400];

	(void)state;
	/* Sanity: the head alone is fine. */
	write_file(HEAD);
	assert_int_equal(parse("--config", path, NULL), 0);
	expect_file_error(HEAD "bogus = 1\n", 8, "unknown key 'bogus'");
	expect_file_error(HEAD "keepalive = fast\n", 8, "invalid value 'fast' for keepalive");
	expect_file_error(HEAD "keepalive = 0\n", 8, "expected 0.1..3600");
	expect_file_error("server = x\nserver-port = 99999\n", 2, "invalid server-port '99999'");
	expect_file_error(HEAD "mtu = 1500\n", 8, "'mtu' is set twice (first on line 6)");
	expect_file_error(HEAD "[Interface]\nkeepalive = 3\n", 9, "unexpected section [Interface]");
	expect_file_error(HEAD "just words\n", 8, "syntax error");
	expect_file_error(HEAD "no-offload = maybe\n", 8, "expected true or false");
	expect_file_error(HEAD "cipher = rot13\n", 8, "invalid cipher 'rot13'");
	expect_file_error(HEAD "session = two words\n", 8, "invalid session");
	expect_file_error(HEAD "tun = a/b\n", 8, "'tun' is set twice");
	expect_file_error("tun = a/b\n", 1, "invalid tun 'a/b'");
	expect_file_error(HEAD "keepalive = 3\n  dead-after = 9\n", 9, "indented line");
	expect_file_error(HEAD "log-level = loud\n", 8, "invalid log-level 'loud'");
	expect_file_error(HEAD "check-config = /x\n", 8, "unknown key 'check-config'");
	expect_file_error(HEAD "strategy =\n", 8, "strategy");
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	memcpy(longline, "hook = /", 8);
	{
		char text[sizeof(longline) + 200];

		snprintf(text, sizeof(text), HEAD "%s\n", longline);
		expect_file_error(text, 8, "line too long");
	}
	/* Checks across options name the line of one of them. */
	expect_file_error(HEAD "keepalive = 10\ndead-after = 5\n", 9, "must be longer than --keepalive");
	expect_file_error(HEAD "key = /k\n", 7, "--insecure cannot be combined");
	/* A missing positional key, and a file that is not there. */
	write_file("server = x\n");
	assert_int_equal(parse("--config", path, NULL), -EINVAL);
	assert_non_null(strstr(err, "missing 'server-port = ...'"));
	assert_int_equal(parse("--config", "/nonexistent/np.conf", NULL), -EINVAL);
	assert_string_equal(err, "/nonexistent/np.conf: cannot open: No such file or directory");
	assert_int_equal(parse("--config", path, "--config", path, NULL), -EINVAL);
	assert_non_null(strstr(err, "only one"));
	/* Positionals on the command line come all or none. */
	assert_int_equal(parse("--config", path, "np0", NULL), -EINVAL);
	assert_non_null(strstr(err, "expected 6 arguments"));
	unlink(path);
}

static void test_syntax_details(void **state)
{
	(void)state;
	/* Comments, blank lines, CRLF, spaces around '=', ';' comments, case. */
	write_file("\xEF\xBB\xBF# BOM first\r\n; ini comment\r\n\r\nServer=203.0.113.10\r\nSERVER_PORT   =    2000\r\n"
		   "tun = np0 # trailing\r\nlocal-ip = 10.0.0.1\r\nremote-ip = 10.0.0.2\r\nmtu = 1400\r\n"
		   "insecure = On\r\nhook = /a#b.lua\r\n");
	assert_int_equal(parse("--config", path, NULL), 0);
	assert_string_equal(cfg.server_host, "203.0.113.10");
	assert_int_equal(cfg.server_port, 2000);
	assert_string_equal(cfg.tun_name, "np0");
	assert_true(cfg.insecure);
	assert_string_equal(cfg.hooks[0], "/a#b.lua");  /* '#' inside a word is not a comment */
	/* The same through the buffer entry point (the fuzz target's). */
	np_config_free(&cfg);
	assert_int_equal(np_config_parse_buffer("mem.conf", HEAD, strlen(HEAD), &cfg, err, sizeof(err)), 0);
	np_config_free(&cfg);
	assert_int_equal(np_config_parse_buffer("mem.conf", "mtu = 1\0\n", 9, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "mem.conf:1:"));
	unlink(path);
}

static void test_reload_diff(void **state)
{
	struct np_config old;
	int n;

	(void)state;
	write_file(HEAD "hook = /a.lua\nkeepalive = 3\n");
	assert_int_equal(parse("--config", path, NULL), 0);
	old = cfg;
	memset(&cfg, 0, sizeof(cfg));
	write_file(HEAD "hook = /b.lua\nkeepalive = 4\nlog-level = debug\n");
	assert_int_equal(parse("--config", path, NULL), 0);
	n = np_opts_diff(&old.opts, &cfg.opts, NULL, NULL);
	assert_int_equal(n, 3);  /* hook, keepalive, log-level */
	np_config_free(&old);
	unlink(path);
}

static int teardown(void **state)
{
	(void)state;
	np_config_free(&cfg);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_equals_cli),
		cmocka_unit_test(test_cli_overrides_file),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_syntax_details),
		cmocka_unit_test(test_reload_diff),
	};

	return cmocka_run_group_tests(tests, NULL, teardown);
}
