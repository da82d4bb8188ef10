/* np_log: the one logging vocabulary of natpunch and natpunch-server.
 *
 * Lines go to stderr as "LEVEL component: message", one event per line, so
 * they are readable by people and by grep. Verbosity is process-wide:
 * -q shows errors only, default shows info, -v adds debug. */
#ifndef NP_LOG_H
#define NP_LOG_H

#include <stdarg.h>

enum np_log_level {
	NP_LOG_ERR = 0,
	NP_LOG_WARN = 1,
	NP_LOG_INFO = 2,
	NP_LOG_DEBUG = 3,
};

void np_log_set_level(int level);
int np_log_get_level(void);
void np_log_set_ident(const char *ident);
/* --syslog: from now on lines go to syslog(3) (facility daemon), not stderr. */
void np_log_set_syslog(int on);
void np_logv(int level, const char *fmt, va_list ap);
void np_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define np_err(...) np_log(NP_LOG_ERR, __VA_ARGS__)
#define np_warn(...) np_log(NP_LOG_WARN, __VA_ARGS__)
#define np_info(...) np_log(NP_LOG_INFO, __VA_ARGS__)
#define np_debug(...)                                   \
	do {                                            \
		if (np_log_get_level() >= NP_LOG_DEBUG) \
			np_log(NP_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
