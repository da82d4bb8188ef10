/* np_punchnet: two real punches (core/tunnel/np_punch.c) on a virtual network.
 *
 * Two peers ("A" and "B"), each a host behind zero, one or two simulated
 * NATs (np_natsim), joined by one internet router. Each side is a real
 * struct np_punch running a real strategy .so, loaded by the real loader
 * from $NP_STRATEGY_BUILD_DIR. The budget, the opener rule, probe MACs and
 * acknowledgements are therefore the daemon's own; this file only plays
 * the tunnel around each punch through its upcall table:
 * - a virtual clock (milliseconds) drives the punch's timers;
 * - fake sockets: datagrams travel hop by hop through the NATs with
 *   latency and TTL (an opener's TTL is what the punch asked for);
 * - socket 0 registers with a virtual server first (so the NATs see that
 *   flow first), and an optional simulated NAT discovery feeds np_natclass;
 * - after path_found() a side sends "handshake" datagrams on the winning
 *   path, and a side still punching that receives one ends its punch with
 *   np_punch_end() and adopts the path, as the daemon does with an
 *   authenticated handshake (optionally only the initiator sends them);
 * - optional loss at the internet router: random, or the first probes of
 *   a side.
 * Everything is deterministic for a given seed. No sockets, no real time. */
#ifndef NP_PUNCHNET_H
#define NP_PUNCHNET_H

#include <stdint.h>

#include <natpunch/strategy.h>

#include "np_natsim.h"
#include "np_punch.h"

/* One peer's network. */
struct np_punchnet_side_cfg {
	const char *kind;              /* label: "cone", "symmetric-seq:4", ... */
	unsigned n_nats;               /* 0 (public host), 1, or 2 (home NAT behind CGNAT) */
	struct np_natsim_cfg nat[2];   /* [0] innermost; public_ip filled in by the net */
};

/* Fill cfg for a lab kind: "none", "cone", "cone-altered",
 * "symmetric-seq:D", "symmetric-random", "double". 0 or -EINVAL. */
int np_punchnet_side_by_kind(struct np_punchnet_side_cfg *cfg, const char *kind, uint64_t seed);

struct np_punchnet_result {
	int ok;                    /* both sides ended with a working path */
	int failed_clean;          /* both ended, at least one by a reported failure */
	uint64_t ms;               /* from start_at until both sides ended */
	unsigned probes[2];        /* probes the punch sent (its budget count) */
	unsigned sockets[2];       /* extra sockets opened */
	int succeeded[2];          /* 1 by path_found(), 2 by adopting a handshake */
	int failed[2];             /* 1 by fail() or a start error, 2 by the attempt timeout */
	int hs_rx[2];              /* with initiator: a handshake reached this side on its
	                            * path (for the responder, what "ok" needs) */
	unsigned followed[2];      /* handshake copies the initiator sent (np_punch_follow) */
	char reason[2][160];       /* the failure reason, if any */
	np_nat_info_t nat[2];      /* what discovery said (or the configured truth) */
	struct np_punch_stats stats[2]; /* the punch's own counters */
};

struct np_punchnet_run_cfg {
	const char *strategy[2];   /* strategy names (file <name>.so) for A and B, or "auto" */
	uint32_t bound_ms;         /* give up after this long past start_at */
	int discover;              /* 1: run the simulated discovery for nat info */
	uint32_t attempt;          /* the attempt number (0: 1) */
	uint64_t seed;
	/* Fault knobs, to show what the design protects against: */
	uint32_t start_skew_ms;    /* B starts this much later than A */
	int full_ttl_openers;      /* the fake kernel ignores the openers' low TTL */
	unsigned seq_noise;        /* ports other traffic takes on each NAT between
	                            * registration and the start */
	int wrong_key;             /* B MACs with another probe key */
	int report_mapped;         /* after the noise, each side discovers again (fresh
	                            * ports) and the peer's attempt gets its newest
	                            * mapping (PEER_INFO MAPPED) */
	/* The handshake's roles, as the daemon's Noise IK has them: 0 (the
	 * default) both sides send handshakes once they found the path; 1 only
	 * A, 2 only B (the initiator). The responder then only listens, and
	 * after path_found() keeps the path confirmed with
	 * np_punch_confirm_start() until the initiator's handshake arrives on
	 * its path, as np_peer.c does; the initiator sends a copy of its
	 * handshake where np_punch_follow() says. "ok" then needs that arrival
	 * too. */
	int initiator;
	int no_confirm;            /* with initiator: the responder does not confirm (the
	                            * deadlock np_punch_confirm_start prevents) */
	int no_follow;             /* with initiator: the initiator sends no handshake copy
	                            * to the responder's other path (np_punch_follow) */
	unsigned loss_pct;         /* each datagram crossing the internet router is lost
	                            * with this probability (percent, seeded) */
	unsigned drop_probes[2];   /* the first N PROBEs (not acks) side A / B sends
	                            * that reach the internet router are lost there */
};

/* Run one attempt between two freshly built sides. 0, or -errno on a setup
 * error (missing strategy, bad config). */
int np_punchnet_run(const struct np_punchnet_side_cfg *a, const struct np_punchnet_side_cfg *b,
		    const struct np_punchnet_run_cfg *run, struct np_punchnet_result *res);

/* Only the simulated discovery: classify one side's NAT through the
 * simulator and np_natclass. 0 or -errno. */
int np_punchnet_discover(const struct np_punchnet_side_cfg *side, uint64_t seed, np_nat_info_t *out);

#endif
