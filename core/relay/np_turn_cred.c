/* np_turn_cred: the TURN REST credential scheme (see np_turn_cred.h).
 * HMAC-SHA1 and base64 come from OpenSSL libcrypto. */
#include "np_turn_cred.h"
#include "np_log.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

int np_turn_rest_username(uint64_t expiry, const char *session, char *out, size_t cap)
{
	int n;

	if (!session[0])
		return -EINVAL;
	for (const char *s = session; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e || *s == ':')
			return -EINVAL;
	n = snprintf(out, cap, "%" PRIu64 ":%s", expiry, session);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}

int np_turn_rest_password(const uint8_t *secret, size_t secret_len, const char *username, char *out, size_t cap)
{
	uint8_t mac[20];
	size_t outl = 0;
	EVP_MAC *m;
	EVP_MAC_CTX *ctx;
	OSSL_PARAM params[2];
	int ok;

	if (cap < 29)
		return -ENOSPC;
	m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ctx = m ? EVP_MAC_CTX_new(m) : NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = ctx && EVP_MAC_init(ctx, secret, secret_len, params) &&
	     EVP_MAC_update(ctx, (const uint8_t *)username, strlen(username)) &&
	     EVP_MAC_final(ctx, mac, &outl, sizeof(mac)) && outl == sizeof(mac);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	if (!ok)
		return -EIO;
	EVP_EncodeBlock((unsigned char *)out, mac, (int)sizeof(mac));
	return 0;
}

int np_turn_read_secret(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	size_t n;
	int c;

	if (!f) {
		int e = errno;
		np_errmsg(err, errlen, e, "cannot read %s", path);
		return -e;
	}
	n = fread(out, 1, cap - 1, f);
	c = fgetc(f);
	fclose(f);
	out[n] = 0;
	if (c != EOF && !(n && memchr(out, '\n', n))) {
		snprintf(err, errlen, "%s: the first line is longer than %zu bytes", path, cap - 2);
		return -EINVAL;
	}
	out[strcspn(out, "\r\n")] = 0;
	n = strlen(out);
	if (n == 0) {
		snprintf(err, errlen, "%s: empty (the first line is the secret)", path);
		return -EINVAL;
	}
	return (int)n;
}

uint64_t np_turn_rest_expiry(const char *user)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; user[i] >= '0' && user[i] <= '9'; i++) {
		if (i >= 19)
			return 0; /* not a plausible Unix time */
		v = v * 10 + (uint64_t)(user[i] - '0');
	}
	if (i == 0 || (user[i] != ':' && user[i] != 0))
		return 0;
	return v;
}

int np_turn_renew_due(const char *cur, const char *next, uint64_t now_s, uint64_t margin_s)
{
	uint64_t c = np_turn_rest_expiry(cur), n = next && next[0] ? np_turn_rest_expiry(next) : 0;

	if (!c || !n || n <= c)
		return 0;
	return now_s + margin_s >= c;
}
