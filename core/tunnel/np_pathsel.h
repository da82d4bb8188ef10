/* np_pathsel: which path a tunnel with a relay uses, direct or relayed, and
 * when it switches. Pure: no I/O, no libev, no clock of its own (times are
 * milliseconds the caller passes in), so tests/unit/test_pathsel.c runs it
 * on a fake clock. np_relay_switch.c drives it for the daemon.
 *
 * The rules (README, "Relay": switching):
 *  - Relayed, the tunnel looks for a direct path in the background: an
 *    attempt (the normal punch) every retry_ms, doubling to retry_max_ms,
 *    and at once after a hint (our NAT or network changed).
 *  - A direct path the punch found is a candidate. It is probed every
 *    probe_ms with authenticated in-tunnel messages; only an authenticated
 *    answer over it counts. The tunnel switches to direct after good_acks
 *    answered probes in a row spanning at least need_ms: good_ms at first,
 *    the hold-down after a fallback. One unanswered probe (ack_timeout_ms)
 *    restarts the count; cand_lost consecutive ones drop the candidate.
 *    A path that works one way, or only now and then, never gets there.
 *  - Direct, the tunnel probes after idle_probe_ms without a packet, and
 *    falls back to the relay after silence_ms without one (when the relay
 *    is usable). The direct path stays a candidate; switching back needs it
 *    healthy for the hold-down, which starts at hold_ms and doubles with
 *    every fallback that comes within stable_ms of the switch (to
 *    hold_max_ms); a direct path that held stable_ms resets it. */
#ifndef NP_PATHSEL_H
#define NP_PATHSEL_H

#include <stddef.h>
#include <stdint.h>

enum np_path {
	NP_PATH_RELAYED = 0,
	NP_PATH_DIRECT = 1,
};

struct np_pathsel_cfg {
	uint64_t probe_ms;        /* between probes on a direct candidate */
	uint64_t ack_timeout_ms;  /* a probe unanswered this long is lost */
	unsigned good_acks;       /* answered probes in a row before switching */
	uint64_t good_ms;         /* ... spanning at least this (first switch) */
	unsigned cand_lost;       /* lost probes in a row that drop a candidate */
	uint64_t idle_probe_ms;   /* direct: probe after this much silence */
	uint64_t silence_ms;      /* direct: fall back after this much silence */
	uint64_t hold_ms, hold_max_ms; /* hold-down after a fallback, doubling */
	uint64_t stable_ms;       /* direct this long: the hold-down starts over */
	uint64_t retry_ms, retry_max_ms; /* background attempts while relayed */
};

/* What the caller should do now (np_pathsel_poll's out->act bits). */
#define NP_PS_PROBE 1u           /* send probe out->probe_id on the direct path */
#define NP_PS_TO_DIRECT 2u       /* switch to the direct path (out->why) */
#define NP_PS_TO_RELAYED 4u      /* fall back to the relay (out->why) */
#define NP_PS_TRY 8u             /* start a background direct attempt */
#define NP_PS_CAND_DROPPED 16u   /* the candidate is gone (close its socket) */

struct np_pathsel_out {
	unsigned act;
	uint32_t probe_id;
	char why[120];
};

struct np_pathsel {
	struct np_pathsel_cfg cfg;
	enum np_path path;
	int have_cand;            /* a direct path to probe (the active one when direct) */
	int trying;               /* a background attempt runs */
	unsigned good;            /* answered probes in a row */
	uint64_t good_since;      /* when the first of them was sent */
	unsigned lost;            /* unanswered probes in a row */
	uint32_t next_id;
	uint32_t probe_id;        /* the outstanding probe, if probe_pending */
	int probe_pending;
	uint64_t probe_at;        /* when it was sent */
	uint64_t last_probe_at;
	uint64_t direct_since;    /* when the tunnel went direct */
	uint64_t hold;            /* current hold-down (0: none yet) */
	uint64_t next_try, retry; /* the next background attempt; its backoff */
	unsigned switches, fallbacks, tries;
	char why[120];            /* the reason of the last switch */
};

/* Defaults: the daemon's timings (see the .c file). */
void np_pathsel_default_cfg(struct np_pathsel_cfg *cfg);
/* cfg NULL: the defaults. The tunnel is up on `path` since now; a first
 * path is not a switch. */
void np_pathsel_init(struct np_pathsel *ps, const struct np_pathsel_cfg *cfg, enum np_path path, uint64_t now);

/* A background attempt found a direct path (relayed only): probe it. */
void np_pathsel_candidate(struct np_pathsel *ps, uint64_t now);
/* The background attempt ended without a path. */
void np_pathsel_try_failed(struct np_pathsel *ps, uint64_t now);
/* Our NAT or network changed: try the direct path again soon. */
void np_pathsel_hint(struct np_pathsel *ps, uint64_t now);
/* An authenticated answer to probe `id` came over the direct path. */
void np_pathsel_ack(struct np_pathsel *ps, uint32_t id, uint64_t now);

/* What to do at `now`. last_direct_rx: when the last authenticated packet
 * came over the direct path (direct only; 0: none); relay_ok: the relay can
 * carry the tunnel now (a fallback needs it). Fills *out; returns the
 * milliseconds until the next poll is due. */
uint64_t np_pathsel_poll(struct np_pathsel *ps, uint64_t now, uint64_t last_direct_rx, int relay_ok,
			 struct np_pathsel_out *out);

const char *np_pathsel_name(enum np_path path);

#endif
