/* np_punch: the punch, a state machine of its own.
 *
 * One struct np_punch per tunnel. It hosts the strategy .so (it is the
 * np_host_api_t a strategy drives), chooses the strategy for
 * --strategy=auto, sends and authenticates probes and acks, enforces the
 * probe budget and the opener rule, and times the attempt. It owns no
 * socket, no timer and no clock: it reaches the tunnel only through the
 * small table of upcalls below, so the same code runs in the daemon (libev,
 * real sockets: np_peer_punch.c) and in the unit tests (a virtual clock and
 * simulated NATs: tests/unit/support/np_punchnet.c).
 *
 * States (enum np_punch_state):
 *
 *   IDLE ──start──> RUNNING ──succeed()──────> ENDING ──reap──> DONE
 *    ^                 │  └──np_punch_end()──> ENDING             │
 *    │                 ├──fail()──> FAILING ──reap──> upcall failed()
 *    │                 └──attempt timeout────────────> upcall failed()
 *    └───────────────── np_punch_reset() (from any state) ─────────┘
 * np_punch_stop() goes to DONE from any state but IDLE; np_punch_pair()
 * records a pairing without a strategy (DONE).
 *
 * The strategy's callbacks run only while RUNNING (np_punch_running()).
 * Ending from inside a strategy callback never destroys the instance under
 * it: a zero-delay reap timer does that. Probes are acknowledged in every
 * state but IDLE, so a peer still punching gets its ack after our side
 * has found the path.
 *
 * Upcalls may call back into np_punch (failed() usually resets it). The
 * struct is embedded in the tunnel; only np_punch.c writes its fields. */
#ifndef NP_PUNCH_H
#define NP_PUNCH_H

#include "np_probeguard.h"
#include "np_strategy_loader.h"

#include <stddef.h>
#include <stdint.h>

#define NP_PUNCH_PROBE_BUDGET 4096       /* probes per attempt, openers included */
#define NP_PUNCH_DEFAULT_ATTEMPT_MS 10000 /* when the strategy names no timeout */
/* --strategy=auto behind the peer's own public address: its LAN endpoint
 * answers within milliseconds and a hairpinning NAT within a second, so an
 * attempt that has heard nothing by then hands over to the relay (or
 * retries) sooner than the strategy's own timeout. */
#define NP_PUNCH_SAME_NAT_ATTEMPT_MS 5000

/* After the path is found, until the peer's handshake shows it found the
 * path too: one probe on it every NP_PUNCH_CONFIRM_MS, at most
 * NP_PUNCH_CONFIRM_PROBES (np_punch_confirm_start). */
#define NP_PUNCH_CONFIRM_MS 400
#define NP_PUNCH_CONFIRM_PROBES 25

/* Timer ids the upcalls see: the strategy's own, then the punch's three. */
#define NP_PUNCH_TIMER_ATTEMPT NP_HOST_MAX_TIMERS
#define NP_PUNCH_TIMER_REAP (NP_HOST_MAX_TIMERS + 1)
#define NP_PUNCH_TIMER_CONFIRM (NP_HOST_MAX_TIMERS + 2)
#define NP_PUNCH_TIMERS (NP_HOST_MAX_TIMERS + 3)

enum np_punch_state {
	NP_PUNCH_IDLE = 0, /* no pairing: probes are dropped */
	NP_PUNCH_RUNNING,  /* the strategy runs */
	NP_PUNCH_ENDING,   /* path found: the reap timer destroys the strategy */
	NP_PUNCH_FAILING,  /* fail() called: the reap timer destroys, then reports */
	NP_PUNCH_DONE,     /* no strategy; the pairing stays, probes are acked */
};

/* What the punch needs from the tunnel. ctx is the tunnel's own pointer. */
struct np_punch_upcalls {
	/* The strategy reached `peer` from socket sock_id (0: the main one). */
	void (*path_found)(void *ctx, int sock_id, const np_addr_t *peer);
	/* The attempt failed (already logged); the tunnel retries. */
	void (*failed)(void *ctx, const char *reason);
	/* --strategy=auto: no strategy can connect these two NATs. */
	void (*no_path)(void *ctx, const char *why);
	/* One datagram on socket sock_id; ttl 0 is the default. 0 or -errno. */
	int (*send)(void *ctx, int sock_id, const np_addr_t *to, const void *buf, size_t len, int ttl);
	/* A further socket: its id (1..NP_HOST_MAX_SOCKETS) or -errno. */
	int (*open_socket)(void *ctx);
	void (*close_socket)(void *ctx, int sock_id);
	/* One-shot timers, id < NP_PUNCH_TIMERS; when one fires the tunnel
	 * calls np_punch_on_timer(). Starting a started timer restarts it. */
	void (*timer_start)(void *ctx, int id, uint32_t after_ms);
	void (*timer_stop)(void *ctx, int id);
	uint64_t (*now_ms)(void *ctx); /* monotonic milliseconds */
	void (*random)(void *ctx, void *buf, size_t len);
	/* An authentication failure worth a (rate-limited) warning. */
	void (*auth_warn)(void *ctx, const char *what, const np_addr_t *from);
};

