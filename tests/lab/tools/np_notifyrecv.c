/* np_notifyrecv: a stand-in for systemd's notification socket, for lab tests.
 *
 *   np_notifyrecv SOCKET SECONDS [IFNAME [PATH]]
 *
 * Binds an AF_UNIX datagram socket at SOCKET (what NOTIFY_SOCKET names) and
 * prints every datagram it receives, one line per assignment, prefixed by
 * milliseconds since start, for SECONDS. With IFNAME (and PATH), each
 * READY=1 line also says whether that network interface (and that file, the
 * control socket) existed when the message arrived: "READY=1 tun=yes ctl=yes".
 * Output is line-buffered so a test can poll it. */
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long long start = now_ms(), end;
	char buf[4096];
	int fd;

	if (argc < 3 || argc > 5 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: np_notifyrecv SOCKET SECONDS [IFNAME [PATH]]\n");
		return 2;
	}
	end = start + (long long)(atof(argv[2]) * 1000);
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("np_notifyrecv: bind");
		return 1;
	}
	chmod(argv[1], 0666);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("%lld listening\n", now_ms() - start);
	while (now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		char *line, *save = NULL;

		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			printf("%lld %s", now_ms() - start, line);
			if (strcmp(line, "READY=1") == 0 && argc >= 4) {
				struct stat st;

				printf(" tun=%s", if_nametoindex(argv[3]) ? "yes" : "no");
				if (argc == 5)
					printf(" ctl=%s", stat(argv[4], &st) == 0 && S_ISSOCK(st.st_mode) ? "yes" : "no");
			}
			putchar('\n');
		}
	}
	close(fd);
	unlink(argv[1]);
	return 0;
}
