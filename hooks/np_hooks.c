/* np_hooks: loading hook files, the event queue with its up/down pairing
 * rule, and the runner that takes one handler at a time through its
 * coroutine under a timeout and an instruction watchdog. See np_hooks.h. */
#include "np_hooks_int.h"
#define NP_LOG_COMPONENT "hooks"
#include "np_log.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const np_hook_events[] = { "up", "down", "endpoint_change", "punch_failed" };

static const size_t np_hook_str_fields[] = {
	offsetof(np_hook_event_t, event), offsetof(np_hook_event_t, reason),
	offsetof(np_hook_event_t, ifname), offsetof(np_hook_event_t, local_ip),
	offsetof(np_hook_event_t, remote_ip), offsetof(np_hook_event_t, peer_ip),
	offsetof(np_hook_event_t, public_ip), offsetof(np_hook_event_t, nat_self),
	offsetof(np_hook_event_t, nat_peer), offsetof(np_hook_event_t, strategy),
	offsetof(np_hook_event_t, session),
};

#define NP_NFIELDS (sizeof(np_hook_str_fields) / sizeof(np_hook_str_fields[0]))
#define NP_FIELD(ev, i) ((const char **)(void *)((char *)(ev) + np_hook_str_fields[i]))

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

/* Resume co (a function and nargs arguments, or a yielded thread and nargs
 * results) under the watchdog, with label naming the file for log lines.
 * Returns LUA_OK when it finished, LUA_YIELD when it waits, or an error
 * status with "message | traceback" in err. */
static int np_resume(struct np_hooks *h, lua_State *co, int nargs, const char *label,
		     char *err, size_t errlen)
{
	const char *msg;
	int st, nres = 0;

	h->label = label;
	lua_sethook(co, np_watchdog, LUA_MASKCOUNT, h->instr_limit);
	st = lua_resume(co, h->L, nargs, &nres);
	if (st == LUA_OK || st == LUA_YIELD) {
		lua_pop(co, nres);
		return st;
	}
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
	np_hooks_children_abandon(h);
	h->running = 0;
	h->wait = NP_WAIT_NONE;
	np_lua_closethread(h->co, h->L);
	luaL_unref(h->L, LUA_REGISTRYINDEX, h->co_ref);
	h->co = NULL;
	h->co_ref = LUA_NOREF;
	h->label = NULL;
}

/* After a resume: finished, failed, or waiting (then it must wait on us). */
static void np_run_after(struct np_hooks *h, int st, char *err)
{
	if (st == LUA_YIELD && h->wait != NP_WAIT_NONE)
		return;
	if (st == LUA_YIELD) {
		snprintf(err, 512, "%s yielded outside natpunch.exec/sleep", h->handler);
		st = LUA_ERRRUN;
	}
	if (st != LUA_OK) {
		h->st.errors++;
		np_err("hook %s: %s failed: %s", h->label, h->handler, err);
	} else {
		np_debug("hook %s: %s done", h->label, h->handler);
	}
	np_run_end(h);
}

void np_hooks_continue(struct np_hooks *h, int nargs)
{
	char err[2048];
	int st;

	st = np_resume(h, h->co, nargs, h->files[h->next_file - 1].path, err, sizeof(err));
	np_run_after(h, st, err);
	np_pump(h);
}

static void np_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_hooks *h = np_container_of(w, struct np_hooks, timeout_w);

	h->st.timeouts++;
	np_warn("hook %s: %s timed out after %.1f s; killing its children and abandoning it",
		h->label, h->handler, h->timeout_s);
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
					     "remote_ip", "strategy", "session" };
	const char *vals[] = { ev->event, ev->reason, ev->ifname, ev->local_ip,
			       ev->remote_ip, ev->strategy, ev->session };

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
	char name[32], err[2048];
	int st;

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
	snprintf(h->handler, sizeof(h->handler), "%s", name);
	h->wait = NP_WAIT_NONE;
	h->st.handlers++;
	/* Earlier handlers may have run in this loop iteration: start the
	 * clock from now, not from the iteration's cached time. */
	ev_now_update(h->loop);
	ev_timer_set(&h->timeout_w, h->timeout_s, 0.);
	ev_timer_start(h->loop, &h->timeout_w);
	np_debug("hook %s: %s", h->files[i].path, name);
	st = np_resume(h, h->co, 1, h->files[i].path, err, sizeof(err));
	np_run_after(h, st, err);
}

