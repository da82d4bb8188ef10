/* natpunch/strategy.h: the public, versioned interface of NAT traversal strategies.
 *
 * A strategy is a probe scheduler. The natpunch core owns the sockets, the
 * timers, the packet formats and the authentication; a strategy only decides
 * which (local socket, remote address) pairs to probe and when, and says when
 * one has worked. This header is self-contained (no libev, no Lua, no daemon
 * types) so third parties can build strategies out of tree:
 *
 *     cc -shared -fPIC -o mine.so mine.c $(pkg-config --cflags natpunch-strategy)
 *     natpunch --strategy=./mine.so ...
 *
 * A complete minimal strategy: probe the peer's public endpoint every 200 ms
 * and report success on the first authenticated answer.
 *
 *     #include <natpunch/strategy.h>
 *     #include <stdlib.h>
 *
 *     struct mine { const np_host_api_t *api; void *host; np_addr_t peer; };
 *
 *     static int mine_create(const np_host_api_t *api, void *host, void **out)
 *     {
 *             struct mine *m = calloc(1, sizeof(*m));
 *             if (!m) return -12;                                   // -ENOMEM
 *             m->api = api; m->host = host; *out = m; return 0;
 *     }
 *     static int mine_start(void *st, const np_strategy_view_t *v)
 *     {
 *             struct mine *m = st;
 *             m->peer = v->peer_public;
 *             m->api->send_probe(m->host, 0, &m->peer, NP_PROBE_OPENER);
 *             return m->api->timer_start(m->host, 0, 200);
 *     }
 *     static void mine_timer(void *st, int id)
 *     {
 *             struct mine *m = st;
 *             m->api->send_probe(m->host, 0, &m->peer, 0);
 *             m->api->timer_start(m->host, id, 200);
 *     }
 *     static void mine_answer(void *st, int sock, const np_addr_t *from, int is_ack)
 *     {
 *             struct mine *m = st;
 *             if (is_ack) m->api->succeed(m->host, sock, from);
 *     }
 *     static void mine_destroy(void *st) { free(st); }
 *
 *     NP_STRATEGY_DECLARE("mine", "probe the public endpoint",
 *                         mine_create, mine_start, mine_timer, mine_answer, mine_destroy);
 *
 * Rules of the road:
 * - Callbacks run on the core's event loop thread; never block in them.
 * - create() failing means destroy() is never called; otherwise destroy() is
 *   always called exactly once, after which no host function may be used.
 * - Socket id 0 is the core's main socket (the one registered with the
 *   server). open_socket() returns further ids; the core closes them all when
 *   the attempt ends, and keeps only the one passed to succeed().
 * - Every probe the core sends carries a MAC keyed from both peers' static
 *   keys; on_answer() is called only for probes and acks that authenticated.
 *   The core acknowledges incoming probes by itself.
 * - A strategy must bound what it sends: the core additionally enforces
 *   NP_HOST_MAX_SOCKETS and a probe budget per attempt.
 *
 * Versioning: the core refuses a strategy whose abi_major differs from its
 * own or whose abi_minor is newer than its own. Structs carry their size, so
 * fields can be appended in later minors without breaking older binaries.
 */
#ifndef NATPUNCH_STRATEGY_H
#define NATPUNCH_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NP_STRATEGY_ABI_MAJOR 1
#define NP_STRATEGY_ABI_MINOR 1

/* The one symbol every strategy .so exports. */
#define NP_STRATEGY_ENTRY_SYMBOL "np_strategy_entry"

/* Most extra sockets a strategy may hold at once (spraying). */
#define NP_HOST_MAX_SOCKETS 256
/* Most timers a strategy may use (ids 0 .. NP_HOST_MAX_TIMERS-1). */
#define NP_HOST_MAX_TIMERS 8

/* An IPv4 or IPv6 endpoint. ip holds 4 (family 4) or 16 (family 6) bytes in
 * network order; port is in host order. family 0 means "unknown/none". */
