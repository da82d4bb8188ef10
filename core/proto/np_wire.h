/* np_wire: the natpunch wire format (see core/PROTOCOL.md).
 *
 * Every datagram starts with [version=2][type]. Control messages (server
 * registration, NAT probes, punch probes) are parsed into plain structs by
 * the np_wire_parse_* functions, which check every length and never read past
 * `len`; they return 0 or -EBADMSG (malformed) / -EPROTONOSUPPORT (version).
 * Encoders write into a caller buffer and return the length or -ENOSPC.
 * Multi-byte integers are big-endian on the wire. */
#ifndef NP_WIRE_H
#define NP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <natpunch/strategy.h>

#define NP_WIRE_VERSION 2

enum np_wire_type {
	NP_MSG_REGISTER = 0x01,        /* peer -> server */
	NP_MSG_REGISTER_ACK = 0x02,    /* server -> peer: registered, waiting */
	NP_MSG_PEER_INFO = 0x03,       /* server -> peer: your pair is complete */
	NP_MSG_NAT_PROBE = 0x04,       /* peer -> server: what do you see? */
	NP_MSG_NAT_PROBE_REPLY = 0x05, /* server -> peer: the endpoint I saw */
	NP_MSG_REGISTER_COOKIE = 0x06, /* server -> peer: echo this cookie (return routability) */
	NP_MSG_PROBE = 0x10,           /* peer -> peer: punch probe */
	NP_MSG_PROBE_ACK = 0x11,       /* peer -> peer: punch probe answer */
	NP_MSG_HANDSHAKE_INIT = 0x20,  /* Noise IK message 1 */
	NP_MSG_HANDSHAKE_RESP = 0x21,  /* Noise IK message 2 */
	NP_MSG_HANDSHAKE_COOKIE = 0x22, /* responder under load: mac2 cookie */
	NP_MSG_DATA = 0x30,            /* --insecure: plaintext IP packet */
	NP_MSG_KEEPALIVE = 0x31,       /* --insecure: keepalive */
	NP_MSG_TRANSPORT = 0x40,       /* AEAD-sealed IP packet or keepalive */
};

#define NP_SESSION_MAX 64   /* bytes of a session name */
#define NP_MAC_LEN 16       /* BLAKE2b-128 MACs on control messages */
#define NP_WIRE_ADDR_MAX 19 /* encoded endpoint: family, port, 16 bytes */
#define NP_WIRE_NAT_LEN 10  /* encoded np_nat_info_t */
#define NP_COOKIE_LEN 16    /* server registration cookie */
#define NP_WIRE_TURN_URIS_MAX 200 /* PEER_INFO TURN_URIS text */
#define NP_WIRE_TURN_CRED_MAX 64  /* PEER_INFO TURN_USER / TURN_PASS text */
#define NP_PAIRING_LEN 16   /* random pairing identifier in PEER_INFO */
#define NP_NAT_PROBE_LEN 64 /* a NAT_PROBE is padded to this: no reply is larger */

/* REGISTER flags (REGISTER_ACK, REGISTER_COOKIE and PEER_INFO use F_MAC only) */
#define NP_REG_F_MAC 0x01    /* a token MAC follows the body */
#define NP_REG_F_COOKIE 0x02 /* REGISTER: the server's cookie follows the body */
#define NP_REG_F_LEG 0x04    /* REGISTER: registration-only (the other address family):
			      * tell me whether the peer is here, do not pair it for punching */
#define NP_PI_F_PEER_TCP 0x08 /* PEER_INFO: the peer registered over TCP (its network passes
			       * no UDP): no direct path, go to the relay at once */
#define NP_PI_F_PEER_LEG 0x10 /* PEER_INFO to a leg: the peer's registration on this family
			       * is a leg too (its main family is the other one, as ours is) */

