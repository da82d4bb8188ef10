/* np_hooks: loading hook files and the runner that takes one handler at a
 * time through its coroutine under a timeout, an instruction watchdog and,
 * in the hook helper, a stall alarm. It carries out the requests the Lua
 * binding (np_hooks_lua.c) yields: natpunch.sleep with a timer,
 * natpunch.exec through np_hooks_child.c. The queue and its rules are in
 * np_hooks_queue.c. See np_hooks.h. */
#include "np_hooks.h"
#include "np_hooks_child.h"
#include "np_hooks_lua.h"
#include "np_hooks_queue.h"
#define NP_LOG_COMPONENT "hooks"
#include "np_log.h"

#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* Lua 5.4.4 (Debian) names it lua_resetthread; 5.4.6 has lua_closethread. */
#define np_lua_closethread(co, from) ((void)(from), lua_resetthread(co))

#define np_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Searched after the caller's dirs: the installed library, then the
 * system's pure-Lua modules. Never the current directory. */
#define NP_LUA_SYSTEM_DIRS NP_HOOK_LIBDIR ";/usr/local/share/lua/5.4;/usr/share/lua/5.4"

struct np_hook_file {
	char *path;
	int env_ref;            /* the file's _ENV table in the registry */
};

enum np_hook_wait { NP_WAIT_NONE = 0, NP_WAIT_SLEEP, NP_WAIT_EXEC };

struct np_hooks {
	struct ev_loop *loop;
	lua_State *L;
	struct np_hooks_lua_ctx ctx;            /* label and running handler, for the binding */
	struct np_hook_file *files;
	size_t nfiles;
	double timeout_s;
	int instr_limit;
	int stall_alarm;

	struct np_hookq q;
	struct np_hookq_ev *cur;                /* event being dispatched */
	size_t next_file;                       /* next handler of cur */

	/* the one running handler */
	int running;
	lua_State *co;
	int co_ref;
	char handler[32];                       /* "on_up", ... */
	enum np_hook_wait wait;
	struct np_child *child;                 /* what an exec waits for */
	ev_timer timeout_w;
	ev_timer sleep_w;

	struct np_child_set children;
	ev_timer kick_w;
	void (*idle_cb)(void *);
	void *idle_arg;
	struct np_hooks_stats st;
	size_t mem_used, mem_limit;             /* Lua heap, bounded by np_lua_alloc */
};

static void np_pump(struct np_hooks *h);

/* ---- the one way into Lua ------------------------------------------------ */

static void np_watchdog(lua_State *L, lua_Debug *ar)
{
	/* Keep firing on every instruction so a pcall cannot swallow it. */
	lua_sethook(L, np_watchdog, LUA_MASKCOUNT, 1);
	luaL_error(L, "hook exceeded instruction budget");
}

/* Flatten a traceback into one log line. */
static void np_oneline(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	for (; *src && o + 4 < len; src++) {
		if (*src == '\n') {
			memcpy(dst + o, " | ", 3);
			o += 3;
		} else if (*src != '\t') {
			dst[o++] = *src;
		}
	}
	if (len)
		dst[o < len ? o : len - 1] = '\0';
}

/* The stall alarm: one long C call (a backtracking string.find, say) never
 * reaches the instruction watchdog. In the hook helper, SIGALRM keeps its
 * default action, so such a call ends the helper's process, and its
 * supervisor restarts it. */
static void np_stall_alarm(struct np_hooks *h, int on)
{
	struct itimerval it = { 0 };

	if (!h->stall_alarm)
		return;
	if (on) {
		it.it_value.tv_sec = (time_t)h->timeout_s;
		it.it_value.tv_usec = (suseconds_t)((h->timeout_s - (double)(time_t)h->timeout_s) * 1e6);
		if (!it.it_value.tv_sec && !it.it_value.tv_usec)
			it.it_value.tv_usec = 1000;
	}
	setitimer(ITIMER_REAL, &it, NULL);
}

/* Resume co (a function and nargs arguments, or a yielded thread and nargs
 * results) under the watchdog, with label naming the file for log lines.
 * Returns LUA_OK when it finished (results popped), LUA_YIELD with *nres
 * values on co, or an error status with "message | traceback" in err. */
