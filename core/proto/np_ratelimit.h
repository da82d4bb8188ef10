/* np_ratelimit: per-source-address token buckets for the server.
 *
 * A fixed-size table (no allocation after init) keyed by a keyed hash of the
 * source IPv4 address or IPv6 /64 prefix (an IPv6 site gets at least a /64,
 * so per-address buckets would be trivial to evade). Each address refills `rate` tokens per second up to `burst`; a
 * message costs one token. When the table is full the stalest entry of a
 * probe run is recycled, so a flood from one address cannot starve others. */
#ifndef NP_RATELIMIT_H
#define NP_RATELIMIT_H

#include <stdint.h>

#include <natpunch/strategy.h>

#define NP_RATELIMIT_SLOTS 16384

struct np_rl_slot {
	uint8_t ip[16];
	uint8_t family;
	uint64_t last_ms;
	double tokens;
};

struct np_ratelimit {
	double rate, burst; /* rate 0 disables limiting */
	uint8_t key[16];
	struct np_rl_slot *slots;
	size_t nslots;
};

int np_ratelimit_init(struct np_ratelimit *rl, double rate, double burst);
/* The same with a table of nslots entries (small tables for one peer). */
int np_ratelimit_init_slots(struct np_ratelimit *rl, double rate, double burst, size_t nslots);
void np_ratelimit_free(struct np_ratelimit *rl);
/* 1: allowed (a token was taken), 0: over the limit. */
int np_ratelimit_allow(struct np_ratelimit *rl, const np_addr_t *src, uint64_t now_ms);

#endif
