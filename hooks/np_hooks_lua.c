/* np_hooks_lua: the `natpunch` Lua module seen by hook files.
 *
 *   natpunch.exec{"prog", "arg", ..., stdin = "text"} -> status, stdout, stderr
 *   natpunch.sleep(seconds)
 *   natpunch.log.debug/info/warn/error(...)
 *   natpunch.version
 *
 * exec forks and execvp()s argv directly (there is no shell), with stdin from
 * /dev/null or the given text (through a socket), stdout and stderr captured through non-blocking
 * pipes (at most NP_HOOKS_CAPTURE_MAX bytes each), and yields the handler's
 * coroutine until the child is reaped by an ev_child watcher. status is the
 * exit code, 128+signal when killed, 127 when the program is missing. Each
 * child leads its own process group, so a timeout kills its descendants too.
 * Also here: the daemon context in the registry and child bookkeeping. */
#include "np_hooks_int.h"
#define NP_LOG_COMPONENT "hooks"
#include "np_log.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define NP_EXEC_MAX_ARGS 256

static const char np_hooks_key = 'h';   /* registry key: its address */

void np_hooks_lua_set_context(lua_State *L, struct np_hooks *h)
{
	lua_pushlightuserdata(L, h);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &np_hooks_key);
}

struct np_hooks *np_hooks_from_lua(lua_State *L)
{
	struct np_hooks *h;

	lua_rawgetp(L, LUA_REGISTRYINDEX, &np_hooks_key);
	h = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return h;
}

/* The calling coroutine must be the running handler's own, so that our
 * resume is the one that wakes it. */
static struct np_hooks *np_hooks_waitable(lua_State *L, const char *what)
{
	struct np_hooks *h = np_hooks_from_lua(L);

	if (!h || !h->running || h->co != L || h->wait != NP_WAIT_NONE || !lua_isyieldable(L))
		luaL_error(L, "natpunch.%s: only inside a hook handler (not at load time, not in a nested coroutine)", what);
	return h;
}

/* ---- children ----------------------------------------------------------- */

static void np_buf_read(struct np_hook_buf *b, int fd, int *eof)
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
		if (b->len < NP_HOOKS_CAPTURE_MAX) {
			size_t take = (size_t)n;
			char *p;

			if (take > NP_HOOKS_CAPTURE_MAX - b->len) {
				take = NP_HOOKS_CAPTURE_MAX - b->len;
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
	struct np_hook_child *c = np_container_of(w, struct np_hook_child, out_w);
	int eof = 0;

	np_buf_read(&c->out, w->fd, &eof);
	if (eof)
		np_io_close(loop, w);
}

static void np_child_err_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_hook_child *c = np_container_of(w, struct np_hook_child, err_w);
	int eof = 0;

	np_buf_read(&c->err, w->fd, &eof);
	if (eof)
		np_io_close(loop, w);
}

static void np_child_in_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_hook_child *c = np_container_of(w, struct np_hook_child, in_w);
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

static void np_child_unlink(struct np_hooks *h, struct np_hook_child *c)
{
	struct np_hook_child **pp;

	for (pp = &h->children; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			return;
		}
	}
}

static void np_child_release(struct np_hooks *h, struct np_hook_child *c)
{
	np_io_close(h->loop, &c->out_w);
	np_io_close(h->loop, &c->err_w);
	np_io_close(h->loop, &c->in_w);
	ev_child_stop(h->loop, &c->cw);
	np_child_unlink(h, c);
	free(c->out.p);
	free(c->err.p);
	free(c->in_buf);
	free(c);
}

