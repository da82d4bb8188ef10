/* np_natsim: a deterministic NAT for unit tests.
 *
 * One np_natsim_t is one NAT box with an inside and an outside. It keeps a
 * conntrack-like table of UDP flows and decides, for each packet, whether it
 * passes and how it is rewritten. Modelled (see core/DESIGN.md):
 * - mapping EIM / ADM / APDM, filtering EIF / ADF / APDF;
 * - port allocation: preserve, fixed rewrite ("cone-altered"), sequential
 *   with step D, random from a seeded PRNG;
 * - the Linux conntrack clash: an inbound packet that matches no flow leaves
 *   an "unreplied inbound" entry; a later outbound flow whose reply tuple
 *   would equal it is moved to a random port;
 * - TTL: a packet arriving with TTL <= 1 is dropped without leaving state
 *   (Linux discards the unconfirmed conntrack), otherwise TTL is decremented.
 * Time is whatever the caller passes (virtual milliseconds). No sockets. */
#ifndef NP_NATSIM_H
#define NP_NATSIM_H

#include <stddef.h>
#include <stdint.h>

enum np_sim_alloc {
	NP_SIM_ALLOC_PRESERVE = 0, /* keep the inside port unless it would clash */
	NP_SIM_ALLOC_ALTERED = 1,  /* fixed rewrite: inside port + alter_offset */
	NP_SIM_ALLOC_SEQ = 2,      /* each new public port = previous + step */
	NP_SIM_ALLOC_RANDOM = 3,   /* uniformly random in 1024..65535 */
};

/* An IPv4 endpoint, host byte order. */
struct np_sim_ep {
	uint32_t ip;
	uint16_t port;
};

struct np_natsim_cfg {
	uint8_t mapping;   /* NP_NAT_MAP_EIM, _ADM or _APDM */
	uint8_t filtering; /* NP_NAT_FILTER_EIF, _ADF or _APDF */
	uint8_t alloc;     /* enum np_sim_alloc */
	int step;          /* NP_SIM_ALLOC_SEQ */
	uint16_t alter_offset; /* NP_SIM_ALLOC_ALTERED */
	uint16_t seq_start;    /* first sequential port (0: 20000) */
	uint32_t public_ip;
	uint32_t timeout_ms;   /* flow idle timeout (0: 30000, like Linux) */
	uint64_t seed;
};

struct np_natsim_stats {
	unsigned out_new, out_pass, in_pass, in_drop, ttl_drop, clashes, flows;
};

typedef struct np_natsim np_natsim_t;

np_natsim_t *np_natsim_new(const struct np_natsim_cfg *cfg);
void np_natsim_free(np_natsim_t *nat);

/* Outbound packet src -> dst with *ttl. On pass rewrites *src to the public
 * endpoint, decrements *ttl and returns 0; -ETIMEDOUT when the TTL expired. */
int np_natsim_outbound(np_natsim_t *nat, uint64_t now, struct np_sim_ep *src,
		       const struct np_sim_ep *dst, uint8_t *ttl);

/* Inbound packet src -> dst (dst is on our public address). On pass
 * rewrites *dst to the inside endpoint and returns 0; -EACCES when filtered
 * (an unreplied inbound entry is left behind), -ETIMEDOUT on TTL. */
int np_natsim_inbound(np_natsim_t *nat, uint64_t now, const struct np_sim_ep *src,
		      struct np_sim_ep *dst, uint8_t *ttl);

/* Other traffic: allocate and forget n ports (sequential allocators only
 * notice; the others pick fresh ports anyway). */
void np_natsim_burn(np_natsim_t *nat, unsigned n);

uint32_t np_natsim_public_ip(const np_natsim_t *nat);
const struct np_natsim_stats *np_natsim_stats(const np_natsim_t *nat);

/* Small deterministic PRNG shared by the simulator and np_punchnet. */
uint64_t np_sim_rand(uint64_t *state);

#endif
