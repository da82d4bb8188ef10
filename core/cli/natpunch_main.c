/* natpunch: the peer program. main() is a table of subcommands (genkey,
 * pubkey, genpsk, probe) falling back to the daemon; the daemon part reads
 * keys and hooks, then hands over to np_peer on the default libev loop. */
#include "np_auth.h"
#include "np_config.h"
#include "np_control.h"
#include "np_discovery_cli.h"
#include "np_hooks.h"
#include "np_keys.h"
#define NP_LOG_COMPONENT "main"
#include "np_log.h"
#include "np_peer.h"
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

static int load_keys(const struct np_config *cfg, struct np_peer_keys *k)
{
	char err[256];

	memset(k, 0, sizeof(*k));
	if (!cfg->insecure) {
		if (np_key_read_file(cfg->key_file, k->priv, err, sizeof(err)) < 0)
			return usage_error(err);
		if (np_key_parse_base64(cfg->peer_key_b64, strlen(cfg->peer_key_b64), k->peer_pub) < 0)
			return usage_error("--peer-key is not a base64 public key (44 characters, from natpunch pubkey)");
		if (cfg->psk_file) {
			if (np_key_read_file(cfg->psk_file, k->psk, err, sizeof(err)) < 0)
				return usage_error(err);
			k->has_psk = 1;
		}
	}
	if (cfg->server_token_file) {
		if (np_auth_token_key_from_file(cfg->server_token_file, k->token_key, err, sizeof(err)) < 0)
			return usage_error(err);
		k->has_token = 1;
	}
	return 0;
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

/* Build trees find the shipped Lua library beside the sources. */
static void hook_lua_path(char *out, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	out[0] = '\0';
	if (n <= 0)
		return;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = '\0';
	snprintf(out, cap, "%s/../hooks/lua;%s/../share/natpunch/lua;%s/hooks/lua", exe, exe, NP_SOURCE_DIR);
}

struct daemon {
	struct ev_loop *loop;
	struct np_peer *peer;
	ev_signal sigint, sigterm;
	ev_timer stop_deadline;
	int stopping;
};

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
	ev_timer_start(loop, &d->stop_deadline);
	np_peer_stop(d->peer, stop_now, d);
}

static int run_daemon(int argc, char **argv)
{
	struct np_config cfg;
	struct np_peer_keys keys;
	struct np_hooks *hooks = NULL;
	struct np_hooks_config hc = { 0 };
	struct daemon d = { 0 };
	char err[512], luapath[3 * PATH_MAX + 64];
	int rc;

	rc = np_config_parse(argc, argv, &cfg, err, sizeof(err));
	if (rc == 1) {
		fputs(np_config_usage, stdout);
		return 0;
	}
	if (rc == 2) {
		printf("natpunch %s (strategy ABI %d.%d)\n", NP_VERSION, NP_STRATEGY_ABI_MAJOR, NP_STRATEGY_ABI_MINOR);
		return 0;
	}
	if (rc < 0)
		return usage_error(err);
	np_log_set_level(cfg.log_level);
	signal(SIGPIPE, SIG_IGN);
	d.loop = ev_default_loop(EVFLAG_AUTO);
	if (cfg.nhooks || cfg.hook_dir) {
		hook_lua_path(luapath, sizeof(luapath));
		hc.files = cfg.hooks;
		hc.nfiles = cfg.nhooks;
		hc.dir = cfg.hook_dir;
		hc.timeout_s = cfg.hook_timeout_s;
		hc.lua_path = luapath;
		if (np_hooks_new(d.loop, &hc, &hooks, err, sizeof(err)) < 0) {
			fprintf(stderr, "natpunch: %s\n", err);
			return 2;
		}
		if (cfg.check_hooks) {
			printf("hooks OK: %zu file(s)%s%s\n", cfg.nhooks, cfg.hook_dir ? " plus " : "",
			       cfg.hook_dir ? cfg.hook_dir : "");
			np_hooks_free(hooks);
			return 0;
		}
	}
	rc = load_keys(&cfg, &keys);
	if (rc)
		goto out;
	rc = np_peer_new(d.loop, &cfg, &keys, hooks, &d.peer, err, sizeof(err));
	sodium_memzero(&keys, sizeof(keys));
	if (rc < 0) {
		fprintf(stderr, "natpunch: %s\n", err);
		rc = 1;
		goto out;
	}
	ev_signal_init(&d.sigint, on_signal, SIGINT);
	ev_signal_init(&d.sigterm, on_signal, SIGTERM);
	d.sigint.data = d.sigterm.data = &d;
	ev_signal_start(d.loop, &d.sigint);
	ev_signal_start(d.loop, &d.sigterm);
	ev_timer_init(&d.stop_deadline, on_stop_deadline, cfg.hook_timeout_s + 2, 0.);
	ev_run(d.loop, 0);
	ev_timer_stop(d.loop, &d.stop_deadline);
	ev_signal_stop(d.loop, &d.sigint);
	ev_signal_stop(d.loop, &d.sigterm);
	np_peer_free(d.peer);
	np_info("stopped; tun removed");
	rc = 0;
out:
	if (hooks)
		np_hooks_free(hooks);
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
