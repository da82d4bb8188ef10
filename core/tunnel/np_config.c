/* np_config: natpunch's option table, its special setters, and the checks
 * that involve more than one option. The driver is np_opts.c. */
#include "np_config.h"
#include "np_log.h"
#include "np_parse.h"
#include "np_strategy_loader.h"
#include "np_tun.h"
#include "np_turn_uri.h"
#include "np_udp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFG(p) ((struct np_config *)(p))

static int bad(char *err, size_t errlen, const char *what, const char *key, const char *val, const char *expect)
{
	snprintf(err, errlen, "invalid %s%s '%.64s' (%s)", what, key, val, expect);
	return -EINVAL;
}

static int set_session(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	size_t n = strlen(val);
	int ok = n > 0 && n <= 64;

	for (size_t i = 0; ok && i < n; i++)
		ok = val[i] > ' ' && val[i] <= '~';
	if (!ok)
		return bad(err, errlen, "", key, val, "1..64 printable characters, no spaces");
	snprintf(CFG(c)->session, sizeof(CFG(c)->session), "%s", val);
	return 0;
}

static int set_strategy(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	if (!strchr(val, '/') && !np_strategy_name_ok(val))
		return bad(err, errlen, "", key, val, "a name like 'simple' or a path to a .so");
	CFG(c)->strategy = val;
	return 0;
}

static int set_cipher(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	if (strcmp(val, "auto") == 0)
		CFG(c)->cipher = -1;
	else if (strcmp(val, "chacha20-poly1305") == 0)
		CFG(c)->cipher = 0;
	else if (strcmp(val, "aes-256-gcm") == 0)
		CFG(c)->cipher = 1;
	else
		return bad(err, errlen, "", key, val, "auto, chacha20-poly1305 or aes-256-gcm");
	return 0;
}

static int set_allowed(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	if (np_allowedips_parse(val, &CFG(c)->allowed, err, errlen) < 0)
		return -EINVAL;
	CFG(c)->allowed_set = 1;
	return 0;
}

static int set_control(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	if (!*val || strlen(val) > 100) {
		snprintf(err, errlen, "invalid %s path (1..100 characters, or 'none')", key);
		return -EINVAL;
	}
	CFG(c)->control_path = val;
	return 0;
}

/* A user or group name (or number), or a path list: printable, bounded. */
static int set_name(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	size_t n = strlen(val);
	int ok = n > 0 && n <= (size_t)o->hi;

	for (size_t i = 0; ok && i < n; i++)
		ok = val[i] > ' ' && val[i] <= '~' && (o->hi > 64 || (val[i] != ':' && val[i] != '/'));
	if (!ok)
		return bad(err, errlen, "", key, val, o->hi > 64 ? "1..1024 printable characters" : "a name or a number");
	*(const char **)(void *)((char *)c + o->off) = val;
	return 0;
}

static int set_hook(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	struct np_config *cfg = c;

	if (!val) {
		cfg->nhooks = 0;
		return 0;
	}
	if (!*val)
		return bad(err, errlen, "", key, val, "a Lua file");
	if (cfg->nhooks >= NP_MAX_HOOKS) {
		snprintf(err, errlen, "too many %s files (at most %d)", key, NP_MAX_HOOKS);
		return -EINVAL;
	}
	cfg->hooks[cfg->nhooks++] = val;
	return 0;
}

static int set_no_offload(void *c, const struct np_opt *o, const char *key, const char *val, char *err,
			  size_t errlen)
{
	int b = np_opt_bool(val);

	if (b < 0)
		return bad(err, errlen, "value for ", key, val, "true or false");
	CFG(c)->offload = !b;
	return 0;
}

static int set_server(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	if (!*val || strlen(val) > 253)
		return bad(err, errlen, "", key, val, "a host name or address");
	CFG(c)->server_host = val;
	return 0;
}

static int set_tun(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	if (!np_tun_name_ok(val))
		return bad(err, errlen, "", key, val, "1..15 characters, no '/', ':' or spaces");
	snprintf(CFG(c)->tun_name, sizeof(CFG(c)->tun_name), "%s", val);
	return 0;
}

static int set_ip(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	if (np_addr_parse(val, (np_addr_t *)((char *)c + o->off)) < 0)
		return bad(err, errlen, "", key, val, "expected an IPv4 or IPv6 address");
	return 0;
}

