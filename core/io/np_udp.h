/* np_udp: UDP socket helpers shared by the peer and the server.
 *
 * Opening sockets (non-blocking, close-on-exec, optional packet info, error
 * queue and large buffers), sending one datagram with an optional TTL and
 * source address, receiving one with its source and destination, and name
 * resolution. Errors are -errno; messages go into the caller's buffer. */
#ifndef NP_UDP_H
#define NP_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <natpunch/strategy.h>

#define NP_UDP_PKTINFO 0x1 /* learn each datagram's destination address */
#define NP_UDP_BIGBUF 0x2  /* ask for 4 MiB socket buffers */

/* Opens a UDP socket of `family` (4 or 6) bound to bind_addr (NULL: any) and port. */
int np_udp_open(int family, const np_addr_t *bind_addr, uint16_t port, int flags, char *err, size_t errlen);
/* ttl 0: the socket default. src: send from this address (needs a socket bound to any). */
int np_udp_send(int fd, const np_addr_t *to, const void *buf, size_t len, int ttl, const np_addr_t *src);
/* Returns the length, -EAGAIN when empty. dst may be NULL. */
ssize_t np_udp_recv(int fd, void *buf, size_t cap, np_addr_t *from, np_addr_t *dst);
/* The socket's local address and port. */
int np_udp_local(int fd, np_addr_t *out);
/* A numeric address ("192.0.2.1", "2001:db8::1") into out (port unchanged). */
int np_addr_parse(const char *s, np_addr_t *out);
/* A host name or numeric address; family_hint 0, 4 or 6. out->port is kept. */
int np_resolve(const char *host, int family_hint, np_addr_t *out, char *err, size_t errlen);
/* The local address the kernel would use to reach `to` (for the LAN endpoint). */
int np_route_source(const np_addr_t *to, np_addr_t *out);
/* The MTU of the route to `to` (the interface's, or a smaller cached path
 * MTU), or -errno. */
int np_route_mtu(const np_addr_t *to);
/* Every datagram of fd leaves with DF (IPv6: unfragmented) and the kernel
 * neither fragments nor refuses by a cached path MTU: the sender does its
 * own path MTU discovery (IP_PMTUDISC_PROBE). family: 4 or 6. */
int np_udp_set_df_probe(int fd, int family);

#endif
