/* np_hooks_lua: the `natpunch` Lua module and the hook state's sandbox.
 * exec and sleep yield requests; the runner carries them out. See
 * np_hooks_lua.h. */
#include "np_hooks_lua.h"
#define NP_LOG_COMPONENT "hooks"
#include "np_log.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <string.h>

static const char np_ctx_key = 'c';     /* registry key: its address */
static const char np_req_key = 'r';     /* first value of every yielded request */

static struct np_hooks_lua_ctx *np_ctx(lua_State *L)
{
	struct np_hooks_lua_ctx *ctx;

	lua_rawgetp(L, LUA_REGISTRYINDEX, &np_ctx_key);
	ctx = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return ctx;
}

/* The calling coroutine must be the running handler's own, so that the
 * runner's resume is the one that wakes it. */
static void np_check_waitable(lua_State *L, const char *what)
{
	struct np_hooks_lua_ctx *ctx = np_ctx(L);

	if (!ctx || ctx->handler != L || !lua_isyieldable(L))
		luaL_error(L, "natpunch.%s: only inside a hook handler (not at load time, not in a nested coroutine)", what);
}

/* ---- requests ------------------------------------------------------------ */

/* Yields: marker, NP_REQ_EXEC, stdin or nil, argv[0..n-1]. */
static int l_exec(lua_State *L)
{
	lua_Integer n, i;

	luaL_checktype(L, 1, LUA_TTABLE);
	np_check_waitable(L, "exec");
	n = luaL_len(L, 1);
	if (n < 1 || n > NP_EXEC_MAX_ARGS)
		return luaL_error(L, "natpunch.exec: argv needs 1 to %d strings", NP_EXEC_MAX_ARGS);
	luaL_checkstack(L, (int)n + 4, "natpunch.exec argv");
	lua_pushlightuserdata(L, (void *)&np_req_key);
	lua_pushinteger(L, NP_REQ_EXEC);
	if (lua_getfield(L, 1, "stdin") != LUA_TNIL) {
		luaL_tolstring(L, -1, NULL);
		lua_remove(L, -2);
	}
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
	}
	return lua_yield(L, (int)n + 3);
}

/* Yields: marker, NP_REQ_SLEEP, seconds. */
static int l_sleep(lua_State *L)
{
	lua_Number s = luaL_checknumber(L, 1);

	luaL_argcheck(L, s >= 0 && isfinite(s), 1, "seconds must be >= 0");
	np_check_waitable(L, "sleep");
	lua_pushlightuserdata(L, (void *)&np_req_key);
	lua_pushinteger(L, NP_REQ_SLEEP);
	lua_pushnumber(L, s);
	return lua_yield(L, 3);
}

void np_hooks_lua_request(lua_State *co, int nres, struct np_hooks_lua_req *req)
{
	int base = lua_gettop(co) - nres + 1;

	memset(req, 0, sizeof(*req));
	if (nres < 3 || lua_touserdata(co, base) != (void *)&np_req_key)
		return;
	switch (lua_tointeger(co, base + 1)) {
	case NP_REQ_SLEEP:
		req->seconds = lua_tonumber(co, base + 2);
		req->type = NP_REQ_SLEEP;
		break;
	case NP_REQ_EXEC:
		if (nres - 3 < 1 || nres - 3 > NP_EXEC_MAX_ARGS)
			return;
		if (lua_type(co, base + 2) == LUA_TSTRING)
			req->in = lua_tolstring(co, base + 2, &req->in_len);
		for (int i = 0; i < nres - 3; i++)
			req->argv[i] = (char *)lua_tostring(co, base + 3 + i);
		req->argv[nres - 3] = NULL;
		req->type = NP_REQ_EXEC;
		break;
	default:
		break;
	}
}

/* ---- log ----------------------------------------------------------------- */

