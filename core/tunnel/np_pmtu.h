/* np_pmtu: the path MTU search of one tunnel (DPLPMTUD, RFC 8899 style).
 *
 * Belongs here: the pure search state machine (which probe sizes to send
 * when, what an acknowledgement or a silence means, the size the data path
 * may use) and the encoding of the in-tunnel probe messages. No sockets,
 * no timers, no libev: every call takes the caller's monotonic clock in ms,
 * so the unit tests drive it directly. np_pmtud.c runs it for a tunnel.
 *
 * Sizes are IP packet sizes on the path (outer IP header + UDP + natpunch
 * datagram), the number `ip route` calls mtu. The search runs between base
 * (1280) and max (the route's MTU, or less if the tun cannot fill it).
 *
 * A search works in rounds (round_ms): each round probes up to
 * NP_PMTU_PROBES sizes at once, lo + 1 and the rest spread up to hi, and
 * sends the unanswered ones again at half time. The largest ack raises lo,
 * the smallest silent size above it lowers hi; a round with no ack at all
 * lowers hi only the NP_PMTU_FAILS-th time in a row. Until the first round
 * ends, data may use max (optimistic: a path that carries max loses
 * nothing while probing). Once done, a probe of the current size is sent
 * every confirm_ms (NP_PMTU_CONFIRM_FAILS silences in a row: the path
 * shrank, search again from base), and after raise_ms a smaller path is
 * searched again upwards. The caller restarts the search after a path
 * change (np_pmtu_start).
 *
 * In-tunnel messages (the plaintext of a TRANSPORT packet, or of a DATA
 * packet with --insecure; an IP packet never starts with a 0 nibble):
 *   [0x00][type][0][0] id(4) size(2) [zero padding]
 *   type 1 PMTU_PROBE: padded so the datagram has `size` bytes on the path
 *   type 2 PMTU_ACK:   echoes id and size, unpadded */
#ifndef NP_PMTU_H
#define NP_PMTU_H

#include <stddef.h>
#include <stdint.h>

#define NP_PMTU_BASE 1280
#define NP_PMTU_PROBES 6              /* sizes probed per round */
#define NP_PMTU_FAILS 2               /* silent rounds before a size is too big */
#define NP_PMTU_GRANULARITY 1         /* search ends when hi - lo < this */
#define NP_PMTU_ROUND_MS 1000ull
#define NP_PMTU_CONFIRM_MS 30000ull
#define NP_PMTU_CONFIRM_FAILS 3
#define NP_PMTU_RAISE_MS 600000ull

#define NP_PMTU_MSG_PROBE 1
#define NP_PMTU_MSG_ACK 2
#define NP_PATH_MSG_PROBE 3   /* np_relay_switch.c: is this path alive? (id, size 0) */
#define NP_PATH_MSG_ACK 4     /* the answer, on the path the probe came over */
#define NP_PMTU_MSG_LEN 10

enum np_pmtu_state {
	NP_PMTU_OFF = 0,
	NP_PMTU_SEARCH,
	NP_PMTU_DONE,
};

struct np_pmtu_probe {
	uint32_t id;
	uint16_t size;
	uint8_t acked;
};

struct np_pmtu {
	enum np_pmtu_state state;
	unsigned base, max;
	unsigned lo, hi;              /* lo passes (or is assumed to), nothing above hi does */
	int lo_confirmed;             /* an ack proved lo */
	int optimistic;               /* no round has ended yet: data may use max */
	struct np_pmtu_probe probes[NP_PMTU_PROBES + 1];
	unsigned nprobes;             /* probes of the round in flight */
	int resent;                   /* the round's second copies went out */
	unsigned silent_rounds;       /* rounds of the current set without progress */
	int confirming;               /* DONE: a confirmation probe is in flight */
	unsigned confirm_fails;
	uint64_t round_end_ms;        /* the round (or confirmation) in flight ends */
	uint64_t confirm_at_ms, raise_at_ms;
	uint32_t next_id;
	unsigned searches;            /* searches started (for status) */
	uint64_t round_ms, confirm_ms, raise_ms; /* tunables; tests shorten them */
};

/* Starts (or restarts) a search between base and max; id_seed makes the
 * probe ids unpredictable. If max <= base, the result is max at once. */
void np_pmtu_start(struct np_pmtu *m, unsigned base, unsigned max, uint32_t id_seed, uint64_t now_ms);
void np_pmtu_stop(struct np_pmtu *m);
/* Advances the machine. Writes the probes to send now to out[0..*n) (at
 * most NP_PMTU_PROBES + 1) and returns the ms until it wants to be polled
 * again (0 when off). */
uint64_t np_pmtu_poll(struct np_pmtu *m, uint64_t now_ms, struct np_pmtu_probe *out, unsigned *n);
/* An authenticated PMTU_ACK. Returns 1 if it answered a probe in flight
 * (poll again now: the search may have moved on), else 0. */
int np_pmtu_ack(struct np_pmtu *m, uint32_t id, unsigned size, uint64_t now_ms);
/* The largest path packet data may use now; 0 when the search is off (no limit). */
unsigned np_pmtu_current(const struct np_pmtu *m);
/* "searching", "confirmed", "assumed" (lo never acked) or "off". */
const char *np_pmtu_state_name(const struct np_pmtu *m);

/* In-tunnel messages. encode writes NP_PMTU_MSG_LEN bytes and zero padding
 * up to len (len >= NP_PMTU_MSG_LEN), returns len or -ENOSPC. parse checks
 * the header and returns 0 or -EBADMSG; it accepts any padding. Types:
 * NP_PMTU_MSG_* and NP_PATH_MSG_*. */
int np_pmtu_msg_encode(uint8_t *out, size_t len, int type, uint32_t id, uint16_t size);
int np_pmtu_msg_parse(const uint8_t *in, size_t len, int *type, uint32_t *id, uint16_t *size);
/* 1 if this plaintext is a natpunch in-tunnel message, not an IP packet. */
static inline int np_pmtu_is_msg(const uint8_t *in, size_t len)
{
	return len > 0 && (in[0] >> 4) == 0;
}

#endif
