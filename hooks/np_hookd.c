/* np_hookd: the hook helper (monitor and worker processes) and the daemon's
 * side of the socket to it. See np_hookd.h. */
#include "np_hookd.h"
#include "np_hookmsg.h"
#include "np_hooks_queue.h"
#define NP_LOG_COMPONENT "hooks"
#include "np_log.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NP_RESTART_DELAY_MS 1000

static double np_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *np_status_str(int st, char *buf, size_t cap)
{
	if (WIFEXITED(st))
		snprintf(buf, cap, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
		snprintf(buf, cap, "was killed by the stall alarm (SIGALRM): one call into Lua ran longer "
			 "than the hook timeout");
	else if (WIFSIGNALED(st))
		snprintf(buf, cap, "was killed by %s", strsignal(WTERMSIG(st)));
	else
		snprintf(buf, cap, "ended (status 0x%x)", st);
	return buf;
}

/* ==== the worker: np_hooks on its own loop ================================ */

struct np_worker {
	struct ev_loop *loop;
	struct np_hooks *h;
	int fd, mon;
	uint64_t seq;           /* of the event being run */
	int seq_valid;
	ev_io io;
};

static void np_worker_on_load(void *arg, const char *path)
{
	struct np_worker *w = arg;
	struct np_hookmsg m;

	np_hookmsg_init(&m, NP_HM_LOADING);
	np_hookmsg_set_text(&m, path);
	np_hookmsg_send(w->fd, &m);
}

/* Tell the monitor which "up" is active, so a new worker inherits it. */
static void np_worker_report(struct np_worker *w, const struct np_hookmsg *ev_msg, int was_active)
{
	struct np_hookmsg m;
	int active = np_hooks_up_active(w->h);

	if (ev_msg && !strcmp(ev_msg->s[NP_HMF_EVENT], "up") && active) {
		m = *ev_msg;
		m.type = NP_HM_RESTORE;
		np_hookmsg_send(w->mon, &m);
	} else if (was_active && !active) {
		np_hookmsg_init(&m, NP_HM_CLEAR);
		np_hookmsg_send(w->mon, &m);
	}
}

static void np_worker_done(void *arg)
{
	struct np_worker *w = arg;
	struct np_hookmsg m;

	if (!w->seq_valid)
		return;
	np_hookmsg_init(&m, NP_HM_DONE);
	m.seq = w->seq;
	w->seq_valid = 0;
	np_hookmsg_send(w->fd, &m);
}

static void np_worker_exit(void *arg)
{
	struct np_worker *w = arg;

	ev_break(w->loop, EVBREAK_ALL);
}

static void np_worker_read(struct ev_loop *loop, ev_io *io, int revents)
{
	struct np_worker *w = io->data;
	struct np_hookmsg m;
	np_hook_event_t ev;
	int rc, was;

	for (;;) {
		rc = np_hookmsg_recv(w->fd, &m);
		if (rc == -EAGAIN)
			return;
		if (rc == -EBADMSG || (rc == 0 && m.type != NP_HM_EVENT)) {
			np_warn("worker: malformed message from the daemon: dropped");
			continue;
		}
		if (rc != 0)
			break;
		np_hookmsg_get_event(&m, &ev);
		was = np_hooks_up_active(w->h);
		if (np_hooks_fire(w->h, &ev) < 0)
			np_warn("worker: cannot queue %s", ev.event);
		np_worker_report(w, &m, was);
		w->seq = m.seq;
		w->seq_valid = 1;
		np_hooks_on_idle(w->h, np_worker_done, w);
	}
	/* End of file (or an error): the daemon is gone. Undo what is up. */
	ev_io_stop(loop, io);
	memset(&ev, 0, sizeof(ev));
	ev.event = "down";
	ev.reason = "daemon exited";
	was = np_hooks_up_active(w->h);
	if (was)
		np_info("the daemon is gone; running on_down");
	np_hooks_fire(w->h, &ev);
	np_worker_report(w, NULL, was);
	np_hooks_on_idle(w->h, np_worker_exit, w);
}

static int np_worker_main(int fd, int mon, const struct np_hooks_config *cfg,
			  const struct np_hookmsg *up, int restarted)
{
	struct np_hooks_config c = *cfg;
	struct np_worker w = { .fd = fd, .mon = mon };
	struct np_hookmsg m;
	np_hook_event_t ev;
	char err[NP_HOOKMSG_TEXT];

	prctl(PR_SET_NAME, "natpunch-hookw");
	w.loop = ev_default_loop(0);
	c.stall_alarm = 1;
	c.on_load = np_worker_on_load;
	c.on_load_arg = &w;
	if (np_hooks_new(w.loop, &c, &w.h, err, sizeof(err)) < 0) {
		np_hookmsg_init(&m, NP_HM_LOADERR);
		np_hookmsg_set_text(&m, err);
		np_hookmsg_send(fd, &m);
		return 3;
	}
	if (up) {
		np_hookmsg_get_event(up, &ev);
		np_hooks_restore_up(w.h, &ev);
	}
	np_hookmsg_init(&m, NP_HM_HELLO);
	m.nfiles = (uint32_t)np_hooks_nfiles(w.h);
	m.flags = restarted ? NP_HELLO_RESTARTED : 0;
	np_hookmsg_send(mon, &m);
	np_hookmsg_send(fd, &m);
	ev_io_init(&w.io, np_worker_read, fd, EV_READ);
	w.io.data = &w;
	ev_io_start(w.loop, &w.io);
	ev_run(w.loop, 0);
	np_hooks_free(w.h);
	return 0;
}

/* ==== the monitor: starts and restarts the worker ========================= */

struct np_monitor {
	int fd;                         /* to the daemon */
	const struct np_hooks_config *cfg;
	struct np_hookmsg up;           /* the active "up", if have_up */
	int have_up;
	int ever_loaded;
	int restarts;
};

/* Fork a worker; returns its pid (and a pidfd and the monitor's end of the
 * worker's report socket), or -errno. */
static pid_t np_monitor_spawn(struct np_monitor *mo, int *pidfd, int *rep)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (pid == 0) {
		close(sv[0]);
		_exit(np_worker_main(mo->fd, sv[1], mo->cfg, mo->have_up ? &mo->up : NULL, mo->restarts > 0));
	}
	close(sv[1]);
	*rep = sv[0];
	*pidfd = pidfd_open(pid, 0);
	return pid;
}

