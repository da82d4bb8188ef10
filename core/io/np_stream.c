/* np_stream: see np_stream.h. */
#include "np_stream.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

int np_stream_flush(int fd, uint8_t *buf, size_t *len)
{
	while (*len > 0) {
		ssize_t n = send(fd, buf, *len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		memmove(buf, buf + n, *len - (size_t)n);
		*len -= (size_t)n;
	}
	return 0;
}

void np_stream_watch(struct ev_loop *loop, ev_io *io, int *cur, int events)
{
	if (*cur == events)
		return;
	ev_io_stop(loop, io);
	ev_io_set(io, io->fd, events);
	ev_io_start(loop, io);
	*cur = events;
}
