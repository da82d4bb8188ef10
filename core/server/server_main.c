/* natpunch-server: command line and main loop of the rendezvous server.
 * Everything it does lives in np_server.c; this file parses arguments,
 * installs signal watchers and runs the libev loop until SIGINT/SIGTERM. */
#include "np_auth.h"
#define NP_LOG_COMPONENT "server"
#include "np_log.h"
#include "np_parse.h"
#include "np_server.h"
#include "np_udp.h"
#include "np_wire.h"

#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: natpunch-server [options] PORT1 PORT2\n"
	"\n"
	"Pairs the peer that registers on PORT1 with the peer that registers on PORT2\n"
	"(per --session name), tells each the other's public and LAN endpoint, and\n"
	"answers NAT discovery probes. Runs until SIGINT or SIGTERM.\n"
	"\n"
	"options:\n"
	"  --bind ADDR         listen on this address only (default: all IPv4; use :: for IPv6)\n"
	"  --alt-ip ADDR       a second address of this host, for NAT behaviour discovery\n"
	"  --token-file FILE   only accept registrations authenticated with this token\n"
	"  --rate N            messages per second allowed per source address (default 20, 0: off)\n"
	"  --expire SEC        forget a registration after SEC seconds of silence (default 10)\n"
	"  --max-sessions N    most sessions held at once (default 1000000)\n"
	"  -v, --verbose       debug logging\n"
	"  -q, --quiet         errors only\n"
	"  -h, --help          this text\n"
	"  -V, --version       print the version\n";

static void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "natpunch-server: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see natpunch-server --help)\n");
	exit(2);
}

static double parse_num(const char *s, const char *opt, double lo, double hi)
{
	double v;

	if (np_parse_num(s, lo, hi, &v) < 0) {
		fprintf(stderr, "natpunch-server: invalid value '%s' for %s (expected %g..%g) (see natpunch-server --help)\n",
			s, opt, lo, hi);
		exit(2);
	}
	return v;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	np_info("%s received, shutting down", strsignal(w->signum));
	ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	enum { OPT_BIND = 256, OPT_ALT, OPT_TOKEN, OPT_RATE, OPT_EXPIRE, OPT_MAX };
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "alt-ip", required_argument, NULL, OPT_ALT },
		{ "token-file", required_argument, NULL, OPT_TOKEN },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "expire", required_argument, NULL, OPT_EXPIRE },
		{ "max-sessions", required_argument, NULL, OPT_MAX },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct np_server_config cfg = { 0 };
	struct np_server *srv = NULL;
	struct np_server_stats st;
	struct ev_loop *loop;
	ev_signal sigint, sigterm;
	const char *token = NULL;
	char err[256];
	int c;

	np_log_set_ident("natpunch-server");
	cfg.bind.family = 4;
	cfg.rate = 20;
	cfg.expire_ms = 10000;
	cfg.max_sessions = 1000000;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vqhV", opts, NULL)) != -1) {
		switch (c) {
		case OPT_BIND:
			if (np_addr_parse(optarg, &cfg.bind) < 0)
				die_usage("invalid --bind address '%s'", optarg);
			break;
		case OPT_ALT:
			if (np_addr_parse(optarg, &cfg.alt) < 0)
				die_usage("invalid --alt-ip address '%s'", optarg);
			break;
		case OPT_TOKEN:
			token = optarg;
			break;
		case OPT_RATE:
			cfg.rate = parse_num(optarg, "--rate", 0, 1e6);
			break;
		case OPT_EXPIRE:
			cfg.expire_ms = (uint32_t)(parse_num(optarg, "--expire", 1, 3600) * 1000);
			break;
		case OPT_MAX:
			cfg.max_sessions = (size_t)parse_num(optarg, "--max-sessions", 1, 1e8);
			break;
		case 'v':
			np_log_set_level(NP_LOG_DEBUG);
			break;
		case 'q':
			np_log_set_level(NP_LOG_ERR);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("natpunch-server %s\n", NP_VERSION);
			return 0;
		case ':':
			die_usage("option %s needs a value", argv[optind - 1]);
			break;
		default:
			die_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		die_usage("expected PORT1 PORT2, got %s", argc - optind < 2 ? "too few arguments" : "too many arguments");
	if (np_parse_port(argv[optind], 0, &cfg.port[0]) < 0)
		die_usage("invalid PORT1 '%s' (expected 1..65535)", argv[optind]);
	if (np_parse_port(argv[optind + 1], 0, &cfg.port[1]) < 0)
		die_usage("invalid PORT2 '%s' (expected 1..65535)", argv[optind + 1]);
	if (cfg.port[0] == cfg.port[1])
		die_usage("PORT1 and PORT2 must differ (both are %s)", argv[optind]);
	if (cfg.alt.family && cfg.alt.family != cfg.bind.family)
		die_usage("--alt-ip %s is not of the --bind address family", "");
	cfg.burst = cfg.rate * 2;
	if (sodium_init() < 0) {
		fprintf(stderr, "natpunch-server: libsodium failed to initialise\n");
		return 1;
	}
	if (token && np_auth_token_key_from_file(token, cfg.token_key, err, sizeof(err)) < 0) {
		fprintf(stderr, "natpunch-server: %s\n", err);
		return 2;
	}
	cfg.has_token = token != NULL;
	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(EVFLAG_AUTO);
	if (np_server_new(loop, &cfg, &srv, err, sizeof(err)) < 0) {
		fprintf(stderr, "natpunch-server: %s\n", err);
		return 1;
	}
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sigterm);
	np_info("listening on ports %u and %u%s%s", cfg.port[0], cfg.port[1],
		cfg.alt.family ? " (with alternate address)" : "", cfg.has_token ? ", token required" : "");
	ev_run(loop, 0);
	np_server_get_stats(srv, &st);
	np_info("stats rx=%llu bad=%llu unauthenticated=%llu rate_limited=%llu registers=%llu pairs=%llu nat_probes=%llu",
		(unsigned long long)st.rx, (unsigned long long)st.bad, (unsigned long long)st.unauth,
		(unsigned long long)st.limited, (unsigned long long)st.registers, (unsigned long long)st.pairs,
		(unsigned long long)st.nat_probes);
	np_server_free(srv);
	ev_signal_stop(loop, &sigint);
	ev_signal_stop(loop, &sigterm);
	ev_loop_destroy(loop);
	return 0;
}
