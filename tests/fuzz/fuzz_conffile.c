/* fuzz_conffile: arbitrary bytes as a natpunch configuration file
 * (np_opts over libinih, then natpunch's cross-option checks). Every result
 * is 0 or -EINVAL with one line that names the file; whatever parses is
 * dumped (--check-config output), and the dump must parse again to the same
 * dump (comments aside). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np_config.h"

#define CHECK(c)                  \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

/* The dump without its '#' comments and the padding before them. */
static char *dump(struct np_config *cfg)
{
	char *text = NULL, *out, *o;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	CHECK(f);
	np_opts_dump(&cfg->opts, f);
	CHECK(fclose(f) == 0);
	out = malloc(len + 1);
	CHECK(out);
	o = out;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *hash = strstr(line, " #");
		size_t n = hash ? (size_t)(hash - line) : strlen(line);

		while (n && line[n - 1] == ' ')
			n--;
		if (!n)
			continue;
		memcpy(o, line, n);
		o += n;
		*o++ = '\n';
	}
	*o = '\0';
	free(text);
	return out;
}

static size_t longest_line(const char *s)
{
	size_t best = 0;

	while (*s) {
		size_t n = strcspn(s, "\n");

		best = n > best ? n : best;
		s += n + (s[n] == '\n');
	}
	return best;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct np_config a, b;
	char err[512];
	int rc;

	rc = np_config_parse_buffer("fuzz.conf", (const char *)data, size, &a, err, sizeof(err));
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc < 0) {
		CHECK(strncmp(err, "fuzz.conf", 9) == 0 || strncmp(err, "expected", 8) == 0 ||
		      strstr(err, "no keys") || strstr(err, "--dead-after") || strstr(err, "--insecure"));
		CHECK(!strchr(err, '\n'));
	} else {
		char *d1 = dump(&a), *d2;

		rc = np_config_parse_buffer("fuzz.conf", d1, strlen(d1), &b, err, sizeof(err));
		/* A value may be longer than a file line can be (a 253-character
		 * server name on the command line); such a dump cannot be read back. */
		CHECK(rc == 0 || (rc == -EINVAL && strstr(err, "line too long") && longest_line(d1) > 198));
		if (rc == 0) {
			d2 = dump(&b);
			CHECK(strcmp(d1, d2) == 0);
			free(d2);
		}
		np_config_free(&b);
		free(d1);
	}
	np_config_free(&a);
	return 0;
}
