/* np_offload: pure packet work of the tun offload fast path.
 *
 * Belongs here: ones-complement checksum helpers, parsing and validating the
 * virtio_net_hdr that a tun opened with IFF_VNET_HDR puts in front of every
 * packet, user-space TCP segmentation of the super-packets such a tun returns
 * (TSO, checksum completion), and the receive-side coalescer (GRO) that turns
 * consecutive TCP segments of one flow back into one super-packet for the
 * tun. No sockets, no crypto, no logging, no allocation per packet: every
 * per-packet function works in caller-provided (or init-time) buffers and
 * returns 0 / a length, or -errno. Nothing read from a packet or a vnet
 * header is trusted: malformed input gives -EBADMSG, well-formed but
 * unsupported input -EOPNOTSUPP.
 *
 * Checksum values in this API are host-order numbers (as if the data were
 * read as big-endian 16-bit words); store them with htons(). virtio fields
 * are little-endian (le16toh/htole16), as the kernel uses on x86. */
#ifndef NP_OFFLOAD_H
#define NP_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- checksums ----------------------------------------------------------- */

/* Add the 16-bit big-endian words of buf (odd tail padded with zero) to an
 * unfolded 32-bit sum. Chain calls with even lengths; only the last chunk may
 * be odd. */
uint32_t np_csum_add(uint32_t sum, const void *buf, size_t len);
/* Fold an unfolded sum to 16 bits (no complement). */
uint16_t np_csum_fold(uint32_t sum);
/* The checksum to store: ~fold(sum). */
uint16_t np_csum_finish(uint32_t sum);
/* Pseudo-header sums (unfolded) for a transport segment of l4_len bytes. */
uint32_t np_csum_pseudo4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t l4_len);
uint32_t np_csum_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t l4_len);
/* RFC 1624 incremental update of a stored checksum (host order) when one
 * 16-bit / 32-bit field changes from old_val to new_val. */
uint16_t np_csum_update16(uint16_t check, uint16_t old_val, uint16_t new_val);
uint16_t np_csum_update32(uint16_t check, uint32_t old_val, uint32_t new_val);

/* ---- virtio_net_hdr -------------------------------------------------------- */

#define NP_VNET_HDR_LEN 10     /* struct virtio_net_hdr: the tun default */
#define NP_VNET_HDR_LEN_MRG 12 /* with num_buffers (TUNSETVNETHDRSZ 12) */
#define NP_VNET_HDR_MAX 64     /* largest vnet_len accepted by this module */

struct np_vnet_info {
	/* The header as read (host order). */
	uint8_t flags;        /* VIRTIO_NET_HDR_F_* */
	uint8_t gso_type;     /* VIRTIO_NET_HDR_GSO_*, ECN bit removed */
	bool gso_ecn;         /* VIRTIO_NET_HDR_GSO_ECN was set */
	uint16_t hdr_len;     /* checked to be <= ip_len, otherwise unused */
	uint16_t gso_size;
	uint16_t csum_start;  /* valid if flags & VIRTIO_NET_HDR_F_NEEDS_CSUM */
	uint16_t csum_offset;
	/* Derived. */
	const uint8_t *ip;    /* the IP packet after the vnet header */
	size_t ip_len;
	size_t nsegs;         /* packets np_tso_* will produce (1 if no GSO) */
	size_t max_seg_len;   /* length of the largest of them */
	/* For TCP GSO only (gso_type TCPV4/TCPV6), else 0. */
	uint8_t ip_version;   /* 4 or 6 */
	uint16_t l4_off;      /* TCP header offset (IP header length) */
	uint16_t l4_hdr_len;  /* TCP header length incl. options */
	size_t payload_len;   /* TCP payload bytes in the super-packet */
};

/* Parse and validate the vnet header of a tun read (pkt = vnet header
 * followed by the IP packet, len bytes in all; vnet_len 10 or 12, the size
 * set with TUNSETVNETHDRSZ). Returns 0, -EINVAL (vnet_len out of range),
 * -EBADMSG (header inconsistent with the packet: bad gso_size, hdr_len,
 * csum_start/csum_offset, IP/TCP headers of a GSO packet), -EOPNOTSUPP (UDP
 * GSO, IPv6 extension headers in a GSO packet, unknown GSO type or flags). */
int np_vnet_parse(const uint8_t *pkt, size_t len, size_t vnet_len, struct np_vnet_info *out);

/* ---- segmentation (tun read -> peer) --------------------------------------- */

/* Iterator: np_tso_start parses (as np_vnet_parse) and np_tso_next writes the
 * next ready-to-send IP packet at dst, so the caller chooses where each one
 * goes (e.g. buf + 16, leaving room for its own transport header). Every
 * packet has correct IPv4 header and TCP/UDP checksums, lengths, IPv4 IDs
 * (+1 per segment), sequence numbers; FIN/PSH only on the last, CWR only on
 * the first segment. A non-GSO packet is copied, with its partial checksum
 * completed if VIRTIO_NET_HDR_F_NEEDS_CSUM is set.
 * np_tso_next returns the packet length (> 0), 0 when there are no more, or
 * -EMSGSIZE if it does not fit in cap (t->info.max_seg_len tells the need). */
