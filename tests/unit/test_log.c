/* test_log: the np_log line format (component, errno text, journal form,
 * levels) and np_errmsg, with stderr pointed at a temporary file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define NP_LOG_COMPONENT "test"
#include "np_log.h"

static char log_path[] = "/tmp/np_logtest.XXXXXX";
static int saved_stderr = -1;

static int setup(void **state)
{
	int fd;

	(void)state;
	strcpy(log_path, "/tmp/np_logtest.XXXXXX");
	fd = mkstemp(log_path);
	assert_true(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
	np_log_set_level(NP_LOG_INFO);
	np_log_set_ident("natpunch");
	np_log_set_journal(0);
	return 0;
}

static char *log_text(void);

static int teardown(void **state)
{
	const char *t = log_text();

	(void)state;
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	fputs(t, stderr); /* what was logged, and any cmocka failure message */
	unlink(log_path);
	np_log_set_journal(-1);
	return 0;
}

static char *log_text(void)
{
	static char buf[16384];
	FILE *f;
	size_t n = 0;

	fflush(stderr);
	f = fopen(log_path, "r");
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static void test_component_and_level(void **state)
{
	const char *t;

	(void)state;
	np_warn("tunnel down: %s", "no packet");
	t = log_text();
	/* "HH:MM:SS.mmm natpunch warn: test: tunnel down: no packet\n" */
	assert_int_equal(strlen(t), 13 + strlen("natpunch warn: test: tunnel down: no packet\n"));
	assert_true(t[2] == ':' && t[5] == ':' && t[8] == '.' && t[12] == ' ');
	assert_string_equal(t + 13, "natpunch warn: test: tunnel down: no packet\n");
}

static void test_errno_variant(void **state)
{
	const char *t;

	(void)state;
	errno = EINTR;
	np_err_e(ENOENT, "cannot open %s", "x");
	assert_int_equal(errno, EINTR); /* logging keeps errno */
	np_warn_e(-EACCES, "negative works too");
	t = log_text();
	assert_non_null(strstr(t, "natpunch error: test: cannot open x: No such file or directory\n"));
	assert_non_null(strstr(t, "natpunch warn: test: negative works too: Permission denied\n"));
}

static void test_levels(void **state)
{
	int evaluated = 0;

	(void)state;
	np_debug("hidden %d", ++evaluated);
	assert_int_equal(evaluated, 0); /* debug arguments not evaluated */
	np_log_set_level(NP_LOG_ERR);
	np_info("hidden");
	np_warn_e(EIO, "hidden");
	assert_string_equal(log_text(), "");
	np_log_set_level(NP_LOG_DEBUG);
	np_debug_e(EIO, "shown %d", ++evaluated);
	assert_int_equal(evaluated, 1);
	assert_non_null(strstr(log_text(), "natpunch debug: test: shown 1: Input/output error\n"));
}

static void test_runtime_level_and_null_component(void **state)
{
	(void)state;
	np_log(NP_LOG_INFO, "strategy %s: %s", "simple", "hello");
	np_logc(NP_LOG_WARN, NULL, 0, "no component");
	np_log(17, "clamped");
	np_log_set_level(NP_LOG_DEBUG);
	np_log(-3, "clamped low");
	const char *t = log_text();
	assert_non_null(strstr(t, "natpunch info: test: strategy simple: hello\n"));
	assert_non_null(strstr(t, "natpunch warn: no component\n"));
	assert_null(strstr(t, "clamped\n"));
	assert_non_null(strstr(t, "natpunch error: test: clamped low\n"));
}

static void test_journal_form(void **state)
{
	const char *t;

	(void)state;
	np_log_set_journal(1);
	np_log_set_ident("natpunch-server");
	np_info("listening");
	np_err_e(EPERM, "bad");
	t = log_text();
	assert_string_equal(t, "<6>natpunch-server info: test: listening\n"
			       "<3>natpunch-server error: test: bad: Operation not permitted\n");
}

static void test_journal_stream_detection(void **state)
{
	struct stat st;
	char env[64];

	(void)state;
	assert_int_equal(fstat(2, &st), 0);
	/* Inherited from a parent whose stderr was the journal: not ours. */
	setenv("JOURNAL_STREAM", "1:1", 1);
	np_log_set_journal(-1);
	np_info("terminal");
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	np_log_set_journal(-1);
	np_info("journal");
	unsetenv("JOURNAL_STREAM");
	const char *t = log_text();
	assert_true(t[2] == ':' && t[8] == '.');
	assert_non_null(strstr(t, "natpunch info: test: terminal\n<6>natpunch info: test: journal\n"));
}

static void test_long_line_not_truncated(void **state)
{
	char big[5000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	np_warn_e(EIO, "%s|end", big);
	const char *t = log_text();
	assert_non_null(strstr(t, "x|end: Input/output error\n"));
	assert_int_equal(strlen(t), 13 + strlen("natpunch warn: test: ") + 4999 + strlen("|end: Input/output error\n"));
}

static void test_errmsg(void **state)
{
	char buf[64], tiny[8];

	(void)state;
	assert_ptr_equal(np_errmsg(buf, sizeof(buf), -ENOENT, "cannot open %s", "k"), buf);
	assert_string_equal(buf, "cannot open k: No such file or directory");
	np_errmsg(buf, sizeof(buf), 0, "no errno");
	assert_string_equal(buf, "no errno");
	np_errmsg(tiny, sizeof(tiny), EACCES, "cannot open %s", "k");
	assert_string_equal(tiny, "cannot "); /* truncated, terminated */
	np_errmsg(tiny, sizeof(tiny), EACCES, "ab");
	assert_string_equal(tiny, "ab: Per");
	assert_string_equal(log_text(), ""); /* formats, does not log */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_component_and_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errno_variant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runtime_level_and_null_component, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_form, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_stream_detection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line_not_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errmsg, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