typedef struct np_addr {
	uint8_t family;
	uint8_t reserved;
	uint16_t port;
	uint8_t ip[16];
} np_addr_t;

/* NAT behaviour, as far as discovery could tell (RFC 4787 / RFC 5780 terms). */
enum np_nat_mapping {
	NP_NAT_MAP_UNKNOWN = 0,
	NP_NAT_MAP_NONE = 1,        /* no NAT: public address is local */
	NP_NAT_MAP_EIM = 2,         /* endpoint-independent mapping */
	NP_NAT_MAP_ADM = 3,         /* address-dependent mapping */
	NP_NAT_MAP_APDM = 4,        /* address-and-port-dependent mapping */
	NP_NAT_MAP_EIM_OR_ADM = 5,  /* EIM or ADM: no second server IP to tell */
};

enum np_nat_filtering {
	NP_NAT_FILTER_UNKNOWN = 0,
	NP_NAT_FILTER_NONE = 1,     /* no NAT / no filtering */
	NP_NAT_FILTER_EIF = 2,      /* endpoint-independent filtering */
	NP_NAT_FILTER_ADF = 3,      /* address-dependent filtering */
	NP_NAT_FILTER_APDF = 4,     /* address-and-port-dependent filtering */
	NP_NAT_FILTER_ADF_OR_APDF = 5, /* port-restricted at least; no second IP to tell */
	NP_NAT_FILTER_EIF_OR_ADF = 6,  /* not port-restricted; no second IP to tell */
};

enum np_nat_allocation {
	NP_NAT_ALLOC_UNKNOWN = 0,
	NP_NAT_ALLOC_PRESERVE = 1,   /* public port == local port */
	NP_NAT_ALLOC_SEQUENTIAL = 2, /* each new mapping: previous port + step */
	NP_NAT_ALLOC_RANDOM = 3,     /* no usable pattern */
	NP_NAT_ALLOC_STABLE = 4,     /* EIM mapping that rewrites the port once */
};

typedef struct np_nat_info {
	uint8_t known;      /* 0: no discovery result, all below are unknown */
	uint8_t mapping;    /* enum np_nat_mapping */
	uint8_t filtering;  /* enum np_nat_filtering */
	uint8_t allocation; /* enum np_nat_allocation */
	uint8_t depth;      /* number of NATs between the host and the internet */
	uint8_t reserved;
	int16_t step;       /* port delta between consecutive mappings (sequential) */
	uint16_t noise;     /* largest deviation from step seen during discovery */
} np_nat_info_t;

/* What a strategy is told when an attempt starts. */
typedef struct np_strategy_view {
	uint32_t size;          /* sizeof(np_strategy_view_t) of the core */
	uint32_t attempt;       /* 1 for the first attempt, counts up across retries */
	uint32_t round;         /* server-assigned pairing round */
	uint32_t reserved;
	np_addr_t self_local;   /* our LAN endpoint of socket 0 */
	np_addr_t self_public;  /* our endpoint of socket 0 as the server saw it */
	np_addr_t peer_local;   /* the peer's LAN endpoint (as it reported it) */
	np_addr_t peer_public;  /* the peer's endpoint as the server saw it */
	np_nat_info_t self_nat;
	np_nat_info_t peer_nat;
	uint64_t start_at_ms;   /* host clock (now_ms) time at which both sides start */
	int self_is_high;       /* 1 on exactly one of the two peers (tie-breaker) */
	/* ABI 1.1: the newest mapping the peer's NAT discovery saw just before
	 * it registered (family 0: unknown). Behind a sequential NAT it can be
	 * ahead of peer_public, whose mapping toward the server may be old (a
	 * fixed --port socket): predict from whichever is newer. Check
	 * view->size before reading it (NP_VIEW_HAS). */
	np_addr_t peer_mapped;
} np_strategy_view_t;

/* 1 if the core's view v is large enough to hold field f. */
#define NP_VIEW_HAS(v, f) ((v)->size >= offsetof(np_strategy_view_t, f) + sizeof((v)->f))

