/* np_keys: X25519 static keys and their text form.
 *
 * Keys travel as standard base64 with padding (44 characters for 32 bytes),
 * parsed strictly: wrong length, characters outside the alphabet, missing or
 * non-canonical padding are all refused. Key files hold one such line; a
 * private key file must belong to the current user and be unreadable and
 * unwritable by group and others. Errors are 0 / -errno; functions taking
 * errbuf also write one human-readable line there. */
#ifndef NP_KEYS_H
#define NP_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define NP_KEY_LEN 32
#define NP_KEY_B64_LEN 44 /* without the terminating NUL */

/* Strict standard base64 decode of up to 512 characters: 0 and *out_len,
 * -EINVAL or -ENOSPC. */
int np_base64_decode(const char *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len);
/* Encode with padding; out needs 4 * ceil(len / 3) + 1 bytes, else -ENOSPC. */
int np_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* A fresh random private key (clamped). 0 or -EIO. */
int np_key_generate(uint8_t priv[NP_KEY_LEN]);
/* 0, or -EINVAL if the result would be degenerate. */
int np_key_public_from_private(uint8_t pub[NP_KEY_LEN], const uint8_t priv[NP_KEY_LEN]);
/* Exactly 44 base64 characters (len bytes of s, no NUL needed). -EINVAL otherwise. */
int np_key_parse_base64(const char *s, size_t len, uint8_t key[NP_KEY_LEN]);
/* out gets 44 characters and a NUL. */
void np_key_to_base64(const uint8_t key[NP_KEY_LEN], char out[NP_KEY_B64_LEN + 1]);
/* Read a key file (private or PSK): owner must be the current user and the
 * mode must grant nothing to group/others (-EPERM); trailing whitespace is
 * accepted; anything else that is not one key is -EINVAL. */
int np_key_read_file(const char *path, uint8_t key[NP_KEY_LEN], char *errbuf, size_t errlen);

#endif
