/* np_turn_cred: TURN credentials that are computed rather than stored.
 *
 * The TURN REST scheme (coturn's use-auth-secret / static-auth-secret):
 * username "EXPIRY:session" with EXPIRY in Unix seconds, password
 * base64(HMAC-SHA1(secret, username)). Both the rendezvous server (which
 * hands such credentials to a pair) and tests use it. Pure computation. */
#ifndef NP_TURN_CRED_H
#define NP_TURN_CRED_H

#include <stddef.h>
#include <stdint.h>

#define NP_TURN_USER_MAX 128
#define NP_TURN_PASS_MAX 64

/* username = "<expiry>:<session>". Returns 0, or -ENOSPC / -EINVAL (empty
 * session, or one holding ':' or control characters). */
int np_turn_rest_username(uint64_t expiry, const char *session, char *out, size_t cap);
/* password = base64(HMAC-SHA1(secret, username)), 28 characters. */
int np_turn_rest_password(const uint8_t *secret, size_t secret_len, const char *username, char *out, size_t cap);

/* The expiry (Unix seconds) of a TURN REST user name "EXPIRY:NAME" (or
 * just "EXPIRY"), or 0 if the name is not one (long-term credentials). */
uint64_t np_turn_rest_expiry(const char *user);

/* Renewal: RFC 8656 ties an allocation to the user name it was made with
 * (a Refresh under another one is refused, 441), so new credentials need
 * a new allocation. Returns 1 if an allocation made as `cur` should be
 * replaced now by one made as `next`: both are REST names, `next` expires
 * later, and `cur` expires within margin_s of now_s (or has expired). */
int np_turn_renew_due(const char *cur, const char *next, uint64_t now_s, uint64_t margin_s);

/* The first line of a password or secret file (no trailing newline; not
 * empty; at most cap - 1 bytes). Returns the length or -errno, err set. */
int np_turn_read_secret(const char *path, char *out, size_t cap, char *err, size_t errlen);

#endif