/* NAT_PROBE flags (RFC 5780 CHANGE-REQUEST style) */
#define NP_NATP_F_CHANGE_PORT 0x01 /* answer from the other server port */
#define NP_NATP_F_CHANGE_IP 0x02   /* answer from the alternate server address */
#define NP_NATP_F_MAC 0x80         /* NAT_PROBE_REPLY: a token MAC follows the body */

/* PROBE flags */
#define NP_PROBE_F_HIGH 0x01 /* sender is the "high" side (tie-breaker) */

struct np_msg_register {
	uint8_t flags;
	uint32_t nonce;              /* random, echoed in the answers */
	uint64_t timestamp_ms;       /* sender wall clock, ms (token replay window) */
	char session[NP_SESSION_MAX + 1];
	np_addr_t local;             /* the peer's LAN endpoint */
	np_nat_info_t nat;           /* the peer's NAT classification, if known */
	uint8_t cookie[NP_COOKIE_LEN]; /* valid when flags & NP_REG_F_COOKIE */
	np_addr_t relay;             /* optional: the peer's TURN relayed address (family 0: none) */
	np_addr_t mapped;            /* optional: the newest NAT mapping its last discovery saw
				      * (family 0: none); nat.step is that discovery's step */
	uint8_t mac[NP_MAC_LEN];     /* valid when flags & NP_REG_F_MAC */
	size_t mac_offset;           /* parse: bytes covered by the MAC */
};

struct np_msg_register_cookie {
	uint8_t flags;               /* NP_REG_F_MAC or 0 */
	uint32_t nonce;              /* echo of the REGISTER's nonce */
	uint8_t cookie[NP_COOKIE_LEN];
	uint8_t mac[NP_MAC_LEN];
	size_t mac_offset;
};

struct np_msg_register_ack {
	uint8_t flags;
	uint32_t nonce;
	np_addr_t observed;          /* the registrant as the server sees it */
	uint8_t mac[NP_MAC_LEN];
	size_t mac_offset;
};

struct np_msg_peer_info {
	uint8_t flags;
	uint8_t role;                /* 0: recipient registered on PORT1, 1: PORT2 */
	uint32_t nonce;              /* echo of the recipient's registration nonce */
	uint32_t round;              /* pairing round: grows with every new pairing */
	uint16_t start_in_ms;        /* start punching this long after receipt */
	uint8_t pairing[NP_PAIRING_LEN]; /* fresh random id of this pairing (probe key input) */
	np_addr_t observed;          /* the recipient as the server sees it */
	np_addr_t peer_public;
	np_addr_t peer_local;
	np_nat_info_t peer_nat;
	np_addr_t peer_relay;        /* optional: the peer's TURN relayed address (family 0: none) */
	np_addr_t peer_mapped;       /* optional: the peer's REGISTER MAPPED (family 0: none) */
	/* optional: relays the server offers, space-separated RFC 7065 URIs, and
	 * short-lived credentials for them ("" when none) */
	char turn_uris[NP_WIRE_TURN_URIS_MAX + 1];
	char turn_user[NP_WIRE_TURN_CRED_MAX + 1];
	char turn_pass[NP_WIRE_TURN_CRED_MAX + 1];
	uint8_t mac[NP_MAC_LEN];
	size_t mac_offset;
};

struct np_msg_nat_probe {
	uint8_t flags;
	uint32_t txid;
};

struct np_msg_nat_probe_reply {
	uint8_t flags;               /* echo of the request flags, | NP_NATP_F_MAC with a token */
	uint8_t answered;            /* NP_NATP_F_* actually applied by the server */
	uint32_t txid;
	np_addr_t observed;          /* the prober's endpoint as the server saw it */
	np_addr_t alt;               /* the server's alternate address (port 0), or family 0 */
	uint16_t other_port;         /* the server's other port (PORT2 for a probe to PORT1) */
	uint8_t mac[NP_MAC_LEN];     /* valid when flags & NP_NATP_F_MAC */
	size_t mac_offset;
};

