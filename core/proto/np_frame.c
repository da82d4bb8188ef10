/* np_frame: length-prefixed control messages on a stream (np_frame.h). */
#include "np_frame.h"

#include <errno.h>
#include <string.h>

int np_frame_encode(uint8_t *out, size_t cap, const uint8_t *msg, size_t len)
{
	if (len == 0 || len > NP_FRAME_MAX)
		return -EMSGSIZE;
	if (cap < NP_FRAME_HDR + len)
		return -ENOSPC;
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
	memcpy(out + NP_FRAME_HDR, msg, len);
	return (int)(NP_FRAME_HDR + len);
}

int np_frame_take(struct np_frame_rx *r, const uint8_t **in, size_t *inlen, const uint8_t **msg, size_t *len)
{
	size_t want, n;

	if (r->have >= NP_FRAME_HDR) {
		want = (size_t)r->buf[0] << 8 | r->buf[1];
		if (r->have == NP_FRAME_HDR + want)
			r->have = 0; /* the frame returned last time */
	}
	while (*inlen > 0) {
		if (r->have < NP_FRAME_HDR) {
			want = NP_FRAME_HDR;
		} else {
			want = (size_t)r->buf[0] << 8 | r->buf[1];
			if (want == 0 || want > NP_FRAME_MAX)
				return -EBADMSG;
			want += NP_FRAME_HDR;
		}
		n = want - r->have;
		if (n > *inlen)
			n = *inlen;
		memcpy(r->buf + r->have, *in, n);
		r->have += n;
		*in += n;
		*inlen -= n;
		if (r->have == NP_FRAME_HDR) {
			want = (size_t)r->buf[0] << 8 | r->buf[1];
			if (want == 0 || want > NP_FRAME_MAX)
				return -EBADMSG;
		} else if (r->have > NP_FRAME_HDR && r->have == want) {
			*msg = r->buf + NP_FRAME_HDR;
			*len = want - NP_FRAME_HDR;
			return 1;
		}
	}
	return 0;
}

int np_frame_partial(const struct np_frame_rx *r)
{
	size_t want;

	if (r->have == 0)
		return 0;
	if (r->have < NP_FRAME_HDR)
		return 1;
	want = (size_t)r->buf[0] << 8 | r->buf[1];
	return r->have != NP_FRAME_HDR + want;
}
