/* test_hooks: the Lua hook host (hooks/np_hooks.c) on the default libev loop,
 * with fixture hook files from tests/unit/hooks/. No root needed. Fixtures
 * report by appending lines to $NP_HOOKTEST_OUT; log lines are captured by
 * pointing stderr at a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "np_hookd.h"
#include "np_hooks.h"
#include "np_log.h"

#define FIX NP_SOURCE_DIR "/tests/unit/hooks/"

static char out_path[] = "/tmp/np_hooktest_out.XXXXXX";
static char log_path[] = "/tmp/np_hooktest_log.XXXXXX";
static int saved_stderr = -1;

static int setup(void **state)
{
	int fd;

	strcpy(out_path, "/tmp/np_hooktest_out.XXXXXX");
	strcpy(log_path, "/tmp/np_hooktest_log.XXXXXX");
	fd = mkstemp(out_path);
	assert_true(fd >= 0);
	close(fd);
	fd = mkstemp(log_path);
	assert_true(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
	setenv("NP_HOOKTEST_OUT", out_path, 1);
	return 0;
}

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static char *out_text(void)
{
	return slurp(out_path);
}

static char *log_text(void)
{
	fflush(stderr);
	return slurp(log_path);
}

static int teardown(void **state)
{
	const char *log = log_text();

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	/* log lines and any cmocka failure message, shown with ctest -V */
	fputs(log, stderr);
	unlink(out_path);
	unlink(log_path);
	return 0;
}

static struct np_hooks *load(double timeout, const char *lua_path, int n, ...)
{
	const char *files[8];
	struct np_hooks_config cfg = { .files = files, .nfiles = (size_t)n, .timeout_s = timeout,
				       .lua_path = lua_path };
	struct np_hooks *h = NULL;
	char err[512];
	va_list ap;
	int ret;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		files[i] = va_arg(ap, const char *);
	va_end(ap);
	ret = np_hooks_new(ev_default_loop(0), &cfg, &h, err, sizeof(err));
	if (ret)
		print_error("np_hooks_new: %s\n", err);
	assert_int_equal(ret, 0);
	return h;
}

static void fire(struct np_hooks *h, const char *event, const char *reason)
{
	np_hook_event_t ev = { .event = event, .reason = reason, .ifname = "np-t0" };

	assert_int_equal(np_hooks_fire(h, &ev), 0);
}

static int idle_seen;

static void on_idle(void *arg)
{
	idle_seen = 1;
	ev_break(ev_default_loop(0), EVBREAK_ALL);
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* Run the loop until the hooks are idle; fail after max_s seconds. */
static double run_idle(struct np_hooks *h, double max_s)
{
	struct ev_loop *loop = ev_default_loop(0);
	ev_timer guard;
	ev_tstamp t0;

	ev_now_update(loop);
	t0 = ev_now(loop);
	idle_seen = 0;
	ev_timer_init(&guard, guard_cb, max_s, 0.);
	ev_timer_start(loop, &guard);
	np_hooks_on_idle(h, on_idle, NULL);
	ev_run(loop, 0);
	ev_timer_stop(loop, &guard);
	assert_true(idle_seen);
	assert_false(np_hooks_busy(h));
	ev_now_update(loop);
	return ev_now(loop) - t0;
}

static void test_fields(void **state)
{
	struct np_hooks *h = load(0, NULL, 1, FIX "fields.lua");
	np_hook_event_t ev = {
		.event = "up", .reason = "handshake", .ifname = "np-t0", .mtu = 1420,
		.local_ip = "10.9.0.1", .remote_ip = "10.9.0.2",
		.peer_ip = "198.51.100.7", .peer_port = 40001,
		.public_ip = "203.0.113.5", .public_port = 50123,
		.nat_self = "cone", .nat_peer = "symmetric-random",
		.strategy = "spray", .attempts = 3, .session = "abc123", .path = "relayed",
	};
	np_hook_event_t pf = { .event = "punch_failed", .reason = "timeout", .attempts = 7 };
	np_hook_event_t pc = { .event = "path_change", .reason = "the direct path answered", .path = "direct",
			       .attempts = 0 };
	const char *want[] = {
		"event=up\n", "attempts=3\n", "ifname=np-t0\n", "local_ip=10.9.0.1\n",
		"local_public.ip=203.0.113.5\n", "local_public.port=50123\n", "mtu=1420\n",
		"nat.self=cone\n", "nat.peer=symmetric-random\n", "peer.ip=198.51.100.7\n",
		"peer.port=40001\n", "reason=handshake\n", "remote_ip=10.9.0.2\n",
		"session=abc123\n", "strategy=spray\n", "path=relayed\n",
		"event=path_change\nattempts=0\nevent=path_change\npath=direct\nreason=the direct path answered\n",
	};
	char *s;

	assert_int_equal(np_hooks_fire(h, &ev), 0);
	assert_true(np_hooks_busy(h));
	assert_int_equal(np_hooks_fire(h, &pf), 0);
	assert_int_equal(np_hooks_fire(h, &pc), 0);
	run_idle(h, 5);
	s = out_text();
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(s, want[i]))
			fail_msg("missing %s in:\n%s", want[i], s);
	/* punch_failed: no nat/peer tables when unknown */
	assert_non_null(strstr(s, "event=punch_failed\nattempts=7\nevent=punch_failed\nreason=timeout\n"));
	np_hooks_free(h);
}

