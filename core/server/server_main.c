/* natpunch-server: options and main loop of the rendezvous server.
 * Everything it does lives in np_server.c; this file holds the option table
 * (command line and --config file, see np_opts.h), installs signal watchers,
 * tells systemd when it is ready, and runs the libev loop until SIGINT or
 * SIGTERM. SIGHUP re-reads the configuration file. */
#include "np_auth.h"
#define NP_LOG_COMPONENT "server"
#include "np_log.h"
#include "np_notify.h"
#include "np_opts.h"
#include "np_parse.h"
#include "np_server.h"
#include "np_turn_cred.h"
#include "np_turn_uri.h"
#include "np_udp.h"
#include "np_wire.h"

#include <errno.h>
#include <ev.h>
#include <stddef.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Everything the command line and the configuration file can say. */
struct srv_opts {
	struct np_server_config sc;
	const char *token;
	const char *turn_secret;
	double turn_ttl;
	double expire_s, max_sessions, tcp_max_conns;
	int log_level, syslog;
	struct np_opts opts;
};

static int set_addr(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	if (np_addr_parse(val, (np_addr_t *)((char *)c + o->off)) < 0) {
		snprintf(err, errlen, "invalid %s address '%.64s'", key, val);
		return -EINVAL;
	}
	return 0;
}

static int set_turn(void *c, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	struct srv_opts *so = c;
	struct np_turn_uri u;
	size_t have = strlen(so->sc.turn_uris);

	if (!val) {
		so->sc.turn_uris[0] = 0;
		return 0;
	}
	if (np_turn_uri_parse(val, &u, err, errlen) < 0)
		return -EINVAL;
	if (have + 1 + strlen(val) >= sizeof(so->sc.turn_uris)) {
		snprintf(err, errlen, "%s: the relays' URIs exceed %zu characters together", key,
			 sizeof(so->sc.turn_uris) - 1);
		return -EINVAL;
	}
	snprintf(so->sc.turn_uris + have, sizeof(so->sc.turn_uris) - have, "%s%s", have ? " " : "", val);
	return 0;
}

#define F(field) offsetof(struct srv_opts, field)
#define HEADING(text) { .name = "", .flags = NP_OPT_HEADING, .help = text }

/* The options of natpunch-server, in --help order, one line each. */
static const struct np_opt options[] = {
	HEADING("positional arguments (in a --config file: the keys in brackets):"),
	{ .name = "port1", .arg = "PORT1", .flags = NP_OPT_POS, .help = "UDP port of the first peer of each session", .set = np_opt_port, .off = F(sc.port[0]), .lo = 1 },
	{ .name = "port2", .arg = "PORT2", .flags = NP_OPT_POS, .help = "UDP port of the second peer", .set = np_opt_port, .off = F(sc.port[1]), .lo = 1 },
	HEADING("options:"),
	{ .name = "config", .arg = "FILE", .flags = NP_OPT_CLI, .action = NP_OPT_CONFIG, .help = "read options from FILE ('name = value' lines); the command line wins" },
	{ .name = "check-config", .arg = "FILE", .flags = NP_OPT_CLI, .action = NP_OPT_CHECK_CONFIG, .help = "validate FILE, print the effective configuration, and exit" },
	{ .name = "bind", .arg = "ADDR", .def = "0.0.0.0", .help = "listen on this address only (default: every IPv4 and IPv6 address; :: for IPv6 only)", .set = set_addr, .off = F(sc.bind) },
	{ .name = "alt-ip", .arg = "ADDR", .help = "a second address of this host, for NAT behaviour discovery", .set = set_addr, .off = F(sc.alt) },
	{ .name = "token-file", .arg = "FILE", .help = "only accept registrations authenticated with this token", .set = np_opt_str, .off = F(token) },
	{ .name = "turn", .arg = "URI", .flags = NP_OPT_REPEAT, .help = "a TURN relay to hand to each pair (RFC 7065 URI), repeatable", .set = set_turn },
	{ .name = "turn-secret", .arg = "FILE", .help = "the relay's static-auth-secret (coturn use-auth-secret): pairs get\nTURN REST credentials", .set = np_opt_str, .off = F(turn_secret) },
	{ .name = "turn-ttl", .arg = "SEC", .def = "86400", .help = "how long those credentials stay valid, at least", .set = np_opt_num, .off = F(turn_ttl), .lo = 600, .hi = 864000 },
	{ .name = "rate", .arg = "N", .def = "20", .help = "messages per second allowed per source address (0: off)", .set = np_opt_num, .off = F(sc.rate), .lo = 0, .hi = 1e6 },
	{ .name = "expire", .arg = "SEC", .def = "10", .help = "forget a registration after SEC seconds of silence", .set = np_opt_num, .off = F(expire_s), .lo = 1, .hi = 3600 },
	{ .name = "max-sessions", .arg = "N", .def = "1000000", .help = "most sessions held at once", .set = np_opt_num, .off = F(max_sessions), .lo = 1, .hi = 1e8 },
	{ .name = "tcp-max-conns", .arg = "N", .def = "1024", .help = "also listen on TCP on both ports (peers without UDP), with at most N\nconnections at once (0: no TCP)", .set = np_opt_num, .off = F(tcp_max_conns), .lo = 0, .hi = 65535 },
	{ .name = "log-level", .arg = "LEVEL", .flags = NP_OPT_RELOAD, .help = "error, warning, info (default) or debug", .set = np_opt_loglevel, .off = F(log_level) },
	{ .name = "syslog", .help = "log to syslog (daemon facility) instead of stderr", .set = np_opt_flag, .off = F(syslog) },
	{ .name = "verbose", .short_name = 'v', .flags = NP_OPT_RELOAD, .help = "debug logging (log-level = debug)", .set = np_opt_verbose, .off = F(log_level) },
	{ .name = "quiet", .short_name = 'q', .flags = NP_OPT_RELOAD, .help = "errors only (log-level = error)", .set = np_opt_verbose, .off = F(log_level) },
	{ .name = "help", .short_name = 'h', .flags = NP_OPT_CLI, .action = NP_OPT_HELP, .help = "this text" },
	{ .name = "version", .short_name = 'V', .flags = NP_OPT_CLI, .action = NP_OPT_VERSION, .help = "print the version" },
};

