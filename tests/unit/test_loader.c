/* test_loader: np_strategy_check and np_strategy_load. The current ABI and an
 * older minor (smaller descriptor) are accepted; another major, a newer
 * minor, a too-small descriptor and missing callbacks are refused with one
 * line naming the file and both versions; the real simple.so loads (from
 * $NP_STRATEGY_BUILD_DIR); a missing file and a .so that is no strategy are
 * refused cleanly. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "np_strategy_loader.h"

#define MIN_SIZE (offsetof(np_strategy_t, destroy) + sizeof(void (*)(void *)))

static int t_create(const np_host_api_t *api, void *host, void **state)
{
	(void)api;
	(void)host;
	*state = NULL;
	return 0;
}

static int t_start(void *state, const np_strategy_view_t *view)
{
	(void)state;
	(void)view;
	return 0;
}

static void t_destroy(void *state)
{
	(void)state;
}

static np_strategy_t good(void)
{
	np_strategy_t d;

	memset(&d, 0, sizeof(d));
	d.abi_major = NP_STRATEGY_ABI_MAJOR;
	d.abi_minor = NP_STRATEGY_ABI_MINOR;
	d.size = sizeof(d);
	d.name = "unit";
	d.description = "test descriptor";
	d.create = t_create;
	d.start = t_start;
	d.destroy = t_destroy;
	return d;
}

static void assert_one_line(const char *err)
{
	assert_true(strlen(err) > 0);
	assert_null(strchr(err, '\n'));
}

static void test_accepts_current(void **state)
{
	np_strategy_t d = good();
	char err[256] = "";

	(void)state;
	assert_int_equal(np_strategy_check(&d, "/x/unit.so", err, sizeof(err)), 0);
	/* on_timer and on_answer are optional. */
	assert_null(d.on_timer);
	assert_null(d.on_answer);
}

static void test_accepts_older_minor_smaller_struct(void **state)
{
	np_strategy_t d = good();
	char err[256] = "";

	(void)state;
	d.abi_minor = NP_STRATEGY_ABI_MINOR > 0 ? NP_STRATEGY_ABI_MINOR - 1 : 0;
	d.size = (uint32_t)MIN_SIZE; /* a v1.0 descriptor: no attempt_timeout_ms */
	assert_true(MIN_SIZE < sizeof(np_strategy_t));
	assert_int_equal(np_strategy_check(&d, "/x/old.so", err, sizeof(err)), 0);
}

