/* np_log: the one logging vocabulary of natpunch and natpunch-server.
 *
 * Every line goes to stderr as
 *     HH:MM:SS.mmm IDENT LEVEL: COMPONENT: message[: strerror(err)]
 * one event per line, readable by people and by grep. COMPONENT names the
 * part of the program that speaks (peer, punch, dp, ctl, server, hooks,
 * session, ...). When stderr is the systemd journal (JOURNAL_STREAM names
 * our stderr) the timestamp is left out, and each line starts with a
 * "<N>" syslog priority that journald turns into the entry's priority.
 * Verbosity is process-wide: -q shows errors only, default shows info,
 * -v adds debug.
 *
 * Each .c file that logs names its component once, before it logs:
 *     #define NP_LOG_COMPONENT "peer"
 *     #include "np_log.h"
 * The macros use it; a file that logs without defining it does not compile.
 *
 *   np_err / np_warn / np_info / np_debug (fmt, ...)
 *   np_err_e / np_warn_e / np_info_e / np_debug_e (err, fmt, ...)
 *       the same, with ": <strerror(err)>" appended (OpenNTPD's log_warn);
 *       err is an errno value, positive (errno) or negative (the -errno our
 *       functions return), so both np_warn_e(errno, ...) and
 *       np_warn_e(rc, ...) work.
 *   np_log(level, fmt, ...)   level chosen at run time (strategy and hook
 *                              log lines)
 *   np_errmsg(buf, len, err, fmt, ...)   format "fmt: strerror(err)" into an
 *       error buffer, for functions that return -errno and an error text. */
#ifndef NP_LOG_H
#define NP_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum np_log_level {
	NP_LOG_ERR = 0,
	NP_LOG_WARN = 1,
	NP_LOG_INFO = 2,
	NP_LOG_DEBUG = 3,
};

void np_log_set_level(int level);
int np_log_get_level(void);
/* The program name on each line ("natpunch", "natpunch-server"). */
void np_log_set_ident(const char *ident);
/* 1: print the journal form (no timestamp, "<N>" priority); 0: the
 * terminal form; -1: decide from JOURNAL_STREAM (the default). */
void np_log_set_journal(int on);
/* --syslog: from now on lines go to syslog(3) (facility daemon, the ident
 * above), not stderr. */
void np_log_set_syslog(int on);

/* comp: component (NULL: none); err: errno value or 0 (see above). */
void np_logcv(int level, const char *comp, int err, const char *fmt, va_list ap);
void np_logc(int level, const char *comp, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "fmt: strerror(err)" into buf (always terminated); returns buf. */
char *np_errmsg(char *buf, size_t len, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define np_log(level, ...) np_logc((level), NP_LOG_COMPONENT, 0, __VA_ARGS__)
#define np_err(...) np_logc(NP_LOG_ERR, NP_LOG_COMPONENT, 0, __VA_ARGS__)
#define np_warn(...) np_logc(NP_LOG_WARN, NP_LOG_COMPONENT, 0, __VA_ARGS__)
#define np_info(...) np_logc(NP_LOG_INFO, NP_LOG_COMPONENT, 0, __VA_ARGS__)
#define np_err_e(err, ...) np_logc(NP_LOG_ERR, NP_LOG_COMPONENT, (err), __VA_ARGS__)
#define np_warn_e(err, ...) np_logc(NP_LOG_WARN, NP_LOG_COMPONENT, (err), __VA_ARGS__)
#define np_info_e(err, ...) np_logc(NP_LOG_INFO, NP_LOG_COMPONENT, (err), __VA_ARGS__)
/* Debug arguments are not evaluated unless -v is on. */
#define np_debug(...)                                                            \
	do {                                                                     \
		if (np_log_get_level() >= NP_LOG_DEBUG)                          \
			np_logc(NP_LOG_DEBUG, NP_LOG_COMPONENT, 0, __VA_ARGS__); \
	} while (0)
#define np_debug_e(err, ...)                                                         \
	do {                                                                         \
		if (np_log_get_level() >= NP_LOG_DEBUG)                              \
			np_logc(NP_LOG_DEBUG, NP_LOG_COMPONENT, (err), __VA_ARGS__); \
	} while (0)

#endif
