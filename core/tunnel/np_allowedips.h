/* np_allowedips: --allowed-ips, the inner source addresses a peer may use.
 *
 * WireGuard's meaning for received packets: a packet that authenticated
 * from the peer reaches the tun only if its inner IPv4/IPv6 source address
 * lies in one of these prefixes; others are dropped and counted. The
 * default is the peer's tunnel address (REMOTE_IP/32 or /128). Pure: no
 * I/O. Parsing errors are one line in err. */
#ifndef NP_ALLOWEDIPS_H
#define NP_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

#include <natpunch/strategy.h>

#define NP_ALLOWEDIPS_MAX 32

struct np_cidr {
	uint8_t family; /* 4 or 6 */
	uint8_t bits;   /* prefix length */
	uint8_t ip[16];
};

struct np_allowedips {
	struct np_cidr c[NP_ALLOWEDIPS_MAX];
	int n;
};

/* "CIDR[,CIDR...]": 10.0.0.0/24, fd00::/64, or a bare address (a host).
 * Host bits must be zero. 0 or -EINVAL. */
int np_allowedips_parse(const char *list, struct np_allowedips *a, char *err, size_t errlen);
/* Adds one host (/32 or /128). 0, or -ENOSPC. */
int np_allowedips_add_host(struct np_allowedips *a, const np_addr_t *ip);
/* 1 if the IP packet's source address is allowed, 0 if not (or the packet
 * is too short to have one). */
int np_allowedips_match_packet(const struct np_allowedips *a, const uint8_t *pkt, size_t len);
/* 1 if family/ip (4 or 16 bytes) is allowed. */
int np_allowedips_contains(const struct np_allowedips *a, int family, const uint8_t *ip);
/* "10.0.0.2/32,fd00::/64" into buf. */
const char *np_allowedips_str(const struct np_allowedips *a, char *buf, size_t cap);

#endif
