/* np_config: the peer daemon's command line, parsed into struct np_config.
 *
 * Parsing is pure (no files are opened, no sockets): it validates every
 * argument and reports the first problem as one line in err. Key files,
 * tokens and hook files are read later by the daemon. */
#ifndef NP_CONFIG_H
#define NP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <natpunch/strategy.h>

#define NP_MAX_HOOKS 32

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
	int log_level;
};

/* Returns 0, or -EINVAL with a one-line reason in err. "--help"/"--version"
 * return 1 and 2 after setting nothing else. */
int np_config_parse(int argc, char **argv, struct np_config *cfg, char *err, size_t errlen);
extern const char np_config_usage[];

#endif
