/* np_stun: the STUN message format (RFC 8489) with the TURN attributes
 * (RFC 8656), and TURN ChannelData framing. Pure computation: no sockets.
 *
 * Parsing is strict and bounds-checked: the 20-byte header, the magic
 * cookie, a length that is a multiple of 4 and matches the datagram, every
 * attribute inside the message, MESSAGE-INTEGRITY followed by nothing but
 * FINGERPRINT, FINGERPRINT last and correct. Attribute values are pointers
 * into the caller's buffer. The builder writes into a caller buffer and
 * reports -ENOSPC once at the end. MESSAGE-INTEGRITY is HMAC-SHA1 and the
 * long-term key MD5 (OpenSSL libcrypto); FINGERPRINT is zlib's CRC-32. */
#ifndef NP_STUN_H
#define NP_STUN_H

#include <stddef.h>
#include <stdint.h>

#include <natpunch/strategy.h>

#define NP_STUN_HDR_LEN 20
#define NP_STUN_MAGIC 0x2112A442u
#define NP_STUN_MAX_ATTRS 32
#define NP_STUN_MI_LEN 20            /* HMAC-SHA1 */
#define NP_STUN_KEY_LEN 16           /* MD5(user:realm:password) */
#define NP_STUN_CHANNEL_HDR_LEN 4

/* methods */
enum {
	NP_STUN_BINDING = 0x001,
	NP_STUN_ALLOCATE = 0x003,
	NP_STUN_REFRESH = 0x004,
	NP_STUN_SEND = 0x006,
	NP_STUN_DATA = 0x007,
	NP_STUN_CREATE_PERMISSION = 0x008,
	NP_STUN_CHANNEL_BIND = 0x009,
};

/* classes */
enum {
	NP_STUN_REQUEST = 0,
	NP_STUN_INDICATION = 1,
	NP_STUN_SUCCESS = 2,
	NP_STUN_ERROR = 3,
};

/* attributes */
enum {
	NP_STUN_A_MAPPED_ADDRESS = 0x0001,
	NP_STUN_A_USERNAME = 0x0006,
	NP_STUN_A_MESSAGE_INTEGRITY = 0x0008,
	NP_STUN_A_ERROR_CODE = 0x0009,
	NP_STUN_A_UNKNOWN_ATTRIBUTES = 0x000A,
	NP_STUN_A_CHANNEL_NUMBER = 0x000C,
	NP_STUN_A_LIFETIME = 0x000D,
	NP_STUN_A_XOR_PEER_ADDRESS = 0x0012,
	NP_STUN_A_DATA = 0x0013,
	NP_STUN_A_REALM = 0x0014,
	NP_STUN_A_NONCE = 0x0015,
	NP_STUN_A_XOR_RELAYED_ADDRESS = 0x0016,
	NP_STUN_A_REQUESTED_ADDRESS_FAMILY = 0x0017,
	NP_STUN_A_REQUESTED_TRANSPORT = 0x0019,
	NP_STUN_A_DONT_FRAGMENT = 0x001A,
	NP_STUN_A_MESSAGE_INTEGRITY_SHA256 = 0x001C,
	NP_STUN_A_XOR_MAPPED_ADDRESS = 0x0020,
	NP_STUN_A_SOFTWARE = 0x8022,
	NP_STUN_A_FINGERPRINT = 0x8028,
};

/* ChannelData channel numbers (RFC 8656 section 12) */
#define NP_STUN_CHANNEL_MIN 0x4000
#define NP_STUN_CHANNEL_MAX 0x4FFF

struct np_stun_attr {
	uint16_t type;
	uint16_t len;                /* value length, without padding */
	const uint8_t *val;
	size_t off;                  /* offset of the attribute header in the message */
};

struct np_stun_msg {
	uint16_t method;
	uint8_t cls;
	uint8_t txid[12];
	const uint8_t *buf;          /* the whole message */
	size_t len;
	int nattrs;
	struct np_stun_attr attrs[NP_STUN_MAX_ATTRS];
	int mi;                      /* index of MESSAGE-INTEGRITY, -1 if absent */
	int fp;                      /* index of FINGERPRINT, -1 if absent */
};

