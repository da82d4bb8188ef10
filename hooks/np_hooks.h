/* np_hooks: the Lua 5.4 hook runner of one tunnel.
 *
 * What belongs here: loading hook files (each in its own environment) and
 * running each handler in a coroutine on the libev loop, under the
 * per-handler timeout, the instruction watchdog and (in the hook helper)
 * the stall alarm. The other files of hooks/:
 *   np_hooks_queue.c   the event queue: pairing rule, cap, coalescing
 *   np_hooks_lua.c     the `natpunch` Lua module (exec, sleep, log), sandbox
 *   np_hooks_child.c   the children of natpunch.exec (spawn, pipes, reap, kill)
 *   np_hookmsg.c       the fixed-size messages between daemon and helper
 *   np_hookd.c         the hook helper process and the daemon's side of it
 *   lua/               the Lua helper library shipped to users
 * The daemon never runs this in its own process: it talks to the hook
 * helper (np_hookd.h), which runs it. Tests and np_hookrun use it directly.
 *
 * Hook files define any of the globals on_up(t), on_down(t),
 * on_endpoint_change(t), on_punch_failed(t), on_path_change(t). For one event
 * the handlers of all files run one after another, in load order (--hook
 * files in the order given, then --hook-dir *.lua in lexical order), each in
 * its own coroutine. Events
 * of one np_hooks never overlap: the next event starts only when every handler
 * of the previous one finished, failed or timed out.
 *
 * Pairing rule (np_hooks_queue.c, not the daemon): every "up" that was queued
 * is followed by exactly one "down". A "down" fired while no "up" is active is
 * dropped; an "up" fired while an "up" is active first queues an implicit
 * "down" with reason "re-handshake". String fields a "down" leaves NULL are
 * filled from the matching "up" (so on_down(t) always sees t.ifname).
 *
 * The loop must be ev_default_loop(): natpunch.exec reaps children with
 * ev_child, which libev only supports on the default loop. Do not install a
 * SIGCHLD handler or call waitpid(-1) elsewhere in the process. */
#ifndef NP_HOOKS_H
#define NP_HOOKS_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct np_hooks;

#define NP_HOOKS_TIMEOUT_DEFAULT 30.0           /* seconds per handler */
#define NP_HOOKS_INSTR_DEFAULT 10000000ULL      /* Lua instructions per resume */
#define NP_HOOKS_MEM_LIMIT (64u << 20)          /* bytes of Lua heap for all hooks */

struct np_hooks_config {
	const char **files;     /* --hook FILE..., run first, in this order */
	size_t nfiles;
	const char *dir;        /* --hook-dir: its *.lua, lexical order; NULL = none */
	double timeout_s;       /* per handler; <= 0 means NP_HOOKS_TIMEOUT_DEFAULT */
	const char *lua_path;   /* ';'-separated dirs searched first by require; then
				 * only the installed library and the system's Lua dirs */
	uint64_t instr_limit;   /* watchdog budget per resume; 0 means the default */
	int stall_alarm;        /* 1: SIGALRM (default action: the process ends) when
				 * one resume of Lua takes longer than timeout_s */
	void (*on_load)(void *arg, const char *path);   /* called before each file/dir */
	void *on_load_arg;
};

/* An event as the daemon sees it. Strings may be NULL (left out of t); ints
 * <= 0 are left out (except attempts, which is always present). The struct is
 * copied by np_hooks_fire, so it may live on the caller's stack. */
typedef struct np_hook_event {
	const char *event;      /* "up", "down", "endpoint_change", "punch_failed", "path_change" */
	const char *reason;
	const char *ifname;
	int mtu;
	const char *local_ip, *remote_ip;       /* tunnel (inner) addresses */
	const char *peer_ip;                    /* peer's current UDP endpoint */
	int peer_port;
	const char *public_ip;                  /* our observed public endpoint */
	int public_port;
	const char *nat_self, *nat_peer;        /* short NAT kinds, or NULL */
	const char *strategy;
	int attempts;
	const char *session;
	const char *path;                       /* "direct" or "relayed" while up, or NULL */
} np_hook_event_t;

struct np_hooks_stats {
	uint64_t events;        /* events dispatched (including implicit downs) */
	uint64_t dropped;       /* "down" without an active "up" */
	uint64_t coalesced;     /* endpoint_change merged into a queued one */
	uint64_t overflow;      /* events dropped or cancelled at the queue cap */
	uint64_t queued;        /* events waiting now */
	uint64_t handlers;      /* handler invocations started */
	uint64_t errors;        /* handlers that raised an error (incl. watchdog) */
	uint64_t timeouts;      /* handlers abandoned on timeout */
};

/* Load every hook file. On failure returns -errno and writes one line into
 * err (a Lua syntax error reads "FILE:LINE: message"). A file that defines no
 * handler is fine. */
int np_hooks_new(struct ev_loop *loop, const struct np_hooks_config *cfg,
		 struct np_hooks **out, char *err, size_t errlen);

/* Copy the event and queue it (applying the rules of np_hooks_queue.h: the
 * pairing rule, the cap and coalescing). Never runs Lua
 * and never blocks: the handlers start from the loop. -EINVAL on an unknown
 * event name, -ENOMEM. */
int np_hooks_fire(struct np_hooks *h, const np_hook_event_t *ev);

/* Mark "up" active without running on_up (it ran in an earlier instance of
 * the hook helper), so that the next "down" runs on_down. */
int np_hooks_restore_up(struct np_hooks *h, const np_hook_event_t *up);

size_t np_hooks_nfiles(const struct np_hooks *h);

/* 1 while a handler runs or events are queued. */
int np_hooks_busy(const struct np_hooks *h);

/* 1 after an "up" was queued and before its "down". */
int np_hooks_up_active(const struct np_hooks *h);

/* Call cb(arg) once, from the loop, as soon as nothing is running or queued
 * (on the next loop iteration if that is already so). A later call replaces
 * an earlier pending one. For shutdown: fire "down" (reason "shutdown"),
 * then np_hooks_on_idle(h, done, ctx), and free h from done(). */
void np_hooks_on_idle(struct np_hooks *h, void (*cb)(void *), void *arg);

void np_hooks_get_stats(const struct np_hooks *h, struct np_hooks_stats *st);

/* Abandon running handlers, SIGKILL and reap their children, free all.
 * Queued events are dropped (fire "down" and wait for idle first). */
void np_hooks_free(struct np_hooks *h);

#endif
