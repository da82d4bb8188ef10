/* np_config: getopt_long over the peer's options, with range checks. */
#include "np_config.h"
#include "np_log.h"
#include "np_parse.h"
#include "np_strategy_loader.h"
#include "np_tun.h"
#include "np_udp.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char np_config_usage[] =
	"usage: natpunch [options] SERVER PORT TUN LOCAL_IP REMOTE_IP MTU\n"
	"       natpunch genkey | pubkey | genpsk\n"
	"       natpunch probe SERVER PORT [--json]\n"
	"       natpunch status [TUN] [--json]\n"
	"       natpunch check-strategy NAME|PATH [DIR]\n"
	"       natpunch --check-hooks --hook FILE... [--hook-dir DIR]\n"
	"\n"
	"Registers with the rendezvous SERVER on PORT, punches through both NATs to the\n"
	"peer registered on the server's other port, and carries IP packets between the\n"
	"tun device TUN (LOCAL_IP <-> REMOTE_IP, MTU) and the peer over UDP.\n"
	"\n"
	"keys (required unless --insecure):\n"
	"  --key FILE            our private key (natpunch genkey > FILE; mode 0600)\n"
	"  --peer-key BASE64     the peer's public key (natpunch pubkey < its key)\n"
	"  --psk FILE            optional pre-shared key (natpunch genpsk > FILE)\n"
	"  --cipher NAME         auto (default: AES-256-GCM when both peers have hardware AES,\n"
	"                        else ChaCha20-Poly1305), chacha20-poly1305 or aes-256-gcm\n"
	"  --insecure            no authentication, no encryption (the original protocol)\n"
	"rendezvous and traversal:\n"
	"  --session NAME        pair with the peer of the same session name (default \"default\")\n"
	"  --server-token FILE   authenticate registrations to a server run with --token-file\n"
	"  --port N              local UDP port (default: any)\n"
	"  --strategy NAME|PATH  traversal strategy: auto (default), simple, predict, spray, or a .so\n"
	"  --strategy-path DIR   look for strategy NAME.so here first\n"
	"  --nat-depth N         NATs between this host and the internet (default: learned)\n"
	"tunnel:\n"
	"  --keepalive SEC       send a keepalive after SEC idle seconds (default 5)\n"
	"  --dead-after SEC      re-handshake after SEC seconds without a packet (default 15)\n"
	"  --no-offload          do not use tun/UDP segmentation offloads\n"
	"  --rekey-after SEC     rekey interval (default 120; for tests)\n"
	"hooks:\n"
	"  --hook FILE           Lua hook file, repeatable, run in order\n"
	"  --hook-dir DIR        run DIR/*.lua in lexical order after --hook files\n"
	"  --hook-timeout SEC    abandon a hook after SEC seconds (default 30)\n"
	"  --check-hooks         load the hook files, report, and exit\n"
	"  --hook-lua-path DIRS  ';'-separated dirs searched first by require in hooks\n"
	"privileges:\n"
	"  --user USER           after setup, run as USER (hooks keep running as root\n"
	"                        in a separate helper process)\n"
	"  --group GROUP         with --user: this group instead of USER's primary group\n"
	"status:\n"
	"  --control PATH|none   control socket for natpunch status (default /run/natpunch/TUN.sock)\n"
	"other:\n"
	"  -v, --verbose         debug logging\n"
	"  -q, --quiet           errors only\n"
	"  -h, --help            this text\n"
	"  -V, --version         print the version\n";

static int num(const char *s, const char *opt, double lo, double hi, double *out, char *err, size_t errlen)
{
	if (np_parse_num(s, lo, hi, out) < 0) {
		snprintf(err, errlen, "invalid value '%.64s' for %s (expected %g..%g)", s, opt, lo, hi);
		return -EINVAL;
	}
	return 0;
}

