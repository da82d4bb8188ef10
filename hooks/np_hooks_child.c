/* np_hooks_child: fork/exec, pipes, ev_child and kill for natpunch.exec.
 * See np_hooks_child.h. */
#include "np_hooks_child.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define np_child_of(ptr, member) ((struct np_child *)(void *)((char *)(ptr) - offsetof(struct np_child, member)))

struct np_child_buf {
	char *p;
	size_t len;
	int truncated;
};

struct np_child {
	struct np_child_set *set;       /* NULL once unlinked */
	struct ev_loop *loop;
	struct np_child *next;
	np_child_done_fn done;  /* NULL once abandoned */
	void *arg;
	pid_t pid;
	ev_child cw;
	ev_io out_w, err_w, in_w;
	struct np_child_buf out, err;
	char *in_buf;
	size_t in_len, in_off;
};

static void np_buf_read(struct np_child_buf *b, int fd, int *eof)
{
	char tmp[4096];
	ssize_t n;

	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				*eof = 1;
			return;
		}
		if (n == 0) {
			*eof = 1;
			return;
		}
		if (b->len < NP_CHILD_CAPTURE_MAX) {
			size_t take = (size_t)n;
			char *p;

			if (take > NP_CHILD_CAPTURE_MAX - b->len) {
				take = NP_CHILD_CAPTURE_MAX - b->len;
				b->truncated = 1;
			}
			p = realloc(b->p, b->len + take);
			if (!p) {
				b->truncated = 1;
				continue;
			}
			memcpy(p + b->len, tmp, take);
			b->p = p;
			b->len += take;
		} else {
			b->truncated = 1;
		}
	}
}

static void np_io_close(struct ev_loop *loop, ev_io *w)
{
	if (w->fd < 0)
		return;
	ev_io_stop(loop, w);
	close(w->fd);
	w->fd = -1;
}

static void np_child_out_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_child *c = np_child_of(w, out_w);
	int eof = 0;

	np_buf_read(&c->out, w->fd, &eof);
	if (eof)
		np_io_close(loop, w);
}

static void np_child_err_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_child *c = np_child_of(w, err_w);
	int eof = 0;

	np_buf_read(&c->err, w->fd, &eof);
	if (eof)
		np_io_close(loop, w);
}

static void np_child_in_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_child *c = np_child_of(w, in_w);
	ssize_t n;

	while (c->in_off < c->in_len) {
		n = send(w->fd, c->in_buf + c->in_off, c->in_len - c->in_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0)
			break;          /* EPIPE: the child does not read it all */
		c->in_off += (size_t)n;
	}
	np_io_close(loop, w);
}

static void np_child_unlink(struct np_child *c)
{
	struct np_child **pp;

	if (!c->set)
		return;
	for (pp = &c->set->head; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	c->set = NULL;
}

static void np_child_release(struct np_child *c)
{
	np_io_close(c->loop, &c->out_w);
	np_io_close(c->loop, &c->err_w);
	np_io_close(c->loop, &c->in_w);
	ev_child_stop(c->loop, &c->cw);
	np_child_unlink(c);
	free(c->out.p);
	free(c->err.p);
	free(c->in_buf);
	free(c);
}

static void np_child_exit_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct np_child *c = np_child_of(w, cw);
	struct np_child_result r = { 0 };
	np_child_done_fn done = c->done;
	void *arg = c->arg;
	int st = w->rstatus, eof;

	ev_child_stop(loop, w);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
	/* Whatever the child wrote before exiting is in the pipes now. */
	if (c->out_w.fd >= 0) {
		eof = 0;
		np_buf_read(&c->out, c->out_w.fd, &eof);
	}
	if (c->err_w.fd >= 0) {
		eof = 0;
		np_buf_read(&c->err, c->err_w.fd, &eof);
	}
	/* Unlink first: done() may free the whole set. */
	np_child_unlink(c);
	if (!done) {
		np_child_release(c);
		return;
	}
	r.out = c->out.p ? c->out.p : "";
	r.out_len = c->out.len;
	r.err = c->err.p ? c->err.p : "";
	r.err_len = c->err.len;
	r.truncated = c->out.truncated || c->err.truncated;
	c->done = NULL;
	done(arg, &r);
	np_child_release(c);
}