static int np_resume(struct np_hooks *h, lua_State *co, int nargs, const char *label, int *nres,
		     char *err, size_t errlen)
{
	const char *msg;
	int st;

	*nres = 0;
	h->ctx.label = label;
	lua_sethook(co, np_watchdog, LUA_MASKCOUNT, h->instr_limit);
	np_stall_alarm(h, 1);
	st = lua_resume(co, h->L, nargs, nres);
	np_stall_alarm(h, 0);
	if (st == LUA_OK) {
		lua_pop(co, *nres);
		*nres = 0;
	}
	if (st == LUA_OK || st == LUA_YIELD)
		return st;
	msg = lua_tostring(co, -1);
	luaL_traceback(h->L, co, msg ? msg : "(error object is not a string)", 0);
	np_oneline(err, errlen, lua_tostring(h->L, -1));
	lua_pop(h->L, 1);
	return st;
}

/* ---- the running handler ------------------------------------------------- */

static void np_run_end(struct np_hooks *h)
{
	ev_timer_stop(h->loop, &h->timeout_w);
	ev_timer_stop(h->loop, &h->sleep_w);
	if (h->child)
		np_child_abandon(h->child);
	h->child = NULL;
	h->running = 0;
	h->wait = NP_WAIT_NONE;
	h->ctx.handler = NULL;
	np_lua_closethread(h->co, h->L);
	luaL_unref(h->L, LUA_REGISTRYINDEX, h->co_ref);
	h->co = NULL;
	h->co_ref = LUA_NOREF;
	h->ctx.label = NULL;
}

static void np_sleep_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void np_exec_done(void *arg, const struct np_child_result *r);

/* Start what the handler asked for. 1 when it now waits; 0 when it was
 * answered at once (results pushed: *nargs set); -1 when it was no request. */
static int np_serve(struct np_hooks *h, int nres, int *nargs)
{
	struct np_hooks_lua_req req;
	char msg[300];
	int ret;

	np_hooks_lua_request(h->co, nres, &req);
	switch (req.type) {
	case NP_REQ_SLEEP:
		lua_pop(h->co, nres);
		ev_now_update(h->loop);
		ev_timer_set(&h->sleep_w, (ev_tstamp)req.seconds, 0.);
		ev_timer_start(h->loop, &h->sleep_w);
		h->wait = NP_WAIT_SLEEP;
		return 1;
	case NP_REQ_EXEC:
		ret = np_child_spawn(&h->children, req.argv, req.in, req.in_len, np_exec_done, h, &h->child);
		if (ret == 0) {
			np_debug("hook %s: exec %s (pid %ld)", h->ctx.label, req.argv[0],
				 (long)np_child_pid(h->child));
			lua_pop(h->co, nres);
			h->wait = NP_WAIT_EXEC;
			return 1;
		}
		np_errmsg(msg, sizeof(msg) - 1, ret, "natpunch.exec: %.200s", req.argv[0]);
		strcat(msg, "\n");
		lua_pop(h->co, nres);
		lua_pushinteger(h->co, 126);
		lua_pushliteral(h->co, "");
		lua_pushstring(h->co, msg);
		*nargs = 3;
		return 0;
	default:
		lua_pop(h->co, nres);
		return -1;
	}
}

/* Resume the handler with nargs values on h->co, serving its requests,
 * until it waits, finishes or fails. */
static void np_step(struct np_hooks *h, int nargs)
{
	char err[2048];
	int st, nres, r;

	for (;;) {
		st = np_resume(h, h->co, nargs, h->files[h->next_file - 1].path, &nres, err, sizeof(err));
		if (st != LUA_YIELD)
			break;
		r = np_serve(h, nres, &nargs);
		if (r > 0)
			return;
		if (r < 0) {
			snprintf(err, sizeof(err), "%s yielded outside natpunch.exec/sleep", h->handler);
			st = LUA_ERRRUN;
			break;
		}
	}
	if (st != LUA_OK) {
		h->st.errors++;
		np_err("hook %s: %s failed: %s", h->ctx.label, h->handler, err);
	} else {
		np_debug("hook %s: %s done", h->ctx.label, h->handler);
	}
	np_run_end(h);
}

/* Wake the waiting handler with nargs values on h->co, then go on with the
 * queue. May call the idle callback (which may free h). */
static void np_continue(struct np_hooks *h, int nargs)
{
	h->wait = NP_WAIT_NONE;
	np_step(h, nargs);
	np_pump(h);
}

static void np_sleep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	np_continue(np_container_of(w, struct np_hooks, sleep_w), 0);
}

