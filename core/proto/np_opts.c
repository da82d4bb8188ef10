/* np_opts: the option table driver (getopt_long, libinih, --help, dumps). */
#include "np_opts.h"
#include "np_log.h"
#include "np_parse.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ORIGIN_DEFAULT 0
#define ORIGIN_CLI (-1)
#define NP_OPTS_FILE_MAX (1u << 20)
#define NP_OPTS_LINE_MAX 199   /* libinih hands its reader INI_MAX_LINE (200) bytes, NUL included */

struct np_opt_vals {
	char **vals;
	size_t nvals;
	int origin;     /* ORIGIN_DEFAULT, ORIGIN_CLI, or the line in o->file */
};

/* ---- generic setters ----------------------------------------------------- */

int np_opt_bool(const char *s)
{
	static const char *yes[] = { "true", "yes", "on", "1" }, *no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -EINVAL;
}

int np_opt_str(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	if (!*val) {
		snprintf(err, errlen, "empty value for %s", key);
		return -EINVAL;
	}
	*(const char **)((char *)cfg + o->off) = val;
	return 0;
}

int np_opt_num(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	if (np_parse_num(val, o->lo, o->hi, (double *)((char *)cfg + o->off)) < 0) {
		snprintf(err, errlen, "invalid value '%.64s' for %s (expected %g..%g)", val, key, o->lo, o->hi);
		return -EINVAL;
	}
	return 0;
}

int np_opt_int(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	double v;

	if (np_parse_num(val, o->lo, o->hi, &v) < 0 || v != (double)(int)v) {
		snprintf(err, errlen, "invalid value '%.64s' for %s (expected an integer %g..%g)", val, key, o->lo,
			 o->hi);
		return -EINVAL;
	}
	*(int *)((char *)cfg + o->off) = (int)v;
	return 0;
}

int np_opt_flag(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	int b = np_opt_bool(val);

	if (b < 0) {
		snprintf(err, errlen, "invalid value '%.32s' for %s (expected true or false)", val, key);
		return -EINVAL;
	}
	*(int *)((char *)cfg + o->off) = b;
	return 0;
}

int np_opt_port(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	if (np_parse_port(val, o->lo == 0, (uint16_t *)((char *)cfg + o->off)) < 0) {
		snprintf(err, errlen, "invalid %s '%.32s' (expected %d..65535)", key, val, o->lo == 0 ? 0 : 1);
		return -EINVAL;
	}
	return 0;
}

int np_opt_loglevel(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	static const char *names[] = { "error", "warning", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcmp(val, names[i]) == 0) {
			*(int *)((char *)cfg + o->off) = i;
			return 0;
		}
	snprintf(err, errlen, "invalid %s '%.32s' (error, warning, info or debug)", key, val);
	return -EINVAL;
}

int np_opt_verbose(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen)
{
	int b = np_opt_bool(val);

	if (b < 0) {
		snprintf(err, errlen, "invalid value '%.32s' for %s (expected true or false)", val, key);
		return -EINVAL;
	}
	if (b)
		*(int *)((char *)cfg + o->off) = o->short_name == 'v' ? NP_LOG_DEBUG : NP_LOG_ERR;
	return 0;
}

/* ---- values and provenance ----------------------------------------------- */

static int is_option(const struct np_opt *t)
{
	return !(t->flags & NP_OPT_HEADING);
}

static void clear_vals(struct np_opt_vals *v)
{
	for (size_t i = 0; i < v->nvals; i++)
		free(v->vals[i]);
	free(v->vals);
	v->vals = NULL;
	v->nvals = 0;
}

/* Apply one value of option i from `origin`. Strings are copied, so the
 * pointers the setters store live as long as o. */
