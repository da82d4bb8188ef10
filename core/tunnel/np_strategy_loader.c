/* np_strategy_loader: dlopen, the one entry symbol, and the version check. */
#include "np_strategy_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The v1.0 descriptor ends with destroy; anything shorter is not a strategy. */
#define NP_STRATEGY_MIN_SIZE (offsetof(np_strategy_t, destroy) + sizeof(void (*)(void *)))

int np_strategy_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int np_strategy_check(const np_strategy_t *d, const char *path, char *err, size_t errlen)
{
	if (!d) {
		snprintf(err, errlen, "strategy %s: entry returned no descriptor", path);
		return -EINVAL;
	}
	if (d->abi_major != NP_STRATEGY_ABI_MAJOR || d->abi_minor > NP_STRATEGY_ABI_MINOR) {
		snprintf(err, errlen, "strategy %s: ABI version %u.%u instead of %u.%u (or an older minor)", path,
			 d->abi_major, d->abi_minor, NP_STRATEGY_ABI_MAJOR, NP_STRATEGY_ABI_MINOR);
		return -EPROTO;
	}
	if (d->size < NP_STRATEGY_MIN_SIZE || d->size > 65536) {
		snprintf(err, errlen, "strategy %s: descriptor size %u is invalid (at least %zu expected)", path,
			 d->size, (size_t)NP_STRATEGY_MIN_SIZE);
		return -EPROTO;
	}
	if (!d->name || !d->create || !d->start || !d->destroy) {
		snprintf(err, errlen, "strategy %s: descriptor lacks a name or a create/start/destroy callback", path);
		return -EINVAL;
	}
	return 0;
}

static int exists(const char *p)
{
	return access(p, R_OK) == 0;
}

static int find(const char *name, const char *search_dir, char *path, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (search_dir && snprintf(path, cap, "%s/%s.so", search_dir, name) < (int)cap && exists(path))
		return 0;
	if (snprintf(path, cap, "%s/%s.so", NP_STRATEGY_DIR, name) < (int)cap && exists(path))
		return 0;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(path, cap, "%s/strategies/%s.so", exe, name) < (int)cap && exists(path))
				return 0;
		}
	}
	return -ENOENT;
}

int np_strategy_load(const char *name_or_path, const char *search_dir, struct np_strategy_mod *out, char *err,
		     size_t errlen)
{
	np_strategy_entry_fn entry;
	const np_strategy_t *d;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strchr(name_or_path, '/')) {
		if (snprintf(out->path, sizeof(out->path), "%s", name_or_path) >= (int)sizeof(out->path)) {
			snprintf(err, errlen, "strategy path too long");
			return -ENAMETOOLONG;
		}
	} else if (!np_strategy_name_ok(name_or_path)) {
		snprintf(err, errlen, "invalid strategy name '%.40s' (use letters, digits, '-' and '_', or a path)",
			 name_or_path);
		return -EINVAL;
	} else if (find(name_or_path, search_dir, out->path, sizeof(out->path)) < 0) {
		snprintf(err, errlen, "strategy '%s' not found in %s%s%s", name_or_path,
			 search_dir ? search_dir : "", search_dir ? " or " : "", NP_STRATEGY_DIR);
		return -ENOENT;
	}
	out->dl = dlopen(out->path, RTLD_NOW | RTLD_LOCAL);
	if (!out->dl) {
		snprintf(err, errlen, "cannot load strategy %s: %s", out->path, dlerror());
		return -ENOENT;
	}
	*(void **)&entry = dlsym(out->dl, NP_STRATEGY_ENTRY_SYMBOL);
	if (!entry) {
		snprintf(err, errlen, "strategy %s does not export %s", out->path, NP_STRATEGY_ENTRY_SYMBOL);
		rc = -EINVAL;
		goto fail;
	}
	d = entry();
	rc = np_strategy_check(d, out->path, err, errlen);
	if (rc < 0)
		goto fail;
	memcpy(&out->desc, d, d->size < sizeof(out->desc) ? d->size : sizeof(out->desc));
	out->desc.size = (uint32_t)sizeof(out->desc);
	return 0;
fail:
	dlclose(out->dl);
	out->dl = NULL;
	return rc;
}

void np_strategy_unload(struct np_strategy_mod *m)
{
	if (m->dl)
		dlclose(m->dl);
	memset(m, 0, sizeof(*m));
}
