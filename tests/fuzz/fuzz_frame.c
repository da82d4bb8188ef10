/* fuzz_frame: an arbitrary byte stream into np_frame_take, the reassembler
 * of registration over TCP (server and peer), cut into chunks whose sizes
 * come from the input. Checks against a straightforward reference parse of
 * the whole stream: the same frames, in order, with the same contents; an
 * error exactly where the reference finds a bad length; every input byte
 * consumed when no error; and a message never longer than NP_FRAME_MAX.
 * Input: byte 0 seeds the chunk sizes; the rest is the stream. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "np_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct np_frame_rx rx;
	const uint8_t *stream, *in, *msg;
	size_t len, off = 0, ref = 0, inlen, mlen, pos = 0;
	unsigned seed;
	int failed = 0;

	if (size < 1)
		return 0;
	seed = data[0];
	stream = data + 1;
	len = size - 1;
	memset(&rx, 0, sizeof(rx));
	while (off < len && !failed) {
		size_t chunk = 1 + (seed = seed * 1103515245u + 12345u) % 97u;

		if (chunk > len - off)
			chunk = len - off;
		in = stream + off;
		inlen = chunk;
		for (;;) {
			int rc = np_frame_take(&rx, &in, &inlen, &msg, &mlen);

			if (rc < 0) {
				/* The reference: the frame at ref has a bad length. */
				size_t want;

				if (ref + NP_FRAME_HDR > len)
					abort();
				want = (size_t)stream[ref] << 8 | stream[ref + 1];
				if (want != 0 && want <= NP_FRAME_MAX)
					abort();
				failed = 1;
				break;
			}
			if (rc == 0) {
				if (inlen != 0)
					abort();
				break;
			}
			/* A frame: the reference says the same. */
			if (ref + NP_FRAME_HDR > len)
				abort();
			size_t want = (size_t)stream[ref] << 8 | stream[ref + 1];
			if (want == 0 || want > NP_FRAME_MAX || mlen != want || ref + NP_FRAME_HDR + want > len ||
			    memcmp(msg, stream + ref + NP_FRAME_HDR, want) != 0)
				abort();
			ref += NP_FRAME_HDR + want;
			pos = (size_t)(in - stream);
			if (pos != ref)
				abort();
		}
		off += chunk;
	}
	if (!failed && np_frame_partial(&rx) != (ref != len))
		abort();
	return 0;
}
