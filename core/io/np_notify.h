/* np_notify: tell the service manager how we are, through sd_notify(3)
 * (systemd's Type=notify protocol: a datagram to $NOTIFY_SOCKET). Without
 * NOTIFY_SOCKET every call does nothing, so callers need no conditions.
 *
 * What belongs here: READY=1, STATUS=, RELOADING=1, STOPPING=1. */
#ifndef NP_NOTIFY_H
#define NP_NOTIFY_H

/* Sends `state` ("READY=1", "STOPPING=1", ...) as is. */
void np_notify(const char *state);
/* STATUS=<text>, also logged at debug level. */
void np_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