static int np_log_lua(lua_State *L, int level)
{
	struct np_hooks_lua_ctx *ctx = np_ctx(L);
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
	np_log(level, "hook %s: %s", ctx && ctx->label ? ctx->label : "?", lua_tostring(L, -1));
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

/* ---- sandbox ------------------------------------------------------------- */

/* load and loadfile with the mode forced to "t": no precompiled chunks,
 * whose malformed bytecode could corrupt the interpreter. Upvalue 1 is the
 * original function; the mode is argument 3 of load and 2 of loadfile. */
static int np_text_only(lua_State *L, int mode_arg)
{
	int n = lua_gettop(L), i;

	lua_pushvalue(L, lua_upvalueindex(1));
	for (i = 1; i <= (n > mode_arg ? n : mode_arg); i++) {
		if (i == mode_arg)
			lua_pushliteral(L, "t");
		else if (i <= n)
			lua_pushvalue(L, i);
		else
			lua_pushnil(L);
	}
	lua_call(L, i - 1, LUA_MULTRET);
	return lua_gettop(L) - n;
}

static int l_load(lua_State *L)
{
	return np_text_only(L, 3);
}

static int l_loadfile(lua_State *L)
{
	return np_text_only(L, 2);
}

static int l_dofile(lua_State *L)
{
	const char *name = luaL_optstring(L, 1, NULL);

	lua_settop(L, 1);
	if (luaL_loadfilex(L, name, "t") != LUA_OK)
		return lua_error(L);
	lua_call(L, 0, LUA_MULTRET);
	return lua_gettop(L) - 1;
}

static void np_wrap_global(lua_State *L, const char *name, lua_CFunction fn)
{
	lua_getglobal(L, name);
	lua_pushcclosure(L, fn, 1);
	lua_setglobal(L, name);
}

static void np_remove(lua_State *L, const char *table, const char *field)
{
	lua_getglobal(L, table);
	lua_pushnil(L);
	lua_setfield(L, -2, field);
	lua_pop(L, 1);
}

static void np_sandbox(lua_State *L)
{
	static const char *const gone[][2] = {
		{ "os", "execute" }, { "os", "exit" }, { "io", "popen" },
		{ "package", "loadlib" }, { "string", "dump" },
	};

	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		np_remove(L, gone[i][0], gone[i][1]);
	lua_pushnil(L);
	lua_setglobal(L, "debug");
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "loaded");
	lua_pushnil(L);
	lua_setfield(L, -2, "debug");
	lua_pop(L, 1);
	lua_pushliteral(L, "");
	lua_setfield(L, -2, "cpath");
	/* searchers: keep preload (1) and Lua files (2); drop the C ones */
	lua_getfield(L, -1, "searchers");
	for (lua_Integer i = luaL_len(L, -1); i > 2; i--) {
		lua_pushnil(L);
		lua_seti(L, -2, i);
	}
	lua_pop(L, 2);
	np_wrap_global(L, "load", l_load);
	np_wrap_global(L, "loadfile", l_loadfile);
	lua_pushcfunction(L, l_dofile);
	lua_setglobal(L, "dofile");
	lua_getglobal(L, "natpunch");
	lua_getfield(L, -1, "log");
	lua_getfield(L, -1, "info");
	lua_setglobal(L, "print");
	lua_pop(L, 2);
}

void np_hooks_lua_open(lua_State *L, struct np_hooks_lua_ctx *ctx)
{
	luaL_openlibs(L);
	lua_pushlightuserdata(L, ctx);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &np_ctx_key);
	luaL_requiref(L, "natpunch", np_hooks_luaopen, 1);
	lua_pop(L, 1);
	np_sandbox(L);
}

void np_hooks_lua_set_path(lua_State *L, const char *dirs)
{
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	while (dirs && *dirs) {
		size_t len = strcspn(dirs, ";");

		if (len) {
			luaL_addlstring(&b, dirs, len);
			luaL_addstring(&b, "/?.lua;");
			luaL_addlstring(&b, dirs, len);
			luaL_addstring(&b, "/?/init.lua;");
		}
		dirs += len;
		if (*dirs)
			dirs++;
	}
	luaL_pushresult(&b);
	lua_getglobal(L, "package");
	lua_insert(L, -2);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
}
