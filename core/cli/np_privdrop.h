/* np_privdrop: the daemon's privilege drop (--user, --group).
 *
 * Resolve the names while /etc/passwd and NSS are still reachable, before
 * setup; apply after the tun, the sockets and the control socket are open
 * and the hook helper was forked. Applying sets the supplementary groups to
 * just the group, then the real, effective and saved gid and uid, sets
 * no_new_privs, and then checks that there is no way back: setuid(0) and
 * setgid(0) must fail and no capability may be left. */
#ifndef NP_PRIVDROP_H
#define NP_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

struct np_privdrop {
	uid_t uid;
	gid_t gid;
	char user[64], group[64];
};

/* user: a name or a number; group: NULL for the user's primary group. */
int np_privdrop_resolve(const char *user, const char *group, struct np_privdrop *pd, char *err, size_t errlen);

/* Drop for good. On success writes into info what was kept, e.g.
 * "uid 65534 (nobody), gid 65534 (nogroup), capabilities: none". */
int np_privdrop_apply(const struct np_privdrop *pd, char *info, size_t infolen, char *err, size_t errlen);

#endif
