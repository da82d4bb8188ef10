/* fuzz_allowedips: the --allowed-ips check every authenticated packet passes
 * before the tun (np_allowedips_match_packet), and the option parser. The
 * first byte picks the target. A packet is matched against a fixed list
 * and the verdict is checked against a plain re-computation from the
 * header; a string must parse into entries that round-trip through
 * np_allowedips_str. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "np_allowedips.h"

static struct np_allowedips list;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], str[64], again_s[NP_ALLOWEDIPS_MAX * 48], once_s[NP_ALLOWEDIPS_MAX * 48];
	struct np_allowedips a, b;

	if (!ready) {
		if (np_allowedips_parse("10.0.0.2,192.168.0.0/16,fd00::/8,2001:db8::1/128", &list, err, sizeof(err)) < 0)
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		const uint8_t *p = data + 1;
		size_t n = size - 1;
		int want = 0, got = np_allowedips_match_packet(&list, p, n);

		if (n >= 20 && (p[0] >> 4) == 4)
			want = (p[12] == 10 && p[13] == 0 && p[14] == 0 && p[15] == 2) || (p[12] == 192 && p[13] == 168);
		else if (n >= 40 && (p[0] >> 4) == 6) {
			static const uint8_t host[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
			want = p[8] == 0xfd || memcmp(p + 8, host, 16) == 0;
		}
		if (got != want)
			abort();
		return 0;
	}
	if (size - 1 >= sizeof(str))
		return 0;
	memcpy(str, data + 1, size - 1);
	str[size - 1] = '\0';
	if (np_allowedips_parse(str, &a, err, sizeof(err)) < 0)
		return 0;
	np_allowedips_str(&a, once_s, sizeof(once_s));
	if (np_allowedips_parse(once_s, &b, err, sizeof(err)) < 0)
		abort();
	np_allowedips_str(&b, again_s, sizeof(again_s));
	if (strcmp(once_s, again_s) != 0 || a.n != b.n)
		abort();
	return 0;
}