static int set_turn(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	struct np_config *cfg = c;
	struct np_turn_uri u;

	if (!val) {
		cfg->nturn = 0;
		return 0;
	}
	if (cfg->nturn >= NP_MAX_TURN) {
		snprintf(err, errlen, "too many %s relays (at most %d)", key, NP_MAX_TURN);
		return -EINVAL;
	}
	if (np_turn_uri_parse(val, &u, err, errlen) < 0)
		return -EINVAL;
	cfg->turn_uris[cfg->nturn++] = val;
	return 0;
}

static int set_turn_user(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	if (!*val || strlen(val) > 127)
		return bad(err, errlen, "", key, val, "1..127 characters");
	CFG(c)->turn_user = val;
	return 0;
}

static int set_relay(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	if (strcmp(val, "fallback") == 0)
		CFG(c)->relay_mode = NP_RELAY_FALLBACK;
	else if (strcmp(val, "never") == 0)
		CFG(c)->relay_mode = NP_RELAY_NEVER;
	else if (strcmp(val, "always") == 0)
		CFG(c)->relay_mode = NP_RELAY_ALWAYS;
	else
		return bad(err, errlen, "", key, val, "fallback, always or never");
	return 0;
}

#define F(field) offsetof(struct np_config, field)
#define HEADING(text) { .name = "", .flags = NP_OPT_HEADING, .help = text }

/* The options of natpunch, in --help order. One line per option:
 * name, value placeholder (NULL: a flag), default, help, setter, field. */