struct np_msg_probe {
	uint8_t type;                /* NP_MSG_PROBE or NP_MSG_PROBE_ACK */
	uint8_t flags;
	uint32_t round;
	uint64_t nonce;              /* random per probe; an ack echoes it */
	uint8_t mac[NP_MAC_LEN];
};
#define NP_PROBE_WIRE_LEN (2 + 2 + 4 + 8 + NP_MAC_LEN)
#define NP_PROBE_MAC_OFFSET (2 + 2 + 4 + 8)

/* Transport header: [1][0x40][0][0] receiver_index(4) counter(8). */
#define NP_TRANSPORT_HDR_LEN 16
#define NP_TRANSPORT_TAG_LEN 16
/* Plaintext data header: [1][0x30][0][0]. */
#define NP_DATA_HDR_LEN 4

/* Peek at the type byte; -EBADMSG if too short, -EPROTONOSUPPORT if the version differs. */
int np_wire_type(const uint8_t *buf, size_t len);

int np_wire_put_addr(uint8_t *out, size_t cap, const np_addr_t *a);
int np_wire_get_addr(const uint8_t *in, size_t len, np_addr_t *a);

int np_wire_encode_register(uint8_t *out, size_t cap, const struct np_msg_register *m);
int np_wire_parse_register(const uint8_t *in, size_t len, struct np_msg_register *m);
int np_wire_encode_register_ack(uint8_t *out, size_t cap, const struct np_msg_register_ack *m);
int np_wire_parse_register_ack(const uint8_t *in, size_t len, struct np_msg_register_ack *m);
int np_wire_encode_register_cookie(uint8_t *out, size_t cap, const struct np_msg_register_cookie *m);
int np_wire_parse_register_cookie(const uint8_t *in, size_t len, struct np_msg_register_cookie *m);
int np_wire_encode_peer_info(uint8_t *out, size_t cap, const struct np_msg_peer_info *m);
int np_wire_parse_peer_info(const uint8_t *in, size_t len, struct np_msg_peer_info *m);
int np_wire_encode_nat_probe(uint8_t *out, size_t cap, const struct np_msg_nat_probe *m);
int np_wire_parse_nat_probe(const uint8_t *in, size_t len, struct np_msg_nat_probe *m);
int np_wire_encode_nat_probe_reply(uint8_t *out, size_t cap, const struct np_msg_nat_probe_reply *m);
int np_wire_parse_nat_probe_reply(const uint8_t *in, size_t len, struct np_msg_nat_probe_reply *m);
/* Probe and probe-ack: the MAC field is written/read as is; np_probe_mac() computes it. */
int np_wire_encode_probe(uint8_t *out, size_t cap, const struct np_msg_probe *m);
int np_wire_parse_probe(const uint8_t *in, size_t len, struct np_msg_probe *m);

/* Address helpers. */
int np_addr_equal(const np_addr_t *a, const np_addr_t *b);
/* "1.2.3.4:5" or "[::1]:5" into buf (at least NP_ADDR_STRLEN). Returns buf. */
#define NP_ADDR_STRLEN 56
const char *np_addr_str(const np_addr_t *a, char *buf, size_t cap);
struct sockaddr;
struct sockaddr_storage;
int np_addr_from_sockaddr(np_addr_t *a, const struct sockaddr *sa);
/* Fills ss and returns its length (socklen), or -EAFNOSUPPORT. */
int np_addr_to_sockaddr(const np_addr_t *a, struct sockaddr_storage *ss);
/* 1 if a is in a private, CGNAT or link-local range. */
int np_addr_is_private(const np_addr_t *a);
/* 1 if a and b have the same family and address (ports ignored). */
int np_addr_same_ip(const np_addr_t *a, const np_addr_t *b);
/* The first datagram byte of natpunch's previous wire versions, for a clear
 * "other version" message: 1 if buf looks like natpunch of another version. */
int np_wire_other_version(const uint8_t *buf, size_t len);

#endif
