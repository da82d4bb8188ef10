/* np_icmp: what the tunnel does with an inner packet that is too big for
 * the path (see "Path MTU" in core/DESIGN.md).
 *
 * Belongs here: building the ICMP "fragmentation needed" (IPv4, type 3 code
 * 4) or ICMPv6 "packet too big" (type 2) answer that is written back into
 * the tun, and cutting an IPv4 packet without DF into fragments. Pure
 * functions over caller buffers: no sockets, no logging, no allocation.
 * Nothing read from a packet is trusted: malformed input gives -EBADMSG,
 * input that must not be answered (ICMP errors, non-first fragments,
 * multicast or unspecified addresses) -EPERM. */
#ifndef NP_ICMP_H
#define NP_ICMP_H

#include <stddef.h>
#include <stdint.h>

#define NP_ICMP_V6_MIN_MTU 1280
/* The largest answer np_icmp_too_big writes (an IPv6 answer is cut to the
 * IPv6 minimum MTU, an IPv4 one to 576 bytes). */
#define NP_ICMP_MAX_LEN NP_ICMP_V6_MIN_MTU

/* What to do with an inner packet longer than the usable size. */
enum np_too_big_action {
	NP_TOO_BIG_ICMP = 1,     /* IPv4 with DF, or IPv6: answer with ICMP */
	NP_TOO_BIG_FRAGMENT = 2, /* IPv4 without DF: fragment it */
};
/* NP_TOO_BIG_*, or -EBADMSG when the packet is neither IPv4 nor IPv6. */
int np_too_big_action(const uint8_t *pkt, size_t len);

/* Writes into out the ICMP answer to pkt (an IPv4 or IPv6 packet of len
 * bytes) saying that only `mtu` bytes fit: source and destination swapped,
 * the original packet quoted (IPv4: header and as much as fits in 576
 * bytes; IPv6: up to the 1280-byte minimum MTU), checksums set. An IPv6
 * answer never announces less than 1280. Returns the answer's length,
 * -ENOSPC if cap is too small, -EBADMSG or -EPERM (see above). */
int np_icmp_too_big(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap);

/* Iterator over the fragments of an IPv4 packet without DF: np_frag4_start
 * checks it, np_frag4_next writes the next fragment (at most mtu bytes,
 * payload offsets a multiple of 8, MF on all but the last unless the
 * packet was itself a non-last fragment, IP options: all in the first
 * fragment, only the "copied" ones in the others) at dst and returns its
 * length, 0 when there are no more. np_frag4_start: 0, -EBADMSG, -EPERM (DF
 * set), -EMSGSIZE (mtu leaves no room for 8 payload bytes).
 * np_frag4_next: -ENOSPC if cap < the fragment. The packet must stay in
 * place while iterating. */
struct np_frag4 {
	const uint8_t *pkt;
	size_t len;          /* total length from the header (<= buffer) */
	size_t hlen;         /* header length of the original */
	size_t off;          /* payload bytes already emitted */
	size_t chunk;        /* payload bytes per full fragment (multiple of 8) */
	uint16_t base_off;   /* fragment offset of the original, in bytes */
	int last_mf;         /* MF of the original */
	uint8_t copied[40];  /* options with the "copied" bit, padded */
	size_t copied_len;
};
int np_frag4_start(struct np_frag4 *f, const uint8_t *pkt, size_t len, unsigned mtu);
int np_frag4_next(struct np_frag4 *f, uint8_t *dst, size_t cap);

#endif