static void test_syntax_error(void **state)
{
	const char *files[] = { FIX "fields.lua", FIX "syntax_error.lua" };
	struct np_hooks_config cfg = { .files = files, .nfiles = 2 };
	struct np_hooks *h = (void *)1;
	char err[512];

	assert_int_equal(np_hooks_new(ev_default_loop(0), &cfg, &h, err, sizeof(err)), -EINVAL);
	assert_null(h);
	assert_non_null(strstr(err, "syntax_error.lua:2:"));

	files[1] = FIX "no_such_file.lua";
	assert_int_equal(np_hooks_new(ev_default_loop(0), &cfg, &h, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no_such_file.lua"));
}

static void test_loadtime_exec(void **state)
{
	const char *files[] = { FIX "loadtime.lua" };
	struct np_hooks_config cfg = { .files = files, .nfiles = 1 };
	struct np_hooks *h = NULL;
	char err[512];

	assert_int_equal(np_hooks_new(ev_default_loop(0), &cfg, &h, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "only inside a hook handler"));
	assert_non_null(strstr(err, "loadtime.lua:3"));
}

static void test_runtime_error(void **state)
{
	struct np_hooks *h = load(0, NULL, 1, FIX "runtime_error.lua");
	struct np_hooks_stats st;
	char *log;

	fire(h, "up", NULL);
	fire(h, "down", "test");
	run_idle(h, 5);
	assert_string_equal(out_text(), "down ran\n");
	log = log_text();
	assert_non_null(strstr(log, "on_up failed"));
	assert_non_null(strstr(log, "runtime_error.lua:2: boom in up"));
	assert_non_null(strstr(log, "runtime_error.lua:6: in function"));
	np_hooks_get_stats(h, &st);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.events, 2);
	np_hooks_free(h);
}

static void test_exec(void **state)
{
	struct np_hooks *h = load(0, NULL, 1, FIX "exec.lua");
	char *s;

	fire(h, "up", NULL);
	fire(h, "endpoint_change", NULL);
	run_idle(h, 10);
	s = out_text();
	assert_non_null(strstr(s, "nosigpipe|0\n"));
	assert_non_null(strstr(s, "echo|0|hello world; rm -rf /\n|\n"));
	assert_non_null(strstr(s, "sh|3||to-err\n\n"));
	assert_non_null(strstr(s, "missing|127||natpunch.exec: natpunch-no-such-program-xyz: command not found\n"));
	assert_non_null(strstr(s, "cat|0|fed through stdin|\n"));
	assert_non_null(strstr(s, "signal|143||\n"));
	assert_non_null(strstr(s, "big|0|65536\n"));
	assert_non_null(strstr(log_text(), "exec.lua: exec hook done 42"));
	np_hooks_free(h);
}

static int pid_gone(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'Z';       /* a zombie of someone else */
}

static void test_timeout(void **state)
{
	char pidfile[] = "/tmp/np_hooktest_pid.XXXXXX";
	struct np_hooks *h;
	struct np_hooks_stats st;
	double took;
	long pid = 0;
	int fd = mkstemp(pidfile);
	FILE *f;

	assert_true(fd >= 0);
	close(fd);
	setenv("NP_HOOKTEST_PID", pidfile, 1);
	h = load(0.5, NULL, 1, FIX "timeout.lua");
	fire(h, "up", NULL);
	fire(h, "down", NULL);
	took = run_idle(h, 10);
	assert_true(took >= 0.45 && took < 5);
	assert_string_equal(out_text(), "up start\ndown ran\n");
	assert_non_null(strstr(log_text(), "on_up timed out after 0.5 s"));
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	unlink(pidfile);
	assert_true(pid > 0);
	for (int i = 0; i < 100 && !pid_gone((pid_t)pid); i++)
		usleep(20000);
	assert_true(pid_gone((pid_t)pid));
	np_hooks_get_stats(h, &st);
	assert_int_equal(st.timeouts, 1);
	np_hooks_free(h);
}

static void test_watchdog(void **state)
{
	struct np_hooks *h = load(0, NULL, 1, FIX "runaway.lua");
	struct np_hooks_stats st;
	char *log;

	fire(h, "up", NULL);
	fire(h, "endpoint_change", NULL);
	fire(h, "down", NULL);
	run_idle(h, 20);
	assert_string_equal(out_text(), "down ran\n");
	log = log_text();
	assert_non_null(strstr(log, "on_up failed"));
	assert_non_null(strstr(log, "on_endpoint_change failed"));
	assert_non_null(strstr(log, "hook exceeded instruction budget"));
	np_hooks_get_stats(h, &st);
	assert_int_equal(st.errors, 2);
	assert_int_equal(st.timeouts, 0);
	np_hooks_free(h);
}

static void test_memory_limit(void **state)
{
	struct np_hooks *h = load(0, NULL, 1, FIX "memhog.lua");
	struct np_hooks_stats st;

	fire(h, "up", NULL);
	fire(h, "down", NULL);
	run_idle(h, 20);
	assert_string_equal(out_text(), "down ran\n");
	assert_non_null(strstr(log_text(), "not enough memory"));
	np_hooks_get_stats(h, &st);
	assert_int_equal(st.errors, 1);
	np_hooks_free(h);
}

static void test_order(void **state)
{
	struct np_hooks *h = load(0, NULL, 2, FIX "order_a.lua", FIX "order_b.lua");

	fire(h, "up", "first");
	fire(h, "endpoint_change", "moved");
	fire(h, "up", "second");        /* implicit down first */
	fire(h, "down", "dead");
	run_idle(h, 10);
	assert_string_equal(out_text(),
		"a begin up first\na end up\nb begin up\nb end up\n"
		"a begin endpoint_change moved\na end endpoint_change\n"
		"a begin down re-handshake\na end down\nb down re-handshake np-t0\n"
		"a begin up second\na end up\nb begin up\nb end up\n"
		"a begin down dead\na end down\nb down dead np-t0\n");
	np_hooks_free(h);
}

static void test_pairing(void **state)
{
	struct np_hooks *h = load(0, NULL, 1, FIX "order_b.lua");
	np_hook_event_t up = { .event = "up", .ifname = "np-pair" };
	np_hook_event_t down = { .event = "down", .reason = "shutdown" };
	np_hook_event_t bogus = { .event = "sideways" };
	struct np_hooks_stats st;

	assert_false(np_hooks_up_active(h));
	assert_int_equal(np_hooks_fire(h, &down), 0);   /* dropped */
	assert_false(np_hooks_busy(h));
	assert_int_equal(np_hooks_fire(h, &bogus), -EINVAL);
	assert_int_equal(np_hooks_fire(h, &up), 0);
	assert_true(np_hooks_up_active(h));
	assert_int_equal(np_hooks_fire(h, &up), 0);
	assert_int_equal(np_hooks_fire(h, &down), 0);
	assert_false(np_hooks_up_active(h));
	assert_int_equal(np_hooks_fire(h, &down), 0);   /* dropped */
	run_idle(h, 10);
	assert_string_equal(out_text(),
		"b begin up\nb end up\nb down re-handshake np-pair\n"
		"b begin up\nb end up\nb down shutdown np-pair\n");
	np_hooks_get_stats(h, &st);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.events, 4);
	np_hooks_free(h);
}

