/* test_hookmsg: the fixed-size messages between the daemon and its hook
 * helper (hooks/np_hookmsg.c). A record is accepted only when it is exactly
 * one message with every string terminated inside its field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "np_hookmsg.h"

static void event_msg(struct np_hookmsg *m)
{
	np_hook_event_t ev = { .event = "up", .reason = "handshake complete", .ifname = "np0", .mtu = 1400,
			       .peer_ip = "198.51.100.7", .peer_port = 40001, .attempts = 2, .path = "relayed" };

	np_hookmsg_init(m, NP_HM_EVENT);
	m->seq = 7;
	np_hookmsg_set_event(m, &ev);
}

static int parse(const struct np_hookmsg *m)
{
	struct np_hookmsg out;

	return np_hookmsg_parse(m, sizeof(*m), &out);
}

static void test_round_trip(void **state)
{
	struct np_hookmsg m, out;
	np_hook_event_t ev;

	event_msg(&m);
	assert_int_equal(np_hookmsg_parse(&m, sizeof(m), &out), 0);
	np_hookmsg_get_event(&out, &ev);
	assert_string_equal(ev.event, "up");
	assert_string_equal(ev.reason, "handshake complete");
	assert_string_equal(ev.ifname, "np0");
	assert_string_equal(ev.peer_ip, "198.51.100.7");
	assert_null(ev.public_ip);
	assert_null(ev.session);
	assert_string_equal(ev.path, "relayed");
	assert_int_equal(ev.mtu, 1400);
	assert_int_equal(ev.peer_port, 40001);
	assert_int_equal(ev.attempts, 2);
	assert_int_equal(out.seq, 7);
}

static void test_length(void **state)
{
	unsigned char buf[sizeof(struct np_hookmsg) + 1];
	struct np_hookmsg m, out;

	event_msg(&m);
	memcpy(buf, &m, sizeof(m));
	buf[sizeof(m)] = 0;
	assert_int_equal(np_hookmsg_parse(buf, sizeof(m) - 1, &out), -EBADMSG);
	assert_int_equal(np_hookmsg_parse(buf, sizeof(m) + 1, &out), -EBADMSG);
	assert_int_equal(np_hookmsg_parse(buf, 0, &out), -EBADMSG);
}

static void test_header(void **state)
{
	struct np_hookmsg m;

	event_msg(&m);
	m.magic ^= 1;
	assert_int_equal(parse(&m), -EBADMSG);
	event_msg(&m);
	m.version = NP_HOOKMSG_VERSION + 1;
	assert_int_equal(parse(&m), -EBADMSG);
	event_msg(&m);
	m.type = 0;
	assert_int_equal(parse(&m), -EBADMSG);
	m.type = NP_HM_TYPE_END;
	assert_int_equal(parse(&m), -EBADMSG);
	event_msg(&m);
	m.flags = 2;
	assert_int_equal(parse(&m), -EBADMSG);
}

static void test_strings(void **state)
{
	struct np_hookmsg m;

	event_msg(&m);
	memset(m.s[NP_HMF_IFNAME], 'a', NP_HOOKMSG_STR);     /* no NUL inside the field */
	assert_int_equal(parse(&m), -EBADMSG);
	event_msg(&m);
	m.s[NP_HMF_REASON][3] = '\n';                           /* not printable */
	assert_int_equal(parse(&m), -EBADMSG);
	event_msg(&m);
	m.s[NP_HMF_SESSION][0] = 'x';                           /* text in an absent field */
	assert_int_equal(parse(&m), -EBADMSG);
	event_msg(&m);
	m.present |= 1u << NP_HMF_COUNT;                        /* unknown field */
	assert_int_equal(parse(&m), -EBADMSG);
	event_msg(&m);
	memset(m.text, 'b', sizeof(m.text));
	assert_int_equal(parse(&m), -EBADMSG);
}

static void test_values(void **state)
{
	struct np_hookmsg m;

	event_msg(&m);
	snprintf(m.s[NP_HMF_EVENT], NP_HOOKMSG_STR, "sideways");
	assert_int_equal(parse(&m), -EBADMSG);
	event_msg(&m);
	m.present &= ~(1u << NP_HMF_EVENT);
	memset(m.s[NP_HMF_EVENT], 0, NP_HOOKMSG_STR);
	assert_int_equal(parse(&m), -EBADMSG);
	event_msg(&m);
	m.peer_port = 65536;
	assert_int_equal(parse(&m), -EBADMSG);
	event_msg(&m);
	m.mtu = -1;
	assert_int_equal(parse(&m), -EBADMSG);
	event_msg(&m);
	m.attempts = -5;
	assert_int_equal(parse(&m), -EBADMSG);
	/* RESTORE carries an up only; other types carry no event fields */
	event_msg(&m);
	m.type = NP_HM_RESTORE;
	assert_int_equal(parse(&m), 0);
	snprintf(m.s[NP_HMF_EVENT], NP_HOOKMSG_STR, "down");
	assert_int_equal(parse(&m), -EBADMSG);
	event_msg(&m);
	m.type = NP_HM_DONE;
	assert_int_equal(parse(&m), -EBADMSG);
}

static void test_sanitize(void **state)
{
	char longreason[400];
	np_hook_event_t ev = { .event = "punch_failed", .reason = longreason, .ifname = "np\x01\xff" };
	struct np_hookmsg m;

	memset(longreason, 'r', sizeof(longreason) - 1);
	longreason[sizeof(longreason) - 1] = '\0';
	np_hookmsg_init(&m, NP_HM_EVENT);
	np_hookmsg_set_event(&m, &ev);
	assert_int_equal(parse(&m), 0);
	assert_int_equal(strlen(m.s[NP_HMF_REASON]), NP_HOOKMSG_STR - 1);
	assert_string_equal(m.s[NP_HMF_IFNAME], "np??");
}

static void test_socket(void **state)
{
	struct np_hookmsg m, out;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	event_msg(&m);
	assert_int_equal(np_hookmsg_send(sv[0], &m), 0);
	assert_int_equal(np_hookmsg_recv(sv[1], &out), 0);
	assert_int_equal(out.seq, 7);
	assert_int_equal(np_hookmsg_recv(sv[1], &out), -EAGAIN);
	assert_int_equal(send(sv[0], "short", 5, 0), 5);                /* a short record */
	assert_int_equal(np_hookmsg_recv(sv[1], &out), -EBADMSG);
	close(sv[0]);
	assert_int_equal(np_hookmsg_recv(sv[1], &out), 1);              /* end of file */
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip), cmocka_unit_test(test_length), cmocka_unit_test(test_header),
		cmocka_unit_test(test_strings),    cmocka_unit_test(test_values), cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