static void np_qev_free(struct np_hook_qev *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < NP_NFIELDS; i++)
		free((char *)*NP_FIELD(&q->ev, i));
	free(q);
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
		np_qev_free(h->cur);
		h->cur = NULL;
		if (!h->head)
			break;
		h->cur = h->head;
		h->head = h->cur->next;
		if (!h->head)
			h->tail = NULL;
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

/* ---- queue --------------------------------------------------------------- */

/* Copy ev; fill what it leaves out from base (may be NULL). */
static struct np_hook_qev *np_qev_copy(const np_hook_event_t *ev, const np_hook_event_t *base)
{
	struct np_hook_qev *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->ev = *ev;
	if (base) {
		if (q->ev.mtu <= 0)
			q->ev.mtu = base->mtu;
		if (q->ev.peer_port <= 0)
			q->ev.peer_port = base->peer_port;
		if (q->ev.public_port <= 0)
			q->ev.public_port = base->public_port;
	}
	for (size_t i = 0; i < NP_NFIELDS; i++) {
		const char *s = *NP_FIELD(ev, i);

		if (!s && base)
			s = *NP_FIELD(base, i);
		*NP_FIELD(&q->ev, i) = NULL;
		if (s && !(*NP_FIELD(&q->ev, i) = strdup(s))) {
			np_qev_free(q);
			return NULL;
		}
	}
	return q;
}

static void np_enqueue(struct np_hooks *h, struct np_hook_qev *q)
{
	if (h->tail)
		h->tail->next = q;
	else
		h->head = q;
	h->tail = q;
}

int np_hooks_fire(struct np_hooks *h, const np_hook_event_t *ev)
{
	struct np_hook_qev *q, *down = NULL;
	np_hook_event_t tmp;
	size_t i;

	if (!ev->event)
		return -EINVAL;
	for (i = 0; i < sizeof(np_hook_events) / sizeof(np_hook_events[0]); i++)
		if (!strcmp(ev->event, np_hook_events[i]))
			break;
	if (i == sizeof(np_hook_events) / sizeof(np_hook_events[0]))
		return -EINVAL;

	if (!strcmp(ev->event, "down")) {
		if (!h->up_active) {
			h->st.dropped++;
			np_debug("down (%s) without an active up: dropped", ev->reason ? ev->reason : "-");
			return 0;
		}
		q = np_qev_copy(ev, &h->last_up->ev);
		if (!q)
			return -ENOMEM;
		np_enqueue(h, q);
		h->up_active = 0;
		np_qev_free(h->last_up);
		h->last_up = NULL;
		np_kick(h);
		return 0;
	}

	q = np_qev_copy(ev, NULL);
	if (!q)
		return -ENOMEM;
	if (!strcmp(ev->event, "up")) {
		struct np_hook_qev *keep = np_qev_copy(ev, NULL);

		if (!keep) {
			np_qev_free(q);
			return -ENOMEM;
		}
		if (h->up_active) {
			memset(&tmp, 0, sizeof(tmp));
			tmp.event = "down";
			tmp.reason = "re-handshake";
			down = np_qev_copy(&tmp, &h->last_up->ev);
			if (!down) {
				np_qev_free(q);
				np_qev_free(keep);
				return -ENOMEM;
			}
			np_enqueue(h, down);
		}
		np_qev_free(h->last_up);
		h->last_up = keep;
		h->up_active = 1;
	}
	np_enqueue(h, q);
	np_kick(h);
	return 0;
}

int np_hooks_busy(const struct np_hooks *h)
{
	return h->running || h->head || h->cur;
}

int np_hooks_up_active(const struct np_hooks *h)
{
	return h->up_active;
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
}

/* ---- loading ------------------------------------------------------------- */

/* package.path = cfg dirs; installed dir; <exe>/../hooks/lua; source tree
 * hooks/lua (uninstalled builds); then Lua's default. */
