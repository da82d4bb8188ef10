/* np_discovery_cli: runs np_discovery once on a private libev loop and
 * prints the classification as text or JSON. */
#include "np_discovery_cli.h"
#include "np_auth.h"
#include "np_discovery.h"
#include "np_log.h"
#include "np_natclass.h"
#include "np_relay_cli.h"
#include "np_parse.h"
#include "np_udp.h"
#include "np_wire.h"

#include <arpa/inet.h>
#include <ev.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

struct probe_run {
	struct np_discovery_result res;
	int done;
};

static void on_result(const struct np_discovery_result *res, void *arg)
{
	struct probe_run *r = arg;

	r->res = *res;
	r->done = 1;
}

static const char *mapping_long(unsigned m)
{
	switch (m) {
	case NP_NAT_MAP_NONE: return "none (public address)";
	case NP_NAT_MAP_EIM: return "endpoint-independent (EIM)";
	case NP_NAT_MAP_ADM: return "address-dependent (ADM)";
	case NP_NAT_MAP_APDM: return "address-and-port-dependent (APDM, symmetric)";
	case NP_NAT_MAP_EIM_OR_ADM: return "EIM-or-ADM (start the server with --alt-ip to tell them apart)";
	default: return "unknown";
	}
}

static const char *filtering_long(unsigned f)
{
	switch (f) {
	case NP_NAT_FILTER_NONE: return "none";
	case NP_NAT_FILTER_EIF: return "endpoint-independent (EIF)";
	case NP_NAT_FILTER_ADF: return "address-dependent (ADF)";
	case NP_NAT_FILTER_APDF: return "address-and-port-dependent (APDF)";
	case NP_NAT_FILTER_ADF_OR_APDF: return "ADF-or-APDF (no --alt-ip on the server)";
	case NP_NAT_FILTER_EIF_OR_ADF: return "EIF-or-ADF (no --alt-ip on the server)";
	default: return "unknown";
	}
}

int np_discovery_cli(int argc, char **argv)
{
	struct probe_run run = { 0 };
	struct np_discovery *d = NULL;
	struct sockaddr_storage ss;
	struct ev_loop *loop;
	np_addr_t server = { 0 };
	const char *host = NULL, *port_s = NULL;
	char err[256], a[NP_ADDR_STRLEN], b[NP_ADDR_STRLEN], kind[32], json[512];
	uint8_t token_key[32];
	int want_json = 0, have_token = 0, sl, rc;

	if (np_relay_cli_wanted(argc, argv))
		return np_relay_cli(argc, argv);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			want_json = 1;
		else if (strcmp(argv[i], "--server-token") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "natpunch: probe: --server-token needs a FILE\n");
				return 2;
			}
			if (np_auth_token_key_from_file(argv[++i], token_key, err, sizeof(err)) < 0) {
				fprintf(stderr, "natpunch: probe: %s\n", err);
				return 2;
			}
			have_token = 1;
		}
		else if (strcmp(argv[i], "-v") == 0)
			np_log_set_level(NP_LOG_DEBUG);
		else if (argv[i][0] == '-') {
			fprintf(stderr, "natpunch: probe: unknown option '%.64s' (usage: natpunch probe SERVER PORT [--json] [--server-token FILE])\n",
				argv[i]);
			return 2;
		} else if (!host)
			host = argv[i];
		else if (!port_s)
			port_s = argv[i];
		else {
			fprintf(stderr, "natpunch: probe: too many arguments (usage: natpunch probe SERVER PORT [--json] [--server-token FILE])\n");
			return 2;
		}
	}
	if (!host || !port_s) {
		fprintf(stderr, "natpunch: probe: expected SERVER PORT (usage: natpunch probe SERVER PORT [--json] [--server-token FILE])\n");
		return 2;
	}
	if (np_parse_port(port_s, 0, &server.port) < 0) {
		fprintf(stderr, "natpunch: probe: invalid PORT '%.32s' (expected 1..65535)\n", port_s);
		return 2;
	}
	if (np_resolve(host, 0, &server, err, sizeof(err)) < 0) {
		fprintf(stderr, "natpunch: probe: %s\n", err);
		return 2;
	}
	sl = np_addr_to_sockaddr(&server, &ss);
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop || sl < 0) {
		fprintf(stderr, "natpunch: probe: cannot start the event loop\n");
		return 1;
	}
	rc = np_discovery_start(loop, (struct sockaddr *)&ss, (socklen_t)sl, server.port, 0,
				have_token ? token_key : NULL, on_result, &run, &d);
	if (rc < 0) {
		char msg[160];

		fprintf(stderr, "natpunch: probe: %s\n", np_errmsg(msg, sizeof(msg), rc, "cannot start discovery"));
		ev_loop_destroy(loop);
		return 1;
	}
	while (!run.done)
		ev_run(loop, EVRUN_ONCE);
	ev_loop_destroy(loop);
	if (run.res.error) {
		fprintf(stderr, "natpunch: probe: %s\n", run.res.message);
		return 1;
	}
	if (want_json) {
		if (np_natclass_json(&run.res.nat, &run.res.public_ep, json, sizeof(json)) < 0)
			return 1;
		printf("%s\n", json);
		return 0;
	}
	printf("NAT discovery via %s\n", np_addr_str(&server, a, sizeof(a)));
	printf("  public endpoint:   %s\n", np_addr_str(&run.res.public_ep, a, sizeof(a)));
	printf("  local endpoint:    %s\n", np_addr_str(&run.res.local, b, sizeof(b)));
	printf("  kind:              %s\n", np_natclass_kind_str(&run.res.nat, kind, sizeof(kind)));
	printf("  mapping:           %s\n", mapping_long(run.res.nat.mapping));
	printf("  filtering:         %s\n", filtering_long(run.res.nat.filtering));
	printf("  port allocation:   %s", np_nat_allocation_str(run.res.nat.allocation));
	if (run.res.nat.allocation == NP_NAT_ALLOC_SEQUENTIAL)
		printf(" (step %d, noise %u)", run.res.nat.step, run.res.nat.noise);
	printf("\n  NAT depth:         %u\n", run.res.nat.depth);
	if (run.res.server_alt.family)
		inet_ntop(run.res.server_alt.family == 6 ? AF_INET6 : AF_INET, run.res.server_alt.ip, a, sizeof(a));
	printf("  server alt IP:     %s\n", run.res.server_alt.family ? a : "none");
	return 0;
}