struct np_punch_cfg {
	const char *strategy;       /* a name, a path to a .so, or "auto" */
	const char *strategy_path;  /* --strategy-path, or NULL */
	int secure;                 /* keys in use (only changes a warning's words) */
};

/* One attempt: everything the pairing round told both sides. */
struct np_punch_attempt {
	unsigned attempt;           /* 1, 2, ... since the tunnel was last up */
	uint32_t round;
	int high;                   /* 1 on exactly one side */
	int nat_depth;              /* NATs in front of us: the opener TTL (np_punch_opener_ttl) */
	uint8_t family;             /* 4 or 6: the only family probes may use */
	np_addr_t self_local, self_public, peer_local, peer_public;
	np_nat_info_t self_nat, peer_nat;
	np_addr_t peer_mapped;      /* the peer's newest NAT mapping (PEER_INFO MAPPED), or family 0 */
	uint16_t start_in_ms;       /* both sides start probing this much later */
	uint8_t probe_key[32];      /* the MAC key of this pairing's probes and acks */
};

struct np_punch_stats {
	uint64_t probes_sent, probes_rx, bad, bad_mac;
	uint64_t other_pairing;      /* probes and acks of another round (replays, stale) */
	uint64_t refused_probes;     /* probes over the bound to an address that never answered */
	uint64_t refused_succeed;    /* succeed() for a path no authenticated ack came from */
	uint64_t confirm_probes;     /* probes sent by np_punch_confirm_start() */
};

struct np_punch {
	const struct np_punch_upcalls *up;
	void *ctx;
	np_host_api_t api;          /* what strategies call; host pointer is this struct */
	const char *cfg_strategy, *strategy_path;
	int secure;

	/* strategies: mods[0] is --strategy; with "auto" the chosen ones load on demand */
	struct np_strategy_mod mods[4];
	int nmods, auto_mode;
	struct np_strategy_mod *mod; /* this attempt's, or NULL */
	void *strat;                 /* the strategy instance, while not IDLE/DONE */
	enum np_punch_state st;

	/* the pairing of this attempt */
	struct np_punch_attempt a;  /* kept after a reset, like the key; wiped by np_punch_fini() */
	uint8_t nonce_salt[32];      /* keys the nonces of our probes */
	uint8_t sock_open[NP_HOST_MAX_SOCKETS + 1]; /* sockets the strategy may use */
	unsigned probes_this_attempt;
	char fail_reason[200];       /* the last failure, for the status report */
	struct np_punch_stats stats;
	/* np_punch_confirm_start(): where the confirming probes go, how many are left */
	int confirm_sock;
	np_addr_t confirm_to;
	unsigned confirm_left;
	struct np_probeguard guard;  /* per-address bounds and ack-gated success (np_probeguard.h) */
};

/* 1 if both peers leave through the same public address (one NAT or one
 * CGNAT in front of both). */
int np_punch_same_public(const struct np_punch_attempt *a);

/* The TTL of an opener (core/DESIGN.md, "the Linux conntrack clash"): enough
 * to pass our own NATs and die before the peer's. Across the internet that is
 * nat_depth + 1 (it dies at the first router). Behind the peer's own public
 * address the shared (outermost) NAT has no router behind it: hairpinning, it
 * hands the packet straight to the peer's home NAT, so the opener stops at
 * the shared NAT: nat_depth. 0: no openers (a host without NAT). */
int np_punch_opener_ttl(const struct np_punch_attempt *a);

/* Loads --strategy (unless "auto"). 0, or -errno with a one-line reason. */
int np_punch_init(struct np_punch *pu, const struct np_punch_cfg *cfg, const struct np_punch_upcalls *up, void *ctx,
		  char *err, size_t errlen);
