/* np_hooks_int: structures shared by np_hooks.c (loading, queue, runner) and
 * np_hooks_lua.c (the `natpunch` Lua module: exec, sleep, log). Not a public
 * header: the daemon includes np_hooks.h only. */
#ifndef NP_HOOKS_INT_H
#define NP_HOOKS_INT_H

#include "np_hooks.h"

#include <ev.h>
#include <lua.h>
#include <stddef.h>
#include <sys/types.h>

/* Lua 5.4.4 (Debian) names it lua_resetthread; 5.4.6 has lua_closethread. */
#define np_lua_closethread(co, from) ((void)(from), lua_resetthread(co))

#define np_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define NP_HOOKS_CAPTURE_MAX (64 * 1024)       /* per stream of natpunch.exec */

struct np_hook_buf {
	char *p;
	size_t len;
	int truncated;
};

/* One child of natpunch.exec. Lives in h->children until reaped, even when
 * its handler was abandoned (then run is 0). */
struct np_hook_child {
	struct np_hooks *h;
	struct np_hook_child *next;
	int owned;              /* 1 while the current handler waits for it */
	pid_t pid;
	ev_child cw;
	ev_io out_w, err_w, in_w;
	struct np_hook_buf out, err;
	char *in_buf;
	size_t in_len, in_off;
};

struct np_hook_file {
	char *path;
	int env_ref;            /* the file's _ENV table in the registry */
};

struct np_hook_qev {
	struct np_hook_qev *next;
	np_hook_event_t ev;     /* strings owned by this copy */
};

enum np_hook_wait { NP_WAIT_NONE = 0, NP_WAIT_SLEEP, NP_WAIT_EXEC };

struct np_hooks {
	struct ev_loop *loop;
	lua_State *L;
	struct np_hook_file *files;
	size_t nfiles;
	double timeout_s;
	int instr_limit;

	struct np_hook_qev *head, *tail;        /* queued events */
	struct np_hook_qev *cur;                /* event being dispatched */
	size_t next_file;                       /* next handler of cur */
	struct np_hook_qev *last_up;            /* copy of the active "up" */
	int up_active;

	/* the one running handler */
	int running;
	lua_State *co;
	int co_ref;
	const char *label;                      /* file path of the running code */
	char handler[32];                       /* "on_up", ... */
	enum np_hook_wait wait;
	ev_timer timeout_w;
	ev_timer sleep_w;

	struct np_hook_child *children;
	ev_timer kick_w;
	void (*idle_cb)(void *);
	void *idle_arg;
	struct np_hooks_stats st;
	size_t mem_used, mem_limit;             /* Lua heap, bounded by np_lua_alloc */
};

/* np_hooks.c: resume the waiting handler with nargs values pushed on h->co,
 * then continue with the queue. May call the idle callback (which may free
 * h): touch nothing after calling it. */
void np_hooks_continue(struct np_hooks *h, int nargs);

/* np_hooks_lua.c */
void np_hooks_lua_open(lua_State *L);                   /* global + preload "natpunch" */
struct np_hooks *np_hooks_from_lua(lua_State *L);       /* context from the registry */
void np_hooks_lua_set_context(lua_State *L, struct np_hooks *h);
void np_hooks_children_abandon(struct np_hooks *h);     /* SIGKILL the handler's children */
void np_hooks_children_free(struct np_hooks *h);        /* SIGKILL, reap and free all */

#endif
