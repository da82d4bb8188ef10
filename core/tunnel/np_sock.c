/* np_sock: the UDP sockets of one tunnel. Socket 0 is the main one
 * (registration, then data); 1..NP_HOST_MAX_SOCKETS are the extra ones a
 * strategy opens through the punch. Reading them is the data path's job. */
#include "np_peer_int.h"

#define NP_LOG_COMPONENT "peer"
#include "np_log.h"
#include "np_udp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int np_sock_open(struct np_peer *p, int id, uint16_t port)
{
	struct np_sock *s;
	char err[160];
	int fd;

	fd = np_udp_open(p->server.family, NULL, port, id == 0 ? NP_UDP_BIGBUF : 0, err, sizeof(err));
	if (fd < 0) {
		np_err("%s", err);
		return fd;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->fd = fd;
	s->id = id;
	s->p = p;
	ev_io_init(&s->io, np_dp_on_sock, fd, EV_READ);
	s->io.data = s;
	ev_io_start(p->loop, &s->io);
	p->socks[id] = s;
	return id;
}

void np_sock_close(struct np_peer *p, int id)
{
	struct np_sock *s = p->socks[id];

	if (!s)
		return;
	ev_io_stop(p->loop, &s->io);
	close(s->fd);
	free(s);
	p->socks[id] = NULL;
}

/* Makes socket `id` the main socket (id 0) and closes all the others. */
void np_sock_promote(struct np_peer *p, int id)
{
	if (id != 0 && id <= MAX_EXTRA_SOCKETS && p->socks[id]) {
		struct np_sock *win = p->socks[id];
		p->socks[id] = NULL;
		np_sock_close(p, 0);
		win->id = 0;
		p->socks[0] = win;
	}
	np_sock_close_extra(p, -1);
}

void np_sock_close_extra(struct np_peer *p, int keep)
{
	for (int i = 1; i <= MAX_EXTRA_SOCKETS; i++)
		if (i != keep)
			np_sock_close(p, i);
}

int np_sock_send(struct np_peer *p, int sock_id, const np_addr_t *to, const void *buf, size_t len, int ttl)
{
	int rc;

	if (np_relay_is_peer(p, to)) /* the relayed path */
		return np_relay_send(p, buf, len);
	if (sock_id < 0 || sock_id > MAX_EXTRA_SOCKETS || !p->socks[sock_id])
		return -EBADF;
	rc = np_udp_send(p->socks[sock_id]->fd, to, buf, len, ttl, NULL);
	if (rc < 0) {
		p->stats.send_errors++;
		if (np_log_get_level() >= NP_LOG_DEBUG) {
			char a[NP_ADDR_STRLEN];
			np_debug_e(rc, "send to %s failed", np_astr(to, a));
		}
	}
	return rc;
}

int np_sock_renew_main(struct np_peer *p)
{
	struct np_sock *old = p->socks[0];
	int rc;

	p->socks[0] = NULL;
	rc = np_sock_open(p, 0, 0);
	if (rc < 0) {
		p->socks[0] = old;
		return rc;
	}
	if (old) {
		ev_io_stop(p->loop, &old->io);
		close(old->fd);
		free(old);
	}
	return 0;
}