/* Destroys the strategy, stops the timers, unloads the strategies. */
void np_punch_fini(struct np_punch *pu);

/* Begins an attempt (any running one is destroyed first): picks the
 * strategy, starts it and arms the attempt timeout. 0 when RUNNING (or
 * already ended by the strategy's start), -errno when it reported failed()
 * or no_path() instead. */
int np_punch_start(struct np_punch *pu, const struct np_punch_attempt *a);
/* The tunnel found the path itself (the peer's handshake arrived): the
 * attempt ends without a report. Safe from any state. */
void np_punch_end(struct np_punch *pu);
/* Records the pairing without a strategy (another path, the relay, takes
 * over): DONE, so the peer's probes are still acked. */
void np_punch_pair(struct np_punch *pu, const struct np_punch_attempt *a);
/* Ends the attempt now without a report, keeping the pairing: destroys the
 * strategy and stops the timers. Never from inside a strategy callback. */
void np_punch_stop(struct np_punch *pu);
/* Forgets the pairing: destroys the strategy, stops the timers, IDLE. */
void np_punch_reset(struct np_punch *pu);

/* A timer started through the upcalls fired. */
void np_punch_on_timer(struct np_punch *pu, int id);
/* A PROBE or PROBE_ACK datagram arrived on socket sock_id. Returns what
 * it was: NP_PUNCH_RX_PROBE (an authenticated probe of our pairing, acked),
 * NP_PUNCH_RX_ACK (an authenticated ack to a probe of ours), else
 * NP_PUNCH_RX_NONE (dropped). */
enum { NP_PUNCH_RX_NONE = 0, NP_PUNCH_RX_PROBE, NP_PUNCH_RX_ACK };
int np_punch_handle_probe(struct np_punch *pu, int sock_id, const uint8_t *buf, size_t len, const np_addr_t *from);
/* One probe of the recorded pairing while no strategy runs (DONE): a tunnel
 * that is up reaching for a peer that restarted (np_rejoin.h). flags as a
 * strategy's send_probe (NP_PROBE_OPENER), and bounded the same way (the
 * attempt budget, the opener rule, np_probeguard). 0 or -errno. */
int np_punch_send_probe(struct np_punch *pu, int sock_id, const np_addr_t *to, unsigned flags);

/* Our side found the path (path_found), but the peer's side may not have:
 * the ack that would tell it, or the probe it needs an ack to, may have
 * been lost, and a strategy that answers only what it receives (spray's
 * hard side) then waits for a probe that never comes, while we, the
 * handshake responder, wait for its handshake: a deadlock until a
 * timeout. So a probe goes on the found path (sock_id as the tunnel now
 * numbers it, to `to`) every NP_PUNCH_CONFIRM_MS, NP_PUNCH_CONFIRM_PROBES
 * at most, within the attempt's budget, until np_punch_confirmed() or the
 * next start/stop/reset. Each gives the peer's strategy a probe to answer
 * and an ack to succeed on. Only after DONE (path found). */
void np_punch_confirm_start(struct np_punch *pu, int sock_id, const np_addr_t *to);
/* The peer's handshake arrived: it has the path; no more confirming probes. */
void np_punch_confirmed(struct np_punch *pu);

/* The handshake initiator waits on (sock_id, cur), the path it found; a
 * datagram from `from` on sock_id just got `verdict` from
 * np_punch_handle_probe(). Both sides pick the first path acked to them,
 * and when two of the hard side's sockets are hit within a round trip
 * and an ack is lost, they can pick different ones: the responder keeps
 * its path (closing the other socket) and confirms it with probes
 * (np_punch_confirm_start), while our handshakes go to the socket it
 * closed. So a probe or ack from another address of the peer may tell us
 * where it is (or be a stray answer from a socket it has closed since):
 * 1 if `from` is a path proven on sock_id by an ack to our probe (a copy
 * of the handshake should go there too); for a probe from an address
 * not yet proven, one probe goes back (bounded like any), and its ack
 * proves it. 0 otherwise. Only after DONE. */
int np_punch_follow(struct np_punch *pu, int sock_id, const np_addr_t *cur, int verdict, const np_addr_t *from);

/* The one predicate: the strategy is running and its callbacks are live. */
int np_punch_running(const struct np_punch *pu);
/* This attempt's strategy name, else the configured one ("auto", a path). */
const char *np_punch_strategy_name(const struct np_punch *pu);

#endif
