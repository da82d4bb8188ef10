/* np_control: the per-tunnel Unix control socket and `natpunch status`.
 *
 * The daemon listens on /run/natpunch/IFNAME.sock (mode 0600, or --control
 * PATH). Each connection gets one status report of "key: value" lines and
 * is closed; the socket accepts no commands, so it can change nothing.
 * `natpunch status [IFNAME] [--json]` reads one tunnel's report, or every
 * tunnel's, and prints it as text or JSON. */
#ifndef NP_CONTROL_H
#define NP_CONTROL_H

#include <stddef.h>

#define NP_CONTROL_DIR "/run/natpunch"

struct ev_loop;
struct np_control;

/* Writes the report into buf; returns its length. */
typedef size_t (*np_control_report_fn)(void *arg, char *buf, size_t cap);

/* path NULL: NP_CONTROL_DIR/ifname.sock. Failing is not fatal for the
 * daemon: it returns -errno with a one-line reason in err. */
int np_control_open(struct ev_loop *loop, const char *path, const char *ifname, np_control_report_fn fn, void *arg,
		    struct np_control **out, char *err, size_t errlen);
void np_control_close(struct np_control *c);
int np_control_cli(int argc, char **argv);

#endif
