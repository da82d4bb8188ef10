/* np_natclass: pure NAT classification from discovery observations.
 *
 * Everything here is a function of its inputs: no I/O, no clock, no
 * randomness. np_discovery gathers the observations on the network; the
 * lab, the NAT simulator and the tests can build them by hand. The
 * classifier never guesses: when two classes cannot be told apart with
 * what was observed it says so (NP_NAT_MAP_EIM_OR_ADM without a second
 * server address, NP_NAT_FILTER_EIF_OR_ADF likewise), and it reports
 * UNKNOWN when an observation it needs is missing. */
#ifndef NP_NATCLASS_H
#define NP_NATCLASS_H

#include <stddef.h>
#include <stdint.h>

#include <natpunch/strategy.h>

/* Most fresh sockets whose public ports feed the allocation test. */
#define NP_NATCLASS_MAX_FRESH 16

/* Largest noise (|delta - step|) still called SEQUENTIAL. */
#define NP_NATCLASS_MAX_NOISE 64
/* Largest |step| still called SEQUENTIAL. */
#define NP_NATCLASS_MAX_STEP 1024

struct np_nat_obs {
	/* Local endpoint of the main probing socket: the address the host uses
	 * toward the server (not 0.0.0.0) and the socket's port. */
	np_addr_t local;
	/* What the server saw from the main socket toward PORT1, PORT2 and
	 * ALT-IP:PORT1 (family 0: no reply / not asked). */
	np_addr_t mapped_p1;
	np_addr_t mapped_p2;
	np_addr_t mapped_alt;
	/* The server announced an alternate address (CHANGE_IP possible). */
	uint8_t have_alt;
	/* Filtering tests, each from a socket that only ever talked to PORT1:
	 * a reply requested with CHANGE_PORT arrived (from PORT2), and one
	 * requested with CHANGE_IP|CHANGE_PORT arrived (from the alt address). */
	uint8_t change_port_reply;
	uint8_t change_ip_reply;
	/* NATs between the host and the internet (0 when mapped == local). */
	uint8_t depth;
	/* K fresh sockets opened in quick succession, in order: their local
	 * ports and the public ports the server saw (0: no reply). */
	unsigned n_fresh;
	uint16_t fresh_local[NP_NATCLASS_MAX_FRESH];
	uint16_t fresh_public[NP_NATCLASS_MAX_FRESH];
	/* Sequential NATs: what the server saw from one more socket, opened
	 * after every other one had sent (family 0: not asked / no reply). */
	np_addr_t mapped_last;
};

/* Classify. Fills *out (out->known = 1) and returns 0, or returns -ENODATA
 * (out->known = 0) when not even the PORT1 mapping was observed. */
int np_natclass_classify(const struct np_nat_obs *obs, np_nat_info_t *out);

/* Signed difference b - a between two ports, folded into -32768..32767. */
int np_natclass_port_delta(uint16_t a, uint16_t b);

/* Median step and noise of consecutive port deltas. Returns 1 when the
 * ports look sequential (step != 0, noise bounded; one wrap around the
 * NAT's port range, a big jump against the step, is allowed), 0 otherwise,
 * -EINVAL with fewer than 3 ports. */
int np_natclass_step(const uint16_t *ports, unsigned n, int16_t *step, uint16_t *noise);

/* The newest mapping the observations show, as the server saw it: behind
 * a sequential NAT (info->allocation SEQUENTIAL, step != 0) the observed
 * port furthest along the step (PORT2, ALT, fresh-socket and last mappings of
 * mapped_p1's address, less than half the port space ahead), which is
 * where the NAT's counter stood when discovery ended; otherwise mapped_p1. A registration that carries it lets
 * the peer predict from now rather than from an older, long-lived mapping.
 * 0 and *out, or -ENODATA (no PORT1 mapping: *out zeroed). */
int np_natclass_latest(const struct np_nat_obs *obs, const np_nat_info_t *info, np_addr_t *out);

/* Names of the enum values ("EIM", "APDF", "sequential", ...). */
const char *np_nat_mapping_str(unsigned mapping);
const char *np_nat_filtering_str(unsigned filtering);
const char *np_nat_allocation_str(unsigned allocation);

/* One-word kind for people and logs: "none", "cone", "cone-altered",
 * "symmetric-seq:4", "symmetric-random", "symmetric-preserve",
 * "adm-seq:4", "adm-random", "unknown". Returns buf. */
const char *np_natclass_kind_str(const np_nat_info_t *info, char *buf, size_t cap);

/* "mapping=EIM filtering=APDF ports=preserved depth=1". Returns buf. */
const char *np_natclass_describe(const np_nat_info_t *info, char *buf, size_t cap);

/* JSON object for `natpunch probe --json`; public_ep may be NULL.
 * Returns the length written (NUL-terminated) or -ENOSPC. */
int np_natclass_json(const np_nat_info_t *info, const np_addr_t *public_ep, char *buf,
		     size_t cap);

#endif
