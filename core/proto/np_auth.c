/* np_auth: token and probe MACs over libsodium's BLAKE2b and X25519. */
#include "np_auth.h"
#include "np_log.h"

#include <natpunch/strategy.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void np_auth_token_key(const uint8_t *token, size_t len, uint8_t key[NP_AUTH_KEY_LEN])
{
	static const char label[] = "natpunch server token v1";
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, NP_AUTH_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_generichash_update(&st, token, len);
	crypto_generichash_final(&st, key, NP_AUTH_KEY_LEN);
	sodium_memzero(&st, sizeof(st));
}

int np_auth_token_key_from_file(const char *path, uint8_t key[NP_AUTH_KEY_LEN], char *err, size_t errlen)
{
	uint8_t buf[4096];
	struct stat sb;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		np_errmsg(err, errlen, errno, "cannot open token file %s", path);
		return rc;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		rc = -EINVAL;
		snprintf(err, errlen, "token file %s is not a regular file", path);
		goto out;
	}
	if (sb.st_uid != geteuid()) {
		rc = -EPERM;
		snprintf(err, errlen, "token file %s is not owned by the current user (owner uid %u, we are %u)",
			 path, (unsigned)sb.st_uid, (unsigned)geteuid());
		goto out;
	}
	if (sb.st_mode & 077) {
		rc = -EPERM;
		snprintf(err, errlen, "token file %s is accessible by others (mode %04o); run chmod 600 %s",
			 path, (unsigned)(sb.st_mode & 07777), path);
		goto out;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		rc = -errno;
		np_errmsg(err, errlen, errno, "cannot read token file %s", path);
		goto out;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (n < 16) {
		rc = -EINVAL;
		snprintf(err, errlen, "token file %s holds %zd bytes; use at least 16 (natpunch genpsk > %s)",
			 path, n, path);
		goto out;
	}
	np_auth_token_key(buf, (size_t)n, key);
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

int np_auth_probe_base(const uint8_t priv[32], const uint8_t peer_pub[32], const uint8_t *psk,
		       uint8_t base[NP_AUTH_KEY_LEN])
{
	static const char label[] = "natpunch probe base v2";
	crypto_generichash_state st;
	uint8_t dh[crypto_scalarmult_BYTES];

	if (crypto_scalarmult(dh, priv, peer_pub) != 0)
		return -EINVAL;
	crypto_generichash_init(&st, dh, sizeof(dh), NP_AUTH_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	if (psk)
		crypto_generichash_update(&st, psk, 32);
	crypto_generichash_final(&st, base, NP_AUTH_KEY_LEN);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(dh, sizeof(dh));
	return 0;
}

void np_auth_insecure_probe_base(const char *session, uint8_t base[NP_AUTH_KEY_LEN])
{
	static const char label[] = "natpunch insecure probe v2";
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, NP_AUTH_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label));
	crypto_generichash_update(&st, (const uint8_t *)session, strlen(session));
	crypto_generichash_final(&st, base, NP_AUTH_KEY_LEN);
}

void np_auth_probe_key(const uint8_t base[NP_AUTH_KEY_LEN], const uint8_t pairing[16],
		       uint8_t key[NP_AUTH_KEY_LEN])
{
	static const char label[] = "natpunch probe v2";
	crypto_generichash_state st;

	crypto_generichash_init(&st, base, NP_AUTH_KEY_LEN, NP_AUTH_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_generichash_update(&st, pairing, 16);
	crypto_generichash_final(&st, key, NP_AUTH_KEY_LEN);
	sodium_memzero(&st, sizeof(st));
}

void np_auth_server_mac(const uint8_t key[NP_AUTH_KEY_LEN], uint16_t server_port, const uint8_t *data,
			size_t len, uint8_t mac[NP_AUTH_MAC_LEN])
{
	crypto_generichash_state st;
	uint8_t port[2] = { (uint8_t)(server_port >> 8), (uint8_t)server_port };

	crypto_generichash_init(&st, key, NP_AUTH_KEY_LEN, NP_AUTH_MAC_LEN);
	crypto_generichash_update(&st, port, sizeof(port));
	crypto_generichash_update(&st, data, len);
	crypto_generichash_final(&st, mac, NP_AUTH_MAC_LEN);
}

int np_auth_server_verify(const uint8_t key[NP_AUTH_KEY_LEN], uint16_t server_port, const uint8_t *data,
			  size_t len, const uint8_t mac[NP_AUTH_MAC_LEN])
{
	uint8_t want[NP_AUTH_MAC_LEN];

	np_auth_server_mac(key, server_port, data, len, want);
	return sodium_memcmp(want, mac, NP_AUTH_MAC_LEN) == 0 ? 0 : -EBADMSG;
}

void np_auth_cookie(const uint8_t secret[NP_AUTH_KEY_LEN], const struct np_addr *from, int port_idx,
		    uint64_t slot, uint8_t cookie[NP_AUTH_MAC_LEN])
{
	uint8_t in[1 + 2 + 16 + 1 + 8];

	memset(in, 0, sizeof(in));
	in[0] = from->family;
	in[1] = (uint8_t)(from->port >> 8);
	in[2] = (uint8_t)from->port;
	memcpy(in + 3, from->ip, from->family == 4 ? 4 : 16);
	in[19] = (uint8_t)port_idx;
	for (int i = 0; i < 8; i++)
		in[20 + i] = (uint8_t)(slot >> (56 - 8 * i));
	crypto_generichash(cookie, NP_AUTH_MAC_LEN, in, sizeof(in), secret, NP_AUTH_KEY_LEN);
}

void np_auth_mac(const uint8_t key[NP_AUTH_KEY_LEN], const uint8_t *data, size_t len, uint8_t mac[NP_AUTH_MAC_LEN])
{
	crypto_generichash(mac, NP_AUTH_MAC_LEN, data, len, key, NP_AUTH_KEY_LEN);
}

int np_auth_verify(const uint8_t key[NP_AUTH_KEY_LEN], const uint8_t *data, size_t len,
		   const uint8_t mac[NP_AUTH_MAC_LEN])
{
	uint8_t want[NP_AUTH_MAC_LEN];

	np_auth_mac(key, data, len, want);
	return sodium_memcmp(want, mac, NP_AUTH_MAC_LEN) == 0 ? 0 : -EBADMSG;
}
