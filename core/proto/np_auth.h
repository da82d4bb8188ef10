/* np_auth: the MACs that authenticate control messages.
 *
 * - Server token MACs: natpunch-server --token-file and natpunch --server-token
 *   derive one key from the token file; REGISTER, REGISTER_ACK and PEER_INFO
 *   then carry BLAKE2b-128(key, message) so only token holders can register
 *   and only the real server can steer a peer.
 * - Probe MACs: punch probes and probe-acks carry BLAKE2b-128 keyed from the
 *   X25519 static-static secret of the two peers (and the PSK, if any), so a
 *   third party cannot forge an answer that steers the punch.
 * All keys are 32 bytes. Functions return 0 or -errno. */
#ifndef NP_AUTH_H
#define NP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define NP_AUTH_KEY_LEN 32
#define NP_AUTH_MAC_LEN 16

/* Reads a token file (any bytes, at least 16, trailing whitespace ignored). */
int np_auth_token_key_from_file(const char *path, uint8_t key[NP_AUTH_KEY_LEN], char *err, size_t errlen);
void np_auth_token_key(const uint8_t *token, size_t len, uint8_t key[NP_AUTH_KEY_LEN]);
/* Probe key from our private key and the peer's public key (+ optional PSK).
 * -EINVAL if the peer key is a low-order point. */
int np_auth_probe_key(const uint8_t priv[32], const uint8_t peer_pub[32], const uint8_t *psk,
		      uint8_t key[NP_AUTH_KEY_LEN]);
/* The well-known probe key used with --insecure (authenticates nothing). */
void np_auth_insecure_probe_key(const char *session, uint8_t key[NP_AUTH_KEY_LEN]);
void np_auth_mac(const uint8_t key[NP_AUTH_KEY_LEN], const uint8_t *data, size_t len, uint8_t mac[NP_AUTH_MAC_LEN]);
/* Constant-time check; 0 if equal, -EBADMSG otherwise. */
int np_auth_verify(const uint8_t key[NP_AUTH_KEY_LEN], const uint8_t *data, size_t len,
		   const uint8_t mac[NP_AUTH_MAC_LEN]);

#endif
