/* fuzz_hookmsg: arbitrary bytes as a message from the other side of the
 * daemon/hook-helper socket. Whatever parses must give an event whose
 * strings are NUL-terminated inside the message and whose name is known,
 * and must survive a round trip through np_hookmsg_set_event unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "np_hookmsg.h"
#include "np_hooks_queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct np_hookmsg m, m2, m3;
	np_hook_event_t ev;

	if (np_hookmsg_parse(data, size, &m) != 0)
		return 0;
	if (m.type != NP_HM_EVENT && m.type != NP_HM_RESTORE)
		return 0;
	np_hookmsg_get_event(&m, &ev);
	if (!ev.event || !np_hookq_known_event(ev.event))
		abort();
	np_hookmsg_init(&m2, (enum np_hookmsg_type)m.type);
	m2.seq = m.seq;
	np_hookmsg_set_event(&m2, &ev);
	if (np_hookmsg_parse(&m2, sizeof(m2), &m3) != 0 || memcmp(m.s, m3.s, sizeof(m.s)) != 0 ||
	    m3.present != m.present || m3.mtu != m.mtu || m3.attempts != m.attempts)
		abort();
	return 0;
}