static int ticks;

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ticks++;
}

static void test_loop_runs_during_sleep(void **state)
{
	struct np_hooks *h = load(0, NULL, 1, FIX "sleeper.lua");
	struct ev_loop *loop = ev_default_loop(0);
	ev_timer tick;
	double took;

	ticks = 0;
	ev_timer_init(&tick, tick_cb, 0.05, 0.05);
	ev_timer_start(loop, &tick);
	fire(h, "up", NULL);
	took = run_idle(h, 5);
	ev_timer_stop(loop, &tick);
	assert_string_equal(out_text(), "slept\n");
	assert_true(took >= 0.45);
	assert_true(ticks >= 4);     /* about 10 when idle */
	np_hooks_free(h);
}

static void test_idle_when_quiet(void **state)
{
	struct np_hooks *h = load(0, NULL, 1, FIX "fields.lua");

	assert_false(np_hooks_busy(h));
	run_idle(h, 2);
	np_hooks_free(h);
}

static void test_free_while_running(void **state)
{
	char pidfile[] = "/tmp/np_hooktest_pid.XXXXXX";
	struct np_hooks *h;
	struct ev_loop *loop = ev_default_loop(0);
	ev_timer guard;
	long pid = 0;
	int fd = mkstemp(pidfile);
	FILE *f;

	assert_true(fd >= 0);
	close(fd);
	setenv("NP_HOOKTEST_PID", pidfile, 1);
	h = load(30, NULL, 1, FIX "timeout.lua");
	fire(h, "up", NULL);
	ev_timer_init(&guard, guard_cb, 0.3, 0.);
	ev_timer_start(loop, &guard);
	ev_run(loop, 0);
	assert_true(np_hooks_busy(h));
	np_hooks_free(h);       /* kills and reaps the child */
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	unlink(pidfile);
	for (int i = 0; i < 100 && !pid_gone((pid_t)pid); i++)
		usleep(20000);
	assert_true(pid_gone((pid_t)pid));
}

