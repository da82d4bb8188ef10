/* np_notify: sd_notify wrappers. */
#include "np_notify.h"
#define NP_LOG_COMPONENT "notify"
#include "np_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

void np_notify(const char *state)
{
	int rc = sd_notify(0, state);

	if (rc < 0)
		np_debug("sd_notify %s: error %d", state, rc);
}

void np_notify_status(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	snprintf(buf, sizeof(buf), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(buf + 7, sizeof(buf) - 7, fmt, ap);
	va_end(ap);
	np_debug("status: %s", buf + 7);
	np_notify(buf);
}
