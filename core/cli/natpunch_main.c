/* natpunch: the peer program. main() is a table of subcommands (genkey,
 * pubkey, genpsk, probe) falling back to the daemon; the daemon part reads
 * the options (command line over --config file), keys and hooks, hands over
 * to np_peer on the default libev loop, tells systemd (READY=1, STATUS=), and
 * re-reads the configuration file on SIGHUP. */
#include "np_auth.h"
#include "np_config.h"
#include "np_control.h"
#include "np_discovery_cli.h"
#include "np_hookd.h"
#include "np_keys.h"
#define NP_LOG_COMPONENT "main"
#include "np_log.h"
#include "np_notify.h"
#include "np_peer.h"
#include "np_privdrop.h"
#include "np_strategy_loader.h"

#include <errno.h>
#include <ev.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int usage_error(const char *msg)
{
	fprintf(stderr, "natpunch: %s (see natpunch --help)\n", msg);
	return 2;
}

/* Key output goes to stdout; a file behind it must not be readable by others. */
static void protect_stdout(void)
{
	struct stat sb;

	if (fstat(STDOUT_FILENO, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 077)) {
		if (fchmod(STDOUT_FILENO, sb.st_mode & 0700) == 0)
			fprintf(stderr, "natpunch: restricted the output file to mode %04o\n",
				(unsigned)(sb.st_mode & 0700));
		else
			fprintf(stderr, "natpunch: warning: the output file is accessible by others\n");
	}
}

