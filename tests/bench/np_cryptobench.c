/* np_cryptobench: per-packet cost of the two transport AEADs natpunch can
 * negotiate, straight from libsodium (ChaCha20-Poly1305 IETF and, where the
 * CPU has AES-NI, AES-256-GCM). Seals and opens PKTS packets of LEN bytes
 * with a 16-byte associated header, as np_session does, and prints ns per
 * packet and Gbit/s for each.
 *   np_cryptobench [LEN] [PKTS]      (defaults 1400 and 500000)
 * Built and run by tests/bench/crypto. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *name, const char *op, double secs, unsigned long pkts, size_t len)
{
	printf("| %-22s | %-4s | %8.0f | %7.2f |\n", name, op, secs * 1e9 / (double)pkts,
	       (double)pkts * (double)len * 8 / secs / 1e9);
}

int main(int argc, char **argv)
{
	size_t len = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1400;
	unsigned long pkts = argc > 2 ? strtoul(argv[2], NULL, 10) : 500000, i;
	unsigned char key[32], ad[16] = { 1 }, nonce[12] = { 0 }, *buf;
	unsigned long long clen;
	crypto_aead_aes256gcm_state st;
	double t0;

	if (sodium_init() < 0 || len == 0 || len > 65536 || pkts == 0)
		return 2;
	buf = calloc(1, len + 16);
	if (!buf)
		return 1;
	randombytes_buf(key, sizeof(key));
	printf("%zu-byte packets, %lu each\n\n", len, pkts);
	printf("| AEAD                   | op   | ns/pkt   | Gbit/s  |\n|------------------------|------|----------|---------|\n");
	t0 = now_s();
	for (i = 0; i < pkts; i++) {
		memcpy(nonce + 4, &i, 8);
		crypto_aead_chacha20poly1305_ietf_encrypt(buf, &clen, buf, len, ad, sizeof(ad), NULL, nonce, key);
	}
	report("ChaCha20-Poly1305", "seal", now_s() - t0, pkts, len);
	t0 = now_s();
	for (i = 0; i < pkts; i++) {
		memcpy(nonce + 4, &i, 8);
		crypto_aead_chacha20poly1305_ietf_encrypt(buf, &clen, buf, len, ad, sizeof(ad), NULL, nonce, key);
		if (crypto_aead_chacha20poly1305_ietf_decrypt(buf, NULL, NULL, buf, clen, ad, sizeof(ad), nonce, key) < 0)
			return 1;
	}
	report("ChaCha20-Poly1305", "s+o", now_s() - t0, pkts, len);
	if (!crypto_aead_aes256gcm_is_available()) {
		printf("| AES-256-GCM            | n/a  | no AES-NI on this CPU |\n");
		free(buf);
		return 0;
	}
	crypto_aead_aes256gcm_beforenm(&st, key);
	t0 = now_s();
	for (i = 0; i < pkts; i++) {
		memcpy(nonce + 4, &i, 8);
		crypto_aead_aes256gcm_encrypt_afternm(buf, &clen, buf, len, ad, sizeof(ad), NULL, nonce, &st);
	}
	report("AES-256-GCM", "seal", now_s() - t0, pkts, len);
	t0 = now_s();
	for (i = 0; i < pkts; i++) {
		memcpy(nonce + 4, &i, 8);
		crypto_aead_aes256gcm_encrypt_afternm(buf, &clen, buf, len, ad, sizeof(ad), NULL, nonce, &st);
		if (crypto_aead_aes256gcm_decrypt_afternm(buf, NULL, NULL, buf, clen, ad, sizeof(ad), nonce, &st) < 0)
			return 1;
	}
	report("AES-256-GCM", "s+o", now_s() - t0, pkts, len);
	free(buf);
	return 0;
}
