/* np_auth: the MACs that authenticate control messages.
 *
 * - Server token MACs: natpunch-server --token-file and natpunch --server-token
 *   derive one key from the token file; REGISTER, REGISTER_ACK and PEER_INFO
 *   then carry BLAKE2b-128(key, message) so only token holders can register
 *   and only the real server can steer a peer.
 *   Server MACs also cover the server port the message was sent to (which
 *   is the registrant's role), so a capture cannot be replayed to the other
 *   port.
 * - Probe MACs: punch probes and probe-acks carry BLAKE2b-128 keyed per
 *   pairing: from the X25519 static-static secret of the two peers, the PSK
 *   (if any) and the server's random pairing identifier, so a third party
 *   cannot forge an answer, and probes of one pairing mean nothing in another.
 * - Registration cookies: the server's stateless proof that a source address
 *   receives what is sent to it (BLAKE2b-128 of the address, the port index
 *   and a coarse time, keyed with a secret of the server process).
 * All keys are 32 bytes. Functions return 0 or -errno. */
#ifndef NP_AUTH_H
#define NP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define NP_AUTH_KEY_LEN 32
#define NP_AUTH_MAC_LEN 16

/* Reads a token file (any bytes, at least 16, trailing whitespace ignored).
 * The file must be a regular file owned by us with no group or other
 * permissions (the rules of key files). */
int np_auth_token_key_from_file(const char *path, uint8_t key[NP_AUTH_KEY_LEN], char *err, size_t errlen);
void np_auth_token_key(const uint8_t *token, size_t len, uint8_t key[NP_AUTH_KEY_LEN]);
/* The static part of the probe key, from our private key and the peer's
 * public key (+ optional PSK). -EINVAL if the peer key is a low-order point. */
int np_auth_probe_base(const uint8_t priv[32], const uint8_t peer_pub[32], const uint8_t *psk,
		       uint8_t base[NP_AUTH_KEY_LEN]);
/* The well-known base used with --insecure (authenticates nothing). */
void np_auth_insecure_probe_base(const char *session, uint8_t base[NP_AUTH_KEY_LEN]);
/* The probe key of one pairing: BLAKE2b-256(key = base, label || pairing). */
void np_auth_probe_key(const uint8_t base[NP_AUTH_KEY_LEN], const uint8_t pairing[16],
		       uint8_t key[NP_AUTH_KEY_LEN]);
/* Server messages: the MAC over server_port (2 bytes, big-endian) || data. */
void np_auth_server_mac(const uint8_t key[NP_AUTH_KEY_LEN], uint16_t server_port, const uint8_t *data,
			size_t len, uint8_t mac[NP_AUTH_MAC_LEN]);
int np_auth_server_verify(const uint8_t key[NP_AUTH_KEY_LEN], uint16_t server_port, const uint8_t *data,
			  size_t len, const uint8_t mac[NP_AUTH_MAC_LEN]);
/* Registration cookie for source `from` on server port index `port_idx` in
 * time slot `slot` (coarse time). */
struct np_addr;
void np_auth_cookie(const uint8_t secret[NP_AUTH_KEY_LEN], const struct np_addr *from, int port_idx,
		    uint64_t slot, uint8_t cookie[NP_AUTH_MAC_LEN]);
void np_auth_mac(const uint8_t key[NP_AUTH_KEY_LEN], const uint8_t *data, size_t len, uint8_t mac[NP_AUTH_MAC_LEN]);
/* Constant-time check; 0 if equal, -EBADMSG otherwise. */
int np_auth_verify(const uint8_t key[NP_AUTH_KEY_LEN], const uint8_t *data, size_t len,
		   const uint8_t mac[NP_AUTH_MAC_LEN]);

#endif