static int cmd_genkey(int argc, char **argv)
{
	uint8_t key[NP_KEY_LEN];
	char b64[NP_KEY_B64_LEN + 1];

	if (argc != 1)
		return usage_error("genkey takes no arguments");
	umask(077);
	protect_stdout();
	if (np_key_generate(key) < 0) {
		fprintf(stderr, "natpunch: cannot generate a key\n");
		return 1;
	}
	np_key_to_base64(key, b64);
	sodium_memzero(key, sizeof(key));
	printf("%s\n", b64);
	sodium_memzero(b64, sizeof(b64));
	return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_genpsk(int argc, char **argv)
{
	uint8_t key[NP_KEY_LEN];
	char b64[NP_KEY_B64_LEN + 1];

	if (argc != 1)
		return usage_error("genpsk takes no arguments");
	umask(077);
	protect_stdout();
	randombytes_buf(key, sizeof(key));
	np_key_to_base64(key, b64);
	sodium_memzero(key, sizeof(key));
	printf("%s\n", b64);
	sodium_memzero(b64, sizeof(b64));
	return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_pubkey(int argc, char **argv)
{
	char in[256];
	size_t n;
	uint8_t priv[NP_KEY_LEN], pub[NP_KEY_LEN];
	char b64[NP_KEY_B64_LEN + 1];

	if (argc != 1)
		return usage_error("pubkey takes no arguments; it reads a private key on stdin");
	n = fread(in, 1, sizeof(in) - 1, stdin);
	in[n] = '\0';
	while (n > 0 && (in[n - 1] == '\n' || in[n - 1] == '\r' || in[n - 1] == ' ' || in[n - 1] == '\t'))
		in[--n] = '\0';
	if (np_key_parse_base64(in, n, priv) < 0) {
		sodium_memzero(in, sizeof(in));
		fprintf(stderr, "natpunch: stdin is not a base64 private key (make one with natpunch genkey)\n");
		return 1;
	}
	sodium_memzero(in, sizeof(in));
	np_key_public_from_private(pub, priv);
	sodium_memzero(priv, sizeof(priv));
	np_key_to_base64(pub, b64);
	printf("%s\n", b64);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* Reads the key files the options name. An error names where the option
 * was set ("tun0.conf:4: /etc/natpunch/tun0.key: ..."). */
static int load_keys(const struct np_config *cfg, struct np_peer_keys *k)
{
	char err[256], at[320];

	memset(k, 0, sizeof(*k));
	if (!cfg->insecure) {
		if (np_key_read_file(cfg->key_file, k->priv, err, sizeof(err)) < 0)
			goto bad_key;
		if (np_key_parse_base64(cfg->peer_key_b64, strlen(cfg->peer_key_b64), k->peer_pub) < 0) {
			fprintf(stderr, "natpunch: %s--peer-key is not a base64 public key (44 characters, from natpunch pubkey)\n",
				np_config_where(cfg, "peer-key", at, sizeof(at)));
			return 2;
		}
		if (cfg->psk_file) {
			if (np_key_read_file(cfg->psk_file, k->psk, err, sizeof(err)) < 0) {
				np_config_where(cfg, "psk", at, sizeof(at));
				goto bad;
			}
			k->has_psk = 1;
		}
	}
	if (cfg->server_token_file) {
		if (np_auth_token_key_from_file(cfg->server_token_file, k->token_key, err, sizeof(err)) < 0) {
			np_config_where(cfg, "server-token", at, sizeof(at));
			goto bad;
		}
		k->has_token = 1;
	}
	return 0;
bad_key:
	np_config_where(cfg, "key", at, sizeof(at));
bad:
	sodium_memzero(k, sizeof(*k));
	fprintf(stderr, "natpunch: %s%s\n", at, err);
	return 2;
}

/* natpunch check-strategy NAME|PATH [DIR]: load it as the daemon would. */
static int cmd_check_strategy(int argc, char **argv)
{
	struct np_strategy_mod mod;
	char err[512];

	if (argc < 2 || argc > 3)
		return usage_error("usage: natpunch check-strategy NAME|PATH [STRATEGY_DIR]");
	if (np_strategy_load(argv[1], argc == 3 ? argv[2] : NULL, &mod, err, sizeof(err)) < 0) {
		fprintf(stderr, "natpunch: %s\n", err);
		return 1;
	}
	printf("%s: strategy '%s', ABI %u.%u (host %d.%d): %s\n", mod.path, mod.desc.name, mod.desc.abi_major,
	       mod.desc.abi_minor, NP_STRATEGY_ABI_MAJOR, NP_STRATEGY_ABI_MINOR,
	       mod.desc.description ? mod.desc.description : "");
	np_strategy_unload(&mod);
	return 0;
}

/* Where require looks in hooks, before np_hooks.c adds the installed library
 * (NP_HOOK_LIBDIR) and the system's Lua dirs: --hook-lua-path, then the
 * library installed beside this binary (PREFIX/share/natpunch/lua, for a
 * relocated `cmake --install --prefix`). Never the build or source tree,
 * unless this is a developer build (-DNP_DEV_PATHS=ON). */
static void hook_lua_path(const char *first, char *out, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash = NULL;
	size_t o = 0;

	out[0] = '\0';
	if (first)
		o += (size_t)snprintf(out, cap, "%s;", first);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
	}
	if (slash && o < cap) {
		*slash = '\0';
		o += (size_t)snprintf(out + o, cap - o, "%s/../share/natpunch/lua;", exe);
	}
#ifdef NP_DEV_LUA_DIR
	if (o < cap)
		snprintf(out + o, cap - o, "%s", NP_DEV_LUA_DIR);
#endif
}

struct daemon {
	struct ev_loop *loop;
	struct np_peer *peer;
	struct np_config *cfg;          /* what the daemon started with */
	struct np_config *applied;      /* the latest SIGHUP's (or cfg) */
	struct np_config *reloads[16];  /* kept alive: hooks may point into them */
	size_t nreloads;
	struct np_hookd *hooks;
	int dropped;                    /* runs as --user: cannot start a new hook helper */
	int argc;
	char **argv;
	ev_signal sigint, sigterm, sighup;
	ev_timer stop_deadline;
	int stopping;
};

/* The hook helper for a configuration's hooks (NULL if it names none),
 * attached to loop (if not NULL). */
static int make_hooks(struct ev_loop *loop, const struct np_config *cfg, struct np_hookd **out, char *err,
		      size_t errlen)
{
	static char luapath[3 * PATH_MAX + 1100];
	struct np_hooks_config hc = { 0 };
	int rc;

	*out = NULL;
	if (!cfg->nhooks && !cfg->hook_dir)
		return 0;
	hook_lua_path(cfg->hook_lua_path, luapath, sizeof(luapath));
	hc.files = (const char **)cfg->hooks;
	hc.nfiles = cfg->nhooks;
	hc.dir = cfg->hook_dir;
	hc.timeout_s = cfg->hook_timeout_s;
	hc.lua_path = luapath;
	rc = np_hookd_start(&hc, out, err, errlen);
	if (rc == 0 && loop)
		np_hookd_attach(*out, loop);
	return rc;
}

static void stop_now(void *arg)
{
	struct daemon *d = arg;

	ev_break(d->loop, EVBREAK_ALL);
}

static void on_stop_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	np_warn("hooks did not finish in time; leaving anyway");
	ev_break(loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;

	if (d->stopping) {
		np_warn("second %s: leaving at once", strsignal(w->signum));
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	d->stopping = 1;
	np_info("%s received, shutting down", strsignal(w->signum));
	np_notify("STOPPING=1");
	ev_timer_start(loop, &d->stop_deadline);
	np_peer_stop(d->peer, stop_now, d);
}

struct reload_diff {
	int hooks, restart;
};

static void note_restart(const struct np_opt *o, void *arg)
{
	struct reload_diff *r = arg;

	if (o->flags & NP_OPT_RELOAD)
		return;
	np_warn("reload: '%s' changed; it takes effect at the next restart", o->name);
	r->restart++;
}

static void note_reloadable(const struct np_opt *o, void *arg)
{
	struct reload_diff *r = arg;

	if ((o->flags & NP_OPT_RELOAD) && strncmp(o->name, "hook", 4) == 0)
		r->hooks = 1;
}

/* SIGHUP: re-read the configuration file (and the command line over it).
 * The log level and the hooks change now; everything else is reported. */
static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;
	struct np_config *nc;
	struct np_hookd *nh = NULL;
	struct reload_diff r = { 0 };
	char err[512];

	if (!d->cfg->opts.file) {
		np_info("SIGHUP: no --config file, nothing to re-read");
		return;
	}
	if (d->stopping)
		return;
	if (d->nreloads == sizeof(d->reloads) / sizeof(d->reloads[0])) {
		np_warn("SIGHUP: reloaded %zu times already; restart to reload again", d->nreloads);
		return;
	}
	nc = calloc(1, sizeof(*nc));
	if (!nc)
		return;
	np_notify("RELOADING=1");
	if (np_config_parse(d->argc, d->argv, nc, err, sizeof(err)) != 0) {
		np_err("SIGHUP: %s; keeping the running configuration", err);
		goto drop;
	}
	np_opts_diff(&d->cfg->opts, &nc->opts, note_restart, &r);
	np_opts_diff(&d->applied->opts, &nc->opts, note_reloadable, &r);
	if (r.hooks && d->dropped) {
		/* Only root can start the privileged hook helper. */
		np_warn("reload: the hooks changed, but natpunch runs as --user %s and cannot start a new "
			"privileged hook helper; they take effect at the next restart", d->cfg->user);
		r.hooks = 0;
		r.restart = 1;
	}
	if (r.hooks && make_hooks(loop, nc, &nh, err, sizeof(err)) < 0) {
		np_err("SIGHUP: %s; keeping the running hooks", err);
		r.hooks = 0;
		nc->log_level = d->applied->log_level;
		goto drop;
	}
	if (nc->log_level != np_log_get_level())
		np_info("reload: log level %d -> %d", np_log_get_level(), nc->log_level);
	np_log_set_level(nc->log_level);
	if (r.hooks) {
		np_info("reload: hooks changed (%zu file(s)%s%s)", nc->nhooks, nc->hook_dir ? " plus " : "",
			nc->hook_dir ? nc->hook_dir : "");
		np_peer_replace_hooks(d->peer, nh);
		d->hooks = nh;
	}
	np_info("reload: done from %s%s", nc->opts.file, r.restart ? "; some changes need a restart" : "");
	d->reloads[d->nreloads++] = nc;
	d->applied = nc;
	np_notify("READY=1");
	return;
drop:
	np_notify("READY=1");
	np_config_free(nc);
	free(nc);
}

static void on_state(void *arg, const char *summary)
{
	np_notify_status("%s", summary);
}

static int run_daemon(int argc, char **argv)
{
	struct np_config cfg;
	struct np_peer_keys keys;
	struct daemon d = { 0 };
	struct np_privdrop pd;
	char err[512], info[200];
	int rc;

	rc = np_config_parse(argc, argv, &cfg, err, sizeof(err));
	if (rc == 1) {
		np_config_usage(stdout);
		rc = 0;
		goto out;
	}
	if (rc == 2) {
		printf("natpunch %s (strategy ABI %d.%d)\n", NP_VERSION, NP_STRATEGY_ABI_MAJOR, NP_STRATEGY_ABI_MINOR);
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		rc = usage_error(err);
		goto out;
	}
	if (cfg.syslog && !cfg.opts.check)
		np_log_set_syslog(1);
	np_log_set_level(cfg.log_level);
	signal(SIGPIPE, SIG_IGN);
	if (cfg.user && np_privdrop_resolve(cfg.user, cfg.group, &pd, err, sizeof(err)) < 0) {
		rc = usage_error(err);
		goto out;
	}
	d.cfg = d.applied = &cfg;
	d.argc = argc;
	d.argv = argv;
	/* The hook helper first: before the loop, the keys and anything opened. */
	if (make_hooks(NULL, &cfg, &d.hooks, err, sizeof(err)) < 0) {
		char at[320];

		fprintf(stderr, "natpunch: %s%s\n", np_config_where(&cfg, cfg.nhooks ? "hook" : "hook-dir", at, sizeof(at)),
			err);
		rc = 2;
		goto out;
	}
	if (cfg.check_hooks) {
		pid_t pid = np_hookd_pid(d.hooks);

		printf("hooks OK: %zu file(s)%s%s\n", np_hookd_nfiles(d.hooks), cfg.hook_dir ? " including " : "",
		       cfg.hook_dir ? cfg.hook_dir : "");
		np_hookd_free(d.hooks);
		d.hooks = NULL;
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		rc = 0;
		goto out;
	}
	d.loop = ev_default_loop(EVFLAG_AUTO);
	if (d.hooks)
		np_hookd_attach(d.hooks, d.loop);
	rc = load_keys(&cfg, &keys);
	if (rc)
		goto out;
	if (cfg.opts.check) {
		sodium_memzero(&keys, sizeof(keys));
		np_opts_dump(&cfg.opts, stdout);
		rc = fflush(stdout) == 0 ? 0 : 1;
		goto out;
	}
	rc = np_peer_new(d.loop, &cfg, &keys, d.hooks, &d.peer, err, sizeof(err));
	sodium_memzero(&keys, sizeof(keys));
	if (rc < 0) {
		fprintf(stderr, "natpunch: %s\n", err);
		rc = 1;
		goto out;
	}
	/* Everything privileged is open: the tun, the sockets, the control
	 * socket; the hook helper keeps root for the hooks. */
	if (cfg.user) {
		if (np_privdrop_apply(&pd, info, sizeof(info), err, sizeof(err)) < 0) {
			fprintf(stderr, "natpunch: %s\n", err);
			np_peer_free(d.peer);
			rc = 1;
			goto out;
		}
		d.dropped = 1;
		np_info("dropped privileges: now %s; hooks run as root in the hook helper%s", info,
			d.hooks ? "" : " (none configured)");
	}
	/* The tun and the control socket exist now. */
	np_peer_on_state(d.peer, on_state, &d);
	np_notify("READY=1");
	ev_signal_init(&d.sigint, on_signal, SIGINT);
	ev_signal_init(&d.sigterm, on_signal, SIGTERM);
	ev_signal_init(&d.sighup, on_hup, SIGHUP);
	d.sigint.data = d.sigterm.data = d.sighup.data = &d;
	ev_signal_start(d.loop, &d.sigint);
	ev_signal_start(d.loop, &d.sigterm);
	ev_signal_start(d.loop, &d.sighup);
	ev_timer_init(&d.stop_deadline, on_stop_deadline, cfg.hook_timeout_s + 2, 0.);
	ev_run(d.loop, 0);
	ev_timer_stop(d.loop, &d.stop_deadline);
	ev_signal_stop(d.loop, &d.sigint);
	ev_signal_stop(d.loop, &d.sigterm);
	ev_signal_stop(d.loop, &d.sighup);
	np_peer_free(d.peer);
	np_info("stopped; tun removed");
	rc = 0;
out:
	np_hookd_free(d.hooks);
	for (size_t i = 0; i < d.nreloads; i++) {
		np_config_free(d.reloads[i]);
		free(d.reloads[i]);
	}
	np_config_free(&cfg);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "genkey", cmd_genkey },
		{ "pubkey", cmd_pubkey },
		{ "genpsk", cmd_genpsk },
		{ "probe", np_discovery_cli },
		{ "check-strategy", cmd_check_strategy },
		{ "status", np_control_cli },
	};

	if (sodium_init() < 0) {
		fprintf(stderr, "natpunch: libsodium failed to initialise\n");
		return 1;
	}
	if (argc > 1)
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (strcmp(argv[1], cmds[i].name) == 0)
				return cmds[i].fn(argc - 1, argv + 1);
	return run_daemon(argc, argv);
}
