/* np_control: a listening AF_UNIX socket on the libev loop that hands out
 * status reports, and the client side of `natpunch status`. */
#include "np_control.h"
#define NP_LOG_COMPONENT "ctl"
#include "np_log.h"

#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define REPORT_MAX 4096

struct np_control {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	np_control_report_fn fn;
	void *arg;
};

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_control *c = w->data;
	char buf[REPORT_MAX];

	for (int i = 0; i < 16; i++) {
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		size_t n;

		if (fd < 0)
			return;
		n = c->fn(c->arg, buf, sizeof(buf));
		/* A fresh socket's buffer holds the whole report; a reader that
		 * is not there gets nothing rather than stalling the loop. */
		if (send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			np_debug_e(errno, "status not delivered");
		close(fd);
	}
}

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* 1 if a live daemon answers on path. */
static int in_use(const char *path)
{
	struct sockaddr_un sa;
	int fd, live;

	if (fill_addr(&sa, path) < 0)
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return live;
}

int np_control_open(struct ev_loop *loop, const char *path, const char *ifname, np_control_report_fn fn, void *arg,
		    struct np_control **out, char *err, size_t errlen)
{
	struct np_control *c;
	struct sockaddr_un sa;
	mode_t old;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->fn = fn;
	c->arg = arg;
	c->fd = -1;
	if (path)
		rc = snprintf(c->path, sizeof(c->path), "%s", path);
	else {
		if (mkdir(NP_CONTROL_DIR, 0700) < 0 && errno != EEXIST) {
			rc = -errno;
			np_errmsg(err, errlen, errno, "cannot create %s", NP_CONTROL_DIR);
			goto fail;
		}
		rc = snprintf(c->path, sizeof(c->path), "%s/%s.sock", NP_CONTROL_DIR, ifname);
	}
	if (rc < 0 || (size_t)rc >= sizeof(c->path) || fill_addr(&sa, c->path) < 0) {
		rc = -ENAMETOOLONG;
		snprintf(err, errlen, "control socket path too long");
		goto fail;
	}
	if (in_use(c->path)) {
		rc = -EADDRINUSE;
		snprintf(err, errlen, "control socket %s is in use by another natpunch", c->path);
		c->path[0] = '\0';
		goto fail;
	}
	unlink(c->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		rc = -errno;
		np_errmsg(err, errlen, errno, "cannot create the control socket");
		goto fail;
	}
	old = umask(077);
	rc = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(c->fd, 8) < 0) {
		rc = -errno;
		np_errmsg(err, errlen, errno, "cannot listen on %s", c->path);
		c->path[0] = '\0';
		goto fail;
	}
	ev_io_init(&c->io, on_accept, c->fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	*out = c;
	return 0;
fail:
	np_control_close(c);
	return rc;
}

void np_control_close(struct np_control *c)
{
	if (!c)
		return;
	if (c->fd >= 0) {
		ev_io_stop(c->loop, &c->io);
		close(c->fd);
	}
	if (c->path[0])
		unlink(c->path);
	free(c);
}

/* ---- the client ------------------------------------------------------------- */

static int fetch(const char *path, char *buf, size_t cap)
{
	struct sockaddr_un sa;
	size_t len = 0;
	int fd;

	if (fill_addr(&sa, path) < 0)
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (int)len;
}

static int is_number(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (!*p)
		return 0;
	for (; *p; p++)
		if ((*p < '0' || *p > '9') && *p != '.')
			return 0;
	return s[0] != '0' || s[1] == '\0' || s[1] == '.';
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void print_json(char *report)
{
	int first = 1;

	putchar('{');
	for (char *line = strtok(report, "\n"); line; line = strtok(NULL, "\n")) {
		char *sep = strstr(line, ": ");
		if (!sep)
			continue;
		*sep = '\0';
		printf("%s", first ? "" : ",");
		first = 0;
		json_string(line);
		putchar(':');
		if (is_number(sep + 2))
			printf("%s", sep + 2);
		else
			json_string(sep + 2);
	}
	puts("}");
}

static int show(const char *path, int json)
{
	char buf[REPORT_MAX + 1];
	int n = fetch(path, buf, sizeof(buf));

	if (n < 0) {
		char msg[sizeof(((struct sockaddr_un *)0)->sun_path) + 128];

		fprintf(stderr, "natpunch: status: %s%s\n", np_errmsg(msg, sizeof(msg), n, "cannot reach %s", path),
			n == -ENOENT || n == -ECONNREFUSED ? " (is natpunch running on that interface?)" : "");
		return 1;
	}
	if (json)
		print_json(buf);
	else
		fputs(buf, stdout);
	return 0;
}

int np_control_cli(int argc, char **argv)
{
	const char *name = NULL, *path = NULL;
	char p[512];
	int json = 0, rc = 0, found = 0;
	DIR *d;
	struct dirent *e;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--control") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (argv[i][0] == '-' || name) {
			fprintf(stderr, "natpunch: status: unexpected argument '%.64s' (usage: natpunch status [IFNAME] [--json] [--control PATH])\n",
				argv[i]);
			return 2;
		} else
			name = argv[i];
	}
	if (path)
		return show(path, json);
	if (name) {
		if (strchr(name, '/') || strlen(name) > 15) {
			fprintf(stderr, "natpunch: status: invalid interface name '%.64s'\n", name);
			return 2;
		}
		snprintf(p, sizeof(p), "%s/%s.sock", NP_CONTROL_DIR, name);
		return show(p, json);
	}
	d = opendir(NP_CONTROL_DIR);
	if (d) {
		while ((e = readdir(d))) {
			size_t n = strlen(e->d_name);
			if (n < 6 || strcmp(e->d_name + n - 5, ".sock") != 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", NP_CONTROL_DIR, e->d_name);
			if (found++ && !json)
				putchar('\n');
			rc |= show(p, json);
		}
		closedir(d);
	}
	if (!found) {
		fprintf(stderr, "natpunch: status: no running tunnel found in %s\n", NP_CONTROL_DIR);
		return 1;
	}
	return rc;
}
