/* np_evtest: see np_evtest.h. */
#include "np_evtest.h"

void np_evtest_stop(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ONE);
}
