/* np_turn_uri: TURN server URIs (RFC 7065).
 *
 *   turn:HOST[:PORT][?transport=udp|tcp]     default port 3478, UDP
 *   turns:HOST[:PORT][?transport=tcp]        default port 5349, TLS over TCP
 *
 * HOST is a name, an IPv4 address or a bracketed IPv6 address. Parsing is
 * pure; names are resolved by the caller. */
#ifndef NP_TURN_URI_H
#define NP_TURN_URI_H

#include <stddef.h>
#include <stdint.h>

enum np_turn_transport {
	NP_TURN_UDP = 0,
	NP_TURN_TCP = 1,
	NP_TURN_TLS = 2,
};

struct np_turn_uri {
	char host[256];
	uint16_t port;
	enum np_turn_transport transport;
};

/* Returns 0, or -EINVAL with a one-line reason in err. */
int np_turn_uri_parse(const char *s, struct np_turn_uri *out, char *err, size_t errlen);
/* The canonical form, e.g. "turn:198.51.100.1:3478?transport=udp". */
const char *np_turn_uri_str(const struct np_turn_uri *u, char *buf, size_t cap);
const char *np_turn_transport_name(enum np_turn_transport t);

#endif
