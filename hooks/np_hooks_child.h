/* np_hooks_child: supervision of the child processes natpunch.exec starts.
 *
 * What belongs here: fork and execvp without a shell, stdin from a buffer
 * (through a socket, so a child that does not read it cannot raise SIGPIPE)
 * or /dev/null, stdout and stderr captured through non-blocking pipes (at
 * most NP_CHILD_CAPTURE_MAX bytes each), reaping through ev_child, and
 * killing. Nothing here knows about Lua or hook handlers: the owner learns
 * the outcome through one completion callback.
 *
 * Each child leads its own process group, so a kill reaches its descendants.
 * ev_child needs the default libev loop. */
#ifndef NP_HOOKS_CHILD_H
#define NP_HOOKS_CHILD_H

#include <stddef.h>
#include <sys/types.h>

struct ev_loop;
struct np_child;

#define NP_CHILD_CAPTURE_MAX (64 * 1024)       /* bytes per captured stream */

/* The outcome of one child. status: the exit code, 128+signal when killed,
 * 127 when the program is missing, 126 when it cannot be run. The buffers
 * are valid only during the callback. */
struct np_child_result {
	int status;
	const char *out, *err;
	size_t out_len, err_len;
	int truncated;          /* 1 when either stream hit NP_CHILD_CAPTURE_MAX */
};

typedef void (*np_child_done_fn)(void *arg, const struct np_child_result *r);

/* All children of one owner, so that it can kill and reap them at once. */
struct np_child_set {
	struct ev_loop *loop;
	struct np_child *head;
};

void np_child_set_init(struct np_child_set *set, struct ev_loop *loop);

/* Start argv[0] (looked up in PATH) with argv. in/in_len: stdin text, or
 * in == NULL for /dev/null. done(arg, result) is called once, from the loop,
 * after the child was reaped and its pipes drained, unless the child is
 * abandoned first. Returns 0 and the child in *out, or -errno. */
int np_child_spawn(struct np_child_set *set, char *const argv[], const char *in, size_t in_len,
		   np_child_done_fn done, void *arg, struct np_child **out);

pid_t np_child_pid(const struct np_child *c);

/* SIGKILL the child's process group. done is never called; the child is
 * reaped and freed in the background. */
void np_child_abandon(struct np_child *c);

/* SIGKILL, reap (blocking, briefly) and free every child of the set. */
void np_child_set_free(struct np_child_set *set);

#endif
