/* np_strategy_loader: finding, loading and ABI-checking strategy .so files.
 *
 * A name ("simple") is looked up as NAME.so in --strategy-path, then in the
 * install directory, then in "strategies/" beside the executable (build
 * trees); anything with a '/' is a path. The descriptor is copied into a
 * zero-filled np_strategy_t, so a strategy built against an older minor
 * (smaller struct) reads absent fields as 0. */
#ifndef NP_STRATEGY_LOADER_H
#define NP_STRATEGY_LOADER_H

#include <limits.h>
#include <stddef.h>

#include <natpunch/strategy.h>

struct np_strategy_mod {
	void *dl;
	np_strategy_t desc;
	char path[PATH_MAX];
};

/* Checks a descriptor against the host ABI; one-line reason into err. */
int np_strategy_check(const np_strategy_t *d, const char *path, char *err, size_t errlen);
int np_strategy_load(const char *name_or_path, const char *search_dir, struct np_strategy_mod *out, char *err,
		     size_t errlen);
void np_strategy_unload(struct np_strategy_mod *m);
/* 1 if `name` is a plain strategy name ([a-z0-9_-], 1..32 chars). */
int np_strategy_name_ok(const char *name);

#endif
