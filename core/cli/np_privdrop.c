/* np_privdrop: resolve and apply --user/--group. See np_privdrop.h. */
#include "np_privdrop.h"
#define NP_LOG_COMPONENT "main"
#include "np_log.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int np_number(const char *s, unsigned long *out)
{
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !*end && !errno && *out < 0xffffffffUL;
}

int np_privdrop_resolve(const char *user, const char *group, struct np_privdrop *pd, char *err, size_t errlen)
{
	struct passwd *pw;
	struct group *gr;
	unsigned long n;

	memset(pd, 0, sizeof(*pd));
	errno = 0;
	pw = getpwnam(user);
	if (!pw && np_number(user, &n))
		pw = getpwuid((uid_t)n);
	if (!pw) {
		snprintf(err, errlen, "--user %.64s: no such user", user);
		return -ENOENT;
	}
	pd->uid = pw->pw_uid;
	pd->gid = pw->pw_gid;
	snprintf(pd->user, sizeof(pd->user), "%s", pw->pw_name);
	if (group) {
		gr = getgrnam(group);
		if (!gr && np_number(group, &n))
			gr = getgrgid((gid_t)n);
		if (!gr) {
			snprintf(err, errlen, "--group %.64s: no such group", group);
			return -ENOENT;
		}
		pd->gid = gr->gr_gid;
	} else {
		gr = getgrgid(pd->gid);
	}
	snprintf(pd->group, sizeof(pd->group), "%s", gr ? gr->gr_name : "?");
	if (pd->uid == 0) {
		snprintf(err, errlen, "--user %.64s is root: nothing to drop", user);
		return -EINVAL;
	}
	return 0;
}

/* The permitted and effective capability sets, as two 64-bit masks. */
static int np_caps(uint64_t *permitted, uint64_t *effective)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	*permitted = data[0].permitted | (uint64_t)data[1].permitted << 32;
	*effective = data[0].effective | (uint64_t)data[1].effective << 32;
	return 0;
}

int np_privdrop_apply(const struct np_privdrop *pd, char *info, size_t infolen, char *err, size_t errlen)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	uint64_t perm = 0, eff = 0;

	if (geteuid() != 0 && geteuid() != pd->uid) {
		snprintf(err, errlen, "--user needs root (or CAP_SETUID and CAP_SETGID)");
		return -EPERM;
	}
	if (setgroups(1, &pd->gid) < 0 || setresgid(pd->gid, pd->gid, pd->gid) < 0 ||
	    setresuid(pd->uid, pd->uid, pd->uid) < 0) {
		int rc = -errno;

		np_errmsg(err, errlen, rc, "cannot switch to user %s, group %s", pd->user, pd->group);
		return rc;
	}
	/* Nothing exec'd from here on gains privileges (setuid binaries). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		int rc = -errno;

		np_errmsg(err, errlen, rc, "prctl(PR_SET_NO_NEW_PRIVS)");
		return rc;
	}
	/* No way back. */
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || setegid(0) == 0) {
		snprintf(err, errlen, "privilege drop failed: could regain root after switching to %s", pd->user);
		return -EPERM;
	}
	if (getresuid(&r, &e, &s) < 0 || r != pd->uid || e != pd->uid || s != pd->uid ||
	    getresgid(&rg, &eg, &sg) < 0 || rg != pd->gid || eg != pd->gid || sg != pd->gid) {
		snprintf(err, errlen, "privilege drop failed: uids or gids are not all %s/%s", pd->user, pd->group);
		return -EPERM;
	}
	if (np_caps(&perm, &eff) < 0 || perm || eff) {
		snprintf(err, errlen, "privilege drop failed: capabilities left (permitted %#llx, effective %#llx)",
			 (unsigned long long)perm, (unsigned long long)eff);
		return -EPERM;
	}
	snprintf(info, infolen, "uid %u (%s), gid %u (%s), capabilities: none", (unsigned)pd->uid, pd->user,
		 (unsigned)pd->gid, pd->group);
	return 0;
}
