/* np_server_tcp: the rendezvous server's TCP listeners, for peers whose
 * network lets no UDP through (core/proto/PROTOCOL.md "Registration over
 * TCP").
 *
 * It owns the listening sockets and the connections, and nothing of the
 * session table: each complete frame is handed to a callback with the
 * connection's id, and np_server.c answers through np_srvtcp_send() to
 * that id (which may have closed meanwhile: -ENOTCONN). Hostile clients
 * are bounded: at most max_conns connections (when full, the oldest one
 * that has not sent a single frame yet makes room, else the new one is
 * closed), at most max_per_ip per source address, a fixed receive buffer
 * of one frame and a bounded send buffer per connection (a message that
 * does not fit is dropped, as a datagram would be), a first frame within
 * first_s of the accept and a complete frame at least every idle_s after
 * (bytes of an unfinished frame do not count: slowloris), and a framing
 * error closes the connection. */
#ifndef NP_SERVER_TCP_H
#define NP_SERVER_TCP_H

#include <stddef.h>
#include <stdint.h>

#include <natpunch/strategy.h>

struct ev_loop;
struct np_srvtcp;

struct np_srvtcp_limits {
	size_t max_conns;            /* 0: no TCP at all */
	size_t max_per_ip;
	double first_s, idle_s;
};

struct np_srvtcp_stats {
	uint64_t accepted, refused, evicted, idle_closed, bad_frames, frames, tx_dropped;
	uint64_t open;
};

/* One complete frame from connection conn_id, which arrived on port index
 * port_idx (0: PORT1, 1: PORT2) from `from` to `to`. */
typedef void (*np_srvtcp_frame_fn)(void *arg, uint64_t conn_id, int port_idx, const uint8_t *msg, size_t len,
				   const np_addr_t *from, const np_addr_t *to);

int np_srvtcp_new(struct ev_loop *loop, const struct np_srvtcp_limits *lim, np_srvtcp_frame_fn fn, void *arg,
		  struct np_srvtcp **out);
/* Listens on addr (family 4 or 6; ip all-zero for any) and port, as port
 * index port_idx. Returns 0 or -errno with err set. */
int np_srvtcp_listen(struct np_srvtcp *t, const np_addr_t *addr, uint16_t port, int port_idx, char *err,
		     size_t errlen);
/* Sends one message as a frame on conn_id: 0, -ENOTCONN (gone) or -ENOBUFS (dropped). */
int np_srvtcp_send(struct np_srvtcp *t, uint64_t conn_id, const uint8_t *msg, size_t len);
/* Closes idle and slow connections (the server calls it every second). */
void np_srvtcp_sweep(struct np_srvtcp *t);
void np_srvtcp_get_stats(const struct np_srvtcp *t, struct np_srvtcp_stats *st);
void np_srvtcp_free(struct np_srvtcp *t);

#endif
