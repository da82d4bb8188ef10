/* np_hookrun: load hook files and fire a sequence of events, for lab tests
 * of the shipped Lua library (no tunnel involved).
 *
 *   np_hookrun [--hook FILE]... [--hook-dir DIR] [--lua-path DIRS]
 *              [--ifname IF] [--timeout S] [-v] EVENT[:REASON]...
 *
 * Fires the events in order (through the same pairing rule as the daemon),
 * runs the loop until the hooks are idle, and exits 0 when every handler
 * finished without error or timeout, 1 otherwise, 2 on usage errors. */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np_hooks.h"
#define NP_LOG_COMPONENT "hookrun"
#include "np_log.h"

static void usage(void)
{
	fprintf(stderr, "usage: np_hookrun [--hook FILE]... [--hook-dir DIR] [--lua-path DIRS]\n"
			"                  [--ifname IF] [--timeout S] [-v] EVENT[:REASON]...\n");
	exit(2);
}

static void on_idle(void *arg)
{
	ev_break(ev_default_loop(0), EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	const char *files[64], *ifname = "np0";
	struct np_hooks_config cfg = { .files = files };
	struct ev_loop *loop = ev_default_loop(0);
	struct np_hooks_stats st;
	struct np_hooks *h;
	char err[512], ev_name[64];
	int i, ret;

	np_log_set_ident("np_hookrun");
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v"))
			np_log_set_level(NP_LOG_DEBUG);
		else if (i + 1 >= argc)
			usage();
		else if (!strcmp(argv[i], "--hook") && cfg.nfiles < 64)
			files[cfg.nfiles++] = argv[++i];
		else if (!strcmp(argv[i], "--hook-dir"))
			cfg.dir = argv[++i];
		else if (!strcmp(argv[i], "--lua-path"))
			cfg.lua_path = argv[++i];
		else if (!strcmp(argv[i], "--ifname"))
			ifname = argv[++i];
		else if (!strcmp(argv[i], "--timeout"))
			cfg.timeout_s = atof(argv[++i]);
		else
			usage();
	}
	if (i >= argc)
		usage();
	ret = np_hooks_new(loop, &cfg, &h, err, sizeof(err));
	if (ret < 0) {
		np_err("%s", err);
		return 1;
	}
	for (; i < argc; i++) {
		np_hook_event_t ev = { .ifname = ifname, .mtu = 1420, .local_ip = "10.99.0.1",
				       .remote_ip = "10.99.0.2", .peer_ip = "192.0.2.2",
				       .peer_port = 4500, .strategy = "simple", .session = "hookrun" };
		char *colon;

		snprintf(ev_name, sizeof(ev_name), "%s", argv[i]);
		colon = strchr(ev_name, ':');
		if (colon)
			*colon++ = '\0';
		ev.event = ev_name;
		ev.reason = colon ? colon : "np_hookrun";
		if (np_hooks_fire(h, &ev) < 0) {
			np_err("bad event: %s", argv[i]);
			np_hooks_free(h);
			return 2;
		}
	}
	np_hooks_on_idle(h, on_idle, NULL);
	ev_run(loop, 0);
	np_hooks_get_stats(h, &st);
	np_hooks_free(h);
	np_info("%llu event(s), %llu handler(s), %llu error(s), %llu timeout(s)",
		(unsigned long long)st.events, (unsigned long long)st.handlers,
		(unsigned long long)st.errors, (unsigned long long)st.timeouts);
	return st.errors || st.timeouts ? 1 : 0;
}
