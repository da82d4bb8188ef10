/* np_frame: natpunch control messages on a byte stream (registration over
 * TCP, see core/proto/PROTOCOL.md "Registration over TCP").
 *
 * Each message is one frame: a 2-byte big-endian length, then that many
 * bytes, which are exactly the datagram the message would be over UDP.
 * The length is 1 to NP_FRAME_MAX; anything else is a framing error and
 * the stream is closed. The reassembler below is pure (no sockets): feed
 * it what a read returned, take out complete frames. */
#ifndef NP_FRAME_H
#define NP_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define NP_FRAME_HDR 2
#define NP_FRAME_MAX 1024 /* largest message on a stream (a PEER_INFO is < 512) */

struct np_frame_rx {
	uint8_t buf[NP_FRAME_HDR + NP_FRAME_MAX];
	size_t have;                 /* bytes of the current frame held */
};

/* Writes [len][msg] into out; returns the frame length or -ENOSPC / -EMSGSIZE. */
int np_frame_encode(uint8_t *out, size_t cap, const uint8_t *msg, size_t len);

/* Moves bytes from *in (advancing *in, *inlen) into r until a frame is
 * complete. Returns 1 with *msg, *len set to the message (valid until the
 * next call), 0 when all input is consumed without completing a frame, or
 * -EBADMSG for a length of 0 or over NP_FRAME_MAX (the stream is broken). */
int np_frame_take(struct np_frame_rx *r, const uint8_t **in, size_t *inlen, const uint8_t **msg, size_t *len);

/* 1 if a frame has been begun and not completed. */
int np_frame_partial(const struct np_frame_rx *r);

#endif