static const struct np_opt options[] = {
	HEADING("positional arguments (in a --config file: the keys in brackets):"),
	{ .name = "server", .arg = "SERVER", .flags = NP_OPT_POS, .help = "the rendezvous server's name or address", .set = set_server },
	{ .name = "server-port", .arg = "PORT", .flags = NP_OPT_POS, .help = "its UDP port (the peer uses the other one)", .set = np_opt_port, .off = F(server_port), .lo = 1 },
	{ .name = "tun", .arg = "TUN", .flags = NP_OPT_POS, .help = "the tun device to create", .set = set_tun },
	{ .name = "local-ip", .arg = "LOCAL_IP", .flags = NP_OPT_POS, .help = "our address inside the tunnel", .set = set_ip, .off = F(local_ip) },
	{ .name = "remote-ip", .arg = "REMOTE_IP", .flags = NP_OPT_POS, .help = "the peer's address inside the tunnel", .set = set_ip, .off = F(remote_ip) },
	{ .name = "mtu", .arg = "MTU", .flags = NP_OPT_POS, .help = "the tun MTU (576..65000; 1280.. for IPv6)", .set = np_opt_int, .off = F(mtu), .lo = 576, .hi = 65000 },
	HEADING("configuration:"),
	{ .name = "config", .arg = "FILE", .flags = NP_OPT_CLI, .action = NP_OPT_CONFIG, .help = "read options from FILE ('name = value' lines); the command line wins" },
	{ .name = "check-config", .arg = "FILE", .flags = NP_OPT_CLI, .action = NP_OPT_CHECK_CONFIG, .help = "validate FILE (and the keys it names), print the effective\nconfiguration, and exit" },
	HEADING("keys (required unless --insecure):"),
	{ .name = "key", .arg = "FILE", .help = "our private key (natpunch genkey > FILE; mode 0600)", .set = np_opt_str, .off = F(key_file) },
	{ .name = "peer-key", .arg = "BASE64", .help = "the peer's public key (natpunch pubkey < its key)", .set = np_opt_str, .off = F(peer_key_b64) },
	{ .name = "psk", .arg = "FILE", .help = "optional pre-shared key (natpunch genpsk > FILE)", .set = np_opt_str, .off = F(psk_file) },
	{ .name = "cipher", .arg = "NAME", .def = "auto", .help = "auto (AES-256-GCM when both peers have hardware AES, else\nChaCha20-Poly1305), chacha20-poly1305 or aes-256-gcm", .set = set_cipher },
	{ .name = "insecure", .help = "no authentication, no encryption (the original protocol)", .set = np_opt_flag, .off = F(insecure) },
	HEADING("rendezvous and traversal:"),
	{ .name = "session", .arg = "NAME", .def = "default", .help = "pair with the peer of the same session name", .set = set_session },
	{ .name = "server-token", .arg = "FILE", .help = "authenticate registrations to a server run with --token-file", .set = np_opt_str, .off = F(server_token_file) },
	{ .name = "port", .arg = "N", .help = "local UDP port (default: any)", .set = np_opt_port, .off = F(port) },
	{ .name = "strategy", .arg = "NAME|PATH", .def = "auto", .help = "traversal strategy: auto, simple, predict, spray, hairpin, or a .so", .set = set_strategy },
	{ .name = "strategy-path", .arg = "DIR", .help = "look for strategy NAME.so here first", .set = np_opt_str, .off = F(strategy_path) },
	{ .name = "nat-depth", .arg = "N", .help = "NATs between this host and the internet (default: learned)", .set = np_opt_int, .off = F(nat_depth), .lo = 0, .hi = 8 },
	HEADING("relay (TURN, RFC 8656):"),
	{ .name = "relay", .arg = "MODE", .def = "fallback", .help = "fallback (relay only when there is no direct path), always or never", .set = set_relay },
	{ .name = "turn", .arg = "URI", .flags = NP_OPT_REPEAT, .help = "relay: turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT];\nrepeatable (the first is used)", .set = set_turn },
	{ .name = "turn-user", .arg = "NAME", .help = "the relay's long-term user name", .set = set_turn_user },
	{ .name = "turn-password-file", .arg = "FILE", .help = "the relay password (first line of FILE)", .set = np_opt_str, .off = F(turn_password_file) },
	{ .name = "turn-ca", .arg = "FILE", .help = "CA certificates for turns: relays, ours or the server's (default: the\nsystem store)", .set = np_opt_str, .off = F(turn_ca) },
	HEADING("tunnel:"),
	{ .name = "keepalive", .arg = "SEC", .def = "5", .help = "send a keepalive after SEC idle seconds", .set = np_opt_num, .off = F(keepalive_s), .lo = 0.1, .hi = 3600 },
	{ .name = "dead-after", .arg = "SEC", .def = "15", .help = "re-handshake after SEC seconds without a packet", .set = np_opt_num, .off = F(dead_after_s), .lo = 0.5, .hi = 86400 },
	{ .name = "no-offload", .help = "do not use tun/UDP segmentation offloads", .set = set_no_offload },
	{ .name = "allowed-ips", .arg = "LIST", .help = "inner source addresses the peer may send from, CIDR[,CIDR...]\n(default REMOTE_IP/32 or /128); others are dropped and counted", .set = set_allowed },
	{ .name = "rekey-after", .arg = "SEC", .help = "rekey interval (default 120; for tests)", .set = np_opt_num, .off = F(rekey_after_s), .lo = 1, .hi = 120 },
	HEADING("hooks:"),
	{ .name = "hook", .arg = "FILE", .flags = NP_OPT_REPEAT | NP_OPT_RELOAD, .help = "Lua hook file, repeatable, run in order", .set = set_hook },
	{ .name = "hook-dir", .arg = "DIR", .flags = NP_OPT_RELOAD, .help = "run DIR/*.lua in lexical order after --hook files", .set = np_opt_str, .off = F(hook_dir) },
	{ .name = "hook-timeout", .arg = "SEC", .flags = NP_OPT_RELOAD, .def = "30", .help = "abandon a hook after SEC seconds", .set = np_opt_num, .off = F(hook_timeout_s), .lo = 0.1, .hi = 3600 },
	{ .name = "check-hooks", .flags = NP_OPT_CLI, .help = "load the hook files, report, and exit", .set = np_opt_flag, .off = F(check_hooks) },
	{ .name = "hook-lua-path", .arg = "DIRS", .flags = NP_OPT_RELOAD, .help = "';'-separated dirs searched first by require in hooks", .set = set_name, .off = F(hook_lua_path), .hi = 1024 },
	HEADING("privileges:"),
	{ .name = "user", .arg = "USER", .help = "after setup, run as USER; hooks keep root in a separate\nhelper process", .set = set_name, .off = F(user), .hi = 64 },
	{ .name = "group", .arg = "GROUP", .help = "with --user: this group instead of USER's primary group", .set = set_name, .off = F(group), .hi = 64 },
	HEADING("status and logging:"),
	{ .name = "control", .arg = "PATH|none", .help = "control socket for natpunch status (default /run/natpunch/TUN.sock)", .set = set_control },
	{ .name = "log-level", .arg = "LEVEL", .flags = NP_OPT_RELOAD, .help = "error, warning, info (default) or debug", .set = np_opt_loglevel, .off = F(log_level) },
	{ .name = "syslog", .help = "log to syslog (daemon facility) instead of stderr", .set = np_opt_flag, .off = F(syslog) },
	{ .name = "verbose", .short_name = 'v', .flags = NP_OPT_RELOAD, .help = "debug logging (log-level = debug)", .set = np_opt_verbose, .off = F(log_level) },
	{ .name = "quiet", .short_name = 'q', .flags = NP_OPT_RELOAD, .help = "errors only (log-level = error)", .set = np_opt_verbose, .off = F(log_level) },
	{ .name = "help", .short_name = 'h', .flags = NP_OPT_CLI, .action = NP_OPT_HELP, .help = "this text" },
	{ .name = "version", .short_name = 'V', .flags = NP_OPT_CLI, .action = NP_OPT_VERSION, .help = "print the version" },
};

