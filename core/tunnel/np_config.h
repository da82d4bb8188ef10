/* np_config: the peer daemon's options, parsed into struct np_config.
 *
 * The option table in np_config.c is the one list of natpunch's options: it
 * drives the command line, the configuration file (--config FILE), --help and
 * --check-config (see np_opts.h). Adding an option is one table line plus its
 * field here. Parsing validates every value and reports the first problem as
 * one line in err ("FILE:LINE: ..." for the file). Key files, tokens and hook
 * files are read later by the daemon. */
#ifndef NP_CONFIG_H
#define NP_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <natpunch/strategy.h>

#include "np_allowedips.h"
#include "np_opts.h"

#define NP_MAX_HOOKS 32
#define NP_MAX_TURN 4

enum np_relay_mode {
	NP_RELAY_FALLBACK = 0,      /* relay when no direct path (the default) */
	NP_RELAY_NEVER,
	NP_RELAY_ALWAYS,
};

struct np_config {
	const char *server_host;
	uint16_t server_port;
	char tun_name[16];
	np_addr_t local_ip, remote_ip;
	int mtu;
	const char *strategy;       /* name or path; default "simple" */
	const char *strategy_path;
	char session[65];
	uint16_t port;              /* local UDP port, 0: any */
	double keepalive_s, dead_after_s;
	const char *key_file, *peer_key_b64, *psk_file, *server_token_file;
	int insecure;
	const char *hooks[NP_MAX_HOOKS];
	size_t nhooks;
	const char *hook_dir;
	double hook_timeout_s;
	int check_hooks;
	const char *hook_lua_path;  /* --hook-lua-path: dirs searched first by require */
	const char *user, *group;   /* --user/--group: drop to these after setup */
	int nat_depth;              /* -1: learn it */
	int offload;                /* 1: use tun/UDP offloads when the kernel allows, 0: never */
	double rekey_after_s;       /* 0: the default (120 s); tests shorten it */
	int cipher;                 /* -1: the best both peers have; else enum np_noise_cipher */
	const char *control_path;   /* NULL: /run/natpunch/IFNAME.sock; "none": no control socket */
	struct np_allowedips allowed; /* inner source addresses the peer may use (default REMOTE_IP) */
	int allowed_set;            /* --allowed-ips given */
	int log_level;
	/* TURN relay (np_relay_path.c) */
	const char *turn_uris[NP_MAX_TURN]; /* RFC 7065 URIs, checked */
	size_t nturn;
	const char *turn_user, *turn_password_file, *turn_ca;
	int relay_mode;             /* enum np_relay_mode */
	int syslog;                 /* --syslog: log to syslog instead of stderr */
	struct np_opts opts;        /* owns the strings above; where each came from */
};

/* Returns 0, or -EINVAL with a one-line reason in err. "--help"/"--version"
 * return 1 and 2. cfg->opts.check is set for --check-config. Call
 * np_config_free afterwards whatever the result. */
int np_config_parse(int argc, char **argv, struct np_config *cfg, char *err, size_t errlen);
void np_config_free(struct np_config *cfg);
/* Configuration text alone, as if read from the file `name` (no command
 * line): for tests and the fuzz target. Same results as np_config_parse. */
int np_config_parse_buffer(const char *name, const char *text, size_t len, struct np_config *cfg, char *err,
			   size_t errlen);
/* The full --help text. */
void np_config_usage(FILE *f);
/* "FILE:LINE: " when option `name` came from the configuration file, else "". */
const char *np_config_where(const struct np_config *cfg, const char *name, char *buf, size_t len);

#endif