static void np_set_lua_path(lua_State *L, const char *extra)
{
	char exe[PATH_MAX], src[] = __FILE__;
	ssize_t n;
	luaL_Buffer b;
	char *slash;

	luaL_buffinit(L, &b);
	while (extra && *extra) {
		size_t len = strcspn(extra, ";");

		if (len) {
			luaL_addlstring(&b, extra, len);
			luaL_addstring(&b, "/?.lua;");
			luaL_addlstring(&b, extra, len);
			luaL_addstring(&b, "/?/init.lua;");
		}
		extra += len;
		if (*extra)
			extra++;
	}
	luaL_addstring(&b, NP_HOOK_LIBDIR "/?.lua;");
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			luaL_addstring(&b, exe);
			luaL_addstring(&b, "/../hooks/lua/?.lua;");
		}
	}
	slash = strrchr(src, '/');
	if (src[0] == '/' && slash) {
		*slash = '\0';
		luaL_addstring(&b, src);
		luaL_addstring(&b, "/lua/?.lua;");
	}
	luaL_pushresult(&b);
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "path");
	lua_remove(L, -2);
	lua_concat(L, 2);
	lua_getglobal(L, "package");
	lua_insert(L, -2);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
}

/* Load one file into its own environment and run its body. */
static int np_load_file(struct np_hooks *h, const char *path, char *err, size_t errlen)
{
	struct np_hook_file *f;
	lua_State *co;
	int st, ref;

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
	st = np_resume(h, co, 0, f->path, err, errlen);
	if (st == LUA_YIELD) {
		snprintf(err, errlen, "%s: yielded at load time", path);
		st = LUA_ERRRUN;
	}
	h->label = NULL;
	luaL_unref(h->L, LUA_REGISTRYINDEX, ref);
	return st == LUA_OK ? 0 : -EINVAL;
}

/* No shell and nothing that blocks the loop or ends the daemon: os.execute,
 * io.popen and os.exit are removed; print() logs like natpunch.log.info. */
static void np_sandbox(lua_State *L)
{
	static const char *const gone[][2] = { { "os", "execute" }, { "os", "exit" }, { "io", "popen" } };

	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		lua_getglobal(L, gone[i][0]);
		lua_pushnil(L);
		lua_setfield(L, -2, gone[i][1]);
		lua_pop(L, 1);
	}
	lua_getglobal(L, "natpunch");
	lua_getfield(L, -1, "log");
	lua_getfield(L, -1, "info");
	lua_setglobal(L, "print");
	lua_pop(L, 2);
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
 * "not enough memory" error instead of eating the daemon's memory. */
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
	ev_timer_init(&h->timeout_w, np_timeout_cb, 0., 0.);
	ev_timer_init(&h->sleep_w, NULL, 0., 0.);
	ev_timer_init(&h->kick_w, np_kick_cb, 0., 0.);
	h->mem_limit = NP_HOOKS_MEM_LIMIT;
	h->L = lua_newstate(np_lua_alloc, h);
	if (!h->L) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	luaL_openlibs(h->L);
	np_hooks_lua_set_context(h->L, h);
	np_hooks_lua_open(h->L);
	np_sandbox(h->L);
	np_set_lua_path(h->L, cfg->lua_path);

	for (size_t i = 0; i < cfg->nfiles && !ret; i++)
		ret = np_load_file(h, cfg->files[i], err, errlen);
	if (!ret && cfg->dir)
		ret = np_load_dir(h, cfg->dir, err, errlen);
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

void np_hooks_free(struct np_hooks *h)
{
	struct np_hook_qev *q;

	if (!h)
		return;
	ev_timer_stop(h->loop, &h->timeout_w);
	ev_timer_stop(h->loop, &h->sleep_w);
	ev_timer_stop(h->loop, &h->kick_w);
	if (h->running)
		np_warn("hook %s: %s abandoned at shutdown", h->label, h->handler);
	if (h->up_active)
		np_warn("freed while up is active; on_down will not run (fire \"down\" and wait for idle first)");
	np_hooks_children_free(h);
	while ((q = h->head)) {
		h->head = q->next;
		np_qev_free(q);
	}
	np_qev_free(h->cur);
	np_qev_free(h->last_up);
	if (h->L)
		lua_close(h->L);
	for (size_t i = 0; i < h->nfiles; i++)
		free(h->files[i].path);
	free(h->files);
	free(h);
}
