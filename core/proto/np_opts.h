/* np_opts: one option table per program drives its command line (getopt_long),
 * its configuration file (INI "name = value" lines, read with libinih), its
 * --help text and its --check-config dump, so the four cannot drift apart.
 *
 * What belongs here: the table format, the generic setters (string, number,
 * port, flag), applying defaults, the file reader and the command line
 * driver, provenance ("FILE:LINE" of every value) and the comparison used by
 * SIGHUP reloads. What does not: any program's options (np_config.c for
 * natpunch, server_main.c for natpunch-server) or cross-option checks.
 *
 * Precedence: defaults < configuration file (--config FILE) < command line.
 * A repeatable option given on the command line replaces the file's list.
 * Positional arguments are table entries too (NP_OPT_POS): in the file they
 * are keys like any other; on the command line they come all or none.
 * In a file, '_' and '-' in key names are the same, '#' starts a comment
 * (at the start of a line, or after whitespace), and flags take
 * true/false (yes/no, on/off, 1/0). */
#ifndef NP_OPTS_H
#define NP_OPTS_H

#include <stddef.h>
#include <stdio.h>

struct np_opt;

/* Store val (a string that lives as long as the struct np_opts) into cfg.
 * key is how the user spelled the option ("--keepalive" or "keepalive"), for
 * the message. Returns 0, or -EINVAL with one line (without the file and line,
 * which the caller adds) in err. A repeatable option's setter gets val NULL to
 * clear its list. */
typedef int (*np_opt_set_fn)(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err,
			     size_t errlen);

enum {
	NP_OPT_REPEAT = 1 << 0, /* may be given many times; values accumulate */
	NP_OPT_POS = 1 << 1,    /* positional argument (arg is its name in usage) */
	NP_OPT_RELOAD = 1 << 2, /* SIGHUP applies a new value without a restart */
	NP_OPT_CLI = 1 << 3,    /* command line only (not a file key, not dumped) */
	NP_OPT_HEADING = 1 << 4 /* not an option: a heading line of --help */
};

enum np_opt_action { NP_OPT_SET = 0, NP_OPT_CONFIG, NP_OPT_CHECK_CONFIG, NP_OPT_HELP, NP_OPT_VERSION };

struct np_opt {
	const char *name;       /* long option and file key */
	int short_name;         /* 'v', or 0 */
	const char *arg;        /* value in --help ("FILE"); NULL: a flag */
	unsigned flags;
	const char *def;        /* default, applied through set; shown in --help and dumps */
	const char *help;       /* '\n' separates lines */
	np_opt_set_fn set;
	size_t off;             /* field offset for the generic setters */
	double lo, hi;          /* range for np_opt_num/np_opt_int */
	enum np_opt_action action;
};

/* Generic setters. np_opt_str: const char * at off. np_opt_num: double at off
 * within [lo, hi]. np_opt_int: int at off, an integer within [lo, hi].
 * np_opt_flag: int at off set to 0/1. np_opt_port: uint16_t at off, lo..65535. */
int np_opt_str(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen);
int np_opt_num(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen);
int np_opt_int(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen);
int np_opt_flag(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen);
int np_opt_port(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen);
/* np_opt_loglevel: int at off from error|warning|info|debug (enum np_log_level).
 * np_opt_verbose: a flag that sets the int at off to debug (short name 'v') or
 * error (any other). */
int np_opt_loglevel(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen);
int np_opt_verbose(void *cfg, const struct np_opt *o, const char *key, const char *val, char *err, size_t errlen);
/* "true"/"yes"/"on"/"1" -> 1, "false"/"no"/"off"/"0" -> 0, else -EINVAL. */
int np_opt_bool(const char *s);

struct np_opt_vals;

struct np_opts {
	const char *prog;               /* "natpunch", for messages */
	const struct np_opt *tab;
	size_t n;
	void *cfg;
	const char *file;               /* the --config/--check-config file, or NULL */
	int check;                      /* --check-config was given */
	struct np_opt_vals *v;          /* per option: values and where they came from */
};

/* Results of np_opts_parse besides 0 and -EINVAL. */
#define NP_OPTS_HELP 1
#define NP_OPTS_VERSION 2

/* Bind the table to cfg (which the caller zeroed) and apply the defaults.
 * Returns 0 or -ENOMEM/-EINVAL (a bad default is a bug; err says which). */
int np_opts_init(struct np_opts *o, const char *prog, const struct np_opt *tab, size_t n, void *cfg, char *err,
		 size_t errlen);
/* The command line: finds --config/--check-config first and reads that file,
 * then applies the options and positionals of argv on top. Returns 0,
 * NP_OPTS_HELP, NP_OPTS_VERSION or -EINVAL with one line in err. */
int np_opts_parse(struct np_opts *o, int argc, char **argv, char *err, size_t errlen);
/* Read one configuration file into the options (usually via np_opts_parse).
 * Errors read "FILE:LINE: what" (or "FILE: why" when it cannot be opened). */
int np_opts_load_file(struct np_opts *o, const char *path, char *err, size_t errlen);
/* Read configuration text from memory, as if it were the file `name` (fuzzing, tests). */
int np_opts_load_buffer(struct np_opts *o, const char *name, const char *text, size_t len, char *err,
			size_t errlen);
void np_opts_free(struct np_opts *o);

/* Was the option given (in the file or on the command line), not defaulted? */
int np_opts_given(const struct np_opts *o, const char *name);
/* Where the option's value came from: "FILE:LINE", "the command line" or "the default".
 * Used to prefix errors found later, e.g. an unreadable key file. */
const char *np_opts_where(const struct np_opts *o, const char *name, char *buf, size_t len);
/* The --help option lines, generated from the table. */
void np_opts_usage(const struct np_opt *tab, size_t n, FILE *f);
/* The effective configuration as a file the program would accept, with
 * each value's origin in a comment. */
void np_opts_dump(const struct np_opts *o, FILE *f);
/* Compare two parses of the same table: calls fn for each option whose
 * values differ (SIGHUP). Returns the number of differing options. */
int np_opts_diff(const struct np_opts *old, const struct np_opts *cur,
		 void (*fn)(const struct np_opt *opt, void *arg), void *arg);

#endif
