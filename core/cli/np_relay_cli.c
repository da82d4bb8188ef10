/* np_relay_cli: `natpunch probe --turn URI [--turn URI...] --turn-user NAME
 * --turn-password-file FILE [--turn-ca FILE] [--echo IP:PORT] [--json]`.
 *
 * For each relay: allocate (answering 401/438), report the relayed address,
 * our address as the relay sees it and the request round trip, or the
 * reason it failed, in words. With --echo, also bind a channel to that peer,
 * send it a datagram through the relay and print what comes back. Exit 0
 * when every relay answered (and echoed), 1 otherwise, 2 for bad usage. */
#include "np_relay_cli.h"

#include "np_log.h"
#include "np_turn.h"
#include "np_turn_cred.h"
#include "np_udp.h"
#include "np_wire.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "usage: natpunch probe --turn URI [--turn URI ...] --turn-user NAME --turn-password-file FILE " \
	      "[--turn-ca FILE] [--echo IP:PORT] [--json]"
#define MAX_URIS 8
#define WAIT_S 12.0

struct relay_run {
	struct np_turn *t;
	int ready, down, echoed;
	char down_msg[256], echo[256];
	np_addr_t echo_peer;
};

static void on_ready(void *arg, const np_addr_t *relayed, const np_addr_t *mapped)
{
	((struct relay_run *)arg)->ready = 1;
}

static void on_data(void *arg, const np_addr_t *peer, uint8_t *buf, size_t len)
{
	struct relay_run *r = arg;
	size_t n = len < sizeof(r->echo) - 1 ? len : sizeof(r->echo) - 1;

	for (size_t i = 0; i < n; i++)
		r->echo[i] = (char)(buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?');
	r->echo[n] = 0;
	r->echoed = 1;
}

static void on_down(void *arg, const char *msg)
{
	struct relay_run *r = arg;

	snprintf(r->down_msg, sizeof(r->down_msg), "%s", msg);
	r->down = 1;
}

int np_relay_cli_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--turn") == 0)
			return 1;
	return 0;
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	*(int *)w->data = 1;
}