void np_config_usage(FILE *f)
{
	fputs("usage: natpunch [options] SERVER PORT TUN LOCAL_IP REMOTE_IP MTU\n"
	      "       natpunch --config FILE [options]\n"
	      "       natpunch --check-config FILE\n"
	      "       natpunch genkey | pubkey | genpsk\n"
	      "       natpunch probe SERVER PORT [--json] [--server-token FILE]\n"
	      "       natpunch probe --turn URI... --turn-user NAME --turn-password-file FILE [--turn-ca FILE] [--json]\n"
	      "       natpunch status [TUN] [--json]\n"
	      "       natpunch check-strategy NAME|PATH [DIR]\n"
	      "       natpunch --check-hooks --hook FILE... [--hook-dir DIR]\n"
	      "\n"
	      "Registers with the rendezvous SERVER on PORT, punches through both NATs to the\n"
	      "peer registered on the server's other port, and carries IP packets between the\n"
	      "tun device TUN (LOCAL_IP <-> REMOTE_IP, MTU) and the peer over UDP.\n"
	      "\n",
	      f);
	np_opts_usage(options, sizeof(options) / sizeof(options[0]), f);
}

const char *np_config_where(const struct np_config *cfg, const char *name, char *buf, size_t len)
{
	char w[300];

	buf[0] = '\0';
	if (np_opts_given(&cfg->opts, name) && strcmp(np_opts_where(&cfg->opts, name, w, sizeof(w)), "the command line"))
		snprintf(buf, len, "%s: ", w);
	return buf;
}