static void test_isolation(void **state)
{
	struct np_hooks *h = load(0, NULL, 2, FIX "globals.lua", FIX "order_b.lua");

	fire(h, "endpoint_change", NULL);
	fire(h, "up", NULL);
	run_idle(h, 5);
	/* order_b's on_up ran; globals.lua's _G.on_endpoint_change is not a handler */
	assert_string_equal(out_text(), "globals up 1\nb begin up\nb end up\n");
	assert_non_null(strstr(log_text(), "globals.lua: hello from print 1"));
	np_hooks_free(h);
}

static void test_hook_dir(void **state)
{
	const char *files[] = { FIX "globals.lua" };
	struct np_hooks_config cfg = { .files = files, .nfiles = 1, .dir = FIX "dir" };
	struct np_hooks *h = NULL;
	char err[512];

	assert_int_equal(np_hooks_new(ev_default_loop(0), &cfg, &h, err, sizeof(err)), 0);
	fire(h, "up", NULL);
	run_idle(h, 5);
	assert_string_equal(out_text(), "globals up 1\n10-first\n20-second\n");
	np_hooks_free(h);

	cfg.dir = FIX "no_such_dir";
	assert_int_equal(np_hooks_new(ev_default_loop(0), &cfg, &h, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no_such_dir"));
}

static void test_library(void **state)
{
	struct np_hooks *h = load(0, NP_SOURCE_DIR "/hooks/lua", 1, FIX "libs.lua");
	char *s;

	fire(h, "up", NULL);
	run_idle(h, 5);
	s = out_text();
	assert_non_null(strstr(s, "table=natpunch_np_t0\n"));
	assert_non_null(strstr(s, "tcp=true\ndrop=true\n"));
	assert_non_null(strstr(s, "badport=natpunch.firewall: allow_tcp[1] is not a port"));
	assert_non_null(strstr(s, "badif=natpunch.firewall: bad or missing t.ifname"));
	assert_non_null(strstr(s, "v4=true\nv6=true\nevil=false\n"));
	assert_non_null(strstr(s, "badroute=natpunch.route: prefixes[2] is not an IPv4/IPv6 CIDR: -6.6.6.6/8"));
	np_hooks_free(h);
}

static void test_examples(void **state)
{
	char evlog[] = "/tmp/np_hooktest_ev.XXXXXX";
	struct np_hooks *h;
	np_hook_event_t ev = { .event = "up", .ifname = "np-ex", .peer_ip = "198.51.100.9",
			       .peer_port = 4500, .nat_peer = "cone", .attempts = 2 };
	int fd = mkstemp(evlog);
	char *s;

	assert_true(fd >= 0);
	close(fd);
	setenv("NATPUNCH_EVENT_LOG", evlog, 1);
	/* all examples load (their handlers would need root, except log-events) */
	h = load(0, NP_SOURCE_DIR "/hooks/lua", 3, NP_SOURCE_DIR "/examples/hooks/firewall.lua",
		 NP_SOURCE_DIR "/examples/hooks/route-subnet.lua",
		 NP_SOURCE_DIR "/examples/hooks/log-events.lua");
	np_hooks_free(h);
	h = load(0, NULL, 1, NP_SOURCE_DIR "/examples/hooks/log-events.lua");
	assert_int_equal(np_hooks_fire(h, &ev), 0);
	run_idle(h, 5);
	s = slurp(evlog);
	unlink(evlog);
	assert_non_null(strstr(s, "event=up"));
	assert_non_null(strstr(s, "ifname=np-ex"));
	assert_non_null(strstr(s, "peer.ip=198.51.100.9"));
	assert_non_null(strstr(s, "peer.port=4500"));
	assert_non_null(strstr(s, "nat.peer=cone"));
	np_hooks_free(h);
}

static void test_sandbox(void **state)
{
	char bin[] = "/tmp/np_hooktest_bin.XXXXXX";
	struct np_hooks *h;
	int fd = mkstemp(bin);
	char *s;

	/* a (truncated) precompiled chunk on disk: loadfile must refuse it */
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\033Lua\124\0", 6), 6);
	close(fd);
	setenv("NP_HOOKTEST_BIN", bin, 1);
	h = load(0, NULL, 1, FIX "sandbox.lua");
	fire(h, "up", NULL);
	run_idle(h, 5);
	unlink(bin);
	s = out_text();
	assert_non_null(strstr(s, "debug=nil\n"));
	assert_non_null(strstr(s, "loadlib=nil\n"));
	assert_non_null(strstr(s, "cpath=\n"));
	assert_non_null(strstr(s, "searchers=2\n"));
	assert_non_null(strstr(s, "dump=nil\n"));
	assert_non_null(strstr(s, "reqdebug=false\n"));
	assert_non_null(strstr(s, "binary=nil attempt to load a binary chunk"));
	assert_non_null(strstr(s, "binfile=nil\n"));
	assert_non_null(strstr(s, "text=7\nenv=8\n"));
	/* installed and system dirs only: no ./?.lua, no source tree */
	assert_non_null(strstr(s, "path=/"));
	assert_null(strstr(s, "./?"));
	assert_null(strstr(s, NP_SOURCE_DIR));
	np_hooks_free(h);
}

static long rss_kb(void)
{
	char *s = slurp("/proc/self/status"), *p = strstr(s, "VmRSS:");

	return p ? strtol(p + 6, NULL, 10) : -1;
}

/* 200k endpoint_change events while a handler waits: coalesced into one
 * queued event, memory flat; floods of the other events stay under the cap. */
static void test_flood(void **state)
{
	struct np_hooks *h = load(0, NULL, 1, FIX "flood.lua");
	struct ev_loop *loop = ev_default_loop(0);
	struct np_hooks_stats st;
	np_hook_event_t ev = { .event = "endpoint_change", .ifname = "np-t0", .reason = "peer roamed",
			       .peer_ip = "198.51.100.7", .local_ip = "10.9.0.1", .remote_ip = "10.9.0.2",
			       .strategy = "simple", .session = "flood" };
	ev_timer guard;
	long before, after;

	fire(h, "up", "first");
	ev.peer_port = 1;
	assert_int_equal(np_hooks_fire(h, &ev), 0);
	/* let on_up run and on_endpoint_change start waiting */
	ev_timer_init(&guard, guard_cb, 0.02, 0.);
	ev_timer_start(loop, &guard);
	ev_run(loop, 0);
	assert_true(np_hooks_busy(h));
	before = rss_kb();
	for (int i = 0; i < 200000; i++) {
		ev.peer_port = 2 + i % 60000;
		assert_int_equal(np_hooks_fire(h, &ev), 0);
	}
	after = rss_kb();
	np_hooks_get_stats(h, &st);
	assert_true(st.queued <= 1);
	assert_true(st.coalesced >= 199999);
	if (after - before > 4096)
		fail_msg("RSS grew by %ld kB during the flood", after - before);
	/* punch_failed is not coalesced but capped */
	for (int i = 0; i < 200000; i++) {
		np_hook_event_t pf = { .event = "punch_failed", .reason = "timeout", .attempts = i };

		assert_int_equal(np_hooks_fire(h, &pf), 0);
	}
	np_hooks_get_stats(h, &st);
	assert_true(st.queued <= 64);
	assert_true(st.overflow >= 200000 - 64);
	/* up/down churn at the cap: cancelled pairs, never more than cap + 2 */
	for (int i = 0; i < 200000; i++) {
		fire(h, i % 3 == 2 ? "down" : "up", "churn");
		np_hooks_get_stats(h, &st);
		if (st.queued > 66)
			fail_msg("queue grew to %lu at churn event %d", (unsigned long)st.queued, i);
	}
	fire(h, "down", "last");
	after = rss_kb();
	if (after - before > 8192)
		fail_msg("RSS grew by %ld kB during the floods", after - before);
	run_idle(h, 30);
	{
		const char *s = out_text();
		/* the handler that waited, then the last endpoint seen */
		if (!strstr(s, "up first\nec 1\nec 20001\npunch_failed 0\n"))
			fail_msg("unexpected order:\n%.600s", s);
		/* every up that ran got its down */
		int ups = 0, downs = 0;

		for (const char *p = s; (p = strstr(p, "up ")); p++)
			ups += p == s || p[-1] == '\n';
		for (const char *p = s; (p = strstr(p, "down ")); p++)
			downs++;
		assert_int_equal(ups, downs);
	}
	assert_false(np_hooks_up_active(h));
	np_hooks_free(h);
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hookd_idle(void *arg)
{
	*(int *)arg = 1;
	ev_break(ev_default_loop(0), EVBREAK_ALL);
}

/* Run the loop until hd is idle; fail after max_s. */
static void hookd_run_idle(struct np_hookd *hd, double max_s)
{
	struct ev_loop *loop = ev_default_loop(0);
	ev_timer guard;
	int seen = 0;

	ev_timer_init(&guard, guard_cb, max_s, 0.);
	ev_timer_start(loop, &guard);
	np_hookd_on_idle(hd, hookd_idle, &seen);
	ev_run(loop, 0);
	ev_timer_stop(loop, &guard);
	assert_true(seen);
}

static void hookd_reap(pid_t pid, double max_s)
{
	double t0 = mono();
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (mono() - t0 > max_s)
			fail_msg("the hook helper did not exit within %.1f s", max_s);
		usleep(20000);
	}
}

/* The watchdog-bypass file: loading it in the hook helper (as the daemon
 * and --check-hooks do) ends within the timeout with a clear error. */
static void test_helper_stall_at_load(void **state)
{
	const char *files[] = { FIX "fields.lua", FIX "stall_load.lua" };
	struct np_hooks_config cfg = { .files = files, .nfiles = 2, .timeout_s = 0.5 };
	struct np_hookd *hd = (void *)1;
	char err[600];
	double t0 = mono();

	assert_int_equal(np_hookd_start(&cfg, &hd, err, sizeof(err)), -ETIMEDOUT);
	assert_null(hd);
	if (mono() - t0 > 3)
		fail_msg("loading the stall file took %.1f s", mono() - t0);
	if (!strstr(err, "stall_load.lua: stalled for more than 0.5 s while loading"))
		fail_msg("error: %s", err);
	/* a syntax error still reads FILE:LINE */
	files[1] = FIX "syntax_error.lua";
	assert_int_equal(np_hookd_start(&cfg, &hd, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "syntax_error.lua:2:"));
}

/* A handler stalled in C: the worker is killed and replaced; the next
 * event runs in the new worker, which still knows the up is active. Then
 * the daemon's end (closing the socket) runs nothing more (no up active). */
static void test_helper_stall_at_run(void **state)
{
	const char *files[] = { FIX "stall_up.lua" };
	struct np_hooks_config cfg = { .files = files, .nfiles = 1, .timeout_s = 0.5 };
	struct np_hookd *hd = NULL;
	char err[600];
	pid_t pid;
	double t0;

	assert_int_equal(np_hookd_start(&cfg, &hd, err, sizeof(err)), 0);
	np_hookd_attach(hd, ev_default_loop(0));
	pid = np_hookd_pid(hd);
	t0 = mono();
	{
		np_hook_event_t up = { .event = "up", .reason = "first", .ifname = "np-st" };
		np_hook_event_t down = { .event = "down", .reason = "later" };

		assert_int_equal(np_hookd_fire(hd, &up), 0);
		assert_int_equal(np_hookd_fire(hd, &down), 0);
	}
	hookd_run_idle(hd, 10);
	assert_true(mono() - t0 >= 0.45);
	assert_string_equal(out_text(), "up first\ndown later np-st\n");
	assert_non_null(strstr(log_text(), "killed by the stall alarm"));
	assert_non_null(strstr(log_text(), "the up event it was running is abandoned"));
	np_hookd_free(hd);
	hookd_reap(pid, 5);
}

/* The daemon goes away with an up active: the helper runs on_down. */
static void test_helper_pending_down(void **state)
{
	const char *files[] = { FIX "order_b.lua" };
	struct np_hooks_config cfg = { .files = files, .nfiles = 1 };
	np_hook_event_t up = { .event = "up", .ifname = "np-eof" };
	struct np_hookd *hd = NULL;
	char err[600];
	pid_t pid;

	assert_int_equal(np_hookd_start(&cfg, &hd, err, sizeof(err)), 0);
	np_hookd_attach(hd, ev_default_loop(0));
	pid = np_hookd_pid(hd);
	assert_int_equal(np_hookd_fire(hd, &up), 0);
	hookd_run_idle(hd, 5);
	assert_true(np_hookd_up_active(hd));
	np_hookd_free(hd);      /* as if the daemon died */
	hookd_reap(pid, 5);
	assert_string_equal(out_text(), "b begin up\nb end up\nb down daemon exited np-eof\n");
}

/* The daemon (a build without -DNP_DEV_PATHS) searches only installed
 * Lua paths and what --hook-lua-path names: never the source tree's
 * hooks/lua, never the current directory. */
static void test_daemon_lua_path(void **state)
{
	char cmd[1024], out[8192];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s/natpunch --check-hooks --hook %spath.lua --hook-lua-path /opt/np-test 2>&1",
		 NP_BUILD_DIR, FIX);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	if (!strstr(out, "package.path=/opt/np-test/?.lua;/opt/np-test/?/init.lua;"))
		fail_msg("--hook-lua-path is not searched first: %s", out);
	assert_non_null(strstr(out, "/share/natpunch/lua/?.lua"));
#ifndef NP_DEV_LUA_DIR
	if (strstr(out, "/hooks/lua") || strstr(out, "./?"))
		fail_msg("a build-tree or relative path is searched: %s", out);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loadtime_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runtime_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pairing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_runs_during_sleep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_when_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_while_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_library, setup, teardown),
		cmocka_unit_test_setup_teardown(test_examples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_stall_at_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_stall_at_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_pending_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_lua_path, setup, teardown),
	};

	np_log_set_level(NP_LOG_INFO);
	ev_default_loop(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