static void np_exec_done(void *arg, const struct np_child_result *r)
{
	struct np_hooks *h = arg;

	h->child = NULL;
	if (r->truncated)
		np_warn("hook %s: natpunch.exec output truncated to %d bytes", h->ctx.label, NP_CHILD_CAPTURE_MAX);
	if (r->status == 127)
		np_warn("hook %s: natpunch.exec: program not found (status 127)", h->ctx.label);
	lua_pushinteger(h->co, r->status);
	lua_pushlstring(h->co, r->out, r->out_len);
	lua_pushlstring(h->co, r->err, r->err_len);
	np_continue(h, 3);
}

static void np_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_hooks *h = np_container_of(w, struct np_hooks, timeout_w);

	h->st.timeouts++;
	np_warn("hook %s: %s timed out after %.1f s; killing its children and abandoning it",
		h->ctx.label, h->handler, h->timeout_s);
	np_run_end(h);
	np_pump(h);
}

static void np_push_endpoint(lua_State *L, const char *name, const char *ip, int port)
{
	if (!ip)
		return;
	lua_createtable(L, 0, 2);
	lua_pushstring(L, ip);
	lua_setfield(L, -2, "ip");
	if (port > 0) {
		lua_pushinteger(L, port);
		lua_setfield(L, -2, "port");
	}
	lua_setfield(L, -2, name);
}

static void np_push_event(lua_State *L, const np_hook_event_t *ev)
{
	static const char *const plain[] = { "event", "reason", "ifname", "local_ip",
					     "remote_ip", "strategy", "session", "path" };
	const char *vals[] = { ev->event, ev->reason, ev->ifname, ev->local_ip,
			       ev->remote_ip, ev->strategy, ev->session, ev->path };

	lua_createtable(L, 0, 12);
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		if (!vals[i])
			continue;
		lua_pushstring(L, vals[i]);
		lua_setfield(L, -2, plain[i]);
	}
	if (ev->mtu > 0) {
		lua_pushinteger(L, ev->mtu);
		lua_setfield(L, -2, "mtu");
	}
	lua_pushinteger(L, ev->attempts);
	lua_setfield(L, -2, "attempts");
	np_push_endpoint(L, "peer", ev->peer_ip, ev->peer_port);
	np_push_endpoint(L, "local_public", ev->public_ip, ev->public_port);
	if (ev->nat_self || ev->nat_peer) {
		lua_createtable(L, 0, 2);
		if (ev->nat_self) {
			lua_pushstring(L, ev->nat_self);
			lua_setfield(L, -2, "self");
		}
		if (ev->nat_peer) {
			lua_pushstring(L, ev->nat_peer);
			lua_setfield(L, -2, "peer");
		}
		lua_setfield(L, -2, "nat");
	}
}

/* Start handler on_<event> of file i, if it has one. */
static void np_run_start(struct np_hooks *h, size_t i)
{
	char name[32];

	snprintf(name, sizeof(name), "on_%s", h->cur->ev.event);
	lua_rawgeti(h->L, LUA_REGISTRYINDEX, h->files[i].env_ref);
	lua_pushstring(h->L, name);
	if (lua_rawget(h->L, -2) != LUA_TFUNCTION) {     /* not inherited from _G */
		lua_pop(h->L, 2);
		return;
	}
	h->co = lua_newthread(h->L);
	h->co_ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
	lua_xmove(h->L, h->co, 1);      /* the function */
	lua_pop(h->L, 1);               /* the env */
	np_push_event(h->co, &h->cur->ev);
	h->running = 1;
	h->ctx.handler = h->co;
	snprintf(h->handler, sizeof(h->handler), "%s", name);
	h->wait = NP_WAIT_NONE;
	h->st.handlers++;
	/* Earlier handlers may have run in this loop iteration: start the
	 * clock from now, not from the iteration's cached time. */
	ev_now_update(h->loop);
	ev_timer_set(&h->timeout_w, h->timeout_s, 0.);
	ev_timer_start(h->loop, &h->timeout_w);
	np_debug("hook %s: %s", h->files[i].path, name);
	np_step(h, 1);
}

/* Run handlers until one waits, or nothing is left (then call the idle
 * callback, last, since it may free h). */
