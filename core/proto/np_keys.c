/* np_keys: key generation, base64 and key files (see np_keys.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "np_keys.h"
#include "np_log.h"

#define KEY_FILE_MAX 256
#define B64_TEXT_MAX 512 /* longest text np_base64_decode takes */

static int b64_char_ok(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

int np_base64_decode(const char *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len)
{
	char check[B64_TEXT_MAX + 4];
	size_t pad = 0, n, bin_len;
	int rc = -EINVAL;

	if (!in || in_len == 0 || in_len % 4 != 0 || in_len > B64_TEXT_MAX)
		return -EINVAL;
	/* Alphabet and padding: at most two '=' and only at the very end. */
	while (pad < 2 && in[in_len - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < in_len - pad; i++)
		if (!b64_char_ok(in[i]))
			return -EINVAL;
	n = in_len / 4 * 3 - pad;
	if (n > cap)
		return -ENOSPC;
	if (sodium_base642bin(out, cap, in, in_len, NULL, &bin_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || bin_len != n)
		goto out;
	/* Canonical: re-encoding gives the same text (unused bits are zero). */
	sodium_bin2base64(check, sizeof(check), out, bin_len, sodium_base64_VARIANT_ORIGINAL);
	if (strlen(check) != in_len || memcmp(check, in, in_len) != 0)
		goto out;
	*out_len = bin_len;
	rc = 0;
out:
	if (rc < 0)
		sodium_memzero(out, cap);
	sodium_memzero(check, sizeof(check));
	return rc;
}

int np_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	if (cap < sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL))
		return -ENOSPC;
	sodium_bin2base64(out, cap, in, len, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

int np_key_generate(uint8_t priv[NP_KEY_LEN])
{
	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(priv, NP_KEY_LEN);
	priv[0] &= 248;
	priv[31] &= 127;
	priv[31] |= 64;
	return 0;
}

int np_key_public_from_private(uint8_t pub[NP_KEY_LEN], const uint8_t priv[NP_KEY_LEN])
{
	if (sodium_init() < 0)
		return -EIO;
	return crypto_scalarmult_base(pub, priv) == 0 ? 0 : -EINVAL;
}

int np_key_parse_base64(const char *s, size_t len, uint8_t key[NP_KEY_LEN])
{
	uint8_t tmp[NP_KEY_LEN + 3];
	size_t n;
	int rc;

	if (len != NP_KEY_B64_LEN)
		return -EINVAL;
	rc = np_base64_decode(s, len, tmp, sizeof(tmp), &n);
	if (rc == 0 && n != NP_KEY_LEN)
		rc = -EINVAL;
	if (rc == 0)
		memcpy(key, tmp, NP_KEY_LEN);
	sodium_memzero(tmp, sizeof(tmp));
	return rc < 0 ? -EINVAL : 0;
}

void np_key_to_base64(const uint8_t key[NP_KEY_LEN], char out[NP_KEY_B64_LEN + 1])
{
	sodium_bin2base64(out, NP_KEY_B64_LEN + 1, key, NP_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

int np_key_read_file(const char *path, uint8_t key[NP_KEY_LEN], char *errbuf, size_t errlen)
{
	char buf[KEY_FILE_MAX + 1];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, rc = 0;

	if (errlen)
		errbuf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		np_errmsg(errbuf, errlen, rc, "cannot open key file %s", path);
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		np_errmsg(errbuf, errlen, rc, "cannot stat key file %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(errbuf, errlen, "key file %s is not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		rc = -EPERM;
		snprintf(errbuf, errlen, "key file %s is not owned by the current user (owner uid %u, we are %u)",
			 path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = -EPERM;
		snprintf(errbuf, errlen, "key file %s is accessible by others (mode %04o); run chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			np_errmsg(errbuf, errlen, rc, "cannot read key file %s", path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
			   buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	if (np_key_parse_base64(buf, len, key) < 0) {
		rc = -EINVAL;
		snprintf(errbuf, errlen, "key file %s does not hold one base64 key (%d characters)",
			 path, NP_KEY_B64_LEN);
		goto out;
	}
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return rc;
}
