/* np_parse: strtol/strtod with range and trailing-garbage checks. */
#include "np_parse.h"

#include <errno.h>
#include <stdlib.h>

int np_parse_port(const char *s, int allow_zero, uint16_t *out)
{
	char *end;
	long v;

	if (!s || !*s || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < (allow_zero ? 0 : 1) || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int np_parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -EINVAL;
	*out = v;
	return 0;
}