struct np_tso {
	struct np_vnet_info info;
	size_t next;       /* index of the next segment */
	uint32_t addr_sum; /* pseudo-header address sum */
};
int np_tso_start(struct np_tso *t, const uint8_t *pkt, size_t len, size_t vnet_len);
int np_tso_next(struct np_tso *t, uint8_t *dst, size_t cap);

/* All at once: segment i is written at out + i * out_stride, at most seg_cap
 * bytes (seg_cap <= out_stride; pass out = slot0 + headroom and
 * seg_cap = slot size - headroom - tailroom to keep room around each one).
 * seg_lens[i] gets its length, *nsegs the count. Nothing is written unless
 * all fit: -ENOBUFS if more than max_segs segments, -EMSGSIZE if one exceeds
 * seg_cap, -EINVAL if seg_cap > out_stride; else as np_vnet_parse. */
int np_tso_segment(const uint8_t *pkt, size_t len, size_t vnet_len, uint8_t *out, size_t out_stride,
		   size_t seg_cap, size_t max_segs, size_t *seg_lens, size_t *nsegs);

/* ---- coalescing (peer -> tun write) ---------------------------------------- */

#define NP_GRO_MAX_LEN 65535u    /* largest super-packet (IPv4 total length) */
#define NP_GRO_MAX_SEGS 64       /* largest segment count of one super-packet */
#define NP_GRO_DEFAULT_FLOWS 8   /* super-packets under construction at once */
#define NP_GRO_MAX_ITEMS 256     /* packets + super-packets per batch */
#define NP_GRO_ARENA_LEN (128u * 1024u) /* bytes for single packets per batch */

/* Called by np_gro_flush for each packet to write to the tun: pkt is the
 * vnet header (vnet_len bytes) followed by the IP packet. A negative return
 * is remembered (the first one is returned by np_gro_flush); emitting goes
 * on, so a flush always empties the batch. */
typedef int (*np_gro_emit_fn)(void *arg, const uint8_t *pkt, size_t len);

struct np_gro_slot;    /* private */
struct np_gro_item;    /* private */

/* Collects a batch of plain IP packets (e.g. one recvmmsg worth, after
 * decryption). TCP segments of one flow that are contiguous in sequence,
 * equal in size (the last may be smaller), carry only ACK (and PSH on the
 * last), have identical IP TOS/TTL/DF (v6: class, flow label, hop limit) and
 * identical TCP ack, window and options are merged into one GSO super-packet
 * (vnet header with NEEDS_CSUM, the TCP checksum field holding the
 * pseudo-header sum). Everything else goes out unchanged with a zeroed vnet
 * header. Packets of one flow leave in arrival order. Treat the fields as
 * private. */
struct np_gro {
	size_t vnet_len;
	bool verify_csum;          /* drop nothing, but merge only verified segments */
	unsigned int nslots;
	struct np_gro_slot *slots;
	uint8_t *slot_mem;
	uint8_t *arena;
	size_t arena_used;
	struct np_gro_item *items;
	unsigned int nitems;
	/* Counters for the caller's statistics (never reset by np_gro). */
	uint64_t stat_segments_merged; /* segments that went into super-packets */
	uint64_t stat_super_packets;   /* super-packets emitted (>= 2 segments) */
	uint64_t stat_single;          /* packets emitted as they came */
};

/* Allocates all buffers (about max_flows * 64 KB + 128 KB) once. max_flows 0
 * means NP_GRO_DEFAULT_FLOWS. verify_csum: check IPv4 header and TCP
 * checksums before merging (a merged super-packet is re-checksummed by the
 * kernel, so an unverified corrupt segment would be accepted); segments that
 * fail are passed through unmerged for the kernel to drop. Returns 0,
 * -EINVAL, -ENOMEM. np_gro_free is safe on a zeroed or freed struct. */
int np_gro_init(struct np_gro *g, size_t vnet_len, unsigned int max_flows, bool verify_csum);
void np_gro_free(struct np_gro *g);

/* Copy one IP packet into the batch. Returns 0, -ENOBUFS (batch full: call
 * np_gro_flush, then add it again), -EMSGSIZE (longer than NP_GRO_MAX_LEN),
 * -EBADMSG (empty). Any bytes are accepted: what cannot be parsed as TCP is
 * passed through as it is. */
int np_gro_add(struct np_gro *g, const uint8_t *ip_pkt, size_t len);
/* Number of packets/super-packets waiting for np_gro_flush. */
unsigned int np_gro_pending(const struct np_gro *g);
/* Emit everything in arrival order and empty the batch. Returns 0 or the
 * first negative value returned by emit. */
int np_gro_flush(struct np_gro *g, np_gro_emit_fn emit, void *arg);

#endif