static void np_monitor_report(struct np_monitor *mo, int rep, int *loaded)
{
	struct np_hookmsg m;

	while (np_hookmsg_recv(rep, &m) == 0) {
		if (m.type == NP_HM_HELLO)
			*loaded = 1;
		else if (m.type == NP_HM_RESTORE)
			mo->up = m, mo->have_up = 1;
		else if (m.type == NP_HM_CLEAR)
			mo->have_up = 0;
	}
}

static void np_monitor_loaderr(struct np_monitor *mo, int st)
{
	struct np_hookmsg m;
	char buf[160], txt[260];

	np_hookmsg_init(&m, NP_HM_LOADERR);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
		m.flags = NP_LOADERR_STALLED;
		snprintf(txt, sizeof(txt), "stalled for more than %.1f s while loading (a long C call such as "
			 "a backtracking string.find?); the hook helper killed it", mo->cfg->timeout_s);
	} else {
		snprintf(txt, sizeof(txt), "the hook worker %s while loading", np_status_str(st, buf, sizeof(buf)));
	}
	np_hookmsg_set_text(&m, txt);
	np_hookmsg_send(mo->fd, &m);
}

static int np_monitor_main(int fd, const struct np_hooks_config *cfg)
{
	struct np_monitor mo = { .fd = fd, .cfg = cfg };
	int daemon_gone = 0, delay = NP_RESTART_DELAY_MS;
	char buf[160];

	/* Signals for the daemon (terminal ^C, systemd's SIGTERM) must not cut
	 * a pending on_down short: the helper ends when the daemon's socket
	 * does. */
	prctl(PR_SET_NAME, "natpunch-hooks");

	for (;;) {
		int pidfd = -1, rep = -1, loaded = 0, st = 0;
		pid_t pid = np_monitor_spawn(&mo, &pidfd, &rep);

		if (pid < 0) {
			np_err_e((int)pid, "cannot start the hook worker");
			return 1;
		}
		for (;;) {
			struct pollfd p[3] = {
				{ .fd = pidfd, .events = POLLIN },
				{ .fd = rep, .events = POLLIN },
				{ .fd = daemon_gone ? -1 : fd, .events = 0 },
			};

			if (poll(p, 3, -1) < 0 && errno != EINTR)
				break;
			if (p[1].revents & POLLIN)
				np_monitor_report(&mo, rep, &loaded);
			if (p[1].revents & (POLLHUP | POLLERR))
				p[1].fd = rep = (close(rep), -1);
			if (p[2].revents & (POLLHUP | POLLERR))
				daemon_gone = 1;
			if (p[0].revents & POLLIN)
				break;
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (rep >= 0) {
			np_monitor_report(&mo, rep, &loaded);
			close(rep);
		}
		close(pidfd);
		if (!loaded && !mo.ever_loaded) {
			/* The first load failed: the daemon reports it and exits. */
			if (!(WIFEXITED(st) && WEXITSTATUS(st) == 3))
				np_monitor_loaderr(&mo, st);
			return 1;
		}
		mo.ever_loaded |= loaded;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			return 0;       /* the daemon left and the worker finished */
		if (daemon_gone && !mo.have_up)
			return 0;
		delay = loaded ? NP_RESTART_DELAY_MS : delay * 2 > 30000 ? 30000 : delay * 2;
		np_warn("the hook worker (pid %ld) %s; starting a new worker in %d ms%s",
			(long)pid, np_status_str(st, buf, sizeof(buf)), delay,
			mo.have_up ? " (it will still run on_down for the active up)" : "");
		poll(NULL, 0, delay);
		mo.restarts++;
	}
	return 1;
}

/* ==== the daemon's side =================================================== */

struct np_hookd {
	struct ev_loop *loop;
	int fd;
	pid_t pid;
	int dead;
	size_t nfiles;
	struct np_hookq q;
	struct np_hookq_ev *inflight;
	uint64_t seq;
	ev_io io;
	ev_timer kick;
	ev_child cw;
	void (*idle_cb)(void *);
	void *idle_arg;
	double timeout_s;
};

static void np_hookd_pump(struct np_hookd *hd);

static void np_hookd_gone(struct np_hookd *hd, const char *why)
{
	if (hd->dead)
		return;
	hd->dead = 1;
	np_err("%s; hooks are off from now on", why);
	ev_io_stop(hd->loop, &hd->io);
	np_hookq_ev_free(hd->inflight);
	hd->inflight = NULL;
	np_hookq_clear(&hd->q);
}

static void np_hookd_read(struct ev_loop *loop, ev_io *io, int revents)
{
	struct np_hookd *hd = io->data;
	struct np_hookmsg m;
	int rc;

	for (;;) {
		rc = np_hookmsg_recv(hd->fd, &m);
		if (rc == -EAGAIN)
			break;
		if (rc == -EBADMSG) {
			np_warn("malformed message from the hook helper: dropped");
			continue;
		}
		if (rc != 0) {
			np_hookd_gone(hd, "the hook helper exited");
			break;
		}
		switch (m.type) {
		case NP_HM_DONE:
			if (hd->inflight && m.seq == hd->seq) {
				np_hookq_ev_free(hd->inflight);
				hd->inflight = NULL;
			}
			break;
		case NP_HM_HELLO:
			np_warn("the hook helper started a new worker%s%s%s",
				hd->inflight ? "; the " : "", hd->inflight ? hd->inflight->ev.event : "",
				hd->inflight ? " event it was running is abandoned" : "");
			np_hookq_ev_free(hd->inflight);
			hd->inflight = NULL;
			break;
		case NP_HM_LOADERR:
			np_err("the new hook worker cannot load the hooks: %s", m.text);
			break;
		case NP_HM_LOADING:
			break;
		default:
			np_warn("unexpected message %u from the hook helper: dropped", m.type);
			break;
		}
	}
	np_hookd_pump(hd);
}

static void np_hookd_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	np_hookd_pump(w->data);
}

