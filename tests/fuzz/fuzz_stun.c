/* fuzz_stun: arbitrary bytes into the STUN/TURN codec (np_stun_parse and
 * every attribute getter, ChannelData and stream framing), as the TURN
 * client sees them from a relay. The input is tried as is and with a valid
 * header forced on (so the attribute walk is reached). Whatever parses is
 * rebuilt attribute by attribute with MESSAGE-INTEGRITY and FINGERPRINT:
 * the rebuilt message must parse, verify, and fail to verify with another key. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "np_stun.h"

#define NP_FUZZ_CHECK(c)         \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static void np_fuzz_getters(const struct np_stun_msg *m)
{
	for (int i = 0; i < m->nattrs; i++) {
		const struct np_stun_attr *a = &m->attrs[i];
		np_addr_t ad;
		uint32_t v;
		int code;
		char s[128];

		NP_FUZZ_CHECK(a->val >= m->buf + NP_STUN_HDR_LEN && a->val + a->len <= m->buf + m->len);
		(void)np_stun_get_addr(m, a, 1, &ad);
		(void)np_stun_get_addr(m, a, 0, &ad);
		if (np_stun_get_error(a, &code, s, sizeof(s)) == 0)
			NP_FUZZ_CHECK(code >= 300 && code <= 699 && strlen(s) < sizeof(s));
		(void)np_stun_get_u32(a, &v);
		if (np_stun_get_str(a, s, sizeof(s)) == 0)
			NP_FUZZ_CHECK(strlen(s) == a->len);
	}
	(void)np_stun_check_integrity(m, (const uint8_t *)"key", 3);
}

static void np_fuzz_rebuild(const struct np_stun_msg *m)
{
	static uint8_t out[70000];
	struct np_stun_builder b;
	struct np_stun_msg m2;
	int n, end = m->mi >= 0 ? m->mi : (m->fp >= 0 ? m->fp : m->nattrs);

	np_stun_build(&b, out, sizeof(out), m->method, m->cls, m->txid);
	for (int i = 0; i < end; i++)
		np_stun_put(&b, m->attrs[i].type, m->attrs[i].val, m->attrs[i].len);
	np_stun_put_integrity(&b, (const uint8_t *)"key", 3);
	np_stun_put_fingerprint(&b);
	n = np_stun_finish(&b);
	if (n < 0) {
		NP_FUZZ_CHECK(n == -EINVAL); /* over 64 KiB of attributes */
		return;
	}
	if (end + 2 > NP_STUN_MAX_ATTRS) {
		/* The parser keeps at most NP_STUN_MAX_ATTRS attributes. */
		NP_FUZZ_CHECK(np_stun_parse(out, (size_t)n, &m2) == -EBADMSG);
		return;
	}
	NP_FUZZ_CHECK(np_stun_parse(out, (size_t)n, &m2) == 0);
	NP_FUZZ_CHECK(m2.method == m->method && m2.cls == m->cls && m2.nattrs == end + 2);
	NP_FUZZ_CHECK(np_stun_check_integrity(&m2, (const uint8_t *)"key", 3) == 0);
	NP_FUZZ_CHECK(np_stun_check_integrity(&m2, (const uint8_t *)"kez", 3) == -EKEYREJECTED);
}

static void np_fuzz_one(const uint8_t *data, size_t size)
{
	struct np_stun_msg m;
	int rc = np_stun_parse(data, size, &m);

	NP_FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
	if (rc == 0) {
		NP_FUZZ_CHECK(m.len == size && m.nattrs <= NP_STUN_MAX_ATTRS);
		np_fuzz_getters(&m);
		np_fuzz_rebuild(&m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[70000];
	const uint8_t *d;
	size_t dl;
	uint16_t ch;
	long fl;

	np_fuzz_one(data, size);
	if (np_stun_channel_parse(data, size, &ch, &d, &dl) == 0)
		NP_FUZZ_CHECK(d + dl <= data + size && ch >= NP_STUN_CHANNEL_MIN);
	fl = np_stun_stream_frame_len(data, size);
	NP_FUZZ_CHECK(fl == 0 || fl == -EBADMSG || fl >= 4);
	/* The same bytes behind a valid header. */
	if (size >= NP_STUN_HDR_LEN && size <= sizeof(buf)) {
		size_t len = NP_STUN_HDR_LEN + ((size - NP_STUN_HDR_LEN) & ~(size_t)3);

		if (len - NP_STUN_HDR_LEN <= 0xFFFF) {
			memcpy(buf, data, len);
			buf[0] &= 0x3f;
			buf[2] = (uint8_t)((len - NP_STUN_HDR_LEN) >> 8);
			buf[3] = (uint8_t)(len - NP_STUN_HDR_LEN);
			buf[4] = 0x21;
			buf[5] = 0x12;
			buf[6] = 0xa4;
			buf[7] = 0x42;
			np_fuzz_one(buf, len);
		}
	}
	return 0;
}
