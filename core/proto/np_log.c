/* np_log: line format (timestamp or journal priority, ident, level,
 * component, errno text) and the verbosity switch. Nothing else. */
#include "np_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

static int np_log_level = NP_LOG_INFO;
static const char *np_log_ident = "natpunch";
static int np_log_journal = -1; /* -1: not decided yet */
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

void np_log_set_journal(int on)
{
	np_log_journal = on;
}

/* systemd sets JOURNAL_STREAM=DEV:INODE for the stream it connected to
 * stderr; it is inherited, so compare it with what fd 2 really is. */
static int np_log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void np_logcv(int level, const char *comp, int err, const char *fmt, va_list ap)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	static const int prio[] = { 3, 4, 6, 7 }; /* LOG_ERR .. LOG_DEBUG */
	int saved = errno, l = level < 0 ? 0 : level > 3 ? 3 : level, r;
	char head[64], small[1024], *msg = small, *big = NULL;
	va_list aq;

	if (level > np_log_level)
		return;
	if (np_log_journal < 0)
		np_log_journal = np_log_stderr_is_journal();
	if (np_log_journal) {
		snprintf(head, sizeof(head), "<%d>", prio[l]);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[16];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		snprintf(head, sizeof(head), "%s.%03ld ", stamp, ts.tv_nsec / 1000000L);
	}
	va_copy(aq, ap);
	r = vsnprintf(small, sizeof(small), fmt, aq);
	va_end(aq);
	if (r < 0) {
		msg = "(unprintable log message)";
	} else if ((size_t)r >= sizeof(small) && (big = malloc((size_t)r + 1))) {
		vsnprintf(big, (size_t)r + 1, fmt, ap);
		msg = big;
	}
	if (np_log_syslog) {
		syslog(prio[l], "%s%s%s%s%s", comp ? comp : "", comp ? ": " : "", msg, err ? ": " : "",
		       err ? strerror(err < 0 ? -err : err) : "");
	} else {
		/* One call, so that glibc writes the line at once and lines of
		 * processes sharing one stderr (hook children) do not interleave. */
		fprintf(stderr, "%s%s %s: %s%s%s%s%s\n", head, np_log_ident, names[l], comp ? comp : "",
			comp ? ": " : "", msg, err ? ": " : "", err ? strerror(err < 0 ? -err : err) : "");
	}
	free(big);
	errno = saved;
}

void np_logc(int level, const char *comp, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	np_logcv(level, comp, err, fmt, ap);
	va_end(ap);
}

char *np_errmsg(char *buf, size_t len, int err, const char *fmt, ...)
{
	va_list ap;
	size_t n;
	int saved = errno, r;

	if (!buf || len == 0)
		return buf;
	va_start(ap, fmt);
	r = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	n = r < 0 ? 0 : (size_t)r < len ? (size_t)r : len - 1;
	buf[n] = '\0';
	if (err && n < len - 1)
		snprintf(buf + n, len - n, ": %s", strerror(err < 0 ? -err : err));
	errno = saved;
	return buf;
}
