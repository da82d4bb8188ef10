/* fuzz_wire: arbitrary bytes into every np_wire_parse_* function (and the
 * type and address helpers). Whatever parses is encoded again and the
 * encoding parsed once more: it must succeed, give the same struct, and be
 * exactly as long as the input (the parsers accept no slack). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "np_wire.h"

#define NP_FUZZ_CHECK(c)          \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

/* Parse, then encode and parse again; compare. */
#define NP_FUZZ_ROUND_TRIP(type, parse, encode, data, size)                                   \
	do {                                                                                  \
		type m1, m2;                                                                  \
		uint8_t out[512];                                                             \
		int rc = parse(data, size, &m1);                                              \
		NP_FUZZ_CHECK(rc == 0 || rc == -EBADMSG || rc == -EPROTONOSUPPORT);           \
		if (rc == 0) {                                                                \
			int n = encode(out, sizeof(out), &m1);                                \
			NP_FUZZ_CHECK(n > 0 && (size_t)n == (size));                          \
			NP_FUZZ_CHECK(parse(out, (size_t)n, &m2) == 0);                       \
			NP_FUZZ_CHECK(memcmp(&m1, &m2, sizeof(m1)) == 0);                     \
			NP_FUZZ_CHECK(encode(out, (size_t)n - 1, &m1) == -ENOSPC);            \
		}                                                                             \
	} while (0)

static void np_fuzz_addr(const uint8_t *data, size_t size)
{
	np_addr_t a, b;
	uint8_t out[NP_WIRE_ADDR_MAX];
	char s[NP_ADDR_STRLEN];
	int n = np_wire_get_addr(data, size, &a);

	NP_FUZZ_CHECK(n == -EBADMSG || (n >= 3 && (size_t)n <= size && n <= NP_WIRE_ADDR_MAX));
	if (n < 0)
		return;
	np_addr_str(&a, s, sizeof(s));
	NP_FUZZ_CHECK(memchr(s, '\0', sizeof(s)) != NULL);
	NP_FUZZ_CHECK(np_wire_put_addr(out, sizeof(out), &a) == n);
	NP_FUZZ_CHECK(np_wire_get_addr(out, (size_t)n, &b) == n);
	NP_FUZZ_CHECK(np_addr_equal(&a, &b));
	(void)np_addr_is_private(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int t = np_wire_type(data, size);

	NP_FUZZ_CHECK(t == -EBADMSG || t == -EPROTONOSUPPORT || (t >= 0 && t <= 255));
	NP_FUZZ_ROUND_TRIP(struct np_msg_register, np_wire_parse_register, np_wire_encode_register, data, size);
	NP_FUZZ_ROUND_TRIP(struct np_msg_register_ack, np_wire_parse_register_ack, np_wire_encode_register_ack, data,
			   size);
	NP_FUZZ_ROUND_TRIP(struct np_msg_peer_info, np_wire_parse_peer_info, np_wire_encode_peer_info, data, size);
	NP_FUZZ_ROUND_TRIP(struct np_msg_nat_probe, np_wire_parse_nat_probe, np_wire_encode_nat_probe, data, size);
	NP_FUZZ_ROUND_TRIP(struct np_msg_nat_probe_reply, np_wire_parse_nat_probe_reply,
			   np_wire_encode_nat_probe_reply, data, size);
	NP_FUZZ_ROUND_TRIP(struct np_msg_probe, np_wire_parse_probe, np_wire_encode_probe, data, size);
	NP_FUZZ_ROUND_TRIP(struct np_msg_register_cookie, np_wire_parse_register_cookie,
			   np_wire_encode_register_cookie, data, size);
	(void)np_wire_other_version(data, size);
	np_fuzz_addr(data, size);
	if (size > 4)
		np_fuzz_addr(data + 4, size - 4);
	return 0;
}
