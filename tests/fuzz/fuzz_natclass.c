/* fuzz_natclass: arbitrary observations through the NAT classifier, its
 * names and the JSON writer; also np_autoselect on two arbitrary infos. */
#include <stdint.h>
#include <string.h>

#include "np_autoselect.h"
#include "np_natclass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct np_nat_obs obs;
	np_nat_info_t a, b;
	char buf[512], why[160];
	size_t n = size < sizeof(obs) ? size : sizeof(obs);

	memset(&obs, 0, sizeof(obs));
	memcpy(&obs, data, n);
	if (obs.n_fresh > NP_NATCLASS_MAX_FRESH * 4)
		obs.n_fresh %= NP_NATCLASS_MAX_FRESH * 4;
	np_natclass_classify(&obs, &a);
	np_natclass_kind_str(&a, buf, sizeof(buf));
	np_natclass_describe(&a, buf, sizeof(buf));
	np_natclass_json(&a, &obs.mapped_p1, buf, sizeof(buf));
	np_natclass_json(&a, &obs.mapped_p1, buf, 7);
	/* Raw infos with out-of-range enum values must be handled too. */
	memset(&b, 0, sizeof(b));
	if (size > n)
		memcpy(&b, data + n, size - n < sizeof(b) ? size - n : sizeof(b));
	np_natclass_kind_str(&b, buf, sizeof(buf));
	np_natclass_json(&b, NULL, buf, sizeof(buf));
	np_autoselect(&a, &b, (unsigned)size, why, sizeof(why));
	np_autoselect(&b, &b, 0, why, sizeof(why));
	return 0;
}