int np_config_parse(int argc, char **argv, struct np_config *cfg, char *err, size_t errlen)
{
	enum {
		O_KEY = 256, O_PEERKEY, O_PSK, O_INSECURE, O_SESSION, O_TOKEN, O_PORT, O_STRATEGY, O_SPATH,
		O_DEPTH, O_KEEPALIVE, O_DEAD, O_NOOFF, O_REKEY, O_HOOK, O_HOOKDIR, O_HOOKTO, O_CHECK, O_CONTROL, O_CIPHER,
		O_HOOKPATH, O_USER, O_GROUP,
	};
	static const struct option opts[] = {
		{ "key", required_argument, NULL, O_KEY },
		{ "peer-key", required_argument, NULL, O_PEERKEY },
		{ "psk", required_argument, NULL, O_PSK },
		{ "insecure", no_argument, NULL, O_INSECURE },
		{ "session", required_argument, NULL, O_SESSION },
		{ "server-token", required_argument, NULL, O_TOKEN },
		{ "port", required_argument, NULL, O_PORT },
		{ "strategy", required_argument, NULL, O_STRATEGY },
		{ "strategy-path", required_argument, NULL, O_SPATH },
		{ "nat-depth", required_argument, NULL, O_DEPTH },
		{ "keepalive", required_argument, NULL, O_KEEPALIVE },
		{ "dead-after", required_argument, NULL, O_DEAD },
		{ "no-offload", no_argument, NULL, O_NOOFF },
		{ "rekey-after", required_argument, NULL, O_REKEY },
		{ "hook", required_argument, NULL, O_HOOK },
		{ "hook-dir", required_argument, NULL, O_HOOKDIR },
		{ "hook-timeout", required_argument, NULL, O_HOOKTO },
		{ "check-hooks", no_argument, NULL, O_CHECK },
		{ "hook-lua-path", required_argument, NULL, O_HOOKPATH },
		{ "user", required_argument, NULL, O_USER },
		{ "group", required_argument, NULL, O_GROUP },
		{ "control", required_argument, NULL, O_CONTROL },
		{ "cipher", required_argument, NULL, O_CIPHER },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	double v;
	int c, npos;

	memset(cfg, 0, sizeof(*cfg));
	cfg->strategy = "auto";
	snprintf(cfg->session, sizeof(cfg->session), "default");
	cfg->keepalive_s = 5;
	cfg->dead_after_s = 15;
	cfg->hook_timeout_s = 30;
	cfg->nat_depth = -1;
	cfg->cipher = -1;
	cfg->offload = 1;
	cfg->log_level = NP_LOG_INFO;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vqhV", opts, NULL)) != -1) {
		switch (c) {
		case O_KEY:
			cfg->key_file = optarg;
			break;
		case O_PEERKEY:
			cfg->peer_key_b64 = optarg;
			break;
		case O_PSK:
			cfg->psk_file = optarg;
			break;
		case O_INSECURE:
			cfg->insecure = 1;
			break;
		case O_SESSION: {
			size_t n = strlen(optarg);
			int ok = n > 0 && n <= 64;
			for (size_t i = 0; ok && i < n; i++)
				ok = optarg[i] > ' ' && optarg[i] <= '~';
			if (!ok) {
				snprintf(err, errlen, "invalid --session '%.64s' (1..64 printable characters, no spaces)",
					 optarg);
				return -EINVAL;
			}
			snprintf(cfg->session, sizeof(cfg->session), "%s", optarg);
			break;
		}
		case O_TOKEN:
			cfg->server_token_file = optarg;
			break;
		case O_PORT:
			if (np_parse_port(optarg, 1, &cfg->port) < 0) {
				snprintf(err, errlen, "invalid --port '%.32s' (expected 0..65535)", optarg);
				return -EINVAL;
			}
			break;
		case O_STRATEGY:
			if (!strchr(optarg, '/') && !np_strategy_name_ok(optarg)) {
				snprintf(err, errlen, "invalid --strategy '%.64s' (a name like 'simple' or a path to a .so)",
					 optarg);
				return -EINVAL;
			}
			cfg->strategy = optarg;
			break;
		case O_SPATH:
			cfg->strategy_path = optarg;
			break;
		case O_DEPTH:
			if (num(optarg, "--nat-depth", 0, 8, &v, err, errlen) < 0 || v != (int)v) {
				snprintf(err, errlen, "invalid value '%.32s' for --nat-depth (expected 0..8)", optarg);
				return -EINVAL;
			}
			cfg->nat_depth = (int)v;
			break;
		case O_KEEPALIVE:
			if (num(optarg, "--keepalive", 0.1, 3600, &cfg->keepalive_s, err, errlen) < 0)
				return -EINVAL;
			break;
		case O_DEAD:
			if (num(optarg, "--dead-after", 0.5, 86400, &cfg->dead_after_s, err, errlen) < 0)
				return -EINVAL;
			break;
		case O_NOOFF:
			cfg->offload = 0;
			break;
		case O_REKEY:
			if (num(optarg, "--rekey-after", 1, 120, &cfg->rekey_after_s, err, errlen) < 0)
				return -EINVAL;
			break;
		case O_HOOK:
			if (cfg->nhooks >= NP_MAX_HOOKS) {
				snprintf(err, errlen, "too many --hook files (at most %d)", NP_MAX_HOOKS);
				return -EINVAL;
			}
			cfg->hooks[cfg->nhooks++] = optarg;
			break;
		case O_HOOKDIR:
			cfg->hook_dir = optarg;
			break;
		case O_HOOKTO:
			if (num(optarg, "--hook-timeout", 0.1, 3600, &cfg->hook_timeout_s, err, errlen) < 0)
				return -EINVAL;
			break;
		case O_CHECK:
			cfg->check_hooks = 1;
			break;
		case O_HOOKPATH:
			if (!*optarg || strlen(optarg) > 1024) {
				snprintf(err, errlen, "invalid --hook-lua-path (1..1024 characters)");
				return -EINVAL;
			}
			cfg->hook_lua_path = optarg;
			break;
		case O_USER:
		case O_GROUP:
			if (!*optarg || strlen(optarg) > 64 || strpbrk(optarg, " \t\n:/")) {
				snprintf(err, errlen, "invalid --%s '%.64s' (a name or a number)",
					 c == O_USER ? "user" : "group", optarg);
				return -EINVAL;
			}
			*(c == O_USER ? &cfg->user : &cfg->group) = optarg;
			break;
		case O_CIPHER:
			if (strcmp(optarg, "auto") == 0)
				cfg->cipher = -1;
			else if (strcmp(optarg, "chacha20-poly1305") == 0)
				cfg->cipher = 0;
			else if (strcmp(optarg, "aes-256-gcm") == 0)
				cfg->cipher = 1;
			else {
				snprintf(err, errlen, "invalid --cipher '%.32s' (auto, chacha20-poly1305 or aes-256-gcm)",
					 optarg);
				return -EINVAL;
			}
			break;
		case O_CONTROL:
			if (!*optarg || strlen(optarg) > 100) {
				snprintf(err, errlen, "invalid --control path (1..100 characters, or 'none')");
				return -EINVAL;
			}
			cfg->control_path = optarg;
			break;
		case 'v':
			cfg->log_level = NP_LOG_DEBUG;
			break;
		case 'q':
			cfg->log_level = NP_LOG_ERR;
			break;
		case 'h':
			return 1;
		case 'V':
			return 2;
		case ':':
			snprintf(err, errlen, "option %.64s needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			snprintf(err, errlen, "unknown option '%.64s'", argv[optind - 1]);
			return -EINVAL;
		}
	}
	npos = argc - optind;
	if (cfg->group && !cfg->user) {
		snprintf(err, errlen, "--group needs --user");
		return -EINVAL;
	}
	if (cfg->check_hooks) {
		if (npos) {
			snprintf(err, errlen, "--check-hooks takes no positional arguments");
			return -EINVAL;
		}
		if (!cfg->nhooks && !cfg->hook_dir) {
			snprintf(err, errlen, "--check-hooks needs --hook FILE or --hook-dir DIR");
			return -EINVAL;
		}
		return 0;
	}
	if (npos != 6) {
		snprintf(err, errlen, "expected 6 arguments SERVER PORT TUN LOCAL_IP REMOTE_IP MTU, got %d", npos);
		return -EINVAL;
	}
	argv += optind;
	cfg->server_host = argv[0];
	if (!*argv[0] || strlen(argv[0]) > 253) {
		snprintf(err, errlen, "invalid SERVER '%.64s'", argv[0]);
		return -EINVAL;
	}
	if (np_parse_port(argv[1], 0, &cfg->server_port) < 0) {
		snprintf(err, errlen, "invalid PORT '%.32s' (expected 1..65535)", argv[1]);
		return -EINVAL;
	}
	if (!np_tun_name_ok(argv[2])) {
		snprintf(err, errlen, "invalid TUN name '%.32s' (1..15 characters, no '/', ':' or spaces)", argv[2]);
		return -EINVAL;
	}
	snprintf(cfg->tun_name, sizeof(cfg->tun_name), "%s", argv[2]);
	if (np_addr_parse(argv[3], &cfg->local_ip) < 0) {
		snprintf(err, errlen, "invalid LOCAL_IP '%.64s' (expected an IPv4 or IPv6 address)", argv[3]);
		return -EINVAL;
	}
	if (np_addr_parse(argv[4], &cfg->remote_ip) < 0) {
		snprintf(err, errlen, "invalid REMOTE_IP '%.64s' (expected an IPv4 or IPv6 address)", argv[4]);
		return -EINVAL;
	}
	if (cfg->local_ip.family != cfg->remote_ip.family) {
		snprintf(err, errlen, "LOCAL_IP and REMOTE_IP must both be IPv4 or both IPv6");
		return -EINVAL;
	}
	if (memcmp(cfg->local_ip.ip, cfg->remote_ip.ip, 16) == 0) {
		snprintf(err, errlen, "LOCAL_IP and REMOTE_IP must differ");
		return -EINVAL;
	}
	if (num(argv[5], "MTU", cfg->local_ip.family == 6 ? 1280 : 576, 65000, &v, err, errlen) < 0 ||
	    v != (int)v) {
		snprintf(err, errlen, "invalid MTU '%.32s' (expected an integer %d..65000)", argv[5],
			 cfg->local_ip.family == 6 ? 1280 : 576);
		return -EINVAL;
	}
	cfg->mtu = (int)v;
	if (cfg->dead_after_s <= cfg->keepalive_s) {
		snprintf(err, errlen, "--dead-after (%g) must be longer than --keepalive (%g)", cfg->dead_after_s,
			 cfg->keepalive_s);
		return -EINVAL;
	}
	if (cfg->insecure && (cfg->key_file || cfg->peer_key_b64 || cfg->psk_file || cfg->cipher >= 0)) {
		snprintf(err, errlen, "--insecure cannot be combined with --key, --peer-key, --psk or --cipher");
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
