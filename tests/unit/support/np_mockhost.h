/* np_mockhost: a mock np_host_api_t on a virtual clock.
 *
 * Two peers ("A" and "B"), each a host behind zero, one or two simulated
 * NATs (np_natsim), joined by one internet router. Each runs a strategy
 * loaded by dlopen() from $NP_STRATEGY_BUILD_DIR (the real .so files). The
 * mock plays the core: it registers socket 0 with a virtual server (so the
 * NATs see that flow first), optionally runs a simulated NAT discovery that
 * feeds np_natclass, builds both views, delivers probes hop by hop with
 * latency and TTL, acknowledges probes by itself, and calls on_answer and
 * on_timer. After a side calls succeed() it sends "handshake" packets on the
 * winning path, and a side still punching that receives one adopts the path,
 * as the real core does with an authenticated handshake.
 * Everything is deterministic for a given seed. No sockets, no real time. */
#ifndef NP_MOCKHOST_H
#define NP_MOCKHOST_H

#include <stdint.h>

#include <natpunch/strategy.h>

#include "np_natsim.h"

/* One peer's network. */
struct np_mock_side_cfg {
	const char *kind;              /* label: "cone", "symmetric-seq:4", ... */
	unsigned n_nats;               /* 0 (public host), 1, or 2 (home NAT behind CGNAT) */
	struct np_natsim_cfg nat[2];   /* [0] innermost; public_ip filled in by the mock */
};

/* Fill cfg for a lab kind: "none", "cone", "cone-altered",
 * "symmetric-seq:D", "symmetric-random", "double". 0 or -EINVAL. */
int np_mock_side_by_kind(struct np_mock_side_cfg *cfg, const char *kind, uint64_t seed);

struct np_mock_result {
	int ok;                    /* both sides ended with a working path */
	int failed_clean;          /* both ended, at least one by fail()/timeout */
	uint64_t ms;               /* from start_at until both sides ended */
	unsigned probes[2];        /* probes actually sent (openers included) */
	unsigned sockets[2];       /* extra sockets opened */
	int succeeded[2];          /* 1 by succeed(), 2 by adopting a handshake */
	int failed[2];             /* 1 by fail(), 2 by the attempt timeout */
	char reason[2][160];       /* the fail() reason, if any */
	np_nat_info_t nat[2];      /* what discovery said (or the configured truth) */
};

struct np_mock_run_cfg {
	const char *strategy[2];   /* strategy names (file <name>.so) for A and B */
	uint32_t bound_ms;         /* give up after this long past start_at */
	int discover;              /* 1: run the simulated discovery for nat info */
	uint32_t attempt;          /* view.attempt (0: 1) */
	uint64_t seed;
	/* Fault knobs, to show what the design protects against: */
	uint32_t start_skew_ms;    /* B starts this much later than A */
	int full_ttl_openers;      /* openers go out with a normal TTL */
	unsigned seq_noise;        /* ports other traffic takes on each NAT between
	                            * registration and the start */
};

/* Load a strategy by name from $NP_STRATEGY_BUILD_DIR (cached). NULL on error
 * with the reason logged. */
const np_strategy_t *np_mock_load_strategy(const char *name);

/* Run one attempt between two freshly built sides. 0, or -errno on a setup
 * error (missing strategy, bad config). */
int np_mock_run(const struct np_mock_side_cfg *a, const struct np_mock_side_cfg *b,
		const struct np_mock_run_cfg *run, struct np_mock_result *res);

/* Only the simulated discovery: classify one side's NAT through the
 * simulator and np_natclass. 0 or -errno. */
int np_mock_discover(const struct np_mock_side_cfg *side, uint64_t seed, np_nat_info_t *out);

#endif
