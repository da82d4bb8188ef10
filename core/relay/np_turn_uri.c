/* np_turn_uri: RFC 7065 TURN URIs (see np_turn_uri.h). */
#include "np_turn_uri.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *np_turn_transport_name(enum np_turn_transport t)
{
	return t == NP_TURN_UDP ? "udp" : t == NP_TURN_TCP ? "tcp" : "tls";
}

static int bad(char *err, size_t errlen, const char *s, const char *why)
{
	snprintf(err, errlen, "bad TURN URI '%s': %s (want turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT])",
		 s, why);
	return -EINVAL;
}

int np_turn_uri_parse(const char *s, struct np_turn_uri *out, char *err, size_t errlen)
{
	const char *p, *hend, *q;
	size_t hlen;
	int secure;

	memset(out, 0, sizeof(*out));
	if (strncmp(s, "turn:", 5) == 0) {
		secure = 0;
		p = s + 5;
	} else if (strncmp(s, "turns:", 6) == 0) {
		secure = 1;
		p = s + 6;
	} else {
		return bad(err, errlen, s, "scheme must be turn: or turns:");
	}
	q = strchr(p, '?');
	if (*p == '[') {
		hend = strchr(p, ']');
		if (!hend || (q && hend > q))
			return bad(err, errlen, s, "unterminated [IPv6] address");
		hlen = (size_t)(hend - p - 1);
		if (hlen == 0 || hlen >= sizeof(out->host))
			return bad(err, errlen, s, "bad host");
		memcpy(out->host, p + 1, hlen);
		p = hend + 1;
	} else {
		hend = p + strcspn(p, ":?");
		hlen = (size_t)(hend - p);
		if (hlen == 0 || hlen >= sizeof(out->host))
			return bad(err, errlen, s, "missing or too long host");
		memcpy(out->host, p, hlen);
		p = hend;
	}
	for (const char *c = out->host; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '/' || *c == '@')
			return bad(err, errlen, s, "bad character in host");
	out->port = secure ? 5349 : 3478;
	if (*p == ':') {
		char *end;
		unsigned long v;

		p++;
		if (*p < '0' || *p > '9')
			return bad(err, errlen, s, "bad port");
		v = strtoul(p, &end, 10);
		if (v == 0 || v > 65535 || (*end && *end != '?'))
			return bad(err, errlen, s, "bad port");
		out->port = (uint16_t)v;
		p = end;
	}
	out->transport = secure ? NP_TURN_TLS : NP_TURN_UDP;
	if (*p == '?') {
		p++;
		if (strcmp(p, "transport=udp") == 0) {
			if (secure)
				return bad(err, errlen, s, "turns: runs over TCP only (DTLS is not supported)");
			out->transport = NP_TURN_UDP;
		} else if (strcmp(p, "transport=tcp") == 0) {
			out->transport = secure ? NP_TURN_TLS : NP_TURN_TCP;
		} else {
			return bad(err, errlen, s, "the only query is transport=udp or transport=tcp");
		}
	} else if (*p) {
		return bad(err, errlen, s, "trailing characters");
	}
	return 0;
}

const char *np_turn_uri_str(const struct np_turn_uri *u, char *buf, size_t cap)
{
	int v6 = strchr(u->host, ':') != NULL;

	if (u->transport == NP_TURN_TLS)
		snprintf(buf, cap, "turns:%s%s%s:%u", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
	else
		snprintf(buf, cap, "turn:%s%s%s:%u?transport=%s", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port,
			 np_turn_transport_name(u->transport));
	return buf;
}
