/* fuzz_probe: arbitrary bytes into np_wire_parse_probe and np_auth_verify,
 * the path every punch probe and probe-ack takes in the peer. A random MAC
 * must never verify; a probe that parses, re-MACed with the right key, must
 * verify, and any single flipped bit of it must not. */
#include <errno.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "np_auth.h"
#include "np_wire.h"

static uint8_t np_fuzz_key[NP_AUTH_KEY_LEN];
static int np_fuzz_ready;

static void np_fuzz_setup(void)
{
	uint8_t a[32], b_pub[32], b[32], base[32], pairing[16];

	if (sodium_init() < 0)
		abort();
	memset(a, 0x5a, sizeof(a));
	memset(b, 0xa5, sizeof(b));
	crypto_scalarmult_base(b_pub, b);
	if (np_auth_probe_base(a, b_pub, NULL, base) < 0)
		abort();
	memset(pairing, 0x3c, sizeof(pairing));
	np_auth_probe_key(base, pairing, np_fuzz_key);
	np_fuzz_ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct np_msg_probe m;
	uint8_t buf[NP_PROBE_WIRE_LEN];
	int rc;

	if (!np_fuzz_ready)
		np_fuzz_setup();
	rc = np_wire_parse_probe(data, size, &m);
	if (rc != 0 && rc != -EBADMSG && rc != -EPROTONOSUPPORT)
		abort();
	/* What the peer does with anything: the MAC over the fixed prefix. */
	if (size >= NP_PROBE_MAC_OFFSET + NP_MAC_LEN &&
	    np_auth_verify(np_fuzz_key, data, NP_PROBE_MAC_OFFSET, data + NP_PROBE_MAC_OFFSET) == 0) {
		/* A forged MAC that verifies: only possible if the input carries the real one. */
		uint8_t want[NP_MAC_LEN];
		np_auth_mac(np_fuzz_key, data, NP_PROBE_MAC_OFFSET, want);
		if (memcmp(want, data + NP_PROBE_MAC_OFFSET, NP_MAC_LEN) != 0)
			abort();
	}
	if (rc != 0)
		return 0;
	if (m.type != NP_MSG_PROBE && m.type != NP_MSG_PROBE_ACK)
		abort();
	if (size != NP_PROBE_WIRE_LEN)
		abort();
	/* Sign it properly: it must verify, and every bit flip must break it. */
	memcpy(buf, data, sizeof(buf));
	np_auth_mac(np_fuzz_key, buf, NP_PROBE_MAC_OFFSET, buf + NP_PROBE_MAC_OFFSET);
	if (np_auth_verify(np_fuzz_key, buf, NP_PROBE_MAC_OFFSET, buf + NP_PROBE_MAC_OFFSET) != 0)
		abort();
	{
		size_t bit = (size_t)(m.nonce % (NP_PROBE_WIRE_LEN * 8));
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (np_auth_verify(np_fuzz_key, buf, NP_PROBE_MAC_OFFSET, buf + NP_PROBE_MAC_OFFSET) == 0)
			abort();
	}
	/* The parsed MAC field is the wire's. */
	if (memcmp(m.mac, data + NP_PROBE_MAC_OFFSET, NP_MAC_LEN) != 0)
		abort();
	return 0;
}
