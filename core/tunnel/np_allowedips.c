/* np_allowedips: parsing and matching of --allowed-ips prefixes. */
#include "np_allowedips.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int host_bits_clear(const struct np_cidr *c)
{
	size_t nbytes = c->family == 4 ? 4 : 16;

	for (size_t i = 0; i < nbytes; i++) {
		unsigned keep = c->bits >= (i + 1) * 8 ? 8 : c->bits > i * 8 ? c->bits - i * 8 : 0;
		uint8_t mask = (uint8_t)(keep ? 0xff << (8 - keep) : 0);

		if (c->ip[i] & (uint8_t)~mask)
			return 0;
	}
	return 1;
}

static int parse_one(const char *s, size_t len, struct np_cidr *c, char *err, size_t errlen)
{
	char tmp[64], *slash, *end;
	long bits;

	if (len == 0 || len >= sizeof(tmp)) {
		snprintf(err, errlen, "invalid --allowed-ips entry '%.*s' (expected ADDRESS/PREFIX)", (int)(len > 64 ? 64 : len), s);
		return -EINVAL;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	memset(c, 0, sizeof(*c));
	slash = strchr(tmp, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, tmp, c->ip) == 1)
		c->family = 4;
	else if (inet_pton(AF_INET6, tmp, c->ip) == 1)
		c->family = 6;
	else {
		snprintf(err, errlen, "invalid --allowed-ips entry '%s' (not an IPv4 or IPv6 address)", tmp);
		return -EINVAL;
	}
	c->bits = c->family == 4 ? 32 : 128;
	if (slash) {
		bits = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || bits < 0 || bits > c->bits) {
			snprintf(err, errlen, "invalid prefix length '/%s' in --allowed-ips (0..%u)", slash + 1, c->bits);
			return -EINVAL;
		}
		c->bits = (uint8_t)bits;
	}
	if (!host_bits_clear(c)) {
		snprintf(err, errlen, "--allowed-ips entry %s/%u has host bits set (give the network address)", tmp,
			 c->bits);
		return -EINVAL;
	}
	return 0;
}

int np_allowedips_parse(const char *list, struct np_allowedips *a, char *err, size_t errlen)
{
	const char *p = list;

	memset(a, 0, sizeof(*a));
	if (!list || !*list) {
		snprintf(err, errlen, "--allowed-ips needs at least one CIDR");
		return -EINVAL;
	}
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (a->n >= NP_ALLOWEDIPS_MAX) {
			snprintf(err, errlen, "too many --allowed-ips entries (at most %d)", NP_ALLOWEDIPS_MAX);
			return -EINVAL;
		}
		if (parse_one(p, len, &a->c[a->n], err, errlen) < 0)
			return -EINVAL;
		a->n++;
		if (!comma)
			break;
		p = comma + 1;
		if (!*p) {
			snprintf(err, errlen, "--allowed-ips ends with a comma");
			return -EINVAL;
		}
	}
	return 0;
}

int np_allowedips_add_host(struct np_allowedips *a, const np_addr_t *ip)
{
	struct np_cidr *c;

	if (a->n >= NP_ALLOWEDIPS_MAX)
		return -ENOSPC;
	if (ip->family != 4 && ip->family != 6)
		return -EINVAL;
	c = &a->c[a->n++];
	memset(c, 0, sizeof(*c));
	c->family = ip->family;
	c->bits = ip->family == 4 ? 32 : 128;
	memcpy(c->ip, ip->ip, ip->family == 4 ? 4 : 16);
	return 0;
}

static int in_prefix(const struct np_cidr *c, const uint8_t *ip)
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (memcmp(c->ip, ip, full) != 0)
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((c->ip[full] & mask) != (ip[full] & mask))
			return 0;
	}
	return 1;
}

int np_allowedips_contains(const struct np_allowedips *a, int family, const uint8_t *ip)
{
	for (int i = 0; i < a->n; i++)
		if (a->c[i].family == family && in_prefix(&a->c[i], ip))
			return 1;
	return 0;
}

int np_allowedips_match_packet(const struct np_allowedips *a, const uint8_t *pkt, size_t len)
{
	if (len >= 20 && (pkt[0] >> 4) == 4)
		return np_allowedips_contains(a, 4, pkt + 12);
	if (len >= 40 && (pkt[0] >> 4) == 6)
		return np_allowedips_contains(a, 6, pkt + 8);
	return 0;
}

const char *np_allowedips_str(const struct np_allowedips *a, char *buf, size_t cap)
{
	size_t n = 0;

	if (cap)
		buf[0] = '\0';
	for (int i = 0; i < a->n && n < cap; i++) {
		char ip[INET6_ADDRSTRLEN];
		int w;

		inet_ntop(a->c[i].family == 4 ? AF_INET : AF_INET6, a->c[i].ip, ip, sizeof(ip));
		w = snprintf(buf + n, cap - n, "%s%s/%u", i ? "," : "", ip, a->c[i].bits);
		n += w > 0 ? (size_t)w : 0;
	}
	return buf;
}