static void np_pump(struct np_hooks *h)
{
	void (*cb)(void *);

	while (!h->running) {
		if (h->cur && h->next_file < h->nfiles) {
			np_run_start(h, h->next_file++);
			continue;
		}
		np_hookq_ev_free(h->cur);
		h->cur = np_hookq_pop(&h->q);
		if (!h->cur)
			break;
		h->next_file = 0;
		h->st.events++;
		np_debug("event %s (%s)", h->cur->ev.event, h->cur->ev.reason ? h->cur->ev.reason : "-");
	}
	if (h->running || !h->idle_cb)
		return;
	cb = h->idle_cb;
	h->idle_cb = NULL;
	cb(h->idle_arg);
}

static void np_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	np_pump(np_container_of(w, struct np_hooks, kick_w));
}

static void np_kick(struct np_hooks *h)
{
	if (!h->running && !ev_is_active(&h->kick_w)) {
		ev_timer_set(&h->kick_w, 0., 0.);
		ev_timer_start(h->loop, &h->kick_w);
	}
}

/* ---- the public calls ---------------------------------------------------- */

int np_hooks_fire(struct np_hooks *h, const np_hook_event_t *ev)
{
	int ret = np_hookq_push(&h->q, ev);

	if (ret == 0)
		np_kick(h);
	return ret;
}

int np_hooks_restore_up(struct np_hooks *h, const np_hook_event_t *up)
{
	return np_hookq_restore_up(&h->q, up);
}

int np_hooks_busy(const struct np_hooks *h)
{
	return h->running || h->q.head || h->cur;
}

int np_hooks_up_active(const struct np_hooks *h)
{
	return h->q.up_active;
}

void np_hooks_on_idle(struct np_hooks *h, void (*cb)(void *), void *arg)
{
	h->idle_cb = cb;
	h->idle_arg = arg;
	if (cb)
		np_kick(h);
}

void np_hooks_get_stats(const struct np_hooks *h, struct np_hooks_stats *st)
{
	*st = h->st;
	st->dropped = h->q.dropped;
	st->coalesced = h->q.coalesced;
	st->overflow = h->q.overflow;
	st->queued = h->q.len;
}

/* ---- loading ------------------------------------------------------------- */

/* Load one file into its own environment and run its body. */
static int np_load_file(struct np_hooks *h, const char *path, char *err, size_t errlen)
{
	struct np_hook_file *f;
	lua_State *co;
	int st, ref, nres;

	f = realloc(h->files, (h->nfiles + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	h->files = f;
	f = &h->files[h->nfiles];
	f->path = strdup(path);
	f->env_ref = LUA_NOREF;
	if (!f->path)
		return -ENOMEM;
	h->nfiles++;

	co = lua_newthread(h->L);
	ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
	st = luaL_loadfilex(co, path, "t");
	if (st != LUA_OK) {
		snprintf(err, errlen, "%s", lua_tostring(co, -1));
		luaL_unref(h->L, LUA_REGISTRYINDEX, ref);
		return st == LUA_ERRFILE ? -ENOENT : st == LUA_ERRMEM ? -ENOMEM : -EINVAL;
	}
	/* env = setmetatable({}, {__index = _G}) becomes the chunk's _ENV */
	lua_newtable(co);
	lua_createtable(co, 0, 1);
	lua_pushglobaltable(co);
	lua_setfield(co, -2, "__index");
	lua_setmetatable(co, -2);
	lua_pushvalue(co, -1);
	f->env_ref = luaL_ref(co, LUA_REGISTRYINDEX);
	lua_setupvalue(co, -2, 1);
	st = np_resume(h, co, 0, f->path, &nres, err, errlen);
	if (st == LUA_YIELD) {
		snprintf(err, errlen, "%s: yielded at load time", path);
		st = LUA_ERRRUN;
	}
	h->ctx.label = NULL;
	luaL_unref(h->L, LUA_REGISTRYINDEX, ref);
	return st == LUA_OK ? 0 : -EINVAL;
}

static int np_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int np_load_dir(struct np_hooks *h, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, **tmp, path[PATH_MAX];
	size_t n = 0, i, len;
	int ret = 0;

	if (!d) {
		ret = -errno;
		np_errmsg(err, errlen, errno, "%s", dir);
		return ret;
	}
	while ((de = readdir(d))) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".lua"))
			continue;
		tmp = realloc(names, (n + 1) * sizeof(*names));
		if (!tmp || !(tmp[n] = strdup(de->d_name))) {
			names = tmp ? tmp : names;
			ret = -ENOMEM;
			goto out;
		}
		names = tmp;
		n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), np_cmp_str);
	for (i = 0; i < n && !ret; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		ret = np_load_file(h, path, err, errlen);
	}
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return ret;
}

