/* np_udp: thin wrappers over the socket API for UDP, with TTL and packet-info
 * control messages. Nothing here knows natpunch's wire format. */
#include "np_udp.h"
#include "np_log.h"
#include "np_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int np_udp_open(int family, const np_addr_t *bind_addr, uint16_t port, int flags, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	np_addr_t any;
	int fd, one = 1, rc, sl;

	fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		np_errmsg(err, errlen, errno, "cannot create UDP socket");
		return rc;
	}
	if (!bind_addr) {
		memset(&any, 0, sizeof(any));
		any.family = (uint8_t)(family == 6 ? 6 : 4);
		bind_addr = &any;
	}
	any = *bind_addr;
	any.port = port;
	sl = np_addr_to_sockaddr(&any, &ss);
	if (family == 6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (flags & NP_UDP_PKTINFO) {
		if (family == 6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
		else
			setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	}
	if (flags & NP_UDP_BIGBUF) {
		int sz = 4 << 20;
		/* The FORCE variants need CAP_NET_ADMIN; fall back to the capped ones. */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (sl < 0 || bind(fd, (struct sockaddr *)&ss, (socklen_t)sl) < 0) {
		char a[NP_ADDR_STRLEN];
		rc = sl < 0 ? sl : -errno;
		np_errmsg(err, errlen, rc, "cannot bind UDP socket to %s", np_addr_str(&any, a, sizeof(a)));
		close(fd);
		return rc;
	}
	return fd;
}

int np_udp_send(int fd, const np_addr_t *to, const void *buf, size_t len, int ttl, const np_addr_t *src)
{
	struct sockaddr_storage ss;
	union {
		char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { 0 };
	struct cmsghdr *c;
	size_t clen = 0;
	int sl = np_addr_to_sockaddr(to, &ss);

	if (sl < 0)
		return sl;
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_name = &ss;
	msg.msg_namelen = (socklen_t)sl;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	c = CMSG_FIRSTHDR(&msg);
	if (ttl > 0) {
		c->cmsg_level = to->family == 6 ? IPPROTO_IPV6 : IPPROTO_IP;
		c->cmsg_type = to->family == 6 ? IPV6_HOPLIMIT : IP_TTL;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &ttl, sizeof(int));
		clen += CMSG_SPACE(sizeof(int));
		c = CMSG_NXTHDR(&msg, c);
	}
	if (src && src->family == 4 && to->family == 4) {
		struct in_pktinfo pi = { 0 };
		memcpy(&pi.ipi_spec_dst, src->ip, 4);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		clen += CMSG_SPACE(sizeof(pi));
	} else if (src && src->family == 6 && to->family == 6) {
		struct in6_pktinfo pi = { 0 };
		memcpy(&pi.ipi6_addr, src->ip, 16);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		clen += CMSG_SPACE(sizeof(pi));
	}
	msg.msg_controllen = clen;
	if (!clen)
		msg.msg_control = NULL;
	if (sendmsg(fd, &msg, MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

ssize_t np_udp_recv(int fd, void *buf, size_t cap, np_addr_t *from, np_addr_t *dst)
{
	struct sockaddr_storage ss;
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + 64];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, cap };
	struct msghdr msg = { 0 };
	ssize_t n;

	msg.msg_name = &ss;
	msg.msg_namelen = sizeof(ss);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	n = recvmsg(fd, &msg, MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	if (np_addr_from_sockaddr(from, (struct sockaddr *)&ss) < 0)
		return -EAFNOSUPPORT;
	if (dst) {
		memset(dst, 0, sizeof(*dst));
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				dst->family = 4;
				memcpy(dst->ip, &pi.ipi_addr, 4);
			} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				dst->family = 6;
				memcpy(dst->ip, &pi.ipi6_addr, 16);
			}
		}
	}
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	return n;
}

int np_udp_local(int fd, np_addr_t *out)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	return np_addr_from_sockaddr(out, (struct sockaddr *)&ss);
}

int np_addr_parse(const char *s, np_addr_t *out)
{
	uint16_t port = out->port;

	memset(out, 0, sizeof(*out));
	out->port = port;
	if (inet_pton(AF_INET, s, out->ip) == 1) {
		out->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->ip) == 1) {
		out->family = 6;
		return 0;
	}
	return -EINVAL;
}

int np_resolve(const char *host, int family_hint, np_addr_t *out, char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	int rc;

	if (!host || !*host || strlen(host) > 253) {
		snprintf(err, errlen, "invalid host name");
		return -EINVAL;
	}
	if (np_addr_parse(host, out) == 0)
		return 0;
	hints.ai_family = family_hint == 6 ? AF_INET6 : family_hint == 4 ? AF_INET : AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	{
		uint16_t port = out->port;
		rc = np_addr_from_sockaddr(out, res->ai_addr);
		out->port = port;
	}
	freeaddrinfo(res);
	if (rc < 0)
		snprintf(err, errlen, "cannot resolve %s: unsupported address family", host);
	return rc;
}

/* A UDP socket connected towards to (port 9 when none): connect() on UDP
 * sends nothing, it only asks the routing table. Returns the fd or -errno. */
static int route_socket(const np_addr_t *to)
{
	struct sockaddr_storage ss;
	np_addr_t t = *to;
	int fd, sl;

	if (!t.port)
		t.port = 9;
	sl = np_addr_to_sockaddr(&t, &ss);
	if (sl < 0)
		return sl;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, (socklen_t)sl) < 0) {
		sl = -errno;
		close(fd);
		return sl;
	}
	return fd;
}

int np_route_source(const np_addr_t *to, np_addr_t *out)
{
	int fd = route_socket(to), rc;

	if (fd < 0)
		return fd;
	rc = np_udp_local(fd, out);
	close(fd);
	return rc;
}

int np_route_mtu(const np_addr_t *to)
{
	int fd = route_socket(to), rc, mtu = 0;
	socklen_t ml = sizeof(mtu);

	if (fd < 0)
		return fd;
	if (getsockopt(fd, to->family == 6 ? IPPROTO_IPV6 : IPPROTO_IP, to->family == 6 ? IPV6_MTU : IP_MTU, &mtu,
		       &ml) < 0)
		rc = -errno;
	else
		rc = mtu > 0 ? mtu : -EINVAL;
	close(fd);
	return rc;
}

int np_udp_set_df_probe(int fd, int family)
{
	int v = family == 6 ? IPV6_PMTUDISC_PROBE : IP_PMTUDISC_PROBE;

	if (setsockopt(fd, family == 6 ? IPPROTO_IPV6 : IPPROTO_IP, family == 6 ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER,
		       &v, sizeof(v)) < 0)
		return -errno;
	return 0;
}