static void np_hookd_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	char buf[160];

	ev_child_stop(loop, w);
	np_warn("the hook helper (pid %ld) %s", (long)w->rpid, np_status_str(w->rstatus, buf, sizeof(buf)));
}

/* Send the next event if none is at the worker; call the idle callback. */
static void np_hookd_pump(struct np_hookd *hd)
{
	struct np_hookmsg m;
	void (*cb)(void *);
	int rc;

	if (!hd->dead && !hd->inflight && hd->q.head) {
		hd->inflight = np_hookq_pop(&hd->q);
		np_hookmsg_init(&m, NP_HM_EVENT);
		m.seq = ++hd->seq;
		np_hookmsg_set_event(&m, &hd->inflight->ev);
		rc = np_hookmsg_send(hd->fd, &m);
		if (rc < 0) {
			np_hookd_gone(hd, "cannot write to the hook helper");
		}
	}
	if (np_hookd_busy(hd) || !hd->idle_cb)
		return;
	cb = hd->idle_cb;
	hd->idle_cb = NULL;
	cb(hd->idle_arg);
}

static void np_hookd_kick(struct np_hookd *hd)
{
	if (hd->loop && !ev_is_active(&hd->kick)) {
		ev_timer_set(&hd->kick, 0., 0.);
		ev_timer_start(hd->loop, &hd->kick);
	}
}

