/* fuzz_transport: arbitrary bytes into np_session_decrypt of an established
 * session (both sides, ChaChaPoly and AESGCM when available). The index and
 * counter fields are patched from the input so the AEAD layer is reached. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "np_session.h"

static struct np_session a, b;
static int ready;

static void setup(void)
{
	uint8_t k1[32], k2[32], p1[32], p2[32], buf[256];
	struct np_session *ini, *rsp;
	size_t n, m, off;

	memset(k1, 0x33, sizeof(k1));
	memset(k2, 0x44, sizeof(k2));
	crypto_scalarmult_base(p1, k1);
	crypto_scalarmult_base(p2, k2);
	np_session_init(&a, k1, p2, NULL);
	np_session_init(&b, k2, p1, NULL);
	ini = np_session_is_initiator(&a) ? &a : &b;
	rsp = ini == &a ? &b : &a;
	np_session_create_init(ini, 0, buf, sizeof(buf), &n);
	np_session_handle_init(rsp, 0, buf, n, buf, sizeof(buf), &m);
	np_session_handle_resp(ini, 0, buf, m);
	np_session_encrypt(ini, 0, buf, 0, sizeof(buf), &n);
	np_session_decrypt(rsp, 0, buf, n, &off, &m);
	if (!np_session_can_send(&a, 0) || !np_session_can_send(&b, 0))
		abort(); /* the setup itself is broken: fuzzing would prove nothing */
	ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[70000];
	struct np_session *s;
	size_t off, len;

	if (!ready)
		setup();
	if (size < 1 || size - 1 > sizeof(buf))
		return 0;
	s = (data[0] & 1) ? &a : &b;
	memcpy(buf, data + 1, size - 1);
	/* Often aim at the live index with a plausible header. */
	if ((data[0] & 2) && size - 1 >= NP_TRANSPORT_HDR_LEN) {
		buf[0] = 1;
		buf[1] = NP_MSG_TRANSPORT;
		buf[2] = buf[3] = 0;
		buf[4] = (uint8_t)(s->current.local_index >> 24);
		buf[5] = (uint8_t)(s->current.local_index >> 16);
		buf[6] = (uint8_t)(s->current.local_index >> 8);
		buf[7] = (uint8_t)s->current.local_index;
	}
	np_session_decrypt(s, 1, buf, size - 1, &off, &len);
	return 0;
}