/* The Lua allocator: realloc with a ceiling, so a runaway hook gets a Lua
 * "not enough memory" error instead of eating the host's memory. */
static void *np_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct np_hooks *h = ud;
	size_t old = ptr ? osize : 0;
	void *p;

	if (nsize == 0) {
		free(ptr);
		h->mem_used -= old;
		return NULL;
	}
	if (nsize > old && h->mem_used - old + nsize > h->mem_limit)
		return NULL;
	p = realloc(ptr, nsize);
	if (p)
		h->mem_used = h->mem_used - old + nsize;
	return p;
}

static int np_set_path(struct np_hooks *h, const char *extra)
{
	size_t len = (extra ? strlen(extra) : 0) + sizeof(NP_LUA_SYSTEM_DIRS) + 2;
	char *dirs = malloc(len);

	if (!dirs)
		return -ENOMEM;
	snprintf(dirs, len, "%s%s%s", extra ? extra : "", extra && *extra ? ";" : "", NP_LUA_SYSTEM_DIRS);
	np_hooks_lua_set_path(h->L, dirs);
	free(dirs);
	return 0;
}

int np_hooks_new(struct ev_loop *loop, const struct np_hooks_config *cfg,
		 struct np_hooks **out, char *err, size_t errlen)
{
	struct np_hooks *h;
	int ret = 0;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (!ev_is_default_loop(loop)) {
		snprintf(err, errlen, "hooks need the default libev loop (ev_child)");
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->loop = loop;
	h->co_ref = LUA_NOREF;
	h->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : NP_HOOKS_TIMEOUT_DEFAULT;
	h->instr_limit = cfg->instr_limit == 0 ? (int)NP_HOOKS_INSTR_DEFAULT
			 : cfg->instr_limit > INT_MAX ? INT_MAX : (int)cfg->instr_limit;
	h->stall_alarm = cfg->stall_alarm;
	np_child_set_init(&h->children, loop);
	ev_timer_init(&h->timeout_w, np_timeout_cb, 0., 0.);
	ev_timer_init(&h->sleep_w, np_sleep_cb, 0., 0.);
	ev_timer_init(&h->kick_w, np_kick_cb, 0., 0.);
	h->mem_limit = NP_HOOKS_MEM_LIMIT;
	h->L = lua_newstate(np_lua_alloc, h);
	if (!h->L) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	np_hooks_lua_open(h->L, &h->ctx);
	ret = np_set_path(h, cfg->lua_path);

	for (size_t i = 0; i < cfg->nfiles && !ret; i++) {
		if (cfg->on_load)
			cfg->on_load(cfg->on_load_arg, cfg->files[i]);
		ret = np_load_file(h, cfg->files[i], err, errlen);
	}
	if (!ret && cfg->dir) {
		if (cfg->on_load)
			cfg->on_load(cfg->on_load_arg, cfg->dir);
		ret = np_load_dir(h, cfg->dir, err, errlen);
	}
	if (!ret)
		np_info("%zu file(s) loaded", h->nfiles);
out:
	if (ret < 0) {
		if (errlen && err[0] == '\0')
			snprintf(err, errlen, "%s", strerror(-ret));
		np_hooks_free(h);
		return ret;
	}
	*out = h;
	return 0;
}

size_t np_hooks_nfiles(const struct np_hooks *h)
{
	return h->nfiles;
}

void np_hooks_free(struct np_hooks *h)
{
	if (!h)
		return;
	ev_timer_stop(h->loop, &h->timeout_w);
	ev_timer_stop(h->loop, &h->sleep_w);
	ev_timer_stop(h->loop, &h->kick_w);
	if (h->running)
		np_warn("hook %s: %s abandoned at shutdown", h->ctx.label, h->handler);
	if (h->q.up_active)
		np_warn("freed while up is active; on_down will not run (fire \"down\" and wait for idle first)");
	np_child_set_free(&h->children);
	np_hookq_clear(&h->q);
	np_hookq_ev_free(h->cur);
	if (h->L)
		lua_close(h->L);
	for (size_t i = 0; i < h->nfiles; i++)
		free(h->files[i].path);
	free(h->files);
	free(h);
}
