/* np_hookmsg: the messages between the daemon and its hook helper.
 *
 * One message is one struct np_hookmsg, sent whole over a SOCK_SEQPACKET
 * socketpair: fixed size, no pointers, no lengths to trust. A receiver
 * accepts a record only if it is exactly sizeof(struct np_hookmsg) bytes,
 * has the magic and version, a known type, every string NUL-terminated
 * inside its field and made of printable ASCII, only known presence bits,
 * and numbers in range; an EVENT must name a known event, a RESTORE "up".
 *
 *   daemon -> worker    EVENT (seq, the event)
 *   worker -> daemon    LOADING (file), LOADERR (text), HELLO (nfiles,
 *                       restarted flag), DONE (seq of the finished event)
 *   monitor -> daemon   LOADERR (the worker died while loading)
 *   worker -> monitor   HELLO (loaded), RESTORE (the active "up"), CLEAR
 */
#ifndef NP_HOOKMSG_H
#define NP_HOOKMSG_H

#include "np_hooks.h"

#include <stddef.h>
#include <stdint.h>

#define NP_HOOKMSG_MAGIC 0x4b48504eu   /* "NPHK" */
#define NP_HOOKMSG_VERSION 2             /* 2: the path field */
#define NP_HOOKMSG_STR 128             /* per string field, NUL included */
#define NP_HOOKMSG_TEXT 512

enum np_hookmsg_type {
	NP_HM_HELLO = 1,
	NP_HM_LOADING,
	NP_HM_LOADERR,
	NP_HM_EVENT,
	NP_HM_RESTORE,
	NP_HM_DONE,
	NP_HM_CLEAR,
	NP_HM_TYPE_END,
};

enum np_hookmsg_field {
	NP_HMF_EVENT, NP_HMF_REASON, NP_HMF_IFNAME, NP_HMF_LOCAL_IP, NP_HMF_REMOTE_IP,
	NP_HMF_PEER_IP, NP_HMF_PUBLIC_IP, NP_HMF_NAT_SELF, NP_HMF_NAT_PEER, NP_HMF_STRATEGY,
	NP_HMF_SESSION, NP_HMF_PATH, NP_HMF_COUNT,
};

#define NP_HELLO_RESTARTED 1u          /* HELLO: not the first worker */
#define NP_LOADERR_STALLED 1u          /* LOADERR: killed by the stall alarm */

struct np_hookmsg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint64_t seq;                   /* EVENT, DONE */
	uint32_t present;               /* bit f: s[f] holds a string */
	uint32_t flags;                 /* HELLO: NP_HELLO_* */
	uint32_t nfiles;                /* HELLO */
	int32_t mtu, peer_port, public_port, attempts;
	char s[NP_HMF_COUNT][NP_HOOKMSG_STR];
	char text[NP_HOOKMSG_TEXT];     /* LOADING, LOADERR */
};

/* A zeroed message of type t. */
void np_hookmsg_init(struct np_hookmsg *m, enum np_hookmsg_type t);

/* Copy ev into m (strings cut to fit, bytes outside printable ASCII become
 * '?'). */
void np_hookmsg_set_event(struct np_hookmsg *m, const np_hook_event_t *ev);

/* Point ev's strings into m. m must stay alive while ev is used. */
void np_hookmsg_get_event(const struct np_hookmsg *m, np_hook_event_t *ev);

void np_hookmsg_set_text(struct np_hookmsg *m, const char *text);

/* Validate len bytes as one message and copy it to *m: 0 or -EBADMSG. */
int np_hookmsg_parse(const void *buf, size_t len, struct np_hookmsg *m);

/* Send one message: 0, or -errno (-EAGAIN on a full non-blocking socket). */
int np_hookmsg_send(int fd, const struct np_hookmsg *m);

/* Receive one message: 0, 1 at end of file, -EAGAIN, -EBADMSG (the record
 * was read and dropped), or -errno. */
int np_hookmsg_recv(int fd, struct np_hookmsg *m);

#endif