static void test_refuses_other_major(void **state)
{
	np_strategy_t d = good();
	char err[256] = "", want[64];

	(void)state;
	d.abi_major = NP_STRATEGY_ABI_MAJOR + 1;
	assert_true(np_strategy_check(&d, "/x/future.so", err, sizeof(err)) < 0);
	assert_one_line(err);
	assert_non_null(strstr(err, "/x/future.so"));
	snprintf(want, sizeof(want), "%d.%d", NP_STRATEGY_ABI_MAJOR + 1, NP_STRATEGY_ABI_MINOR);
	assert_non_null(strstr(err, want));
	snprintf(want, sizeof(want), "%d.%d", NP_STRATEGY_ABI_MAJOR, NP_STRATEGY_ABI_MINOR);
	assert_non_null(strstr(err, want));
	d.abi_major = 0;
	assert_true(np_strategy_check(&d, "/x/past.so", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/x/past.so"));
}

static void test_refuses_newer_minor(void **state)
{
	np_strategy_t d = good();
	char err[256] = "", want[64];

	(void)state;
	d.abi_minor = NP_STRATEGY_ABI_MINOR + 1;
	assert_true(np_strategy_check(&d, "/x/newer.so", err, sizeof(err)) < 0);
	assert_one_line(err);
	assert_non_null(strstr(err, "/x/newer.so"));
	snprintf(want, sizeof(want), "%d.%d", NP_STRATEGY_ABI_MAJOR, NP_STRATEGY_ABI_MINOR + 1);
	assert_non_null(strstr(err, want));
	snprintf(want, sizeof(want), "%d.%d", NP_STRATEGY_ABI_MAJOR, NP_STRATEGY_ABI_MINOR);
	assert_non_null(strstr(err, want));
}

static void test_refuses_bad_size(void **state)
{
	np_strategy_t d = good();
	char err[256] = "";

	(void)state;
	d.size = (uint32_t)MIN_SIZE - 1;
	assert_true(np_strategy_check(&d, "/x/small.so", err, sizeof(err)) < 0);
	assert_one_line(err);
	assert_non_null(strstr(err, "/x/small.so"));
	d.size = 0;
	assert_true(np_strategy_check(&d, "/x/small.so", err, sizeof(err)) < 0);
	d.size = 1u << 20;
	assert_true(np_strategy_check(&d, "/x/huge.so", err, sizeof(err)) < 0);
}

static void test_refuses_missing_callbacks(void **state)
{
	char err[256];
	np_strategy_t d;

	(void)state;
	for (int which = 0; which < 4; which++) {
		d = good();
		switch (which) {
		case 0: d.name = NULL; break;
		case 1: d.create = NULL; break;
		case 2: d.start = NULL; break;
		case 3: d.destroy = NULL; break;
		}
		err[0] = '\0';
		assert_true(np_strategy_check(&d, "/x/partial.so", err, sizeof(err)) < 0);
		assert_one_line(err);
		assert_non_null(strstr(err, "/x/partial.so"));
	}
	err[0] = '\0';
	assert_true(np_strategy_check(NULL, "/x/null.so", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/x/null.so"));
}

static const char *build_dir(void)
{
	const char *d = getenv("NP_STRATEGY_BUILD_DIR");
	return d && *d ? d : NP_BUILD_DIR "/strategies";
}

static void test_load_simple(void **state)
{
	struct np_strategy_mod m;
	char err[512] = "", path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/simple.so", build_dir());
	if (np_strategy_load(path, NULL, &m, err, sizeof(err)) < 0) {
		print_error("loading %s: %s\n", path, err);
		fail();
	}
	assert_string_equal(m.desc.name, "simple");
	assert_int_equal(m.desc.abi_major, NP_STRATEGY_ABI_MAJOR);
	assert_int_equal(m.desc.size, sizeof(np_strategy_t));
	assert_non_null(m.desc.create);
	assert_non_null(m.desc.destroy);
	assert_string_equal(m.path, path);
	np_strategy_unload(&m);
	assert_null(m.dl);
	/* By name, through the search directory. */
	assert_int_equal(np_strategy_load("simple", build_dir(), &m, err, sizeof(err)), 0);
	assert_string_equal(m.desc.name, "simple");
	np_strategy_unload(&m);
}

static void test_load_missing(void **state)
{
	struct np_strategy_mod m;
	char err[512] = "";

	(void)state;
	assert_int_equal(np_strategy_load("/nonexistent/dir/nope.so", NULL, &m, err, sizeof(err)), -ENOENT);
	assert_one_line(err);
	assert_non_null(strstr(err, "/nonexistent/dir/nope.so"));
	assert_null(m.dl);
	err[0] = '\0';
	assert_int_equal(np_strategy_load("no-such-strategy", build_dir(), &m, err, sizeof(err)), -ENOENT);
	assert_one_line(err);
	assert_non_null(strstr(err, "no-such-strategy"));
	err[0] = '\0';
	assert_int_equal(np_strategy_load("Bad Name!", build_dir(), &m, err, sizeof(err)), -EINVAL);
	assert_one_line(err);
}

static void test_load_not_a_strategy(void **state)
{
	struct np_strategy_mod m;
	Dl_info info;
	char err[512] = "";

	(void)state;
	/* A real shared library without the entry symbol: libsodium's. */
	assert_true(dladdr((void *)(uintptr_t)&sodium_init, &info) != 0);
	assert_non_null(info.dli_fname);
	if (!strstr(info.dli_fname, ".so")) {
		print_message("libsodium is linked statically; skipping the foreign .so case\n");
	} else {
		assert_int_equal(np_strategy_load(info.dli_fname, NULL, &m, err, sizeof(err)), -EINVAL);
		assert_one_line(err);
		assert_non_null(strstr(err, NP_STRATEGY_ENTRY_SYMBOL));
		assert_null(m.dl);
	}
	/* A file that is not a shared object at all. */
	err[0] = '\0';
	assert_int_equal(np_strategy_load(NP_SOURCE_DIR "/CMakeLists.txt", NULL, &m, err, sizeof(err)), -ENOENT);
	assert_one_line(err);
	assert_non_null(strstr(err, "CMakeLists.txt"));
	assert_null(m.dl);
}

static void test_name_ok(void **state)
{
	(void)state;
	assert_true(np_strategy_name_ok("simple"));
	assert_true(np_strategy_name_ok("a_b-9"));
	assert_false(np_strategy_name_ok(""));
	assert_false(np_strategy_name_ok("Simple"));
	assert_false(np_strategy_name_ok("../x"));
	assert_false(np_strategy_name_ok("abcdefghijklmnopqrstuvwxyz0123456"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_current),
		cmocka_unit_test(test_accepts_older_minor_smaller_struct),
		cmocka_unit_test(test_refuses_other_major),
		cmocka_unit_test(test_refuses_newer_minor),
		cmocka_unit_test(test_refuses_bad_size),
		cmocka_unit_test(test_refuses_missing_callbacks),
		cmocka_unit_test(test_load_simple),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_load_not_a_strategy),
		cmocka_unit_test(test_name_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
