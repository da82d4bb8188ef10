/* np_hookmsg: fixed-size, length-checked messages between daemon and hook
 * helper. See np_hookmsg.h. */
#include "np_hookmsg.h"
#include "np_hooks_queue.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

void np_hookmsg_init(struct np_hookmsg *m, enum np_hookmsg_type t)
{
	memset(m, 0, sizeof(*m));
	m->magic = NP_HOOKMSG_MAGIC;
	m->version = NP_HOOKMSG_VERSION;
	m->type = (uint16_t)t;
}

static void np_copy_str(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < cap; i++)
		dst[i] = src[i] >= 0x20 && src[i] <= 0x7e ? src[i] : '?';
	dst[i] = '\0';
}

static const char **np_field(np_hook_event_t *ev, int f)
{
	switch (f) {
	case NP_HMF_EVENT: return &ev->event;
	case NP_HMF_REASON: return &ev->reason;
	case NP_HMF_IFNAME: return &ev->ifname;
	case NP_HMF_LOCAL_IP: return &ev->local_ip;
	case NP_HMF_REMOTE_IP: return &ev->remote_ip;
	case NP_HMF_PEER_IP: return &ev->peer_ip;
	case NP_HMF_PUBLIC_IP: return &ev->public_ip;
	case NP_HMF_NAT_SELF: return &ev->nat_self;
	case NP_HMF_NAT_PEER: return &ev->nat_peer;
	case NP_HMF_STRATEGY: return &ev->strategy;
	case NP_HMF_PATH: return &ev->path;
	default: return &ev->session;
	}
}

void np_hookmsg_set_event(struct np_hookmsg *m, const np_hook_event_t *ev)
{
	np_hook_event_t tmp = *ev;

	for (int f = 0; f < NP_HMF_COUNT; f++) {
		const char *s = *np_field(&tmp, f);

		if (!s)
			continue;
		np_copy_str(m->s[f], NP_HOOKMSG_STR, s);
		m->present |= 1u << f;
	}
	m->mtu = ev->mtu;
	m->peer_port = ev->peer_port;
	m->public_port = ev->public_port;
	m->attempts = ev->attempts;
}

void np_hookmsg_get_event(const struct np_hookmsg *m, np_hook_event_t *ev)
{
	memset(ev, 0, sizeof(*ev));
	for (int f = 0; f < NP_HMF_COUNT; f++)
		if (m->present & (1u << f))
			*np_field(ev, f) = m->s[f];
	ev->mtu = m->mtu;
	ev->peer_port = m->peer_port;
	ev->public_port = m->public_port;
	ev->attempts = m->attempts;
}

void np_hookmsg_set_text(struct np_hookmsg *m, const char *text)
{
	np_copy_str(m->text, sizeof(m->text), text);
}

/* NUL inside the field, printable ASCII before it. */
static int np_str_ok(const char *s, size_t cap)
{
	const char *nul = memchr(s, '\0', cap);

	if (!nul)
		return 0;
	for (; s < nul; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

int np_hookmsg_parse(const void *buf, size_t len, struct np_hookmsg *m)
{
	if (len != sizeof(*m))
		return -EBADMSG;
	memcpy(m, buf, sizeof(*m));
	if (m->magic != NP_HOOKMSG_MAGIC || m->version != NP_HOOKMSG_VERSION ||
	    m->type < NP_HM_HELLO || m->type >= NP_HM_TYPE_END)
		return -EBADMSG;
	if (m->present & ~((1u << NP_HMF_COUNT) - 1) || m->flags & ~NP_HELLO_RESTARTED)
		return -EBADMSG;
	for (int f = 0; f < NP_HMF_COUNT; f++) {
		if (!np_str_ok(m->s[f], NP_HOOKMSG_STR))
			return -EBADMSG;
		if (!(m->present & (1u << f)) && m->s[f][0])
			return -EBADMSG;
	}
	if (!np_str_ok(m->text, sizeof(m->text)))
		return -EBADMSG;
	if (m->mtu < 0 || m->mtu > 65535 || m->peer_port < 0 || m->peer_port > 65535 ||
	    m->public_port < 0 || m->public_port > 65535 || m->attempts < 0 || m->nfiles > 100000)
		return -EBADMSG;
	if (m->type == NP_HM_EVENT || m->type == NP_HM_RESTORE) {
		if (!(m->present & (1u << NP_HMF_EVENT)) || !np_hookq_known_event(m->s[NP_HMF_EVENT]))
			return -EBADMSG;
		if (m->type == NP_HM_RESTORE && strcmp(m->s[NP_HMF_EVENT], "up"))
			return -EBADMSG;
	} else if (m->present) {
		return -EBADMSG;
	}
	return 0;
}

int np_hookmsg_send(int fd, const struct np_hookmsg *m)
{
	ssize_t n;

	do
		n = send(fd, m, sizeof(*m), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (size_t)n == sizeof(*m) ? 0 : -EMSGSIZE;
}

int np_hookmsg_recv(int fd, struct np_hookmsg *m)
{
	unsigned char buf[sizeof(*m) + 1];
	ssize_t n;

	do
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		return 1;
	return np_hookmsg_parse(buf, (size_t)n, m);
}
