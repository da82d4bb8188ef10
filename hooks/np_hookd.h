/* np_hookd: the hook helper process, and the daemon's side of it.
 *
 * The daemon never runs Lua. Before it opens anything or drops privileges,
 * np_hookd_start forks the helper, which keeps the daemon's privileges for
 * its whole life:
 *
 *   natpunch (daemon; drops to --user)
 *     `- monitor (privileged, no Lua: forks and restarts the worker)
 *          `- worker (privileged: np_hooks, the Lua state, natpunch.exec)
 *
 * The daemon and the worker talk over one SOCK_SEQPACKET socketpair with
 * the fixed-size messages of np_hookmsg.h. The daemon keeps the event queue
 * (np_hooks_queue.c: pairing, cap, coalescing) and has one event at a time
 * at the worker; nothing the worker does can block the daemon.
 *
 * A stalled hook stalls only the worker: one resume of Lua that takes longer
 * than the hook timeout (a long C call the instruction watchdog cannot
 * interrupt) ends the worker by SIGALRM; the monitor logs it and starts a
 * new worker 1 s later, which tells the daemon (HELLO, restarted), which
 * logs the abandoned event and goes on with the queue. The monitor keeps a
 * copy of the active "up" (the worker reports it), so a new worker still
 * runs on_down for it.
 *
 * When the daemon ends, however (SIGTERM, SIGKILL, a crash), the worker
 * reads end-of-file, fires "down" with reason "daemon exited" (dropped by
 * the pairing rule when no "up" is active), runs it, and both helper
 * processes exit. They ignore SIGINT, SIGTERM and SIGHUP and sit in their
 * own session, so signals meant for the daemon do not cut on_down short. */
#ifndef NP_HOOKD_H
#define NP_HOOKD_H

#include "np_hooks.h"

#include <sys/types.h>

struct ev_loop;
struct np_hookd;

/* Fork the helper and wait until it loaded cfg's files (each file may take
 * up to the hook timeout). Call before this process creates its libev
 * default loop. 0 and *out, or -errno with one line in err (a Lua error
 * reads "FILE:LINE: message"; a file whose body stalls reads "FILE: ...
 * stalled"). */
int np_hookd_start(const struct np_hooks_config *cfg, struct np_hookd **out, char *err, size_t errlen);

/* Start the daemon-side watchers; before any other call but np_hookd_free. */
void np_hookd_attach(struct np_hookd *hd, struct ev_loop *loop);

/* Queue ev for the helper (np_hooks_queue.h rules). Never blocks. -EINVAL
 * on an unknown event, -ENOMEM. */
int np_hookd_fire(struct np_hookd *hd, const np_hook_event_t *ev);

/* 1 while events are queued or one is at the worker. */
int np_hookd_busy(const struct np_hookd *hd);

/* cb(arg) once, from the loop, when nothing is queued or running (or the
 * helper is gone). A later call replaces a pending one. */
void np_hookd_on_idle(struct np_hookd *hd, void (*cb)(void *), void *arg);

/* 1 after an "up" was fired and before its "down". */
int np_hookd_up_active(const struct np_hookd *hd);

size_t np_hookd_nfiles(const struct np_hookd *hd);
pid_t np_hookd_pid(const struct np_hookd *hd);  /* the monitor */

/* Close the socket (the helper then runs a pending on_down on its own and
 * exits) and free. Does not wait for the helper. */
void np_hookd_free(struct np_hookd *hd);

#endif