static void np_child_exit_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct np_hook_child *c = np_container_of(w, struct np_hook_child, cw);
	struct np_hooks *h = c->h;
	int st = w->rstatus, status, eof;
	lua_State *co;

	ev_child_stop(loop, w);
	status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
	/* Whatever the child wrote before exiting is in the pipes now. */
	if (c->out_w.fd >= 0) {
		eof = 0;
		np_buf_read(&c->out, c->out_w.fd, &eof);
	}
	if (c->err_w.fd >= 0) {
		eof = 0;
		np_buf_read(&c->err, c->err_w.fd, &eof);
	}
	if (!c->owned) {
		np_debug("reaped abandoned child %ld (status %d)", (long)c->pid, status);
		np_child_release(h, c);
		return;
	}
	if (c->out.truncated || c->err.truncated)
		np_warn("hook %s: natpunch.exec output truncated to %d bytes", h->label, NP_HOOKS_CAPTURE_MAX);
	if (status == 127)
		np_warn("hook %s: natpunch.exec: program not found (status 127)", h->label);
	co = h->co;
	lua_pushinteger(co, status);
	lua_pushlstring(co, c->out.p ? c->out.p : "", c->out.len);
	lua_pushlstring(co, c->err.p ? c->err.p : "", c->err.len);
	np_child_release(h, c);
	h->wait = NP_WAIT_NONE;
	np_hooks_continue(h, 3);
}

static void np_child_kill(struct np_hook_child *c)
{
	kill(-c->pid, SIGKILL);
	kill(c->pid, SIGKILL);
}

void np_hooks_children_abandon(struct np_hooks *h)
{
	struct np_hook_child *c;

	for (c = h->children; c; c = c->next) {
		if (!c->owned)
			continue;
		c->owned = 0;
		np_child_kill(c);
	}
}

