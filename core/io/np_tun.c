/* np_tun: /dev/net/tun and the ioctls that configure the interface
 * (addresses through SIOCSIF* for IPv4 and in6_ifreq for IPv6). */
#include "np_tun.h"
#include "np_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/route.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* The kernel's struct in6_rtmsg (linux/ipv6_route.h clashes with net/route.h). */
struct np_in6_rtmsg {
	struct in6_addr rtmsg_dst;
	struct in6_addr rtmsg_src;
	struct in6_addr rtmsg_gateway;
	uint32_t rtmsg_type;
	uint16_t rtmsg_dst_len;
	uint16_t rtmsg_src_len;
	uint32_t rtmsg_metric;
	unsigned long rtmsg_info;
	uint32_t rtmsg_flags;
	int rtmsg_ifindex;
};

struct np_in6_ifreq {
	struct in6_addr addr;
	uint32_t prefixlen;
	int ifindex;
};

int np_tun_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= ' ' || c >= 127 || c == '/' || c == ':')
			return 0;
		if (c == '%' && !(i + 2 == n && name[i + 1] == 'd'))
			return 0;
	}
	return 1;
}

static int tun_create(const char *name, int vnet, char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	int fd, rc;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		np_errmsg(err, errlen, errno, "cannot open /dev/net/tun%s",
			  errno == EACCES || errno == EPERM ? " (natpunch needs root or CAP_NET_ADMIN)" : "");
		return rc;
	}
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		np_errmsg(err, errlen, errno, "cannot create tun device %s%s", name,
			  errno == EBUSY ? " (the name is in use by another program)" :
			  errno == EPERM ? " (natpunch needs root or CAP_NET_ADMIN)" : "");
		close(fd);
		return rc;
	}
	snprintf(ifname, IFNAMSIZ, "%s", ifr.ifr_name);
	return fd;
}

static int np_tun_enable_offload(int fd, int vnet_hdr_len)
{
	unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;

	if (ioctl(fd, TUNSETVNETHDRSZ, &vnet_hdr_len) < 0)
		return -errno;
	if (ioctl(fd, TUNSETOFFLOAD, off) < 0)
		return -errno;
	return 0;
}

int np_tun_open(const char *name, int flags, char *ifname, char *err, size_t errlen)
{
	int fd = tun_create(name, (flags & NP_TUN_VNET) != 0, ifname, err, errlen);

	if (fd < 0 || !(flags & NP_TUN_VNET))
		return fd;
	if (np_tun_enable_offload(fd, NP_TUN_VNET_HDR_LEN) == 0)
		return fd;
	/* Offloads refused: a plain tun (closing removes the device, so the
	 * same name is free again). TUNGETIFF tells the caller which it got. */
	close(fd);
	return tun_create(name, 0, ifname, err, errlen);
}

static int set_v4(int s, unsigned long req, const char *ifname, const uint8_t ip[4])
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in sin = { 0 };

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	sin.sin_family = AF_INET;
	memcpy(&sin.sin_addr, ip, 4);
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	return ioctl(s, req, &ifr) < 0 ? -errno : 0;
}

static int configure_v6(const char *ifname, int ifindex, const np_addr_t *local, const np_addr_t *remote)
{
	struct np_in6_ifreq r = { 0 };
	struct np_in6_rtmsg rt = { 0 };
	int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	memcpy(&r.addr, local->ip, 16);
	r.prefixlen = 128;
	r.ifindex = ifindex;
	if (ioctl(s, SIOCSIFADDR, &r) < 0 && errno != EEXIST) {
		rc = -errno;
		goto out;
	}
	memcpy(&rt.rtmsg_dst, remote->ip, 16);
	rt.rtmsg_dst_len = 128;
	rt.rtmsg_flags = RTF_UP | RTF_HOST;
	rt.rtmsg_metric = 1;
	rt.rtmsg_ifindex = ifindex;
	if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST)
		rc = -errno;
out:
	close(s);
	(void)ifname;
	return rc;
}

int np_tun_configure(const char *ifname, const np_addr_t *local, const np_addr_t *remote, int mtu, char *err,
		     size_t errlen)
{
	static const uint8_t host_mask[4] = { 255, 255, 255, 255 };
	struct ifreq ifr = { 0 };
	int s, rc = 0;
	const char *what = "";

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		rc = -errno;
		np_errmsg(err, errlen, errno, "cannot configure %s", ifname);
		return rc;
	}
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	ifr.ifr_mtu = mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
		rc = -errno;
		what = "set MTU";
		goto out;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		rc = -errno;
		what = "read flags";
		goto out;
	}
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING | IFF_POINTOPOINT;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		rc = -errno;
		what = "bring up";
		goto out;
	}
	if (local->family == 4) {
		what = "set address";
		if ((rc = set_v4(s, SIOCSIFADDR, ifname, local->ip)) < 0)
			goto out;
		if ((rc = set_v4(s, SIOCSIFNETMASK, ifname, host_mask)) < 0)
			goto out;
		what = "set peer address";
		if ((rc = set_v4(s, SIOCSIFDSTADDR, ifname, remote->ip)) < 0)
			goto out;
	} else {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
		what = "set IPv6 address";
		if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) {
			rc = -errno;
			goto out;
		}
		rc = configure_v6(ifname, ifr.ifr_ifindex, local, remote);
	}
out:
	if (rc < 0)
		np_errmsg(err, errlen, rc, "cannot %s on %s", what, ifname);
	close(s);
	return rc;
}
