/* np_time: the two clocks natpunch uses, in milliseconds.
 * Monotonic time for every timeout and rate; wall-clock time only where it
 * goes on the wire (registration timestamps). */
#ifndef NP_TIME_H
#define NP_TIME_H

#include <stdint.h>

uint64_t np_mono_ms(void);
uint64_t np_wall_ms(void);

#endif
