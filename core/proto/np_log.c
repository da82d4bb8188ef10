/* np_log: timestamps, level names and the verbosity switch. Nothing else. */
#include "np_log.h"

#include <stdio.h>
#include <syslog.h>
#include <time.h>

static int np_log_level = NP_LOG_INFO;
static const char *np_log_ident = "natpunch";
static int np_log_syslog;

void np_log_set_syslog(int on)
{
	if (on && !np_log_syslog)
		openlog(np_log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!on && np_log_syslog)
		closelog();
	np_log_syslog = on;
}

void np_log_set_level(int level)
{
	np_log_level = level;
}

int np_log_get_level(void)
{
	return np_log_level;
}

void np_log_set_ident(const char *ident)
{
	np_log_ident = ident;
}

void np_logv(int level, const char *fmt, va_list ap)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	if (level > np_log_level)
		return;
	if (np_log_syslog) {
		static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

		vsyslog(prio[level < 0 ? 0 : level > 3 ? 3 : level], fmt, ap);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld %s %s: ", stamp, ts.tv_nsec / 1000000L, np_log_ident,
		names[level < 0 ? 0 : level > 3 ? 3 : level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void np_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	np_logv(level, fmt, ap);
	va_end(ap);
}