static void np_child_kill(struct np_child *c)
{
	kill(-c->pid, SIGKILL);
	kill(c->pid, SIGKILL);
}

void np_child_set_init(struct np_child_set *set, struct ev_loop *loop)
{
	set->loop = loop;
	set->head = NULL;
}

pid_t np_child_pid(const struct np_child *c)
{
	return c->pid;
}

void np_child_abandon(struct np_child *c)
{
	if (!c->done)
		return;
	c->done = NULL;
	np_child_kill(c);
}

void np_child_set_free(struct np_child_set *set)
{
	while (set->head) {
		struct np_child *c = set->head;

		ev_child_stop(set->loop, &c->cw);
		np_child_kill(c);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		np_child_release(c);
	}
}

static int np_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* In the child, between fork and exec: plain system calls only. */
static void np_child_exec(char *const argv[], int in_fd, int out_fd, int err_fd)
{
	sigset_t all;
	const char *why;

	setpgid(0, 0);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);   /* ignored dispositions survive exec */
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(126);
	close_range(3, ~0U, 0);
	execvp(argv[0], argv);
	why = errno == ENOENT ? "command not found" : strerror(errno);
	if (write(2, "natpunch.exec: ", 15) < 0 || write(2, argv[0], strlen(argv[0])) < 0 ||
	    write(2, ": ", 2) < 0 || write(2, why, strlen(why)) < 0 || write(2, "\n", 1) < 0)
		_exit(126);
	_exit(errno == ENOENT ? 127 : 126);
}

int np_child_spawn(struct np_child_set *set, char *const argv[], const char *in, size_t in_len,
		   np_child_done_fn done, void *arg, struct np_child **out)
{
	int inp[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	struct np_child *c;
	int ret;
	pid_t pid;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->set = set;
	c->loop = set->loop;
	c->done = done;
	c->arg = arg;
	if (in) {
		c->in_buf = malloc(in_len ? in_len : 1);
		if (!c->in_buf) {
			free(c);
			return -ENOMEM;
		}
		memcpy(c->in_buf, in, in_len);
		c->in_len = in_len;
		/* a socket, not a pipe: send(MSG_NOSIGNAL) cannot raise SIGPIPE */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, inp) < 0)
			goto fail_errno;
		shutdown(inp[0], SHUT_WR);
		shutdown(inp[1], SHUT_RD);
	} else {
		inp[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (inp[0] < 0)
			goto fail_errno;
	}
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		goto fail_errno;
	if ((inp[1] >= 0 && np_set_nonblock(inp[1]) < 0) || np_set_nonblock(outp[0]) < 0 ||
	    np_set_nonblock(errp[0]) < 0)
		goto fail_errno;
	pid = fork();
	if (pid < 0)
		goto fail_errno;
	if (pid == 0)
		np_child_exec(argv, inp[0], outp[1], errp[1]);
	setpgid(pid, pid);      /* both sides, so kill(-pid) works at once */
	c->pid = pid;
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	ev_io_init(&c->out_w, np_child_out_cb, outp[0], EV_READ);
	ev_io_init(&c->err_w, np_child_err_cb, errp[0], EV_READ);
	ev_io_init(&c->in_w, np_child_in_cb, inp[1], EV_WRITE);
	ev_io_start(set->loop, &c->out_w);
	ev_io_start(set->loop, &c->err_w);
	if (inp[1] >= 0)
		ev_io_start(set->loop, &c->in_w);
	ev_child_init(&c->cw, np_child_exit_cb, pid, 0);
	ev_child_start(set->loop, &c->cw);
	c->next = set->head;
	set->head = c;
	*out = c;
	return 0;

fail_errno:
	ret = -errno;
	for (int i = 0; i < 2; i++) {
		if (inp[i] >= 0)
			close(inp[i]);
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free(c->in_buf);
	free(c);
	return ret;
}
