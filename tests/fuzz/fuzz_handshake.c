/* fuzz_handshake: arbitrary bytes into np_session_handle_init (responder,
 * through the np_hsgate admission order), np_session_handle_resp (initiator
 * with a handshake in flight) and np_session_handle_cookie (HANDSHAKE_COOKIE
 * for that handshake), with fixed static keys. The first input byte picks
 * the target (bits 0-1) and whether mac1 is recomputed (bit 2: a random
 * mac1 never verifies, so without it the Noise layer would not be reached).
 * A verdict of NP_HSG_COOKIE produces a cookie reply, which is fed back to
 * the initiator: it must be accepted only for the message it answers. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <stdlib.h>

#include "np_hsgate.h"
#include "np_session.h"

static struct np_hsgate gate;

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
	if (np_hsgate_init(&gate) < 0)
		abort();
	ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t pkt[NP_SESSION_INIT_LEN], out[NP_SESSION_RESP_LEN], msg[512], ck[NP_HS_COOKIE_MSG_LEN];
	np_addr_t from = { .family = 4, .port = 1234, .ip = { 192, 0, 2, 1 } };
	size_t n, len;
	int rc, macd;

	if (!ready)
		setup();
	if (size < 1 || size - 1 > sizeof(msg))
		return 0;
	len = size - 1;
	memcpy(msg, data + 1, len);
	if (!init_side.hs_pending)
		np_session_create_init(&init_side, 0, pkt, sizeof(pkt), &n);
	switch (data[0] & 3) {
	case 0:
		macd = (data[0] & 4) && len >= NP_HS_MACS_LEN + 4;
		if (macd)
			np_hscookie_add_macs(&init_side.hc, msg, len, 0);
		switch (np_hsgate_check(&gate, &resp_side, msg, len, &from, 0)) {
		case NP_HSG_PROCESS:
			np_session_handle_init(&resp_side, 0, msg, len, out, sizeof(out), &n);
			break;
		case NP_HSG_COOKIE:
			rc = np_session_cookie_reply(&resp_side, 0, msg, len, &from, ck, sizeof(ck));
			if (rc != NP_HS_COOKIE_MSG_LEN || (size_t)rc > len)
				abort();
			/* The mac1 the initiator sent last is the associated
			 * data: it takes the reply only if msg is its own init,
			 * or msg was just MAC'd by it (macd). */
			rc = np_session_handle_cookie(&init_side, 0, ck, sizeof(ck));
			if (rc == 0 && !macd && (len != sizeof(pkt) || memcmp(msg, pkt, len - NP_HS_MAC_LEN) != 0))
				abort();
			break;
		default:
			break;
		}
		break;
	case 1:
		if ((data[0] & 4) && len >= NP_HS_MACS_LEN + 4)
			np_hscookie_add_macs(&resp_side.hc, msg, len, 0);
		np_session_handle_resp(&init_side, 0, msg, len);
		break;
	default:
		np_session_handle_cookie(&init_side, 0, msg, len);
		break;
	}
	return 0;
}
