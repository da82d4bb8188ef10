/* test_keys: strict base64, key derivation and key file checks. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "np_auth.h"
#include "np_keys.h"

/* RFC 7748 section 6.1, Alice. */
static const uint8_t alice_priv[32] = {
	0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72, 0x51, 0xb2, 0x66, 0x45,
	0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a,
};
static const uint8_t alice_pub[32] = {
	0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e, 0xf7, 0x5a,
	0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a,
};
/* RFC 7748 section 6.1, Bob. */
static const uint8_t bob_priv[32] = {
	0x5d, 0xab, 0x08, 0x7e, 0x62, 0x4a, 0x8a, 0x4b, 0x79, 0xe1, 0x7f, 0x8b, 0x83, 0x80, 0x0e, 0xe6,
	0x6f, 0x3b, 0xb1, 0x29, 0x26, 0x18, 0xb6, 0xfd, 0x1c, 0x2f, 0x8b, 0x27, 0xff, 0x88, 0xe0, 0xeb,
};
static const uint8_t bob_pub[32] = {
	0xde, 0x9e, 0xdb, 0x7d, 0x7b, 0x7d, 0xc1, 0xb4, 0xd3, 0x5b, 0x61, 0xc2, 0xec, 0xe4, 0x35, 0x37,
	0x3f, 0x83, 0x43, 0xc8, 0x5b, 0x78, 0x67, 0x4d, 0xad, 0xfc, 0x7e, 0x14, 0x6f, 0x88, 0x2b, 0x4f,
};

static void test_pubkey_rfc7748(void **state)
{
	uint8_t pub[32];

	(void)state;
	assert_int_equal(np_key_public_from_private(pub, alice_priv), 0);
	assert_memory_equal(pub, alice_pub, 32);
	assert_int_equal(np_key_public_from_private(pub, bob_priv), 0);
	assert_memory_equal(pub, bob_pub, 32);
}

static void test_generate(void **state)
{
	uint8_t a[32], b[32], pub[32];

	(void)state;
	assert_int_equal(np_key_generate(a), 0);
	assert_int_equal(np_key_generate(b), 0);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(a[0] & 7, 0);
	assert_int_equal(a[31] & 0xc0, 0x40);
	assert_int_equal(np_key_public_from_private(pub, a), 0);
}

