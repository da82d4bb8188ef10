/* np_tun: the tun device. Creating it (optionally with virtio-net headers
 * for offloads), giving it point-to-point addresses and an MTU, and bringing
 * it up. The device is not persistent: closing the fd removes it. */
#ifndef NP_TUN_H
#define NP_TUN_H

#include <stddef.h>

#include <natpunch/strategy.h>

#define NP_TUN_VNET 0x1        /* open with IFF_VNET_HDR and TSO offloads */
#define NP_TUN_VNET_HDR_LEN 10 /* struct virtio_net_hdr, set with TUNSETVNETHDRSZ */

/* Opens (creates) tun `name` ("" or "tun%d" style allowed); the real name goes to ifname (IFNAMSIZ).
 * With NP_TUN_VNET the offloads are enabled too; if the kernel refuses them
 * the device is reopened without IFF_VNET_HDR (TUNGETIFF tells which). */
int np_tun_open(const char *name, int flags, char *ifname, char *err, size_t errlen);
/* Point-to-point addresses, MTU, and up. */
int np_tun_configure(const char *ifname, const np_addr_t *local, const np_addr_t *remote, int mtu, char *err,
		     size_t errlen);
/* A valid interface name (1..15 chars, no '/', whitespace or ':'; may end in %d). */
int np_tun_name_ok(const char *name);

#endif