int np_relay_cli(int argc, char **argv)
{
	const char *uris[MAX_URIS], *user = NULL, *pwfile = NULL, *ca = NULL, *echo = NULL;
	int nuris = 0, json = 0, failures = 0;
	struct np_turn_config cfg = { 0 };
	np_addr_t echo_addr = { 0 };
	char err[256];
	struct ev_loop *loop;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		int has = i + 1 < argc;

		if (strcmp(o, "--json") == 0)
			json = 1;
		else if (strcmp(o, "-v") == 0)
			np_log_set_level(NP_LOG_DEBUG);
		else if (strcmp(o, "--turn") == 0 && has && nuris < MAX_URIS)
			uris[nuris++] = argv[++i];
		else if (strcmp(o, "--turn-user") == 0 && has)
			user = argv[++i];
		else if (strcmp(o, "--turn-password-file") == 0 && has)
			pwfile = argv[++i];
		else if (strcmp(o, "--turn-ca") == 0 && has)
			ca = argv[++i];
		else if (strcmp(o, "--echo") == 0 && has)
			echo = argv[++i];
		else {
			fprintf(stderr, "natpunch: probe: unexpected '%.64s' (%s)\n", o, USAGE);
			return 2;
		}
	}
	if (!nuris || !user || !pwfile) {
		fprintf(stderr, "natpunch: probe: --turn needs --turn-user and --turn-password-file (%s)\n", USAGE);
		return 2;
	}
	if (strlen(user) >= sizeof(cfg.user)) {
		fprintf(stderr, "natpunch: probe: --turn-user is too long (at most %zu bytes)\n", sizeof(cfg.user) - 1);
		return 2;
	}
	snprintf(cfg.user, sizeof(cfg.user), "%s", user);
	if (np_turn_read_secret(pwfile, cfg.password, sizeof(cfg.password), err, sizeof(err)) < 0) {
		fprintf(stderr, "natpunch: probe: --turn-password-file: %s\n", err);
		return 2;
	}
	cfg.ca_file = ca;
	if (echo) {
		const char *colon = strrchr(echo, ':');
		char ip[64];
		long port = colon ? strtol(colon + 1, NULL, 10) : 0;

		if (!colon || (size_t)(colon - echo) >= sizeof(ip) || port < 1 || port > 65535) {
			fprintf(stderr, "natpunch: probe: --echo wants IP:PORT, not '%.64s'\n", echo);
			return 2;
		}
		memcpy(ip, echo, (size_t)(colon - echo));
		ip[colon - echo] = 0;
		if (np_addr_parse(ip, &echo_addr) < 0) {
			fprintf(stderr, "natpunch: probe: --echo wants a numeric IP, not '%.64s'\n", ip);
			return 2;
		}
		echo_addr.port = (uint16_t)port;
	}
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop) {
		fprintf(stderr, "natpunch: probe: cannot start the event loop\n");
		return 1;
	}
	if (json)
		printf("[");
	for (int i = 0; i < nuris; i++) {
		struct np_turn_callbacks cb = { on_ready, on_data, on_down, NULL };
		struct relay_run r = { 0 };
		int timed_out = 0, ok;
		ev_timer to;
		char a[NP_ADDR_STRLEN], b[NP_ADDR_STRLEN], uri[300];

		if (np_turn_uri_parse(uris[i], &cfg.uri, err, sizeof(err)) < 0) {
			fprintf(stderr, "natpunch: probe: %s\n", err);
			ev_loop_destroy(loop);
			return 2;
		}
		np_turn_uri_str(&cfg.uri, uri, sizeof(uri));
		if (np_turn_new(loop, &cfg, &cb, &r, &r.t, err, sizeof(err)) < 0) {
			snprintf(r.down_msg, sizeof(r.down_msg), "%s", err);
			r.down = 1;
		}
		ev_timer_init(&to, on_timeout, WAIT_S, 0.);
		to.data = &timed_out;
		ev_timer_start(loop, &to);
		while (r.t && !r.down && !timed_out && !r.ready)
			ev_run(loop, EVRUN_ONCE);
		if (r.ready && echo) {
			np_turn_add_peer(r.t, &echo_addr);
			for (int k = 0; k < 20 && !r.echoed && !r.down && !timed_out; k++) {
				ev_timer tick;
				int fired = 0;

				np_turn_send(r.t, &echo_addr, "natpunch relay probe", 20);
				ev_timer_init(&tick, on_timeout, 0.25, 0.);
				tick.data = &fired;
				ev_timer_start(loop, &tick);
				while (!fired && !r.echoed && !r.down && !timed_out)
					ev_run(loop, EVRUN_ONCE);
				ev_timer_stop(loop, &tick);
			}
		}
		ev_timer_stop(loop, &to);
		ok = r.ready && !r.down && (!echo || r.echoed);
		if (!ok)
			failures++;
		if (r.ready && !r.down && !r.down_msg[0] && timed_out && echo && !r.echoed)
			snprintf(r.down_msg, sizeof(r.down_msg), "no echo from %s through the relay",
				 np_addr_str(&echo_addr, a, sizeof(a)));
		else if (!r.ready && !r.down_msg[0] && r.t && np_turn_last_error(r.t)[0])
			snprintf(r.down_msg, sizeof(r.down_msg), "%s", np_turn_last_error(r.t));
		else if (!r.ready && !r.down_msg[0])
			snprintf(r.down_msg, sizeof(r.down_msg), "no allocation within %.0f s", WAIT_S);
		if (json) {
			const struct np_turn_stats *st = r.t ? np_turn_get_stats(r.t) : NULL;
			printf("%s{\"uri\":\"%s\",\"transport\":\"%s\",\"ok\":%s", i ? "," : "", uri,
			       np_turn_transport_name(cfg.uri.transport), ok ? "true" : "false");
			if (r.ready && r.t)
				printf(",\"relayed\":\"%s\",\"rtt_ms\":%.1f", np_addr_str(np_turn_relayed(r.t), a, sizeof(a)),
				       st->rtt_ms);
			if (echo && r.echoed)
				printf(",\"echo\":\"%s\"", r.echo);
			if (!ok)
				printf(",\"error\":\"%s\"", r.down_msg); /* our own words: no quotes in them */
			printf("}");
		} else if (ok) {
			const struct np_turn_stats *st = np_turn_get_stats(r.t);
			printf("relay %s: answers over %s; relayed address %s; we are %s to it; rtt %.1f ms\n", uri,
			       np_turn_transport_name(cfg.uri.transport), np_addr_str(np_turn_relayed(r.t), a, sizeof(a)),
			       np_turn_mapped(r.t)->family ? np_addr_str(np_turn_mapped(r.t), b, sizeof(b)) : "?",
			       st->rtt_ms);
			if (echo)
				printf("relay %s: echo from %s: %s\n", uri, np_addr_str(&echo_addr, a, sizeof(a)), r.echo);
		} else {
			printf("relay %s: FAILED over %s: %s\n", uri, np_turn_transport_name(cfg.uri.transport),
			       r.down_msg);
		}
		fflush(stdout);
		np_turn_free(r.t);
	}
	if (json)
		printf("]\n");
	ev_loop_destroy(loop);
	return failures ? 1 : 0;
}