static void test_base64_roundtrip(void **state)
{
	char s[NP_KEY_B64_LEN + 1];
	uint8_t k[32];

	(void)state;
	np_key_to_base64(alice_pub, s);
	assert_int_equal(strlen(s), 44);
	assert_string_equal(s, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
	assert_int_equal(np_key_parse_base64(s, strlen(s), k), 0);
	assert_memory_equal(k, alice_pub, 32);
}

static void test_base64_errors(void **state)
{
	const char *good = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
	char s[64];
	uint8_t k[32], out[8];
	size_t n;

	(void)state;
	/* Wrong lengths. */
	assert_int_equal(np_key_parse_base64(good, 43, k), -EINVAL);
	assert_int_equal(np_key_parse_base64("", 0, k), -EINVAL);
	assert_int_equal(np_key_parse_base64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo", 43, k), -EINVAL);
	/* 48 characters decoding to 35 bytes. */
	assert_int_equal(np_key_parse_base64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmoAAAA=", 48, k), -EINVAL);
	/* Bad characters: URL-safe alphabet, space, NUL. */
	strcpy(s, good);
	s[10] = '-';
	assert_int_equal(np_key_parse_base64(s, 44, k), -EINVAL);
	strcpy(s, good);
	s[11] = '_';
	assert_int_equal(np_key_parse_base64(s, 44, k), -EINVAL);
	strcpy(s, good);
	s[0] = ' ';
	assert_int_equal(np_key_parse_base64(s, 44, k), -EINVAL);
	strcpy(s, good);
	s[20] = '\0';
	assert_int_equal(np_key_parse_base64(s, 44, k), -EINVAL);
	/* Padding: missing, in the middle, non-canonical last character. */
	strcpy(s, good);
	s[43] = 'A';
	assert_int_equal(np_key_parse_base64(s, 44, k), -EINVAL);
	strcpy(s, good);
	s[20] = '=';
	assert_int_equal(np_key_parse_base64(s, 44, k), -EINVAL);
	strcpy(s, good);
	s[42] = 'p'; /* 'o' = 40 and 'p' = 41: the low 2 bits must be zero */
	assert_int_equal(np_key_parse_base64(s, 44, k), -EINVAL);
	assert_int_equal(np_key_parse_base64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm==", 44, k), -EINVAL);

	/* The generic decoder. */
	assert_int_equal(np_base64_decode("Zm9v", 4, out, sizeof(out), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "foo", 3);
	assert_int_equal(np_base64_decode("Zm8=", 4, out, sizeof(out), &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(np_base64_decode("Zg==", 4, out, sizeof(out), &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(np_base64_decode("Zh==", 4, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(np_base64_decode("Zm9", 3, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(np_base64_decode("Z===", 4, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(np_base64_decode("====", 4, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(np_base64_decode("Zm9vYmFy", 8, out, 5, &n), -ENOSPC);
	assert_int_equal(np_base64_encode((const uint8_t *)"foob", 4, s, sizeof(s)), 0);
	assert_string_equal(s, "Zm9vYg==");
	assert_int_equal(np_base64_encode((const uint8_t *)"foob", 4, s, 8), -ENOSPC);
}

static char tmpdir[64];

static int make_dir(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/np_test_keys.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_key_file(void **state)
{
	char path[128], err[256], want[400];
	uint8_t k[32];

	(void)state;
	snprintf(path, sizeof(path), "%s/key", tmpdir);

	write_file(path, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n", 0600);
	assert_int_equal(np_key_read_file(path, k, err, sizeof(err)), 0);
	assert_memory_equal(k, alice_pub, 32);
	assert_string_equal(err, "");

	write_file(path, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=", 0400);
	assert_int_equal(np_key_read_file(path, k, err, sizeof(err)), 0);
	write_file(path, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo= \t\r\n\n", 0600);
	assert_int_equal(np_key_read_file(path, k, err, sizeof(err)), 0);

	/* Group or other access of any kind. */
	write_file(path, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n", 0644);
	assert_int_equal(np_key_read_file(path, k, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "key file %s is accessible by others (mode 0644); run chmod 600 %s",
		 path, path);
	assert_string_equal(err, want);
	assert_null(strchr(err, '\n'));
	write_file(path, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n", 0640);
	assert_int_equal(np_key_read_file(path, k, err, sizeof(err)), -EPERM);
	write_file(path, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n", 0602);
	assert_int_equal(np_key_read_file(path, k, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "mode 0602"));
	write_file(path, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n", 0610);
	assert_int_equal(np_key_read_file(path, k, err, sizeof(err)), -EPERM);

	/* Bad contents. */
	write_file(path, "\nhSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n", 0600);
	assert_int_equal(np_key_read_file(path, k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	write_file(path, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\nextra\n", 0600);
	assert_int_equal(np_key_read_file(path, k, err, sizeof(err)), -EINVAL);
	write_file(path, "", 0600);
	assert_int_equal(np_key_read_file(path, k, err, sizeof(err)), -EINVAL);

	/* Missing file. */
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	assert_int_equal(np_key_read_file(path, k, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "missing"));
}

static void test_key_file_owner(void **state)
{
	char path[128], err[256];
	uint8_t k[32];

	(void)state;
	if (geteuid() == 0) {
		/* As root: give a 0600 key file to nobody. */
		snprintf(path, sizeof(path), "%s/key", tmpdir);
		write_file(path, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n", 0600);
		assert_int_equal(chown(path, 65534, 65534), 0);
	} else {
		/* As a user: a file root owns. */
		snprintf(path, sizeof(path), "/etc/passwd");
	}
	assert_int_equal(np_key_read_file(path, k, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "not owned by the current user"));
	assert_non_null(strstr(err, path));
}

/* The token file has the key files' rules: owner and mode. */
static void test_token_file_owner(void **state)
{
	char path[128], err[256];
	uint8_t k[32];

	(void)state;
	snprintf(path, sizeof(path), "%s/token", tmpdir);
	write_file(path, "0123456789abcdef0123\n", 0600);
	assert_int_equal(np_auth_token_key_from_file(path, k, err, sizeof(err)), 0);
	write_file(path, "0123456789abcdef0123\n", 0640);
	assert_int_equal(np_auth_token_key_from_file(path, k, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "chmod 600"));
	if (geteuid() == 0) {
		write_file(path, "0123456789abcdef0123\n", 0600);
		assert_int_equal(chown(path, 65534, 65534), 0);
	} else {
		snprintf(path, sizeof(path), "/etc/passwd");
	}
	assert_int_equal(np_auth_token_key_from_file(path, k, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "not owned by the current user"));
	assert_non_null(strstr(err, path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pubkey_rfc7748),
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_base64_roundtrip),
		cmocka_unit_test(test_base64_errors),
		cmocka_unit_test_setup_teardown(test_key_file, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_key_file_owner, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_token_file_owner, make_dir, remove_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
