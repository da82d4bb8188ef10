/* np_silence: the fast silence rule and the passive keepalive (see
 * np_silence.h). Pure state on caller-given times. */
#include "np_silence.h"

#include <string.h>

void np_silence_reset(struct np_silence *s)
{
	memset(s, 0, sizeof(*s));
}

int np_silence_data_sent(struct np_silence *s, double last_rx, double now)
{
	if (s->tx_unanswered > last_rx)
		return 0; /* a wait runs already */
	s->tx_unanswered = now;
	return now > last_rx;
}

int np_silence_data_heard(struct np_silence *s, double last_tx, double now)
{
	s->data_heard = now;
	if (s->rx_unanswered > last_tx)
		return 0;
	s->rx_unanswered = now;
	return now > last_tx;
}

double np_silence_suspect_at(const struct np_silence *s, double last_rx, double suspect_s)
{
	if (s->tx_unanswered <= last_rx || s->tx_unanswered == s->suspected)
		return 0;
	return s->tx_unanswered + suspect_s;
}

void np_silence_suspected(struct np_silence *s)
{
	s->suspected = s->tx_unanswered;
}

double np_silence_passive_at(const struct np_silence *s, double last_tx, double passive_s)
{
	return s->rx_unanswered > last_tx ? s->rx_unanswered + passive_s : 0;
}

double np_silence_unanswered(const struct np_silence *s, double last_rx, double now)
{
	return s->tx_unanswered > last_rx && now > s->tx_unanswered ? now - s->tx_unanswered : 0;
}

int np_silence_stopped(const struct np_silence *s, double last_rx, double now, double quiet_s, double window_s)
{
	return s->data_heard > 0 && last_rx - s->data_heard <= window_s && now - last_rx >= quiet_s;
}

double np_silence_next(const struct np_silence *s, double last_rx, double last_tx, double suspect_s,
		       double passive_s, double now)
{
	double a = np_silence_suspect_at(s, last_rx, suspect_s), b = np_silence_passive_at(s, last_tx, passive_s);

	/* Due already (a timer that fires late): at once. */
	if (a && a < now)
		a = now;
	if (b && b < now)
		b = now;
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}