/* Checks across options, after every source was applied. */
static int finish(struct np_config *cfg, char *err, size_t errlen)
{
	static const char *pos[] = { "server", "server-port", "tun", "local-ip", "remote-ip", "mtu" };
	char at[320];
	int missing = 0;

	if (cfg->group && !cfg->user) {
		snprintf(err, errlen, "--group needs --user");
		return -EINVAL;
	}
	if (cfg->check_hooks) {
		if (np_opts_given(&cfg->opts, "server")) {
			snprintf(err, errlen, "--check-hooks takes no positional arguments");
			return -EINVAL;
		}
		if (!cfg->nhooks && !cfg->hook_dir) {
			snprintf(err, errlen, "--check-hooks needs --hook FILE or --hook-dir DIR");
			return -EINVAL;
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++)
		missing += !np_opts_given(&cfg->opts, pos[i]);
	if (missing) {
		if (!cfg->opts.file) {
			snprintf(err, errlen,
				 "expected 6 arguments SERVER PORT TUN LOCAL_IP REMOTE_IP MTU, got 0 (or use --config FILE)");
			return -EINVAL;
		}
		for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++)
			if (!np_opts_given(&cfg->opts, pos[i])) {
				snprintf(err, errlen, "%s: missing '%s = ...' (and no positional arguments)", cfg->opts.file,
					 pos[i]);
				return -EINVAL;
			}
	}
	np_config_where(cfg, "remote-ip", at, sizeof(at));
	if (cfg->local_ip.family != cfg->remote_ip.family) {
		snprintf(err, errlen, "%sLOCAL_IP and REMOTE_IP must both be IPv4 or both IPv6", at);
		return -EINVAL;
	}
	if (memcmp(cfg->local_ip.ip, cfg->remote_ip.ip, 16) == 0) {
		snprintf(err, errlen, "%sLOCAL_IP and REMOTE_IP must differ", at);
		return -EINVAL;
	}
	if (!cfg->allowed_set) {
		memset(&cfg->allowed, 0, sizeof(cfg->allowed));
		np_allowedips_add_host(&cfg->allowed, &cfg->remote_ip);
	}
	if (cfg->local_ip.family == 6 && cfg->mtu < 1280) {
		snprintf(err, errlen, "%sinvalid MTU %d (IPv6 needs an integer 1280..65000)",
			 np_config_where(cfg, "mtu", at, sizeof(at)), cfg->mtu);
		return -EINVAL;
	}
	if (cfg->dead_after_s <= cfg->keepalive_s) {
		/* Name the file line of whichever of the two the file set. */
		if (!*np_config_where(cfg, "dead-after", at, sizeof(at)))
			np_config_where(cfg, "keepalive", at, sizeof(at));
		snprintf(err, errlen, "%s--dead-after (%g) must be longer than --keepalive (%g)", at, cfg->dead_after_s,
			 cfg->keepalive_s);
		return -EINVAL;
	}
	if (cfg->insecure && (cfg->key_file || cfg->peer_key_b64 || cfg->psk_file || cfg->cipher >= 0)) {
		snprintf(err, errlen, "%s--insecure cannot be combined with --key, --peer-key, --psk or --cipher",
			 np_config_where(cfg, "insecure", at, sizeof(at)));
		return -EINVAL;
	}
	if (cfg->nturn && (!cfg->turn_user || !cfg->turn_password_file)) {
		snprintf(err, errlen, "%s--turn needs --turn-user NAME and --turn-password-file FILE",
			 np_config_where(cfg, "turn", at, sizeof(at)));
		return -EINVAL;
	}
	/* --turn-ca alone is for the turns: relays the server offers. */
	if (!cfg->nturn && (cfg->turn_user || cfg->turn_password_file)) {
		snprintf(err, errlen, "--turn-user and --turn-password-file need --turn URI");
		return -EINVAL;
	}
	if (cfg->relay_mode == NP_RELAY_ALWAYS && !cfg->nturn) {
		snprintf(err, errlen, "%s--relay always needs a relay: give --turn URI",
			 np_config_where(cfg, "relay", at, sizeof(at)));
		return -EINVAL;
	}
	if (cfg->nturn && cfg->insecure) {
		snprintf(err, errlen, "--turn cannot be combined with --insecure (relayed traffic must be authenticated)");
		return -EINVAL;
	}
	if (!cfg->insecure && (!cfg->key_file || !cfg->peer_key_b64)) {
		snprintf(err, errlen,
			 "no keys: give --key FILE and --peer-key BASE64 (make them with 'natpunch genkey > key', "
			 "'natpunch pubkey < key', and optionally 'natpunch genpsk > psk'), or --insecure");
		return -EINVAL;
	}
	return 0;
}

static int init(struct np_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nat_depth = -1;
	cfg->offload = 1;
	cfg->log_level = NP_LOG_INFO;
	return np_opts_init(&cfg->opts, "natpunch", options, sizeof(options) / sizeof(options[0]), cfg, err, errlen);
}

int np_config_parse_buffer(const char *name, const char *text, size_t len, struct np_config *cfg, char *err,
			   size_t errlen)
{
	int rc = init(cfg, err, errlen);

	if (rc == 0)
		rc = np_opts_load_buffer(&cfg->opts, name, text, len, err, errlen);
	if (rc == 0)
		rc = finish(cfg, err, errlen);
	return rc;
}

int np_config_parse(int argc, char **argv, struct np_config *cfg, char *err, size_t errlen)
{
	int rc;

	rc = init(cfg, err, errlen);
	if (rc == 0)
		rc = np_opts_parse(&cfg->opts, argc, argv, err, errlen);
	if (rc == 0)
		rc = finish(cfg, err, errlen);
	return rc;
}

void np_config_free(struct np_config *cfg)
{
	np_opts_free(&cfg->opts);
}
