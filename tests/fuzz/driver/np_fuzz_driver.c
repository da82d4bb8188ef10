/* np_fuzz_driver: runs a libFuzzer target without libFuzzer.
 *
 * Used when the build is not a clang -DNP_FUZZ=ON build: it feeds the target
 * N pseudo-random inputs (argv[1], default 10000) built by mutating a few
 * seed shapes, plus any files named after the count. Deterministic seed, so a
 * failure reproduces. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int run_file(const char *path)
{
	static uint8_t buf[1 << 16];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "np_fuzz_driver: cannot open %s\n", path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t buf[4096];
	long iterations = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;

	for (int i = 2; i < argc; i++)
		if (run_file(argv[i]) < 0)
			return 1;
	for (long i = 0; i < iterations; i++) {
		size_t len = (size_t)(rng() % sizeof(buf));
		if (i % 4 == 0)
			len = (size_t)(rng() % 128);
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rng();
		/* Bias towards plausible headers: version 1 and a known-ish type. */
		if (len > 1 && (i & 1)) {
			buf[0] = 1;
			buf[1] = (uint8_t)(rng() % 0x50);
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("np_fuzz_driver: %ld inputs, no crash\n", iterations);
	return 0;
}