/* Flags for send_probe(). */
#define NP_PROBE_OPENER 0x1u /* low TTL: opens our NAT(s), dies before the peer's.
                              * A no-op (returns 0) when we are not behind a NAT. */

/* Functions the core offers a strategy. `host` is the opaque first argument. */
typedef struct np_host_api {
	uint32_t size; /* sizeof(np_host_api_t) of the core */
	/* Send one authenticated probe from socket sock_id. 0 or -errno. */
	int (*send_probe)(void *host, int sock_id, const np_addr_t *to, unsigned flags);
	/* Open an extra UDP socket on a fresh local port; returns its id (>0) or -errno. */
	int (*open_socket)(void *host);
	void (*close_socket)(void *host, int sock_id);
	/* One-shot timer; starting a running timer re-arms it. 0 or -errno. */
	int (*timer_start)(void *host, int timer_id, uint32_t after_ms);
	void (*timer_stop)(void *host, int timer_id);
	/* Monotonic milliseconds. */
	uint64_t (*now_ms)(void *host);
	/* Cryptographically strong random bytes. */
	void (*random)(void *host, void *buf, size_t len);
	/* level: 0 error, 1 warn, 2 info, 3 debug. */
	void (*log)(void *host, int level, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	/* The path (sock_id, peer) works: the core makes it the tunnel's path. */
	void (*succeed)(void *host, int sock_id, const np_addr_t *peer);
	/* Give up this attempt; reason is one line for the log and hooks. */
	void (*fail)(void *host, const char *reason);
} np_host_api_t;

/* The descriptor a strategy exports. */
typedef struct np_strategy {
	uint32_t abi_major;
	uint32_t abi_minor;
	uint32_t size;            /* sizeof(np_strategy_t) the strategy was built with */
	const char *name;
	const char *description;
	/* Allocate state. 0 or -errno. */
	int (*create)(const np_host_api_t *api, void *host, void **state);
	/* Begin an attempt. 0 or -errno. */
	int (*start)(void *state, const np_strategy_view_t *view);
	/* A timer started with timer_start() expired. */
	void (*on_timer)(void *state, int timer_id);
	/* An authenticated probe (is_ack 0) or probe-ack (is_ack 1) arrived on sock_id. */
	void (*on_answer)(void *state, int sock_id, const np_addr_t *from, int is_ack);
	void (*destroy)(void *state);
	/* Milliseconds the core lets one attempt run before it counts as failed
	 * (0: the core's default). */
	uint32_t attempt_timeout_ms;
} np_strategy_t;

typedef const np_strategy_t *(*np_strategy_entry_fn)(void);

#define NP_STRATEGY_DECLARE_EX(name_, desc_, create_, start_, timer_, answer_, destroy_, timeout_) \
	__attribute__((visibility("default"))) const np_strategy_t *np_strategy_entry(void);      \
	__attribute__((visibility("default"))) const np_strategy_t *np_strategy_entry(void)       \
	{                                                                                          \
		static const np_strategy_t desc = {                                                \
			.abi_major = NP_STRATEGY_ABI_MAJOR,                                        \
			.abi_minor = NP_STRATEGY_ABI_MINOR,                                        \
			.size = sizeof(np_strategy_t),                                             \
			.name = (name_),                                                           \
			.description = (desc_),                                                    \
			.create = (create_),                                                       \
			.start = (start_),                                                         \
			.on_timer = (timer_),                                                      \
			.on_answer = (answer_),                                                    \
			.destroy = (destroy_),                                                     \
			.attempt_timeout_ms = (timeout_),                                          \
		};                                                                                 \
		return &desc;                                                                      \
	}

#define NP_STRATEGY_DECLARE(name_, desc_, create_, start_, timer_, answer_, destroy_) \
	NP_STRATEGY_DECLARE_EX(name_, desc_, create_, start_, timer_, answer_, destroy_, 0)

#ifdef __cplusplus
}
#endif
#endif
