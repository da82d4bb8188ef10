/* np_stream: the send side of a non-blocking stream socket (TCP) that
 * carries framed messages, shared by the server's TCP connections
 * (core/server/np_server_tcp.c) and a peer's registration over TCP
 * (core/tunnel/np_regtcp.c).
 *
 * Belongs here: writing out a caller-owned send buffer without blocking,
 * and re-arming a libev watcher only when its events change. No framing
 * (np_frame.h), no connection state, no logging. */
#ifndef NP_STREAM_H
#define NP_STREAM_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

/* Sends as much of buf[0..*len) as fd takes now and moves the rest to the
 * front; *len is what is left. 0 when everything went or the socket would
 * block, -errno when the connection broke (-EPIPE if send() took nothing). */
int np_stream_flush(int fd, uint8_t *buf, size_t *len);

/* Sets io (started on io->fd) to watch `events`; *cur is the events it
 * watches now, and is updated. Nothing happens when they are the same. */
void np_stream_watch(struct ev_loop *loop, ev_io *io, int *cur, int events);

#endif