static int apply(struct np_opts *o, size_t i, const char *key, const char *val, int origin, char *err,
		 size_t errlen)
{
	const struct np_opt *t = &o->tab[i];
	struct np_opt_vals *v = &o->v[i];
	char *dup = strdup(val), **grown;
	int rc;

	if (!dup) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((t->flags & NP_OPT_REPEAT) && v->nvals && (v->origin == ORIGIN_CLI) != (origin == ORIGIN_CLI)) {
		/* The command line replaces the file's list, the file the default's. */
		t->set(o->cfg, t, key, NULL, err, errlen);
		clear_vals(v);
	}
	rc = t->set(o->cfg, t, key, dup, err, errlen);
	if (rc < 0) {
		free(dup);
		return rc;
	}
	if (!(t->flags & NP_OPT_REPEAT))
		clear_vals(v);
	grown = realloc(v->vals, (v->nvals + 1) * sizeof(*v->vals));
	if (!grown) {
		/* The setter holds dup now; keep it reachable through nothing but
		 * do not free it under the setter's feet. Rare enough to fail loudly. */
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	v->vals = grown;
	v->vals[v->nvals++] = dup;
	v->origin = origin;
	return 0;
}

int np_opts_init(struct np_opts *o, const char *prog, const struct np_opt *tab, size_t n, void *cfg, char *err,
		 size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->prog = prog;
	o->tab = tab;
	o->n = n;
	o->cfg = cfg;
	o->v = calloc(n ? n : 1, sizeof(*o->v));
	if (!o->v) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (!is_option(&tab[i]) || !tab[i].def || !tab[i].set)
			continue;
		if (apply(o, i, tab[i].name, tab[i].def, ORIGIN_DEFAULT, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

void np_opts_free(struct np_opts *o)
{
	if (!o->v)
		return;
	for (size_t i = 0; i < o->n; i++)
		clear_vals(&o->v[i]);
	free(o->v);
	o->v = NULL;
	free((char *)o->file);
	o->file = NULL;
}

static long find(const struct np_opts *o, const char *name)
{
	for (size_t i = 0; i < o->n; i++)
		if (is_option(&o->tab[i]) && strcmp(o->tab[i].name, name) == 0)
			return (long)i;
	return -1;
}

int np_opts_given(const struct np_opts *o, const char *name)
{
	long i = find(o, name);

	return i >= 0 && o->v[i].nvals && o->v[i].origin != ORIGIN_DEFAULT;
}

const char *np_opts_where(const struct np_opts *o, const char *name, char *buf, size_t len)
{
	long i = find(o, name);

	if (i < 0 || !o->v[i].nvals || o->v[i].origin == ORIGIN_DEFAULT)
		snprintf(buf, len, "the default");
	else if (o->v[i].origin == ORIGIN_CLI)
		snprintf(buf, len, "the command line");
	else
		snprintf(buf, len, "%s:%d", o->file ? o->file : "?", o->v[i].origin);
	return buf;
}

/* ---- configuration files ------------------------------------------------- */

struct file_ctx {
	struct np_opts *o;
	const char *name;
	const char *buf;
	size_t len, pos;
	int line;               /* the line the reader handed out last */
	int indented;           /* that line starts with white space */
	int err_line;           /* first error we found, 0: none */
	char err[256];
};

static void file_error(struct file_ctx *c, const char *fmt, const char *a)
{
	if (c->err_line)
		return;
	c->err_line = c->line;
	snprintf(c->err, sizeof(c->err), fmt, a);
}

/* libinih's line reader over our buffer: counts lines and refuses long ones
 * and NUL bytes rather than letting them split into two lines. */
static char *file_reader(char *str, int num, void *stream)
{
	struct file_ctx *c = stream;
	size_t n = 0, cap = num > 0 ? (size_t)num - 1 : 0;

	if (c->pos >= c->len)
		return NULL;
	c->line++;
	c->indented = c->buf[c->pos] == ' ' || c->buf[c->pos] == '\t';
	while (c->pos < c->len) {
		char ch = c->buf[c->pos++];

		if (ch == '\n')
			break;
		if (ch == '\0')
			file_error(c, "a NUL byte%s", "");
		if (n < cap)
			str[n++] = ch == '\0' ? ' ' : ch;
		else if (ch != '\r')
			file_error(c, "line too long (at most %s characters)", "199");
	}
	str[n] = '\0';
	return str;
}

static int same_key(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '_' ? '-' : (char)tolower((unsigned char)*a);
		char y = *b == '_' ? '-' : (char)tolower((unsigned char)*b);
		if (x != y)
			return 0;
	}
	return *a == *b;
}

static int file_handler(void *user, const char *section, const char *name, const char *value)
{
	struct file_ctx *c = user;
	struct np_opts *o = c->o;
	char val[256], err[224];
	size_t n;
	long i = -1;
	int b;

	if (c->err_line)
		return 1;
	if (c->indented) {
		file_error(c, "indented line (continuation lines are not supported)%s", "");
		return 0;
	}
	if (*section) {
		file_error(c, "unexpected section [%.64s] (this file has no sections)", section);
		return 0;
	}
	/* '#' after white space starts a comment too (libinih has already
	 * dropped the white space before the value, so a leading '#' counts). */
	snprintf(val, sizeof(val), "%s", value);
	if (val[0] == ';')      /* "name =;x": libinih's inline ';' comment, as in "name = ;x" */
		val[0] = '\0';
	for (char *h = strchr(val, '#'); h; h = strchr(h + 1, '#'))
		if (h == val || h[-1] == ' ' || h[-1] == '\t') {
			*h = '\0';
			break;
		}
	n = strlen(val);
	while (n && (val[n - 1] == ' ' || val[n - 1] == '\t' || val[n - 1] == '\r'))
		val[--n] = '\0';
	for (size_t k = 0; k < o->n && i < 0; k++)
		if (is_option(&o->tab[k]) && !(o->tab[k].flags & NP_OPT_CLI) && same_key(o->tab[k].name, name))
			i = (long)k;
	if (i < 0) {
		file_error(c, "unknown key '%.64s'", name);
		return 0;
	}
	if (!(o->tab[i].flags & NP_OPT_REPEAT) && o->v[i].nvals && o->v[i].origin > 0) {
		snprintf(err, sizeof(err), "'%s' is set twice (first on line %d)", o->tab[i].name, o->v[i].origin);
		file_error(c, "%s", err);
		return 0;
	}
	if (!o->tab[i].arg) {
		b = np_opt_bool(val);
		if (b < 0) {
			snprintf(err, sizeof(err), "invalid value '%.32s' for %s (expected true or false)", val,
				 o->tab[i].name);
			file_error(c, "%s", err);
			return 0;
		}
		snprintf(val, sizeof(val), "%s", b ? "true" : "false");
	}
	if (apply(o, (size_t)i, o->tab[i].name, val, c->line, err, sizeof(err)) < 0) {
		file_error(c, "%s", err);
		return 0;
	}
	return 1;
}

int np_opts_load_buffer(struct np_opts *o, const char *name, const char *text, size_t len, char *err,
			size_t errlen)
{
	struct file_ctx c = { .o = o, .name = name, .buf = text, .len = len };
	char *dup = strdup(name);
	int line;

	if (!dup) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	free((char *)o->file);
	o->file = dup;
	line = ini_parse_stream(file_reader, &c, file_handler, &c);
	if (line < 0) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	if (c.err_line && (line == 0 || c.err_line <= line)) {
		snprintf(err, errlen, "%s:%d: %s", name, c.err_line, c.err);
		return -EINVAL;
	}
	if (line > 0) {
		snprintf(err, errlen, "%s:%d: syntax error (expected 'name = value', or a '#' comment)", name, line);
		return -EINVAL;
	}
	return 0;
}

int np_opts_load_file(struct np_opts *o, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	int rc;

	if (!f) {
		np_errmsg(err, errlen, errno, "%s: cannot open", path);
		return -EINVAL;
	}
	buf = malloc(NP_OPTS_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n = fread(buf, 1, NP_OPTS_FILE_MAX + 1, f);
	if (ferror(f) || n > NP_OPTS_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, ferror(f) ? "cannot read it" : "larger than 1 MiB");
		fclose(f);
		free(buf);
		return -EINVAL;
	}
	fclose(f);
	rc = np_opts_load_buffer(o, path, buf, n, err, errlen);
	free(buf);
	return rc;
}

/* ---- the command line ---------------------------------------------------- */

int np_opts_parse(struct np_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	struct option *lo = calloc(o->n + 1, sizeof(*lo));
	struct { size_t i; const char *arg; } *items = calloc((size_t)argc + 1, sizeof(*items));
	char shorts[64] = ":";
	size_t nlo = 0, nitems = 0, npos_tab = 0, sl = 1;
	const char *file = NULL;
	int c, rc = 0, npos;

	if (!lo || !items) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < o->n; i++) {
		const struct np_opt *t = &o->tab[i];

		if (!is_option(t))
			continue;
		if (t->flags & NP_OPT_POS) {
			npos_tab++;
			continue;
		}
		lo[nlo].name = t->name;
		lo[nlo].has_arg = t->arg ? required_argument : no_argument;
		lo[nlo].val = 256 + (int)i;
		nlo++;
		if (t->short_name && sl + 3 < sizeof(shorts)) {
			shorts[sl++] = (char)t->short_name;
			if (t->arg)
				shorts[sl++] = ':';
		}
	}
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		size_t i = o->n;

		if (c == ':') {
			snprintf(err, errlen, "option %.64s needs a value", argv[optind - 1]);
			rc = -EINVAL;
			goto out;
		}
		if (c >= 256)
			i = (size_t)c - 256;
		else
			for (size_t k = 0; k < o->n && c != '?'; k++)
				if (is_option(&o->tab[k]) && o->tab[k].short_name == c)
					i = k;
		if (i >= o->n) {
			snprintf(err, errlen, "unknown option '%.64s'", argv[optind - 1]);
			rc = -EINVAL;
			goto out;
		}
		switch (o->tab[i].action) {
		case NP_OPT_HELP:
			rc = NP_OPTS_HELP;
			goto out;
		case NP_OPT_VERSION:
			rc = NP_OPTS_VERSION;
			goto out;
		case NP_OPT_CHECK_CONFIG:
			o->check = 1;
			/* fall through */
		case NP_OPT_CONFIG:
			if (file) {
				snprintf(err, errlen, "only one --config or --check-config file");
				rc = -EINVAL;
				goto out;
			}
			file = optarg;
			break;
		case NP_OPT_SET:
			items[nitems].i = i;
			items[nitems].arg = o->tab[i].arg ? optarg : "true";
			nitems++;
			break;
		}
	}
	if (file && (rc = np_opts_load_file(o, file, err, errlen)) < 0)
		goto out;
	for (size_t k = 0; k < nitems; k++) {
		char key[80];

		snprintf(key, sizeof(key), "--%s", o->tab[items[k].i].name);
		if ((rc = apply(o, items[k].i, key, items[k].arg, ORIGIN_CLI, err, errlen)) < 0)
			goto out;
	}
	npos = argc - optind;
	if (npos && (size_t)npos != npos_tab) {
		char names[160] = "";
		size_t l = 0;

		for (size_t i = 0; i < o->n; i++)
			if (is_option(&o->tab[i]) && (o->tab[i].flags & NP_OPT_POS) && l < sizeof(names))
				l += (size_t)snprintf(names + l, sizeof(names) - l, " %s", o->tab[i].arg);
		snprintf(err, errlen, "expected %zu arguments%s, got %d", npos_tab, names, npos);
		rc = -EINVAL;
		goto out;
	}
	for (size_t i = 0, k = (size_t)optind; npos && i < o->n; i++) {
		if (!is_option(&o->tab[i]) || !(o->tab[i].flags & NP_OPT_POS))
			continue;
		if ((rc = apply(o, i, o->tab[i].arg, argv[k++], ORIGIN_CLI, err, errlen)) < 0)
			goto out;
	}
out:
	free(lo);
	free(items);
	return rc;
}

/* ---- --help and dumps ---------------------------------------------------- */

void np_opts_usage(const struct np_opt *tab, size_t n, FILE *f)
{
	for (size_t i = 0; i < n; i++) {
		const struct np_opt *t = &tab[i];
		const char *h = t->help ? t->help : "";
		char left[64];
		int w;

		if (t->flags & NP_OPT_HEADING) {
			fprintf(f, "%s\n", h);
			continue;
		}
		if (t->flags & NP_OPT_POS)
			snprintf(left, sizeof(left), "  %s (%s)", t->arg, t->name);
		else if (t->short_name)
			snprintf(left, sizeof(left), "  -%c, --%s%s%s", t->short_name, t->name, t->arg ? " " : "",
				 t->arg ? t->arg : "");
		else
			snprintf(left, sizeof(left), "  --%s%s%s", t->name, t->arg ? " " : "", t->arg ? t->arg : "");
		w = fprintf(f, "%s", left);
		for (;;) {
			const char *nl = strchr(h, '\n');
			int len = nl ? (int)(nl - h) : (int)strlen(h);

			fprintf(f, "%*s%.*s", w < 24 ? 24 - w : 1, "", len, h);
			if (!nl)
				break;
			fputc('\n', f);
			h = nl + 1;
			w = 0;
		}
		if (t->def && t->arg)
			fprintf(f, " (default %s)", t->def);
		fputc('\n', f);
	}
}

void np_opts_dump(const struct np_opts *o, FILE *f)
{
	fprintf(f, "# effective configuration of %s%s%s\n", o->prog, o->file ? " from " : "",
		o->file ? o->file : "");
	for (size_t i = 0; i < o->n; i++) {
		const struct np_opt *t = &o->tab[i];
		const struct np_opt_vals *v = &o->v[i];
		char where[300];

		if (!is_option(t) || (t->flags & NP_OPT_CLI) || !v->nvals)
			continue;
		if (v->origin == ORIGIN_DEFAULT)
			snprintf(where, sizeof(where), "default");
		else if (v->origin == ORIGIN_CLI)
			snprintf(where, sizeof(where), "command line");
		else
			snprintf(where, sizeof(where), "line %d", v->origin);
		for (size_t k = 0; k < v->nvals; k++) {
			size_t len = strlen(t->name) + 3 + strlen(v->vals[k]);
			int pad = len < 43 ? (int)(43 - len) : 1;

			/* The comment only where the line stays short enough to read back. */
			if (len + (size_t)pad + 2 + strlen(where) <= NP_OPTS_LINE_MAX)
				fprintf(f, "%s = %s%*s# %s\n", t->name, v->vals[k], pad, "", where);
			else
				fprintf(f, "%s = %s\n", t->name, v->vals[k]);
		}
	}
}

int np_opts_diff(const struct np_opts *old, const struct np_opts *cur,
		 void (*fn)(const struct np_opt *opt, void *arg), void *arg)
{
	int ndiff = 0;

	for (size_t i = 0; i < old->n && i < cur->n; i++) {
		const struct np_opt_vals *a = &old->v[i], *b = &cur->v[i];
		int same = a->nvals == b->nvals;

		if (!is_option(&old->tab[i]) || (old->tab[i].flags & NP_OPT_CLI))
			continue;
		for (size_t k = 0; same && k < a->nvals; k++)
			same = strcmp(a->vals[k], b->vals[k]) == 0;
		if (!same) {
			ndiff++;
			if (fn)
				fn(&old->tab[i], arg);
		}
	}
	return ndiff;
}
