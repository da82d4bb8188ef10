/* np_parse: strict parsers for numbers given on command lines. Each accepts
 * the whole string or nothing, and leaves *out untouched on error. */
#ifndef NP_PARSE_H
#define NP_PARSE_H

#include <stdint.h>

/* A port number 1..65535 (allow_zero: 0..65535). 0 or -EINVAL. */
int np_parse_port(const char *s, int allow_zero, uint16_t *out);
/* A finite decimal number within lo..hi. 0 or -EINVAL. */
int np_parse_num(const char *s, double lo, double hi, double *out);

#endif