void np_hooks_children_free(struct np_hooks *h)
{
	while (h->children) {
		struct np_hook_child *c = h->children;

		ev_child_stop(h->loop, &c->cw);
		np_child_kill(c);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		np_child_release(h, c);
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
static void np_child_exec(char **argv, int in_fd, int out_fd, int err_fd)
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

/* Fork and exec argv; on success c is in h->children with its watchers on. */
static int np_child_spawn(struct np_hooks *h, struct np_hook_child *c, char **argv)
{
	int inp[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int ret = 0;
	pid_t pid;

	if (c->in_buf) {
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
	ev_io_start(h->loop, &c->out_w);
	ev_io_start(h->loop, &c->err_w);
	if (inp[1] >= 0)
		ev_io_start(h->loop, &c->in_w);
	ev_child_init(&c->cw, np_child_exit_cb, pid, 0);
	ev_child_start(h->loop, &c->cw);
	c->next = h->children;
	h->children = c;
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
	return ret;
}

/* ---- Lua functions ------------------------------------------------------ */

static int l_exec(lua_State *L)
{
	struct np_hooks *h;
	struct np_hook_child *c;
	char *argv[NP_EXEC_MAX_ARGS + 1];
	lua_Integer n, i;
	const char *in;
	size_t inlen;
	int ret;

	luaL_checktype(L, 1, LUA_TTABLE);
	h = np_hooks_waitable(L, "exec");
	n = luaL_len(L, 1);
	if (n < 1 || n > NP_EXEC_MAX_ARGS)
		return luaL_error(L, "natpunch.exec: argv needs 1 to %d strings", NP_EXEC_MAX_ARGS);
	luaL_checkstack(L, (int)n + 4, "natpunch.exec argv");
	for (i = 1; i <= n; i++) {
		size_t len;
		const char *s;

		lua_geti(L, 1, i);
		if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
			return luaL_error(L, "natpunch.exec: argv[%d] is a %s, not a string",
					  (int)i, luaL_typename(L, -1));
		s = lua_tolstring(L, -1, &len);
		if (strlen(s) != len)
			return luaL_error(L, "natpunch.exec: argv[%d] contains a NUL byte", (int)i);
		argv[i - 1] = (char *)s;        /* kept alive on the stack */
	}
	argv[n] = NULL;
	lua_getfield(L, 1, "stdin");
	in = lua_isnil(L, -1) ? NULL : luaL_tolstring(L, -1, &inlen);

	c = calloc(1, sizeof(*c));
	if (!c)
		return luaL_error(L, "natpunch.exec: out of memory");
	c->h = h;
	c->out_w.fd = c->err_w.fd = c->in_w.fd = -1;
	if (in) {
		c->in_buf = malloc(inlen ? inlen : 1);
		if (!c->in_buf) {
			free(c);
			return luaL_error(L, "natpunch.exec: out of memory");
		}
		memcpy(c->in_buf, in, inlen);
		c->in_len = inlen;
	}
	ret = np_child_spawn(h, c, argv);
	if (ret < 0) {
		free(c->in_buf);
		free(c);
		lua_pushinteger(L, 126);
		lua_pushliteral(L, "");
		lua_pushfstring(L, "natpunch.exec: %s: %s\n", argv[0], strerror(-ret));
		return 3;
	}
	np_debug("hook %s: exec %s (pid %ld)", h->label, argv[0], (long)c->pid);
	c->owned = 1;
	h->wait = NP_WAIT_EXEC;
	return lua_yield(L, 0);
}

static void np_sleep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_hooks *h = np_container_of(w, struct np_hooks, sleep_w);

	h->wait = NP_WAIT_NONE;
	np_hooks_continue(h, 0);
}

static int l_sleep(lua_State *L)
{
	lua_Number s = luaL_checknumber(L, 1);
	struct np_hooks *h;

	luaL_argcheck(L, s >= 0 && isfinite(s), 1, "seconds must be >= 0");
	h = np_hooks_waitable(L, "sleep");
	ev_now_update(h->loop);
	ev_timer_init(&h->sleep_w, np_sleep_cb, (ev_tstamp)s, 0.);
	ev_timer_start(h->loop, &h->sleep_w);
	h->wait = NP_WAIT_SLEEP;
	return lua_yield(L, 0);
}

static int np_log_lua(lua_State *L, int level)
{
	struct np_hooks *h = np_hooks_from_lua(L);
	luaL_Buffer b;
	int i, n = lua_gettop(L);

	luaL_buffinit(L, &b);
	for (i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, ' ');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	np_log(level, "hook %s: %s", h && h->label ? h->label : "?", lua_tostring(L, -1));
	return 0;
}

static int l_log_debug(lua_State *L)
{
	if (np_log_get_level() < NP_LOG_DEBUG)
		return 0;
	return np_log_lua(L, NP_LOG_DEBUG);
}

static int l_log_info(lua_State *L)
{
	return np_log_lua(L, NP_LOG_INFO);
}

static int l_log_warn(lua_State *L)
{
	return np_log_lua(L, NP_LOG_WARN);
}

static int l_log_error(lua_State *L)
{
	return np_log_lua(L, NP_LOG_ERR);
}

/* One flat table; "a.b" names land in the subtable a. */
static const luaL_Reg np_hooks_lib[] = {
	{ "exec", l_exec },
	{ "sleep", l_sleep },
	{ "log.debug", l_log_debug },
	{ "log.info", l_log_info },
	{ "log.warn", l_log_warn },
	{ "log.error", l_log_error },
	{ NULL, NULL },
};

static int np_hooks_luaopen(lua_State *L)
{
	const luaL_Reg *r;

	lua_newtable(L);
	for (r = np_hooks_lib; r->name; r++) {
		const char *dot = strchr(r->name, '.');

		if (!dot) {
			lua_pushcfunction(L, r->func);
			lua_setfield(L, -2, r->name);
			continue;
		}
		lua_pushlstring(L, r->name, (size_t)(dot - r->name));
		if (lua_rawget(L, -2) != LUA_TTABLE) {
			lua_pop(L, 1);
			lua_newtable(L);
			lua_pushlstring(L, r->name, (size_t)(dot - r->name));
			lua_pushvalue(L, -2);
			lua_rawset(L, -4);
		}
		lua_pushcfunction(L, r->func);
		lua_setfield(L, -2, dot + 1);
		lua_pop(L, 1);
	}
	lua_pushliteral(L, NP_VERSION);
	lua_setfield(L, -2, "version");
	return 1;
}

void np_hooks_lua_open(lua_State *L)
{
	luaL_requiref(L, "natpunch", np_hooks_luaopen, 1);
	lua_pop(L, 1);
}
