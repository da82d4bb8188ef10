/* np_hooks_lua: the `natpunch` Lua module seen by hook files, and the Lua
 * state's sandbox.
 *
 *   natpunch.exec{"prog", "arg", ..., stdin = "text"} -> status, stdout, stderr
 *   natpunch.sleep(seconds)
 *   natpunch.log.debug/info/warn/error(...)
 *   natpunch.version
 *
 * exec and sleep do not wait themselves: they check their arguments and
 * yield a request to whoever resumed the handler (the runner, np_hooks.c),
 * which decodes it with np_hooks_lua_request, waits, and resumes the
 * coroutine with the results. So this file knows nothing of the runner; the
 * runner tells it only which coroutine is the running handler and which
 * file's code runs (for log lines), through struct np_hooks_lua_ctx. */
#ifndef NP_HOOKS_LUA_H
#define NP_HOOKS_LUA_H

#include <lua.h>
#include <stddef.h>

#define NP_EXEC_MAX_ARGS 256

struct np_hooks_lua_ctx {
	const char *label;      /* file of the running code, for log lines */
	lua_State *handler;     /* the running handler's coroutine, or NULL */
};

/* Open the standard libraries minus what a hook must not have, then the
 * natpunch module (as a global and for require). ctx must outlive L.
 * Removed: os.execute, os.exit, io.popen (no shell, nothing that ends or
 * blocks the host), debug (debug.sethook would remove the instruction
 * watchdog), package.loadlib, package.cpath and the C searchers (no native
 * code), string.dump; load() accepts text chunks only. print() logs like
 * natpunch.log.info. */
void np_hooks_lua_open(lua_State *L, struct np_hooks_lua_ctx *ctx);

/* package.path for require: each of the ';'-separated dirs (DIR/?.lua and
 * DIR/?/init.lua), then nothing else. */
void np_hooks_lua_set_path(lua_State *L, const char *dirs);

enum np_hooks_req_type { NP_REQ_NONE = 0, NP_REQ_SLEEP, NP_REQ_EXEC };

struct np_hooks_lua_req {
	enum np_hooks_req_type type;
	double seconds;                         /* NP_REQ_SLEEP */
	char *argv[NP_EXEC_MAX_ARGS + 1];       /* NP_REQ_EXEC, NULL-terminated */
	const char *in;                         /* stdin text or NULL */
	size_t in_len;
};

/* Decode the nres values a handler yielded. The strings point into co's
 * stack: use them before popping the nres values. NP_REQ_NONE when the
 * values are not a request (the code called coroutine.yield itself). */
void np_hooks_lua_request(lua_State *co, int nres, struct np_hooks_lua_req *req);

#endif