static void usage(FILE *f)
{
	fputs("usage: natpunch-server [options] PORT1 PORT2\n"
	      "       natpunch-server --config FILE [options]\n"
	      "\n"
	      "Pairs the peer that registers on PORT1 with the peer that registers on PORT2\n"
	      "(per --session name), tells each the other's public and LAN endpoint, and\n"
	      "answers NAT discovery probes. Runs until SIGINT or SIGTERM; SIGHUP re-reads\n"
	      "the --config file.\n"
	      "\n",
	      f);
	np_opts_usage(options, sizeof(options) / sizeof(options[0]), f);
}

/* Parses and checks everything but the token file. 0, 1 (help), 2 (version) or -EINVAL. */
static int parse(int argc, char **argv, struct srv_opts *so, char *err, size_t errlen)
{
	char at[200];
	int rc;

	memset(so, 0, sizeof(*so));
	so->log_level = NP_LOG_INFO;
	rc = np_opts_init(&so->opts, "natpunch-server", options, sizeof(options) / sizeof(options[0]), so, err,
			  errlen);
	if (rc == 0)
		rc = np_opts_parse(&so->opts, argc, argv, err, errlen);
	if (rc != 0)
		return rc;
	if (!np_opts_given(&so->opts, "port1")) {
		if (so->opts.file)
			snprintf(err, errlen, "%s: missing 'port1 = ...' and 'port2 = ...' (and no positional arguments)",
				 so->opts.file);
		else
			snprintf(err, errlen, "expected 2 arguments PORT1 PORT2, got 0 (or use --config FILE)");
		return -EINVAL;
	}
	if (!np_opts_given(&so->opts, "port2")) {
		snprintf(err, errlen, "%s: missing 'port2 = ...'", so->opts.file);
		return -EINVAL;
	}
	if (so->sc.port[0] == so->sc.port[1]) {
		np_opts_where(&so->opts, "port2", at, sizeof(at));
		snprintf(err, errlen, "PORT1 and PORT2 must differ (both are %u; set on %s)", so->sc.port[0], at);
		return -EINVAL;
	}
	if (so->sc.alt.family && so->sc.alt.family != so->sc.bind.family) {
		np_opts_where(&so->opts, "alt-ip", at, sizeof(at));
		snprintf(err, errlen, "--alt-ip is not of the --bind address family (set on %s)", at);
		return -EINVAL;
	}
	so->sc.expire_ms = (uint32_t)(so->expire_s * 1000);
	so->sc.max_sessions = (size_t)so->max_sessions;
	so->sc.tcp_max_conns = (size_t)so->tcp_max_conns;
	so->sc.burst = so->sc.rate * 2;
	return 0;
}

struct srv {
	struct srv_opts *so;
	int argc;
	char **argv;
};

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	np_info("%s received, shutting down", strsignal(w->signum));
	np_notify("STOPPING=1");
	ev_break(loop, EVBREAK_ALL);
}

static void note_restart(const struct np_opt *o, void *arg)
{
	if (!(o->flags & NP_OPT_RELOAD))
		np_warn("reload: '%s' changed; it takes effect at the next restart", o->name);
}

/* SIGHUP: re-read the file; the log level changes now, the rest is reported. */
static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct srv *s = w->data;
	struct srv_opts *nso;
	char err[512];

	if (!s->so->opts.file) {
		np_info("SIGHUP: no --config file, nothing to re-read");
		return;
	}
	nso = calloc(1, sizeof(*nso));
	if (!nso)
		return;
	if (parse(s->argc, s->argv, nso, err, sizeof(err)) != 0) {
		np_err("SIGHUP: %s; keeping the running configuration", err);
	} else {
		np_opts_diff(&s->so->opts, &nso->opts, note_restart, NULL);
		np_log_set_level(nso->log_level);
		np_info("reload: done from %s (log level %d)", nso->opts.file, nso->log_level);
	}
	np_opts_free(&nso->opts);
	free(nso);
}