int np_hookd_fire(struct np_hookd *hd, const np_hook_event_t *ev)
{
	int rc;

	if (hd->dead)
		return np_hookq_known_event(ev->event) ? 0 : -EINVAL;
	rc = np_hookq_push(&hd->q, ev);
	if (rc == 0)
		np_hookd_kick(hd);
	return rc;
}

int np_hookd_busy(const struct np_hookd *hd)
{
	return !hd->dead && (hd->inflight || hd->q.head);
}

void np_hookd_on_idle(struct np_hookd *hd, void (*cb)(void *), void *arg)
{
	hd->idle_cb = cb;
	hd->idle_arg = arg;
	if (cb)
		np_hookd_kick(hd);
}

int np_hookd_up_active(const struct np_hookd *hd)
{
	return hd->q.up_active;
}

size_t np_hookd_nfiles(const struct np_hookd *hd)
{
	return hd->nfiles;
}

pid_t np_hookd_pid(const struct np_hookd *hd)
{
	return hd->pid;
}

void np_hookd_attach(struct np_hookd *hd, struct ev_loop *loop)
{
	hd->loop = loop;
	ev_io_init(&hd->io, np_hookd_read, hd->fd, EV_READ);
	hd->io.data = hd;
	ev_io_start(loop, &hd->io);
	ev_timer_init(&hd->kick, np_hookd_kick_cb, 0., 0.);
	hd->kick.data = hd;
	ev_child_init(&hd->cw, np_hookd_child_cb, hd->pid, 0);
	ev_child_start(loop, &hd->cw);
}

void np_hookd_free(struct np_hookd *hd)
{
	if (!hd)
		return;
	if (hd->loop) {
		ev_io_stop(hd->loop, &hd->io);
		ev_timer_stop(hd->loop, &hd->kick);
		ev_child_stop(hd->loop, &hd->cw);
	}
	if (hd->fd >= 0)
		close(hd->fd);
	np_hookq_ev_free(hd->inflight);
	np_hookq_clear(&hd->q);
	free(hd);
}

