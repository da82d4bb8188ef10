/* fuzz_handshake: arbitrary bytes into np_session_handle_init (responder)
 * and np_session_handle_resp (initiator with a handshake in flight), with
 * fixed static keys. The first input byte picks the target; the rest is the
 * packet. Valid headers are common enough in the driver's inputs that the
 * Noise layer is reached. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "np_session.h"

static struct np_session resp_side, init_side;
static int ready;

static void setup(void)
{
	uint8_t k1[32], k2[32], p1[32], p2[32];

	memset(k1, 0x11, sizeof(k1));
	memset(k2, 0x22, sizeof(k2));
	crypto_scalarmult_base(p1, k1);
	crypto_scalarmult_base(p2, k2);
	/* Whoever has the lower public key initiates. */
	if (memcmp(p1, p2, 32) < 0) {
		np_session_init(&init_side, k1, p2, NULL);
		np_session_init(&resp_side, k2, p1, NULL);
	} else {
		np_session_init(&init_side, k2, p1, NULL);
		np_session_init(&resp_side, k1, p2, NULL);
	}
	ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t pkt[NP_SESSION_INIT_LEN], out[NP_SESSION_RESP_LEN];
	size_t n;

	if (!ready)
		setup();
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		/* A handshake in flight, so the index may match. */
		if (!init_side.hs_pending)
			np_session_create_init(&init_side, 0, pkt, sizeof(pkt), &n);
		np_session_handle_resp(&init_side, 0, data + 1, size - 1);
	} else {
		np_session_handle_init(&resp_side, 0, data + 1, size - 1, out, sizeof(out), &n);
	}
	return 0;
}
