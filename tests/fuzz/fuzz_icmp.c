/* fuzz_icmp: arbitrary inner packets into what the tunnel does with those
 * too big for the path (np_too_big_action, np_icmp_too_big, np_frag4) and
 * arbitrary plaintexts into the in-tunnel PMTU message parser. An answer
 * never exceeds its buffer or the 1280-byte bound and has valid checksums;
 * fragments are never longer than the MTU and rebuild the payload exactly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "np_icmp.h"
#include "np_offload.h"
#include "np_pmtu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[NP_ICMP_MAX_LEN], frag[65536 + 64], joined[65536];
	struct np_frag4 f;
	unsigned mtu;
	uint32_t id;
	uint16_t sz;
	int type, n;

	if (size < 2)
		return 0;
	mtu = (unsigned)data[0] << 8 | data[1];
	data += 2;
	size -= 2;

	(void)np_too_big_action(data, size);
	n = np_icmp_too_big(data, size, mtu, out, sizeof(out));
	if (n > 0) {
		if ((size_t)n > sizeof(out))
			abort();
		if ((out[0] >> 4) == 4 && np_csum_fold(np_csum_add(0, out, 20)) != 0xffff)
			abort();
	}

	if (np_frag4_start(&f, data, size, mtu) == 0) {
		size_t got = 0, hl0 = (size_t)(data[0] & 0x0f) * 4, total = (size_t)data[2] << 8 | data[3];

		while ((n = np_frag4_next(&f, frag, sizeof(frag))) > 0) {
			size_t hl = (size_t)(frag[0] & 0x0f) * 4;

			if ((unsigned)n > mtu || hl > (size_t)n || got + (size_t)n - hl > sizeof(joined))
				abort();
			if (np_csum_fold(np_csum_add(0, frag, hl)) != 0xffff)
				abort();
			memcpy(joined + got, frag + hl, (size_t)n - hl);
			got += (size_t)n - hl;
		}
		if (n < 0 || got != total - hl0 || memcmp(joined, data + hl0, got) != 0)
			abort();
	}

	if (np_pmtu_msg_parse(data, size, &type, &id, &sz) == 0 && (type < NP_PMTU_MSG_PROBE || type > NP_PATH_MSG_ACK))
		abort();
	return 0;
}