/* Returns 0, or -EBADMSG (malformed, or a wrong FINGERPRINT). */
int np_stun_parse(const uint8_t *buf, size_t len, struct np_stun_msg *m);
/* 1 if buf starts like a STUN message (top bits 00, magic cookie). */
int np_stun_looks_like(const uint8_t *buf, size_t len);
/* The first attribute of that type before MESSAGE-INTEGRITY, or NULL. */
const struct np_stun_attr *np_stun_find(const struct np_stun_msg *m, uint16_t type);
/* XOR-*-ADDRESS (or MAPPED-ADDRESS when xored is 0). 0 or -EBADMSG. */
int np_stun_get_addr(const struct np_stun_msg *m, const struct np_stun_attr *a, int xored, np_addr_t *out);
/* ERROR-CODE: the code (300..699) and the reason phrase (NUL-terminated, truncated). */
int np_stun_get_error(const struct np_stun_attr *a, int *code, char *reason, size_t cap);
int np_stun_get_u32(const struct np_stun_attr *a, uint32_t *out);
/* A short text value (REALM, NONCE, USERNAME, SOFTWARE) into buf, NUL-terminated;
 * -EBADMSG if longer than cap - 1 or containing a NUL. */
int np_stun_get_str(const struct np_stun_attr *a, char *buf, size_t cap);
/* Checks MESSAGE-INTEGRITY with key: 0, -ENOENT (absent), -EKEYREJECTED (wrong). */
int np_stun_check_integrity(const struct np_stun_msg *m, const uint8_t *key, size_t keylen);

/* The long-term credential key: MD5(username ":" realm ":" password). */
int np_stun_long_term_key(const char *user, const char *realm, const char *password,
			  uint8_t key[NP_STUN_KEY_LEN]);

/* Builder. */
struct np_stun_builder {
	uint8_t *buf;
	size_t cap, len;
	int err;                     /* -ENOSPC or -EINVAL once anything failed */
};
void np_stun_build(struct np_stun_builder *b, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
		   const uint8_t txid[12]);
void np_stun_put(struct np_stun_builder *b, uint16_t type, const void *val, size_t len);
void np_stun_put_u32(struct np_stun_builder *b, uint16_t type, uint32_t v);
void np_stun_put_str(struct np_stun_builder *b, uint16_t type, const char *s);
void np_stun_put_addr(struct np_stun_builder *b, uint16_t type, const np_addr_t *a, int xored);
void np_stun_put_error(struct np_stun_builder *b, int code, const char *reason);
/* MESSAGE-INTEGRITY over everything so far; then FINGERPRINT. */
void np_stun_put_integrity(struct np_stun_builder *b, const uint8_t *key, size_t keylen);
void np_stun_put_fingerprint(struct np_stun_builder *b);
/* The message length, or the first error. */
int np_stun_finish(struct np_stun_builder *b);

/* ChannelData: [channel(2)][length(2)] data. Over TCP/TLS the frame is
 * padded to a multiple of 4 (np_stun_channel_frame_len says how long). */
int np_stun_channel_hdr(uint8_t out[NP_STUN_CHANNEL_HDR_LEN], uint16_t channel, size_t len);
/* A ChannelData message (len may carry padding after the data): 0 or -EBADMSG. */
int np_stun_channel_parse(const uint8_t *buf, size_t len, uint16_t *channel, const uint8_t **data,
			  size_t *dlen);

/* On a stream (TCP/TLS): how many bytes the frame at buf takes (STUN message
 * or padded ChannelData), 0 if more bytes are needed to tell, -EBADMSG if it
 * is neither. */
long np_stun_stream_frame_len(const uint8_t *buf, size_t len);

/* "Unauthorized" for 401 and so on; "unknown error" otherwise. */
const char *np_stun_error_text(int code);
const char *np_stun_method_name(uint16_t method);

#endif
