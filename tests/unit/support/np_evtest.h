/* np_evtest: running a libev loop in a unit test until a condition holds
 * or a timeout passes (tests that drive real sockets on loopback). */
#ifndef NP_EVTEST_H
#define NP_EVTEST_H

#include <ev.h>

/* The timeout's callback: ends the ev_run it fired in. */
void np_evtest_stop(struct ev_loop *loop, ev_timer *w, int revents);

/* Runs loop until cond is true or timeout_s seconds have passed. */
#define NP_RUN_UNTIL(loop, cond, timeout_s)                              \
	do {                                                             \
		ev_timer to_;                                            \
		ev_timer_init(&to_, np_evtest_stop, (timeout_s), 0.);    \
		ev_timer_start((loop), &to_);                            \
		while (!(cond) && ev_is_active(&to_))                    \
			ev_run((loop), EVRUN_ONCE);                      \
		ev_timer_stop((loop), &to_);                             \
	} while (0)

#endif