/* Wait for the first worker's HELLO, LOADERR or the helper's end. */
static int np_hookd_wait_loaded(struct np_hookd *hd, char *err, size_t errlen)
{
	char last[NP_HOOKMSG_TEXT] = "";
	double deadline = np_now() + hd->timeout_s + 5;
	struct np_hookmsg m;
	int rc;

	for (;;) {
		struct pollfd p = { .fd = hd->fd, .events = POLLIN };
		double left = deadline - np_now();

		if (left <= 0) {
			snprintf(err, errlen, "%s%sthe hook helper did not finish loading in time",
				 last, *last ? ": " : "");
			return -ETIMEDOUT;
		}
		rc = poll(&p, 1, (int)(left * 1000) + 1);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0)
			continue;
		rc = np_hookmsg_recv(hd->fd, &m);
		if (rc == -EAGAIN || rc == -EBADMSG)
			continue;
		if (rc != 0) {
			snprintf(err, errlen, "%s%sthe hook helper exited while loading", last, *last ? ": " : "");
			return -EIO;
		}
		switch (m.type) {
		case NP_HM_LOADING:
			snprintf(last, sizeof(last), "%s", m.text);
			deadline = np_now() + hd->timeout_s + 5;
			break;
		case NP_HM_LOADERR:
			if (m.flags & NP_LOADERR_STALLED)
				snprintf(err, errlen, "%s: %s", *last ? last : "hooks", m.text);
			else
				snprintf(err, errlen, "%s", m.text);
			return m.flags & NP_LOADERR_STALLED ? -ETIMEDOUT : -EINVAL;
		case NP_HM_HELLO:
			hd->nfiles = m.nfiles;
			return 0;
		default:
			break;
		}
	}
}

/* The helper's first steps after fork, with every signal blocked. */
static void np_monitor_child(const int sv[2], const struct np_hooks_config *cfg)
{
	sigset_t none;

	/* Drop the daemon's libev default loop if it had one (a SIGHUP
	 * reload): its backend fds are closed here, before the fds are
	 * rearranged, and its SIGCHLD handler is reset. The worker makes its
	 * own loop. */
	ev_loop_destroy(ev_default_loop(0));
	/* Signals for the daemon (terminal ^C, systemd's SIGTERM) must not cut
	 * a pending on_down short: the helper ends when the daemon's socket
	 * does. */
	setsid();
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	/* Keep only stdio and the socket: not the tun, the UDP sockets or the
	 * control socket of a running daemon. */
	close(sv[0]);
	if (sv[1] != 3 && dup2(sv[1], 3) < 0)
		_exit(1);
	close_range(4, ~0U, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	_exit(np_monitor_main(3, cfg));
}

int np_hookd_start(const struct np_hooks_config *cfg, struct np_hookd **out, char *err, size_t errlen)
{
	struct np_hookd *hd;
	int sv[2], rc, st;
	sigset_t all, old;
	pid_t pid;

	*out = NULL;
	hd = calloc(1, sizeof(*hd));
	if (!hd) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	hd->fd = -1;
	hd->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : NP_HOOKS_TIMEOUT_DEFAULT;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		np_errmsg(err, errlen, rc, "hooks: socketpair");
		free(hd);
		return rc;
	}
	fflush(NULL);
	/* No signal handler of the daemon may run in the child before it has
	 * dropped the daemon's loop (libev's handlers write to its pipe). */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		np_monitor_child(sv, cfg);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		rc = -errno;
		np_errmsg(err, errlen, rc, "hooks: fork");
		close(sv[0]);
		close(sv[1]);
		free(hd);
		return rc;
	}
	close(sv[1]);
	hd->fd = sv[0];
	hd->pid = pid;
	rc = np_hookd_wait_loaded(hd, err, errlen);
	if (rc < 0) {
		close(hd->fd);
		hd->fd = -1;
		if (rc == -ETIMEDOUT)
			kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		np_hookd_free(hd);
		return rc;
	}
	fcntl(hd->fd, F_SETFL, fcntl(hd->fd, F_GETFL) | O_NONBLOCK);
	*out = hd;
	return 0;
}