int main(int argc, char **argv)
{
	struct srv_opts so;
	struct srv s = { &so, argc, argv };
	struct np_server *srv = NULL;
	struct np_server_stats st;
	struct ev_loop *loop;
	ev_signal sigint, sigterm, sighup;
	char err[512], at[200];
	int rc;

	np_log_set_ident("natpunch-server");
	rc = parse(argc, argv, &so, err, sizeof(err));
	if (rc == 1 || rc == 2) {
		if (rc == 1)
			usage(stdout);
		else
			printf("natpunch-server %s\n", NP_VERSION);
		np_opts_free(&so.opts);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "natpunch-server: %s (see natpunch-server --help)\n", err);
		np_opts_free(&so.opts);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "natpunch-server: libsodium failed to initialise\n");
		return 1;
	}
	if (so.token && np_auth_token_key_from_file(so.token, so.sc.token_key, err, sizeof(err)) < 0) {
		np_opts_where(&so.opts, "token-file", at, sizeof(at));
		fprintf(stderr, "natpunch-server: %s%s%s\n", strcmp(at, "the command line") ? at : "",
			strcmp(at, "the command line") ? ": " : "", err);
		np_opts_free(&so.opts);
		return 2;
	}
	so.sc.has_token = so.token != NULL;
	if (!so.sc.turn_uris[0] != !so.turn_secret) {
		fprintf(stderr, "natpunch-server: --turn and --turn-secret go together\n");
		np_opts_free(&so.opts);
		return 2;
	}
	if (so.turn_secret) {
		char sec[sizeof(so.sc.turn_secret) + 1];
		int n = np_turn_read_secret(so.turn_secret, sec, sizeof(sec), err, sizeof(err));

		if (n < 0) {
			fprintf(stderr, "natpunch-server: --turn-secret: %s\n", err);
			np_opts_free(&so.opts);
			return 2;
		}
		memcpy(so.sc.turn_secret, sec, (size_t)n);
		so.sc.turn_secret_len = (size_t)n;
		sodium_memzero(sec, sizeof(sec));
		so.sc.turn_ttl_s = (uint32_t)so.turn_ttl;
	}
	if (so.opts.check) {
		np_opts_dump(&so.opts, stdout);
		np_opts_free(&so.opts);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (so.syslog)
		np_log_set_syslog(1);
	np_log_set_level(so.log_level);
	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(EVFLAG_AUTO);
	if (np_server_new(loop, &so.sc, &srv, err, sizeof(err)) < 0) {
		fprintf(stderr, "natpunch-server: %s\n", err);
		np_opts_free(&so.opts);
		return 1;
	}
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	ev_signal_init(&sighup, on_hup, SIGHUP);
	sighup.data = &s;
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sighup);
	np_info("listening on ports %u and %u (UDP%s)%s%s", so.sc.port[0], so.sc.port[1], so.sc.tcp_max_conns ? " and TCP" : "",
		so.sc.alt.family ? " (with alternate address)" : "", so.sc.has_token ? ", token required" : "");
	np_notify("READY=1");
	np_notify_status("listening on ports %u and %u%s", so.sc.port[0], so.sc.port[1],
			 so.sc.has_token ? ", token required" : "");
	ev_run(loop, 0);
	np_server_get_stats(srv, &st);
	np_info("stats rx=%llu bad=%llu unauthenticated=%llu rate_limited=%llu registers=%llu pairs=%llu "
		"nat_probes=%llu cookies=%llu bad_cookies=%llu replays=%llu other_version=%llu tcp_accepted=%llu "
		"tcp_refused=%llu tcp_closed_idle=%llu tcp_bad_frames=%llu",
		(unsigned long long)st.rx, (unsigned long long)st.bad, (unsigned long long)st.unauth,
		(unsigned long long)st.limited, (unsigned long long)st.registers, (unsigned long long)st.pairs,
		(unsigned long long)st.nat_probes, (unsigned long long)st.cookies,
		(unsigned long long)st.bad_cookie, (unsigned long long)st.replays,
		(unsigned long long)st.other_version, (unsigned long long)st.tcp_accepted,
		(unsigned long long)st.tcp_refused, (unsigned long long)st.tcp_closed_idle,
		(unsigned long long)st.tcp_bad_frames);
	np_server_free(srv);
	ev_signal_stop(loop, &sigint);
	ev_signal_stop(loop, &sigterm);
	ev_signal_stop(loop, &sighup);
	ev_loop_destroy(loop);
	sodium_memzero(&so.sc.token_key, sizeof(so.sc.token_key));
	np_opts_free(&so.opts);
	return 0;
}
